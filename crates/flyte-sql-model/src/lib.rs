//! The SQL task model of flyte-sql.
//!
//! [`SqlTask`] is a query template with typed inputs ([`InputVariable`]), an [`Output`], a
//! connection ([`flyte_sql_config::ConnectionConfig`]) and what Flyte needs to run it
//! ([`TaskMetadata`], [`Resources`], image, environment). Values are [`Value`]s of the six Flyte
//! simple types ([`PrimitiveType`]). The crate is plain data plus validation: it does no IO and
//! knows nothing of protobuf.
//!
//! Tasks come from two constructors, both validated up front so that a `SqlTask` is always
//! registrable: [`SqlTask::builder`] in Rust and [`SqlTask::from_toml`] for task files. Either
//! reports every problem at once ([`Error::InvalidTask`]), each naming its field.
//!
//! # Example
//!
//! ```
//! use flyte_sql_config::ConnectionConfig;
//! use flyte_sql_model::{
//!     InputVariable, Output, OutputColumn, PrimitiveType, SqlTask, TableKind, TableOutput, Value,
//! };
//!
//! let task = SqlTask::builder(
//!     "examples.tracks.top_n",
//!     "select TrackId, Name from tracks limit {{ .inputs.limit }}",
//!     ConnectionConfig::new("sqlite:///examples/chinook.db")?,
//! )
//! .input(InputVariable {
//!     name: "limit".to_owned(),
//!     ty: PrimitiveType::Integer,
//!     optional: false,
//!     default: Some(Value::Integer(5)),
//! })
//! .output(Output::Table(TableOutput {
//!     kind: TableKind::Schema,
//!     columns: Some(vec![
//!         OutputColumn { name: "TrackId".to_owned(), ty: PrimitiveType::Integer },
//!         OutputColumn { name: "Name".to_owned(), ty: PrimitiveType::String },
//!     ]),
//! }))
//! .build()?;
//! assert_eq!(task.output_columns(), Some(vec!["TrackId", "Name"]));
//!
//! // An input the query never uses is an error when the task is defined, not when it runs.
//! let error = SqlTask::builder("t", "select 1", ConnectionConfig::new("sqlite://")?)
//!     .input(InputVariable {
//!         name: "unused".to_owned(),
//!         ty: PrimitiveType::String,
//!         optional: false,
//!         default: None,
//!     })
//!     .build()
//!     .unwrap_err();
//! assert!(error.to_string().contains("inputs[0]: input `unused` is not used in the query"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Crate features
//!
//! None.
//!
//! Not for direct use; the `flyte-sql` crate is the stable entry point.

#![warn(missing_docs)]

mod builder;
mod error;
mod placeholder;
mod python_text;
mod task;
mod task_file;
mod types;
mod value_parse;
mod warning;

pub use builder::SqlTaskBuilder;
pub use error::{Error, Problem, Result};
/// Who is at fault for an error; shared by every crate of the workspace.
pub use flyte_sql_config::ErrorKind;
pub use placeholder::{
    Filter, MalformedPlaceholder, Placeholder, PlaceholderProblem, PlaceholderScan, placeholders,
    scan_placeholders,
};
pub use python_text::{in_code_point_ranges, is_python_space, normalize_whitespace_like_reference};
pub use task::{
    InputVariable, Interpolation, OUTPUT_VARIABLE, Output, OutputColumn, ResourceSpec, Resources,
    Runtime, SqlTask, TableKind, TableOutput, TaskMetadata,
};
pub use task_file::MAX_CONNECT_ARG_DEPTH;
pub use types::{InputValues, PrimitiveType, Value};
pub use value_parse::{MAX_PROTO_DURATION_SECONDS, duration_in_proto_range};
pub use warning::DefinitionWarning;
