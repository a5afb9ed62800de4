//! End-to-end tests: the `flyte-sql` binary as users and Flyte run it.
//!
//! One test binary for everything (compiles once); each module covers one subcommand.

// `render`: dry runs of query templates.
mod render;

// `run`: tasks and one-off queries on every backend, the type mapping, declared columns.
mod run;

// How statements are understood: quoted placeholders, one statement, a describe that runs nothing.
mod statements;

// The MySQL/MariaDB backend: a describe without side effects, faults by error number, secrets.
mod mysql_backend;

// The reference's recorded runs replayed through `flyte-sql run` on every backend.
mod conformance_runs;

// `serialize` and `package`: TaskTemplates and registration archives.
mod serialize;

// The Flyte-side harness: what flytepropeller does around a container task.
mod propeller;

// `execute` and `pyflyte-execute` through that harness: flytekit's templates, ours, and failures.
mod execute;

// The runtime with every path on S3, Azure and GCS, on servers the tests start themselves.
mod object_stores;

// Load: 32 concurrent `execute` pods against one server.
mod load;

// Hostile users and environments: closed and full streams, signals, full disks, bad input.
mod hostile;

// PostgreSQL through rust-postgres: the prepared describe step, SQLSTATE faults, exact text.
mod postgres_backend;

// The secret-redaction audit: every subcommand and failure path, every output channel.
mod audit;

// SQLite's faults: locks, foreign files, timeouts, text that is not UTF-8, duplicate columns.
mod sqlite_backend;
