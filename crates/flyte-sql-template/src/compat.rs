//! Compatible mode: the reference's `interpolate_query`, bit for bit.

use std::collections::BTreeSet;

use flyte_sql_model::{InputValues, Interpolation, placeholders};

use crate::error::{Error, Result};
use crate::python::python_str;

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
