//! Compatible mode: the reference's `interpolate_query`, bit for bit.

use std::collections::BTreeSet;

use flyte_sql_model::{InputValues, Interpolation, placeholders};

use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::lexer::{Kind, Lexed, lex};
use crate::python::python_str;
use crate::statement::Statement;

/// The longest query compatible mode splices, in bytes (16 MiB).
///
/// A value that contains the text of a placeholder is spliced again wherever that placeholder
/// repeats, so a few dozen bytes of values can grow the query exponentially: the reference would
/// build it until memory runs out. 16 MiB is far more than any real query (MySQL's default
/// `max_allowed_packet` is 64 MiB) and keeps the lexing of the spliced text bounded too.
pub(crate) const MAX_SPLICED_QUERY_BYTES: usize = 16 << 20;

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
/// Unlike the reference, a query that splicing would make longer than 16 MiB is refused
/// ([`Error::SplicedQueryTooLarge`]) before it is built.
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
        let occurrences = modified.matches(text).count();
        let bytes = (modified.len() - occurrences * text.len())
            .saturating_add(occurrences.saturating_mul(rendered.len()));
        if bytes > MAX_SPLICED_QUERY_BYTES {
            return Err(Error::SplicedQueryTooLarge {
                name: placeholder.name,
                bytes,
                limit: MAX_SPLICED_QUERY_BYTES,
            });
        }
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

/// Compatible mode's check of the query as written: one statement and no bind markers (nothing is
/// bound in this mode), placeholders anywhere. Returns the lexed query (placeholders opaque) for
/// the warnings.
pub(crate) fn check_compat(query: &str, dialect: Dialect) -> Result<Lexed> {
    let spans: Vec<_> = placeholders(query, Interpolation::Compat)
        .into_iter()
        .map(|placeholder| placeholder.span)
        .collect();
    let lexed = lex(query, dialect, &spans);
    if let Some(marker) = lexed.tokens.iter().find(|token| token.kind == Kind::Marker) {
        return Err(Error::OwnBindMarker {
            marker: query[marker.range.clone()].to_owned(),
            offset: marker.range.start,
            dialect,
        });
    }
    match lexed.second_statement() {
        Some(offset) => Err(Error::MultipleStatements { offset }),
        None => Ok(lexed),
    }
}

/// The statement compatible mode sends: the spliced text, refused before anything reaches the
/// database when the splicing made it more than one statement (a value that ends its quotes and
/// adds `; delete ...`). A bind marker the splicing brought (nothing is bound in this mode) makes
/// it a statement that [`Statement::ready_to_send`] refuses.
pub(crate) fn spliced_statement(
    spliced: String,
    dialect: Dialect,
    inputs: &InputValues,
) -> Result<Statement> {
    let lexed = lex(&spliced, dialect, &[]);
    if let Some(offset) = lexed.second_statement() {
        return Err(Error::SplicedStatements {
            inputs: inputs_holding(inputs, ";"),
            offset,
        });
    }
    // A dry run may show such a text; `Statement::ready_to_send` refuses to send it.
    let unsendable = lexed
        .tokens
        .iter()
        .find(|token| token.kind == Kind::Marker)
        .map(|marker| {
            let marker = &spliced[marker.range.clone()];
            Box::new(Error::SplicedBindMarker {
                marker: marker.to_owned(),
                inputs: inputs_holding(inputs, marker),
                dialect,
            })
        });
    Ok(Statement {
        body_end: lexed.body_end(),
        leading_word: lexed.leading_word(),
        sql: spliced,
        binds: Vec::new(),
        markers: Vec::new(),
        unsendable,
    })
}

/// The inputs whose spliced text contains `text`: those that may have brought it into the query.
fn inputs_holding(inputs: &InputValues, text: &str) -> Vec<String> {
    inputs
        .iter()
        .filter(|(_, value)| python_str(value).is_some_and(|spliced| spliced.contains(text)))
        .map(|(name, _)| name.clone())
        .collect()
}
