//! Safe mode: placeholders become typed bind parameters.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use flyte_sql_model::{Filter, InputValues, Interpolation, Value, scan_placeholders};

use crate::dialect::Dialect;
use crate::error::{Error, IdentifierProblem, Result};
use crate::statement::{Bind, Statement};

/// Renders `query` in safe mode for `dialect`: each `{{ .inputs.NAME }}` becomes a bind
/// parameter and each `{{ .inputs.NAME | identifier }}` a quoted identifier (syntax in
/// [`flyte_sql_model::scan_placeholders`]).
///
/// PostgreSQL gets `$1`, `$2`, ... numbered by first appearance, and a repeated placeholder of
/// the same input reuses its number; SQLite and MySQL get one `?` and one bind per occurrence.
/// The SQL text therefore depends only on the query, the dialect and the identifier values, never
/// on a bound value. Text outside placeholders is copied unchanged.
///
/// Errors, in this order: the first malformed placeholder ([`Error::MalformedPlaceholder`]); the
/// first placeholder without a value ([`Error::MissingInput`]) or whose value cannot be an
/// identifier ([`Error::InvalidIdentifier`]); values no placeholder uses
/// ([`Error::UnusedInputs`]).
///
/// ```
/// use flyte_sql_model::{InputValues, Value};
/// use flyte_sql_template::{Dialect, render_safe};
///
/// let inputs = InputValues::from([
///     ("table".to_owned(), Value::String("tracks".to_owned())),
///     ("n".to_owned(), Value::Integer(5)),
/// ]);
/// let query = "select * from {{ .inputs.table | identifier }} limit {{ .inputs.n }}";
/// let statement = render_safe(query, Dialect::Mysql, &inputs)?;
/// assert_eq!(statement.sql, "select * from `tracks` limit ?");
/// assert_eq!(statement.binds[0].value, Value::Integer(5));
/// # Ok::<(), flyte_sql_template::Error>(())
/// ```
pub fn render_safe(query: &str, dialect: Dialect, inputs: &InputValues) -> Result<Statement> {
    let scan = scan_placeholders(query, Interpolation::Safe);
    if let Some(malformed) = scan.malformed.into_iter().next() {
        return Err(Error::MalformedPlaceholder {
            text: query[malformed.span.clone()].to_owned(),
            offset: malformed.span.start,
            problem: malformed.problem,
        });
    }
    let mut sql = String::with_capacity(query.len());
    let mut binds: Vec<Bind> = Vec::new();
    let mut used = BTreeSet::new();
    let mut copied_up_to = 0;
    for placeholder in &scan.placeholders {
        sql.push_str(&query[copied_up_to..placeholder.span.start]);
        copied_up_to = placeholder.span.end;
        let name = &placeholder.name;
        let Some(value) = inputs.get(name) else {
            return Err(Error::MissingInput {
                name: name.clone(),
                placeholder: query[placeholder.span.clone()].to_owned(),
                offset: placeholder.span.start,
            });
        };
        used.insert(name.as_str());
        match placeholder.filter {
            Some(Filter::Identifier) => {
                let quoted =
                    identifier(value, dialect).map_err(|problem| Error::InvalidIdentifier {
                        name: name.clone(),
                        problem,
                    })?;
                sql.push_str(&quoted);
            }
            None if dialect == Dialect::Postgres => {
                let number = match binds.iter().position(|bind| &bind.name == name) {
                    Some(index) => index + 1,
                    None => {
                        binds.push(Bind {
                            name: name.clone(),
                            value: value.clone(),
                        });
                        binds.len()
                    }
                };
                let _ = write!(sql, "${number}");
            }
            None => {
                binds.push(Bind {
                    name: name.clone(),
                    value: value.clone(),
                });
                sql.push('?');
            }
        }
    }
    sql.push_str(&query[copied_up_to..]);
    let unused: Vec<String> = inputs
        .keys()
        .filter(|name| !used.contains(name.as_str()))
        .cloned()
        .collect();
    if !unused.is_empty() {
        return Err(Error::UnusedInputs { names: unused });
    }
    Ok(Statement { sql, binds })
}

fn identifier(value: &Value, dialect: Dialect) -> Result<String, IdentifierProblem> {
    match value {
        Value::String(name) => dialect.quote_identifier(name),
        Value::Null(_) => Err(IdentifierProblem::Null),
        other => Err(IdentifierProblem::NotAString {
            ty: other.primitive_type(),
        }),
    }
}
