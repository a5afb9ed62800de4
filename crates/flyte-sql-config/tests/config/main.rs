//! Integration tests of flyte-sql-config, in one binary.

// Every URI shape, good and bad, as snapshots.
mod uri;
// Connect args: warnings, checks and typed options per backend.
mod connect_args;
// Secret names and resolution against flytekit's results.
mod secrets;
// Nothing that prints shows a password or a secret.
mod redaction;
// Mutated and random URIs: no panic, no leaked password.
mod garbage;
