//! Rendering a template in either mode, with compatible mode's warnings.

use std::fmt;

use flyte_sql_model::{InputValues, Interpolation, Value, placeholders};

use crate::compat::interpolate_query;
use crate::dialect::Dialect;
use crate::error::Result;
use crate::safe::render_safe;
use crate::sql_context::{Context, contexts_at};
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
/// Whether a placeholder sits inside quotes is a heuristic on the query as written (see
/// `sql_context.rs`): it tracks SQL string literals, quoted identifiers and comments per dialect,
/// and treats placeholders as opaque. A string spliced into a comment earns no warning.
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
/// Safe mode is [`render_safe`]. Compatible mode is [`interpolate_query`], which splices the
/// values as text and leaves [`Statement::binds`] empty; it warns about every string value it
/// splices outside quotes or that contains the quote that encloses it.
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
            let sql = interpolate_query(query, inputs)?;
            Ok(Rendered {
                statement: Statement {
                    sql,
                    binds: Vec::new(),
                },
                warnings: compat_warnings(query, dialect, inputs),
            })
        }
    }
}

fn compat_warnings(query: &str, dialect: Dialect, inputs: &InputValues) -> Vec<Warning> {
    let found = placeholders(query, Interpolation::Compat);
    let spans: Vec<_> = found
        .iter()
        .map(|placeholder| placeholder.span.clone())
        .collect();
    let contexts = contexts_at(query, dialect, &spans);
    let mut warnings = Vec::new();
    for (placeholder, context) in found.iter().zip(contexts) {
        let Some(Value::String(value)) = inputs.get(&placeholder.name) else {
            continue;
        };
        let name = placeholder.name.clone();
        let offset = placeholder.span.start;
        match context {
            Context::Code => warnings.push(Warning::UnquotedString { name, offset }),
            Context::Quoted { closers } => {
                if let Some(closer) = closers.into_iter().find(|closer| value.contains(closer)) {
                    warnings.push(Warning::StringEndsQuotes {
                        name,
                        offset,
                        closer,
                    });
                }
            }
            Context::Comment => {}
        }
    }
    warnings
}
