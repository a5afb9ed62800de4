//! The one error type of this crate.

use std::fmt;

use crate::types::PrimitiveType;

/// Everything that can go wrong while defining a task or reading a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A task failed validation; every problem found is listed, not only the first.
    #[error("invalid task `{task}`: {}", ProblemList(problems))]
    InvalidTask {
        /// The task's name as given (may itself be one of the problems).
        task: String,
        /// Each problem, naming the field.
        problems: Vec<Problem>,
    },
    /// A task file is not valid TOML or does not have the task file's shape.
    #[error("invalid task file: {message}")]
    TaskFile {
        /// The parser's description, with line and column.
        message: String,
    },
    /// [`SqlTask::complete_inputs`](crate::SqlTask::complete_inputs): a value was given for an
    /// input the task does not declare.
    #[error(
        "unknown input `{input}`: the task declares {}",
        DeclaredList(declared)
    )]
    UnknownInput {
        /// The name given.
        input: String,
        /// The declared inputs, in order.
        declared: Vec<String>,
    },
    /// [`SqlTask::complete_inputs`](crate::SqlTask::complete_inputs): a required input without a
    /// default got no value.
    #[error("missing input `{input}` of type {ty}: supply a value (it has no default)")]
    MissingInput {
        /// The input.
        input: String,
        /// Its type.
        ty: PrimitiveType,
    },
    /// [`SqlTask::complete_inputs`](crate::SqlTask::complete_inputs): a value of another type
    /// than its input's, or a null for a required input.
    #[error("input `{input}`: expected {expected}, found {found}")]
    InputType {
        /// The input.
        input: String,
        /// Its type, `... or none` when it is optional.
        expected: String,
        /// The type of the value given (`none` for a null).
        found: String,
    },
    /// A textual or JSON value does not parse as the type it should have.
    #[error("invalid {ty} value `{text}`: expected {expected}")]
    InvalidValue {
        /// The type the value should have.
        ty: PrimitiveType,
        /// The value as given.
        text: String,
        /// What a valid value looks like.
        expected: &'static str,
    },
}

impl Error {
    /// Who has to fix it: every model error comes from what the user wrote.
    pub fn kind(&self) -> flyte_sql_config::ErrorKind {
        match self {
            Error::InvalidTask { .. }
            | Error::TaskFile { .. }
            | Error::InvalidValue { .. }
            | Error::UnknownInput { .. }
            | Error::MissingInput { .. }
            | Error::InputType { .. } => flyte_sql_config::ErrorKind::User,
        }
    }
}

/// One validation problem: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field, as a path in the task file (`inputs[1].name`, `metadata.cache_version`).
    pub field: String,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

struct DeclaredList<'a>(&'a [String]);

impl fmt::Display for DeclaredList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => f.write_str("no inputs"),
            names => f.write_str(&names.join(", ")),
        }
    }
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [single] => write!(f, "{single}"),
            problems => {
                write!(f, "{} problems", problems.len())?;
                for problem in problems {
                    write!(f, "\n  - {problem}")?;
                }
                Ok(())
            }
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
