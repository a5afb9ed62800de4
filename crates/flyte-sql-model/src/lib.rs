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

mod placeholder;
mod task;
mod types;

pub use placeholder::{
    Filter, MalformedPlaceholder, Placeholder, PlaceholderProblem, PlaceholderScan, placeholders,
    scan_placeholders,
};
pub use task::{
    InputVariable, Interpolation, OUTPUT_VARIABLE, Output, OutputColumn, ResourceSpec, Resources,
    Runtime, SqlTask, TableKind, TableOutput, TaskMetadata,
};
pub use types::{InputValues, PrimitiveType, Value};
