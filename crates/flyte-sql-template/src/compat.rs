//! Compatible mode: the reference's `interpolate_query`, bit for bit.

use std::collections::BTreeSet;

use flyte_sql_model::{InputValues, Interpolation, Value, placeholders};

use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::lexer::{Lexed, lex};
use crate::python::python_str;
use crate::statement::Statement;

/// Splices the values into `query` exactly as the reference's `interpolate_query` does.
///
/// The placeholders are those of the reference's regular expression (see
/// [`flyte_sql_model::scan_placeholders`]), taken from the query as written, left to right.
/// For each one, a name without a value is an [`Error::CompatMissingInput`]; otherwise every
/// occurrence of that placeholder's exact text in the query *as modified so far* is replaced by
/// [`python_str`] of the value. So a placeholder spelled two ways is replaced both times, and a
/// value that contains the text of a later placeholder gets that text replaced too (the reference
/// does the same). Afterwards, values that no placeholder used are an
/// [`Error::CompatUnusedInputs`]. Nothing is quoted or escaped: the values become SQL.
///
/// ```
/// use flyte_sql_model::{InputValues, Value};
/// use flyte_sql_template::interpolate_query;
///
/// let inputs = InputValues::from([("x".to_owned(), Value::Float(0.5))]);
/// assert_eq!(interpolate_query("select {{ .inputs.x }}", &inputs)?, "select 0.5");
/// # Ok::<(), flyte_sql_template::Error>(())
/// ```
pub fn interpolate_query(query: &str, inputs: &InputValues) -> Result<String> {
    let mut modified = query.to_owned();
    let mut matched = BTreeSet::new();
    for placeholder in placeholders(query, Interpolation::Compat) {
        let text = &query[placeholder.span.clone()];
        let Some(value) = inputs.get(&placeholder.name) else {
            return Err(Error::CompatMissingInput {
                name: placeholder.name,
                placeholder: text.to_owned(),
                supplied: inputs.keys().cloned().collect(),
            });
        };
        let rendered = python_str(value).ok_or_else(|| Error::OutsidePythonRange {
            name: placeholder.name.clone(),
            ty: value.primitive_type(),
        })?;
        modified = modified.replace(text, &rendered);
        matched.insert(placeholder.name);
    }
    if matched.len() < inputs.len() {
        return Err(Error::CompatUnusedInputs {
            unused: inputs
                .keys()
                .filter(|name| !matched.contains(*name))
                .cloned()
                .collect(),
        });
    }
    Ok(modified)
}

/// Compatible mode's check of the query as written: one statement, placeholders anywhere. Returns
/// the lexed query (placeholders opaque) for the warnings.
pub(crate) fn check_compat(query: &str, dialect: Dialect) -> Result<Lexed> {
    let spans: Vec<_> = placeholders(query, Interpolation::Compat)
        .into_iter()
        .map(|placeholder| placeholder.span)
        .collect();
    let lexed = lex(query, dialect, &spans);
    match lexed.second_statement() {
        Some(offset) => Err(Error::MultipleStatements { offset }),
        None => Ok(lexed),
    }
}

/// The statement compatible mode sends: the spliced text, refused when the splicing made it more
/// than one statement (a value that ends its quotes and adds `; delete ...`), before anything
/// reaches the database.
pub(crate) fn spliced_statement(
    spliced: String,
    dialect: Dialect,
    inputs: &InputValues,
) -> Result<Statement> {
    let lexed = lex(&spliced, dialect, &[]);
    if let Some(offset) = lexed.second_statement() {
        let strings = || {
            inputs
                .iter()
                .filter(|(_, value)| matches!(value, Value::String(_)))
        };
        let with_semicolon: Vec<String> = strings()
            .filter(|(_, value)| matches!(value, Value::String(text) if text.contains(';')))
            .map(|(name, _)| name.clone())
            .collect();
        let inputs = if with_semicolon.is_empty() {
            strings().map(|(name, _)| name.clone()).collect()
        } else {
            with_semicolon
        };
        return Err(Error::SplicedStatements { inputs, offset });
    }
    Ok(Statement {
        body_end: lexed.body_end(),
        sql: spliced,
        binds: Vec::new(),
        markers: Vec::new(),
    })
}
