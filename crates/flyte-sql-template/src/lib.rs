//! Query templates for flyte-sql: from a query with `{{ .inputs.NAME }}` placeholders and input
//! values to the SQL a database runs.
//!
//! This crate sits above `flyte-sql-model` (which owns the placeholder syntax, in
//! [`flyte_sql_model::scan_placeholders`], and the [`Value`](flyte_sql_model::Value) type) and
//! below the executor. It does no IO. Two modes, chosen by
//! [`Interpolation`](flyte_sql_model::Interpolation):
//!
//! - **Safe** ([`render_safe`]): every value placeholder becomes a bind parameter of the target
//!   [`Dialect`] (`$1` for PostgreSQL, `?` for SQLite and MySQL) and the value travels separately
//!   as a typed [`Bind`], so no value can change the statement. Table and column names go
//!   through `{{ .inputs.NAME | identifier }}`, which quotes them for the dialect.
//! - **Compatible** ([`interpolate_query`]): the reference plugin's splicing, bit for bit,
//!   values printed as Python's `str()` prints them ([`python_str`]) and the reference's error
//!   messages. Flytekit-made templates need it; it is as injectable as the original.
//!
//! [`render`] runs either mode and returns a [`Rendered`]: a [`Statement`] (SQL, binds and the
//! position of every bind marker) plus [`Warning`]s for string values that compatible mode
//! spliced outside quotes. Failures are one [`Error`] type.
//!
//! # Where statements are understood
//!
//! This crate holds the workspace's one SQL lexer (`lexer.rs`), with every dialect's rules for
//! comments, quotes and parameter markers. Everything that needs to know what a query's text
//! means asks it: where a safe-mode placeholder may become a bind, and which ones are refused
//! when the task is defined ([`check_query`], [`check_task`]); that a task is exactly one
//! statement; compatible mode's warnings and its check that splicing did not add a statement;
//! and where each bind marker of the rendered [`Statement`] is ([`Statement::markers`]), so
//! that the executor rewrites statements by offsets and never lexes SQL itself.
//! `docs/statements.md` describes the rules.
//!
//! # Example
//!
//! ```
//! use flyte_sql_model::{InputValues, Interpolation, Value};
//! use flyte_sql_template::{Dialect, render};
//!
//! let inputs = InputValues::from([("x".to_owned(), Value::Integer(5))]);
//!
//! let compat = render("x={{ .inputs.x }}", Interpolation::Compat, Dialect::Postgres, &inputs)?;
//! assert_eq!(compat.statement.sql, "x=5");
//! assert!(compat.statement.binds.is_empty());
//!
//! let safe = render("x={{ .inputs.x }}", Interpolation::Safe, Dialect::Postgres, &inputs)?;
//! assert_eq!(safe.statement.sql, "x=$1");
//! assert_eq!(safe.statement.binds.len(), 1);
//! assert_eq!(safe.statement.binds[0].name, "x");
//! assert_eq!(safe.statement.binds[0].value, Value::Integer(5));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Crate features
//!
//! - `fuzzing`: exposes the lexer's tokens to the fuzz targets in `fuzz/` (`docs/fuzzing.md`);
//!   not an API, never on in a build of the project.
//!
//! Not for direct use; the `flyte-sql` crate is the stable entry point.

#![warn(missing_docs)]

mod compat;
mod dialect;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod lexer;
mod python;
mod render;
mod safe;
mod statement;

pub use compat::interpolate_query;
pub use dialect::{Dialect, check_task};
pub use error::{Error, IdentifierProblem, PlaceholderContext, Result};
pub use flyte_sql_model::ErrorKind;
/// The reference's whitespace normalization of stored queries; it lives with the other rules
/// about task text in `flyte-sql-model`.
pub use flyte_sql_model::normalize_whitespace_like_reference;
pub use python::python_str;
pub use render::{Rendered, Warning, render};
pub use safe::{check_query, render_safe};
pub use statement::{Bind, BindMarker, Statement};
