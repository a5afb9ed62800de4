//! The one error type of this crate.

use flyte_sql_model::{ErrorKind, PlaceholderProblem, PrimitiveType};

use crate::python;

/// Everything that can stop a query template from rendering.
///
/// The two `Compat*` variants print the reference's `ValueError` messages verbatim (capital letter
/// and Python reprs included), because flytekit users and the conformance cases expect exactly
/// those; every other message is ours.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Compatible mode: a placeholder names an input that has no value. Checked placeholder by
    /// placeholder from the left, so this is the first such placeholder.
    #[error(
        "Variable {name} in Query (part of {placeholder}) not found in inputs dict_keys({})",
        python::list_repr(supplied)
    )]
    CompatMissingInput {
        /// The name in the placeholder.
        name: String,
        /// The whole placeholder as written, braces included.
        placeholder: String,
        /// The names of the supplied values, in the order of the input map.
        supplied: Vec<String>,
    },
    /// Compatible mode: values were supplied that no placeholder uses.
    ///
    /// The reference prints a Python set, whose order depends on string hashing and changes from
    /// run to run; we print the names sorted.
    #[error(
        "Extra Inputs have no matches in query template - missing {}",
        python::set_repr(unused)
    )]
    CompatUnusedInputs {
        /// The unused names, sorted.
        unused: Vec<String>,
    },
    /// Compatible mode: a datetime outside years 1 to 9999, or a duration beyond
    /// ±999,999,999 days, which Python's `datetime`/`timedelta` (and so the reference) cannot
    /// hold.
    #[error(
        "input `{name}` is a {ty} that Python cannot represent (datetimes must fall in years 1 to 9999, durations within 999999999 days), so the reference cannot render it: use a smaller value or safe mode"
    )]
    OutsidePythonRange {
        /// The input name.
        name: String,
        /// Its type ([`PrimitiveType::Datetime`] or [`PrimitiveType::Duration`]).
        ty: PrimitiveType,
    },
    /// Safe mode: text starting with `{{` mentions `inputs` but is not a valid placeholder
    /// (reported for the first one only).
    #[error("`{text}` at byte {offset} of the query is not a valid placeholder: {problem}")]
    MalformedPlaceholder {
        /// The text from `{{` to `}}` (or to the end of the query).
        text: String,
        /// Where it starts in the query, in bytes.
        offset: usize,
        /// What is wrong with it.
        problem: PlaceholderProblem,
    },
    /// Safe mode: a placeholder names an input that has no value.
    #[error(
        "placeholder `{placeholder}` at byte {offset} of the query uses input `{name}`, which has no value: supply a value for `{name}` or fix the placeholder"
    )]
    MissingInput {
        /// The name in the placeholder.
        name: String,
        /// The whole placeholder as written.
        placeholder: String,
        /// Where it starts in the query, in bytes.
        offset: usize,
    },
    /// Safe mode: values were supplied that no placeholder uses.
    #[error(
        "the query uses no placeholder for {}: use each input as `{{{{ .inputs.NAME }}}}` or leave it out",
        backticked(names)
    )]
    UnusedInputs {
        /// The unused names, in the order of the input map.
        names: Vec<String>,
    },
    /// Safe mode: the value of an `| identifier` placeholder cannot be an SQL identifier.
    #[error("input `{name}` cannot be used as an identifier: {problem}")]
    InvalidIdentifier {
        /// The input name.
        name: String,
        /// What is wrong with its value.
        problem: IdentifierProblem,
    },
    /// [`Dialect::parse`](crate::Dialect::parse) got a name it does not know.
    #[error(
        "unknown SQL dialect `{name}`: use one of sqlite, postgres, postgresql, mysql, mariadb"
    )]
    UnknownDialect {
        /// The name as given.
        name: String,
    },
}

impl Error {
    /// Who has to fix it: every rendering problem is in the template or its inputs.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::CompatMissingInput { .. }
            | Error::CompatUnusedInputs { .. }
            | Error::OutsidePythonRange { .. }
            | Error::MalformedPlaceholder { .. }
            | Error::MissingInput { .. }
            | Error::UnusedInputs { .. }
            | Error::InvalidIdentifier { .. }
            | Error::UnknownDialect { .. } => ErrorKind::User,
        }
    }
}

/// Why a value cannot be quoted as an SQL identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifierProblem {
    /// The value is not a string.
    #[error("identifiers come from string inputs, but this value is of type {ty}")]
    NotAString {
        /// The value's type.
        ty: PrimitiveType,
    },
    /// The value is a typed null.
    #[error("the value is null")]
    Null,
    /// The string is empty.
    #[error("the name is empty")]
    Empty,
    /// The string contains a NUL character, which no database accepts in a name.
    #[error("the name contains a NUL character")]
    ContainsNul,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn backticked(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
