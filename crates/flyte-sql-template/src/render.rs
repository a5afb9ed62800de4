//! Rendering a template in either mode, with compatible mode's warnings.

use std::fmt;

use flyte_sql_model::{InputValues, Interpolation, Value, placeholders};

use crate::compat::{check_compat, interpolate_query, spliced_statement};
use crate::dialect::Dialect;
use crate::error::Result;
use crate::lexer::{Kind, Lexed};
use crate::safe::render_safe;
use crate::statement::Statement;

/// A rendered template: the statement, and what looked dangerous while rendering it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The statement to run.
    pub statement: Statement,
    /// Compatible mode's warnings about spliced strings (always empty in safe mode).
    pub warnings: Vec<Warning>,
}

/// Something risky that compatible mode did; the statement is still what the reference would
/// run.
///
/// Whether a placeholder sits inside quotes is read by the dialect's lexer on the query as
/// written, with placeholders opaque (see `lexer.rs`). A string spliced into a comment earns no
/// warning.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// A string value was spliced outside any quotes, so its text became SQL: `x' OR '1'='1`
    /// style injection, or a syntax error.
    UnquotedString {
        /// The input.
        name: String,
        /// Where the placeholder starts in the query as written, in bytes.
        offset: usize,
    },
    /// A string value was spliced inside quotes but contains the character (or dollar-quote tag)
    /// that ends them, so part of it became SQL.
    StringEndsQuotes {
        /// The input.
        name: String,
        /// Where the placeholder starts in the query as written, in bytes.
        offset: usize,
        /// The text in the value that ends the quotes.
        closer: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnquotedString { name, offset } => write!(
                f,
                "string input `{name}` is spliced outside SQL quotes at byte {offset}, so its value runs as SQL: quote the placeholder ('{{{{ .inputs.{name} }}}}') or use safe interpolation"
            ),
            Warning::StringEndsQuotes {
                name,
                offset,
                closer,
            } => write!(
                f,
                "string input `{name}` spliced at byte {offset} contains `{closer}`, which ends the quotes around it, so part of its value runs as SQL: use safe interpolation"
            ),
        }
    }
}

/// Renders `query` with `inputs` for `dialect` in the given mode.
///
/// Safe mode is [`render_safe`]. Compatible mode checks the query as [`check_query`] does
/// (one statement), then [`interpolate_query`] splices the values as text and leaves
/// [`Statement::binds`] empty; when the spliced text is more than one statement, it is refused
/// ([`Error::SplicedStatements`](crate::Error::SplicedStatements), naming the inputs) before
/// anything reaches a database. It warns about every string value it splices outside quotes or
/// that contains the quote that encloses it.
///
/// [`check_query`]: crate::check_query
///
/// ```
/// use flyte_sql_model::{InputValues, Interpolation, Value};
/// use flyte_sql_template::{Dialect, Warning, render};
///
/// let inputs = InputValues::from([("who".to_owned(), Value::String("x' or '1'='1".to_owned()))]);
/// let rendered = render(
///     "select * from users where name = '{{ .inputs.who }}'",
///     Interpolation::Compat,
///     Dialect::Sqlite,
///     &inputs,
/// )?;
/// assert_eq!(rendered.statement.sql, "select * from users where name = 'x' or '1'='1'");
/// assert!(matches!(rendered.warnings[..], [Warning::StringEndsQuotes { .. }]));
/// # Ok::<(), flyte_sql_template::Error>(())
/// ```
pub fn render(
    query: &str,
    interpolation: Interpolation,
    dialect: Dialect,
    inputs: &InputValues,
) -> Result<Rendered> {
    match interpolation {
        Interpolation::Safe => Ok(Rendered {
            statement: render_safe(query, dialect, inputs)?,
            warnings: Vec::new(),
        }),
        Interpolation::Compat => {
            let lexed = check_compat(query, dialect)?;
            let statement = spliced_statement(interpolate_query(query, inputs)?, dialect, inputs)?;
            Ok(Rendered {
                statement,
                warnings: compat_warnings(query, &lexed, inputs),
            })
        }
    }
}

fn compat_warnings(query: &str, lexed: &Lexed, inputs: &InputValues) -> Vec<Warning> {
    let found = placeholders(query, Interpolation::Compat);
    let mut warnings = Vec::new();
    for (placeholder, &token) in found.iter().zip(&lexed.placeholder_tokens) {
        let Some(Value::String(value)) = inputs.get(&placeholder.name) else {
            continue;
        };
        let name = placeholder.name.clone();
        let offset = placeholder.span.start;
        match &lexed.tokens[token].kind {
            Kind::Placeholder(_) => warnings.push(Warning::UnquotedString { name, offset }),
            Kind::Quoted(quoted) => {
                let mut closers = Vec::from([quoted.closer.clone()]);
                if quoted.backslash_escapes {
                    closers.push("\\".to_owned());
                }
                if let Some(closer) = closers.into_iter().find(|closer| value.contains(closer)) {
                    warnings.push(Warning::StringEndsQuotes {
                        name,
                        offset,
                        closer,
                    });
                }
            }
            _ => {}
        }
    }
    warnings
}
