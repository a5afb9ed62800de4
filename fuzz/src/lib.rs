//! What the fuzz targets share: how one fuzz input splits into text fields and structured
//! choices, typed input values made from bytes, the serialization settings, and the task whose
//! literal maps `literal_map` decodes.
//!
//! A target's input is text fields separated by NUL bytes, then bytes that [`Unstructured`]
//! turns into choices. The seeds (`fuzz/seeds/<target>/`) are plain queries, URIs and task files,
//! so the fuzzer starts from real text and the choices start from nothing (all defaults).

use arbitrary::Unstructured;
use chrono::{DateTime, TimeDelta};
use flyte_sql_config::ConnectionConfig;
use flyte_sql_idl::{ImageConfig, SerializationSettings};
use flyte_sql_model::{
    InputValues, InputVariable, Interpolation, Output, PrimitiveType, SqlTask, Value,
};

/// Splits `data` at its first `fields - 1` NUL bytes into text fields (invalid UTF-8 replaced),
/// returning them and the bytes after the last field's NUL (empty when there are fewer).
pub fn split_fields(data: &[u8], fields: usize) -> (Vec<String>, &[u8]) {
    let mut texts = Vec::with_capacity(fields);
    let mut rest = data;
    while texts.len() < fields {
        match rest.iter().position(|&b| b == 0) {
            Some(nul) => {
                texts.push(String::from_utf8_lossy(&rest[..nul]).into_owned());
                rest = &rest[nul + 1..];
            }
            None => {
                texts.push(String::from_utf8_lossy(rest).into_owned());
                rest = &[];
            }
        }
    }
    (texts, rest)
}

/// True one time in `n`, and false when the choices have run out (so a seed without choices
/// takes the plain path: values rather than nulls, no extra inputs).
pub fn one_in(u: &mut Unstructured<'_>, n: u32) -> bool {
    u.int_in_range(0..=n - 1).unwrap_or(0) == n - 1
}

/// One of the six types, chosen by the fuzzer.
pub fn any_type(u: &mut Unstructured<'_>) -> PrimitiveType {
    let index = u.choose_index(PrimitiveType::ALL.len()).unwrap_or(0);
    PrimitiveType::ALL[index]
}

/// A value of type `ty` (sometimes its typed null), every bit pattern reachable: NaN and the
/// infinities, the extremes of timestamps and durations, any string.
pub fn value_of(ty: PrimitiveType, u: &mut Unstructured<'_>) -> Value {
    if one_in(u, 8) {
        return Value::Null(ty);
    }
    match ty {
        PrimitiveType::Integer => Value::Integer(u.arbitrary().unwrap_or_default()),
        PrimitiveType::Float => Value::Float(u.arbitrary().unwrap_or_default()),
        PrimitiveType::String => Value::String(u.arbitrary().unwrap_or_default()),
        PrimitiveType::Boolean => Value::Boolean(u.arbitrary().unwrap_or_default()),
        PrimitiveType::Datetime => {
            let seconds: i64 = u.arbitrary().unwrap_or_default();
            let nanos: u32 = u.int_in_range(0..=999_999_999).unwrap_or(0);
            // Out of chrono's range: the latest (or earliest) moment it has, so extremes stay in.
            let moment = DateTime::from_timestamp(seconds, nanos).unwrap_or(if seconds < 0 {
                DateTime::<chrono::Utc>::MIN_UTC
            } else {
                DateTime::<chrono::Utc>::MAX_UTC
            });
            Value::Datetime(moment)
        }
        PrimitiveType::Duration => {
            let seconds: i64 = u.arbitrary().unwrap_or_default();
            let nanos: u32 = u.int_in_range(0..=999_999_999).unwrap_or(0);
            let delta = TimeDelta::new(seconds, nanos).unwrap_or(if seconds < 0 {
                TimeDelta::MIN
            } else {
                TimeDelta::MAX
            });
            Value::Duration(delta)
        }
    }
}

/// The settings every target serializes with: a project, a domain, a version and one
/// environment variable, so that the merge of settings and task environments is exercised.
pub fn settings() -> SerializationSettings {
    SerializationSettings {
        project: "fuzz".to_owned(),
        domain: "development".to_owned(),
        version: "1".to_owned(),
        env: vec![("FROM_SETTINGS".to_owned(), "1".to_owned())],
        image_config: ImageConfig {
            default_image: None,
            images: Vec::new(),
            internal_image: None,
        },
    }
}

/// A task with an input of every type, required and optional, one with a default: the task whose
/// literal maps the `literal_map` target decodes.
pub fn every_type_task() -> SqlTask {
    let mut query = String::from("select 1");
    let mut builder_inputs = Vec::new();
    for ty in PrimitiveType::ALL {
        for optional in [false, true] {
            let name = format!("{}{}", ty.name(), if optional { "_or_none" } else { "" });
            query.push_str(&format!(", {{{{ .inputs.{name} }}}}"));
            builder_inputs.push(InputVariable {
                name,
                ty,
                optional,
                default: None,
            });
        }
    }
    query.push_str(", {{ .inputs.with_default }}");
    builder_inputs.push(InputVariable {
        name: "with_default".to_owned(),
        ty: PrimitiveType::Integer,
        optional: false,
        default: Some(Value::Integer(7)),
    });
    let connection = ConnectionConfig::new("sqlite://").expect("the in-memory SQLite URI is valid");
    let mut builder = SqlTask::builder("every_type", &query, connection)
        .interpolation(Interpolation::Compat)
        .output(Output::None);
    for input in builder_inputs {
        builder = builder.input(input);
    }
    builder.build().expect("the every-type task is valid")
}

/// `Debug` of the values, which tells NaNs apart as `==` cannot.
pub fn shown(values: &InputValues) -> String {
    format!("{values:?}")
}
