//! Flyte SQL tasks in Rust: define a SQL task, render its query, emit it as Flyte protobuf and
//! run it against SQLite, PostgreSQL or MySQL/MariaDB.
//!
//! This is the facade of the flyte-sql workspace and its one stable entry point. It re-exports
//! the layers, each usable on its own:
//!
//! - [`config`]: connection URIs, connect args and Flyte secret references (no IO);
//! - [`model`]: the task ([`model::SqlTask`]), its inputs, output and metadata, and the values of
//!   Flyte's simple types (no IO);
//! - [`template`]: query templates rendered either exactly as flytekit's SQLAlchemy plugin splices
//!   them, or safely as typed bind parameters (no IO);
//! - `idl` (feature `idl`): Flyte's wire format: TaskTemplates, `admin.TaskSpec`, literal maps,
//!   error documents, workflow nodes and registration packages (no IO);
//! - `storage` (feature `storage`): local paths, `file://` URLs and object stores (S3, GCS, Azure)
//!   with atomic writes and streamed uploads;
//! - `executor` (feature `executor`): runs a task against a database and streams the rows as Arrow
//!   into Parquet, locally or to an object store.
//!
//! Downstream crates that only need one job can depend on the smaller crate directly: rendering a
//! query needs only `flyte-sql-template`, registering a task needs `flyte-sql-model` and
//! `flyte-sql-idl`, never a database driver.
//!
//! # Example
//!
//! Define a task from its TOML file form and see what its query becomes for one input, in both
//! interpolation modes:
//!
//! ```
//! use flyte_sql::model::{InputValues, Interpolation, SqlTask, Value};
//! use flyte_sql::template::{Dialect, render};
//!
//! let task = SqlTask::from_toml(r#"
//!     name = "examples.tracks.by_composer"
//!     query = "select Name from tracks where Composer = {{ .inputs.composer }}"
//!     [connection]
//!     uri = "postgresql://reader@db.internal/music"
//!     [[inputs]]
//!     name = "composer"
//!     type = "string"
//! "#)?;
//! assert_eq!(task.interpolation(), Interpolation::Safe);
//!
//! let mut values = InputValues::new();
//! values.insert("composer".to_owned(), Value::String("O'Brien".to_owned()));
//!
//! // Safe mode: the value travels as a bind and cannot change the statement.
//! let safe = render(task.query(), Interpolation::Safe, Dialect::Postgres, &values)?;
//! assert_eq!(safe.statement.sql, "select Name from tracks where Composer = $1");
//! assert_eq!(safe.statement.binds[0].value, Value::String("O'Brien".to_owned()));
//!
//! // Compatible mode: spliced as text, exactly like the Python plugin (and just as unsafe).
//! let spliced = render(task.query(), Interpolation::Compat, Dialect::Postgres, &values)?;
//! assert_eq!(spliced.statement.sql, "select Name from tracks where Composer = O'Brien");
//! assert_eq!(spliced.warnings.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Crate features
//!
//! - `cli` (default): the `flyte-sql` command-line tool (turns on `idl` and `executor`).
//! - `idl`: the `idl` module.
//! - `storage`: the `storage` module.
//! - `executor`: the `executor` module (turns on `storage`); pick its databases with the backend
//!   features.
//! - `sqlite` (default): SQLite, with the bundled library (needs only a C compiler).
//! - `postgres`: PostgreSQL, through the pure-Rust `tokio-postgres` client (no system library).
//! - `mysql`: MySQL and MariaDB, through the pure-Rust `mysql` driver (no system library).
//! - `all-backends`: all three, for CI and docs.
//!
//! Features not listed here are not part of the public API.

#![warn(missing_docs)]

#[doc(inline)]
pub use flyte_sql_config as config;
#[cfg(feature = "executor")]
#[doc(inline)]
pub use flyte_sql_executor as executor;
#[cfg(feature = "idl")]
#[doc(inline)]
pub use flyte_sql_idl as idl;
#[doc(inline)]
pub use flyte_sql_model as model;
#[cfg(feature = "storage")]
#[doc(inline)]
pub use flyte_sql_storage as storage;
#[doc(inline)]
pub use flyte_sql_template as template;
