//! Runs flyte-sql tasks against SQLite, PostgreSQL and MySQL/MariaDB, streaming results as
//! Arrow into Parquet.
//!
//! This crate sits on top of the workspace: it takes a task from `flyte-sql-model`, renders its
//! query with `flyte-sql-template` and connects with the options `flyte-sql-config` resolves. An
//! [`Executor`] holds an r2d2 pool of connections to one database (the backend comes from
//! the URI's scheme) and [`Executor::run`] runs a task:
//!
//! - a query with output is first *described* (column names and types without running it or
//!   evaluating its select list; `docs/statements.md` says how, per backend), then
//!   its rows stream straight into Arrow builders in batches of [`RunOptions::batch_rows`] and
//!   on into Parquet row groups bounded by rows and bytes ([`ParquetOptions`]), under
//!   `<out>/<32 hex>/00000` as the reference lays results out, where `<out>` is a local directory
//!   or an object-store prefix (a `flyte_sql_storage::Location`): the bytes stream there as they are
//!   encoded and the file becomes visible only once complete, so it exists completely or not at
//!   all. An empty result
//!   still gets a typed, empty file. Declared output columns are enforced ([`Error::MissingColumn`],
//!   [`Error::UndeclaredColumn`], [`Error::Conversion`]).
//! - a statement without output runs in a transaction, committed on success and rolled back on
//!   failure, and reports the rows it changed.
//!
//! Statements arrive rendered by `flyte-sql-template`, which proved them to be one statement and
//! recorded where each bind marker is ([`Statement::markers`](flyte_sql_template::Statement::markers)).
//! This crate contains no SQL lexer: it rewrites statements only at those offsets (typed NULLs
//! in a describe view, MySQL's CASTs), and sends every user-written statement as one prepared
//! statement, never through a multi-statement (simple-query or batch) call.
//!
//! [`ColumnType`] lists the Arrow types written; `docs/type-mapping.md` maps every database type
//! onto them. Failures are one [`Error`] whose [`Error::kind`] and [`Error::recoverable`] feed
//! Flyte's error document; messages never contain secrets or passwords.
//!
//! # Example
//!
//! ```
//! use flyte_sql_config::ConnectionConfig;
//! use flyte_sql_executor::{Executor, NoProgress, PoolOptions, RunOptions, RunOutput, resolve_connect_options};
//! use flyte_sql_model::{InputValues, Output, TableKind, TableOutput};
//! use flyte_sql_template::Statement;
//!
//! let config = ConnectionConfig::new("sqlite://")?;
//! let executor = Executor::connect(config.uri(), resolve_connect_options(&config)?, &PoolOptions::single())?;
//!
//! let out = tempfile::tempdir()?;
//! let statement = Statement::from_sql(
//!     "select 1 as id, 'one' as name union all select 2, 'two'",
//!     executor.dialect(),
//! )?;
//! let output = Output::Table(TableOutput { kind: TableKind::Schema, columns: None });
//! let report = executor.run_statement(&statement, &output, &RunOptions::new(out.path().to_path_buf()), &mut NoProgress)?;
//!
//! let RunOutput::Table(table) = report.output else { panic!("a query has a table") };
//! assert_eq!(table.rows, 2);
//! assert_eq!(table.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["id", "name"]);
//! assert!(table.location.files[0].uri().ends_with("/00000"));
//! assert_eq!(table.location.directory.uri().rsplit('/').next().unwrap().len(), 32);
//! # let _ = InputValues::new();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Crate features
//!
//! - `sqlite` (default): SQLite through the bundled library; needs only a C compiler.
//! - `postgres`: PostgreSQL through the pure-Rust `tokio-postgres` client, TLS through rustls; no system
//!   library.
//! - `mysql`: MySQL and MariaDB through the pure-Rust `mysql` driver (no system library).
//! - `all-backends`: all three.
//!
//! A URI whose backend is not compiled in fails with [`Error::BackendNotEnabled`].
//!
//! # Stability
//!
//! Not for direct use; the `flyte-sql` crate is the stable entry point, and this crate's API may
//! change with any release.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The value model serves every backend; with only some of them compiled in, parts of it (a
// decoder's `Datum` variant, a describe hint) have no user, which is expected.
#![cfg_attr(
    not(all(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_imports)
)]

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("flyte-sql-executor needs a backend: enable the feature sqlite, postgres or mysql");

mod builder;
mod connection;
mod datum;
mod display;
mod error;
mod executor;
#[cfg(feature = "mysql")]
mod mysql;
mod output;
#[cfg(feature = "postgres")]
mod postgres;
mod secrets;
#[cfg(feature = "sqlite")]
mod sqlite;
mod stream;
mod types;

pub use display::batch_to_text;
pub use error::{DatabaseFailure, Error, ErrorKind, Result};
pub use executor::{Executor, PoolOptions, RunOptions, RunOutput, RunReport, TableResult};
pub use output::{FIRST_PART, OutputLocation, ParquetCompression, ParquetOptions, random_hex};
pub use secrets::{ProcessSecretSource, resolve_connect_options, resolve_secrets};
pub use stream::{NoProgress, Progress};
pub use types::{Column, ColumnType};
