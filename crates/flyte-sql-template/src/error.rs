//! The one error type of this crate.

use std::fmt;

use flyte_sql_model::{ErrorKind, PlaceholderProblem, PrimitiveType};

use crate::dialect::Dialect;
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
    /// The query holds more than one statement. Found by the lexer when the task is defined (and
    /// again before rendering); a trailing `;` and comments do not count.
    #[error(
        "the query holds more than one statement (the `;` at byte {offset} is followed by more SQL): a task runs exactly one statement, so split it into one task per statement (a trailing `;` and comments are fine)"
    )]
    MultipleStatements {
        /// Where the first separating `;` is, in bytes.
        offset: usize,
    },
    /// Compatible mode: the spliced text is more than one statement, because a value ended the
    /// quotes around it and added SQL. Nothing was sent to the database.
    #[error(
        "after splicing the input values the query is more than one statement (a `;` at byte {offset} of the spliced text ends the first), so the value of {} adds SQL of its own; nothing was run: remove the `;` from the value, or use safe interpolation, which binds values instead of splicing them",
        backticked(inputs)
    )]
    SplicedStatements {
        /// The inputs whose spliced text holds a `;`.
        inputs: Vec<String>,
        /// Where the separating `;` is in the spliced text, in bytes.
        offset: usize,
    },
    /// Compatible mode: the spliced text holds a bind parameter marker (from a value), which
    /// nothing would be bound to; reported by
    /// [`Statement::ready_to_send`](crate::Statement::ready_to_send), before anything is sent.
    #[error(
        "after splicing the input values the query holds `{marker}`, a {dialect} bind parameter marker (from the value of {}), and compatible mode binds nothing to it; nothing was run: quote the placeholder so the value stays text, or use safe interpolation",
        backticked(inputs)
    )]
    SplicedBindMarker {
        /// The marker as spliced.
        marker: String,
        /// The inputs whose spliced text holds it.
        inputs: Vec<String>,
        /// The dialect whose database would bind it.
        dialect: Dialect,
    },
    /// Safe mode: a placeholder sits where a bind parameter cannot go (inside a longer string,
    /// a comment, a quoted identifier or a dollar-quoted string), found when the task is defined.
    #[error(
        "placeholder `{placeholder}` at byte {offset} of the query is {context}, where safe mode cannot bind a value: {fix}"
    )]
    MisplacedPlaceholder {
        /// The whole placeholder as written.
        placeholder: String,
        /// Where it starts in the query, in bytes.
        offset: usize,
        /// Where it sits.
        context: PlaceholderContext,
        /// What to write instead.
        fix: String,
    },
    /// A bind parameter marker written in the query (`?`, `$1`, `:name`, ...) outside quotes and
    /// comments: flyte-sql places the markers itself, so one of the user's own would be bound to
    /// nothing or to another input's value.
    #[error(
        "`{marker}` at byte {offset} of the query is a {dialect} bind parameter marker; flyte-sql places the markers itself (one per `{{{{ .inputs.NAME }}}}` placeholder), so a marker of your own would get no value or another input's: use an input placeholder instead, or quote the text if it is not a parameter"
    )]
    OwnBindMarker {
        /// The marker as written.
        marker: String,
        /// Where it starts in the query, in bytes.
        offset: usize,
        /// The dialect whose database would bind it.
        dialect: Dialect,
    },
    /// Safe mode: the rendered text does not have its bind markers where the template's
    /// placeholders put them (a flyte-sql bug, caught before anything is sent).
    #[error(
        "internal error: the rendered statement has {found} bind markers where the template placed {expected}; nothing was run: please report the query, and rewrite it with spaces around its placeholders meanwhile"
    )]
    MarkersMoved {
        /// Markers placed from the template.
        expected: usize,
        /// Markers the lexer finds in the rendered text.
        found: usize,
    },
    /// Compatible mode: splicing a value would make the query longer than flyte-sql allows (a
    /// value holding the text of a placeholder is spliced again wherever that placeholder
    /// repeats, which grows the query exponentially).
    #[error(
        "compatible mode: splicing input `{name}` would make the query {bytes} bytes long, over the limit of {limit} bytes; a value that contains the text of a placeholder is spliced again wherever that placeholder repeats: use safe interpolation, or values without `{{{{ .inputs.NAME }}}}` text"
    )]
    SplicedQueryTooLarge {
        /// The input whose splicing would pass the limit.
        name: String,
        /// How long the query would become.
        bytes: usize,
        /// The limit, in bytes.
        limit: usize,
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
            | Error::UnknownDialect { .. }
            | Error::MultipleStatements { .. }
            | Error::SplicedStatements { .. }
            | Error::SplicedBindMarker { .. }
            | Error::MisplacedPlaceholder { .. }
            | Error::OwnBindMarker { .. }
            | Error::SplicedQueryTooLarge { .. } => ErrorKind::User,
            Error::MarkersMoved { .. } => ErrorKind::System,
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

/// Where a misplaced placeholder sits ([`Error::MisplacedPlaceholder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlaceholderContext {
    /// Inside a string literal with other text, or with a prefix such as `E'...'`.
    Literal,
    /// An `| identifier` placeholder that is a whole quoted string (`'{{ .inputs.t | identifier }}'`).
    QuotedString,
    /// Inside a quoted identifier (`"{{ .inputs.t }}"` on SQLite and PostgreSQL).
    QuotedIdentifier,
    /// Inside a PostgreSQL dollar-quoted string.
    DollarQuoted,
    /// Inside a comment.
    Comment,
}

impl fmt::Display for PlaceholderContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlaceholderContext::Literal => "inside a string literal",
            PlaceholderContext::QuotedString => "in quotes",
            PlaceholderContext::QuotedIdentifier => "inside a quoted identifier",
            PlaceholderContext::DollarQuoted => "inside a dollar-quoted string",
            PlaceholderContext::Comment => "inside a comment",
        })
    }
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
