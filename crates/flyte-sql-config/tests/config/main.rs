//! Integration tests of flyte-sql-config, in one binary.

// Every URI shape, good and bad, as snapshots.
mod uri;
// Connect args: warnings, checks and typed options per backend.
mod connect_args;
