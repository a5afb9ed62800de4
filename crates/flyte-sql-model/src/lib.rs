//! The SQL task model of flyte-sql.
//!
//! [`SqlTask`] is a query template with typed inputs ([`InputVariable`]), an [`Output`], a
//! connection ([`flyte_sql_config::ConnectionConfig`]) and what Flyte needs to run it
//! ([`TaskMetadata`], [`Resources`], image, environment). Values are [`Value`]s of the six Flyte
//! simple types ([`PrimitiveType`]). The crate is plain data plus validation: it does no IO and
//! knows nothing of protobuf.
//!
//! Not for direct use; the `flyte-sql` crate is the stable entry point.

#![warn(missing_docs)]

mod builder;
mod error;
mod placeholder;
mod task;
mod task_file;
mod types;
mod value_parse;

pub use builder::SqlTaskBuilder;
pub use error::{Error, Problem, Result};
pub use placeholder::{
    Filter, MalformedPlaceholder, Placeholder, PlaceholderProblem, PlaceholderScan, placeholders,
    scan_placeholders,
};
pub use task::{
    InputVariable, Interpolation, OUTPUT_VARIABLE, Output, OutputColumn, ResourceSpec, Resources,
    Runtime, SqlTask, TableKind, TableOutput, TaskMetadata,
};
pub use types::{InputValues, PrimitiveType, Value};
