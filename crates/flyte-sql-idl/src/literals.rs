//! Literals: task inputs as a `LiteralMap` and back, the literal types of inputs and columns, and
//! the `results` output literal the executor writes.
//!
//! An optional input is a Flyte union `[T, none]`, exactly as flytekit types `Optional[T]`: each
//! variant carries a `structure.tag` naming the Python type (`int`, `float`, `str`, `bool`,
//! `datetime`, `timedelta`, `none`), and a value is wrapped in a `Union` literal with the
//! variant's type.

use chrono::{DateTime, TimeDelta};
use flyte_sql_model::{
    InputValues, InputVariable, OUTPUT_VARIABLE, OutputColumn, PrimitiveType, SqlTask, Value,
};

use crate::error::{Error, Result};
use crate::proto::core::{
    Literal, LiteralMap, LiteralType, Primitive, Scalar, SchemaType, SimpleType, StructuredDataset,
    StructuredDatasetMetadata, StructuredDatasetType, TypeStructure, Union, UnionType, Void,
    literal, literal_type, primitive, scalar, schema_type, structured_dataset_type,
};

/// The format of the Parquet datasets flyte-sql (and the reference) writes.
pub const PARQUET_FORMAT: &str = "parquet";

/// Encodes input values as the `LiteralMap` Flyte hands a task (`inputs.pb`).
///
/// Every value must belong to a declared input and have its type; a null is only allowed for an
/// optional input. Optional inputs get flytekit's union wrapping. Inputs without a value are left
/// out (Flyte fills defaults before a task runs; [`input_values`] applies ours).
pub fn literal_map(task: &SqlTask, values: &InputValues) -> Result<LiteralMap> {
    let mut literals = std::collections::BTreeMap::new();
    for (name, value) in values {
        let input = task.input(name).ok_or_else(|| unknown_input(task, name))?;
        literals.insert(name.clone(), input_literal(input, value)?);
    }
    Ok(LiteralMap { literals })
}

/// Decodes the `LiteralMap` of a task's inputs into values, checking each against its declared
/// type: an unknown name, a literal of another type or a missing required input is an error naming
/// the input. An input without a literal gets its default, or a null when it is optional.
pub fn input_values(task: &SqlTask, literals: &LiteralMap) -> Result<InputValues> {
    let mut given = InputValues::new();
    for (name, literal) in &literals.literals {
        let input = task.input(name).ok_or_else(|| unknown_input(task, name))?;
        given.insert(name.clone(), literal_value(input, literal)?);
    }
    task.complete_inputs(given).map_err(input_error)
}

/// The error of [`SqlTask::complete_inputs`] as this crate reports it.
pub(crate) fn input_error(error: flyte_sql_model::Error) -> Error {
    match error {
        flyte_sql_model::Error::UnknownInput { input, declared } => Error::UnknownInput {
            input,
            declared: if declared.is_empty() {
                "no inputs".to_owned()
            } else {
                declared.join(", ")
            },
        },
        flyte_sql_model::Error::MissingInput { input, ty } => Error::MissingInput { input, ty },
        flyte_sql_model::Error::InputType {
            input,
            expected,
            found,
        } => Error::LiteralType {
            input,
            expected,
            found,
        },
        other => Error::Task { source: other },
    }
}

/// The literal of one input value (union-wrapped for an optional input).
pub fn input_literal(input: &InputVariable, value: &Value) -> Result<Literal> {
    let value = input.check(value.clone()).map_err(input_error)?;
    let (inner, variant_type) = match &value {
        Value::Null(_) => (
            scalar_literal(scalar::Value::NoneType(Void {})),
            none_variant(),
        ),
        value => (
            scalar_literal(scalar::Value::Primitive(primitive(&input.name, value)?)),
            union_variant(input.ty),
        ),
    };
    if !input.optional {
        return Ok(inner);
    }
    Ok(scalar_literal(scalar::Value::Union(Box::new(Union {
        value: Some(Box::new(inner)),
        r#type: Some(variant_type),
    }))))
}

/// The literal type of an input: its simple type, or flytekit's `[T, none]` union when optional.
pub fn input_literal_type(input: &InputVariable) -> LiteralType {
    if input.optional {
        LiteralType {
            r#type: Some(literal_type::Type::UnionType(UnionType {
                variants: vec![union_variant(input.ty), none_variant()],
            })),
            ..LiteralType::default()
        }
    } else {
        simple_literal_type(input.ty)
    }
}

/// `LiteralType { simple: T }`.
pub fn simple_literal_type(ty: PrimitiveType) -> LiteralType {
    LiteralType {
        r#type: Some(literal_type::Type::Simple(simple_type(ty) as i32)),
        ..LiteralType::default()
    }
}

/// The flyteidl `SimpleType` of a model type.
pub fn simple_type(ty: PrimitiveType) -> SimpleType {
    match ty {
        PrimitiveType::Integer => SimpleType::Integer,
        PrimitiveType::Float => SimpleType::Float,
        PrimitiveType::String => SimpleType::String,
        PrimitiveType::Boolean => SimpleType::Boolean,
        PrimitiveType::Datetime => SimpleType::Datetime,
        PrimitiveType::Duration => SimpleType::Duration,
    }
}

/// The model type of a flyteidl `SimpleType` number; `None` for the types flyte-sql does not
/// speak (NONE, BINARY, ERROR, STRUCT, unknown numbers).
pub(crate) fn primitive_type_of_simple(simple: i32) -> Option<PrimitiveType> {
    match SimpleType::try_from(simple).ok()? {
        SimpleType::Integer => Some(PrimitiveType::Integer),
        SimpleType::Float => Some(PrimitiveType::Float),
        SimpleType::String => Some(PrimitiveType::String),
        SimpleType::Boolean => Some(PrimitiveType::Boolean),
        SimpleType::Datetime => Some(PrimitiveType::Datetime),
        SimpleType::Duration => Some(PrimitiveType::Duration),
        SimpleType::None | SimpleType::Binary | SimpleType::Error | SimpleType::Struct => None,
    }
}

/// The `SchemaColumnType` of a column type (INTEGER is 0 there, unlike in `SimpleType`).
pub fn schema_column_type(ty: PrimitiveType) -> schema_type::schema_column::SchemaColumnType {
    use schema_type::schema_column::SchemaColumnType;
    match ty {
        PrimitiveType::Integer => SchemaColumnType::Integer,
        PrimitiveType::Float => SchemaColumnType::Float,
        PrimitiveType::String => SchemaColumnType::String,
        PrimitiveType::Boolean => SchemaColumnType::Boolean,
        PrimitiveType::Datetime => SchemaColumnType::Datetime,
        PrimitiveType::Duration => SchemaColumnType::Duration,
    }
}

/// The model type of a `SchemaColumnType` number; `None` for numbers flyteidl does not define.
pub(crate) fn primitive_type_of_schema_column(column_type: i32) -> Option<PrimitiveType> {
    use schema_type::schema_column::SchemaColumnType;
    Some(match SchemaColumnType::try_from(column_type).ok()? {
        SchemaColumnType::Integer => PrimitiveType::Integer,
        SchemaColumnType::Float => PrimitiveType::Float,
        SchemaColumnType::String => PrimitiveType::String,
        SchemaColumnType::Boolean => PrimitiveType::Boolean,
        SchemaColumnType::Datetime => PrimitiveType::Datetime,
        SchemaColumnType::Duration => PrimitiveType::Duration,
    })
}

/// The `StructuredDatasetType` of a table with these columns (none for an untyped table), format
/// `parquet`.
pub fn structured_dataset_type(columns: Option<&[OutputColumn]>) -> StructuredDatasetType {
    StructuredDatasetType {
        columns: columns
            .unwrap_or_default()
            .iter()
            .map(|column| structured_dataset_type::DatasetColumn {
                name: column.name.clone(),
                literal_type: Some(simple_literal_type(column.ty)),
            })
            .collect(),
        format: PARQUET_FORMAT.to_owned(),
        ..StructuredDatasetType::default()
    }
}

/// The `SchemaType` of a table with these columns (none for an untyped table).
pub fn schema_type(columns: Option<&[OutputColumn]>) -> SchemaType {
    SchemaType {
        columns: columns
            .unwrap_or_default()
            .iter()
            .map(|column| schema_type::SchemaColumn {
                name: column.name.clone(),
                r#type: schema_column_type(column.ty) as i32,
            })
            .collect(),
    }
}

/// The literal of a query result: a `structured_dataset` at `uri` (a directory of Parquet files),
/// format `parquet`, with the declared columns (if any) in its metadata.
///
/// The reference writes the same literal without the columns; Flyte's consumers read both.
pub fn structured_dataset_literal(uri: &str, columns: Option<&[OutputColumn]>) -> Literal {
    scalar_literal(scalar::Value::StructuredDataset(StructuredDataset {
        uri: uri.to_owned(),
        metadata: Some(StructuredDatasetMetadata {
            structured_dataset_type: Some(structured_dataset_type(columns)),
        }),
    }))
}

/// The `outputs.pb` of a task run: `{"results": <structured dataset at uri>}` for a task with a
/// table output, and an empty map (zero bytes when encoded) for a task without output, whatever
/// `uri` is.
pub fn output_literal_map(task: &SqlTask, uri: &str) -> LiteralMap {
    let mut literals = std::collections::BTreeMap::new();
    if let flyte_sql_model::Output::Table(table) = task.output() {
        literals.insert(
            OUTPUT_VARIABLE.to_owned(),
            structured_dataset_literal(uri, table.columns.as_deref()),
        );
    }
    LiteralMap { literals }
}

fn unknown_input(task: &SqlTask, name: &str) -> Error {
    let names: Vec<&str> = task
        .inputs()
        .iter()
        .map(|input| input.name.as_str())
        .collect();
    Error::UnknownInput {
        input: name.to_owned(),
        declared: if names.is_empty() {
            "no inputs".to_owned()
        } else {
            names.join(", ")
        },
    }
}

fn expected_type(input: &InputVariable) -> String {
    if input.optional {
        format!("{} or none", input.ty)
    } else {
        input.ty.name().to_owned()
    }
}

fn scalar_literal(value: scalar::Value) -> Literal {
    Literal {
        value: Some(literal::Value::Scalar(Box::new(Scalar {
            value: Some(value),
        }))),
        ..Literal::default()
    }
}

/// The Python type name flytekit puts in a union variant's `structure.tag`.
fn python_type_tag(ty: PrimitiveType) -> &'static str {
    match ty {
        PrimitiveType::Integer => "int",
        PrimitiveType::Float => "float",
        PrimitiveType::String => "str",
        PrimitiveType::Boolean => "bool",
        PrimitiveType::Datetime => "datetime",
        PrimitiveType::Duration => "timedelta",
    }
}

fn union_variant(ty: PrimitiveType) -> LiteralType {
    LiteralType {
        structure: Some(TypeStructure {
            tag: python_type_tag(ty).to_owned(),
            ..TypeStructure::default()
        }),
        ..simple_literal_type(ty)
    }
}

fn none_variant() -> LiteralType {
    LiteralType {
        r#type: Some(literal_type::Type::Simple(SimpleType::None as i32)),
        structure: Some(TypeStructure {
            tag: "none".to_owned(),
            ..TypeStructure::default()
        }),
        ..LiteralType::default()
    }
}

fn primitive(input: &str, value: &Value) -> Result<Primitive> {
    let value = match value {
        Value::Integer(value) => primitive::Value::Integer(*value),
        Value::Float(value) => primitive::Value::FloatValue(*value),
        Value::String(value) => primitive::Value::StringValue(value.clone()),
        Value::Boolean(value) => primitive::Value::Boolean(*value),
        Value::Datetime(value) => primitive::Value::Datetime(prost_types::Timestamp {
            seconds: value.timestamp(),
            nanos: i32::try_from(value.timestamp_subsec_nanos()).map_err(|_| {
                Error::OutOfRange {
                    input: input.to_owned(),
                    ty: PrimitiveType::Datetime,
                    problem: "a leap second cannot be written as a protobuf Timestamp",
                }
            })?,
        }),
        Value::Duration(value) => primitive::Value::Duration(prost_types::Duration {
            seconds: value.num_seconds(),
            nanos: value.subsec_nanos(),
        }),
        Value::Null(ty) => {
            return Err(Error::LiteralType {
                input: input.to_owned(),
                expected: ty.name().to_owned(),
                found: "none".to_owned(),
            });
        }
    };
    Ok(Primitive { value: Some(value) })
}

/// The value of an input's literal: a primitive of its type, a none (optional inputs only), or a
/// union wrapping either.
fn literal_value(input: &InputVariable, literal: &Literal) -> Result<Value> {
    let mismatch = |found: String| Error::LiteralType {
        input: input.name.clone(),
        expected: expected_type(input),
        found,
    };
    let scalar = match &literal.value {
        Some(literal::Value::Scalar(scalar)) => scalar,
        Some(literal::Value::Collection(_)) => return Err(mismatch("a collection".to_owned())),
        Some(literal::Value::Map(_)) => return Err(mismatch("a map".to_owned())),
        Some(literal::Value::OffloadedMetadata(_)) => {
            return Err(mismatch("an offloaded literal".to_owned()));
        }
        None => return Err(mismatch("an empty literal".to_owned())),
    };
    match &scalar.value {
        Some(scalar::Value::Primitive(primitive)) => {
            let value = primitive_value(&input.name, primitive)?;
            if value.primitive_type() == input.ty {
                Ok(value)
            } else {
                Err(mismatch(value.primitive_type().name().to_owned()))
            }
        }
        Some(scalar::Value::NoneType(_)) if input.optional => Ok(Value::Null(input.ty)),
        Some(scalar::Value::Union(union)) => match union.value.as_deref() {
            Some(inner) => literal_value(input, inner),
            None => Err(mismatch("a union without a value".to_owned())),
        },
        other => Err(mismatch(scalar_description(other.as_ref()).to_owned())),
    }
}

fn scalar_description(value: Option<&scalar::Value>) -> &'static str {
    match value {
        Some(scalar::Value::Primitive(_)) => "a primitive",
        Some(scalar::Value::Blob(_)) => "a blob",
        Some(scalar::Value::Binary(_)) => "a binary",
        Some(scalar::Value::Schema(_)) => "a schema",
        Some(scalar::Value::NoneType(_)) => "none",
        Some(scalar::Value::Error(_)) => "an error",
        Some(scalar::Value::Generic(_)) => "a generic struct",
        Some(scalar::Value::StructuredDataset(_)) => "a structured dataset",
        Some(scalar::Value::Union(_)) => "a union",
        None => "an empty scalar",
    }
}

fn primitive_value(input: &str, primitive: &Primitive) -> Result<Value> {
    let out_of_range = |ty, problem| Error::OutOfRange {
        input: input.to_owned(),
        ty,
        problem,
    };
    Ok(match &primitive.value {
        Some(primitive::Value::Integer(value)) => Value::Integer(*value),
        Some(primitive::Value::FloatValue(value)) => Value::Float(*value),
        Some(primitive::Value::StringValue(value)) => Value::String(value.clone()),
        Some(primitive::Value::Boolean(value)) => Value::Boolean(*value),
        Some(primitive::Value::Datetime(timestamp)) => {
            let nanos = u32::try_from(timestamp.nanos)
                .ok()
                .filter(|nanos| *nanos < 1_000_000_000)
                .ok_or_else(|| {
                    out_of_range(PrimitiveType::Datetime, "nanos must be in 0..1_000_000_000")
                })?;
            Value::Datetime(
                DateTime::from_timestamp(timestamp.seconds, nanos).ok_or_else(|| {
                    out_of_range(
                        PrimitiveType::Datetime,
                        "seconds outside chrono's date range",
                    )
                })?,
            )
        }
        Some(primitive::Value::Duration(duration)) => {
            let nanos_valid = duration.nanos.unsigned_abs() < 1_000_000_000
                && (duration.seconds == 0
                    || duration.nanos == 0
                    || (duration.seconds < 0) == (duration.nanos < 0));
            if !nanos_valid {
                return Err(out_of_range(
                    PrimitiveType::Duration,
                    "nanos must be below one second and have the sign of seconds",
                ));
            }
            let total = TimeDelta::try_seconds(duration.seconds)
                .and_then(|seconds| {
                    seconds.checked_add(&TimeDelta::nanoseconds(i64::from(duration.nanos)))
                })
                .ok_or_else(|| {
                    out_of_range(PrimitiveType::Duration, "seconds outside chrono's range")
                })?;
            Value::Duration(total)
        }
        None => {
            return Err(Error::LiteralType {
                input: input.to_owned(),
                expected: "a primitive value".to_owned(),
                found: "an empty primitive".to_owned(),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use flyte_sql_config::ConnectionConfig;
    use prost::Message;

    use super::*;

    fn task() -> SqlTask {
        let input = |name: &str, ty, optional| InputVariable {
            name: name.to_owned(),
            ty,
            optional,
            default: None,
        };
        SqlTask::builder(
            "t.inputs",
            "select {{ .inputs.limit }}, {{ .inputs.since }}, {{ .inputs.label }}",
            ConnectionConfig::new("sqlite://").unwrap(),
        )
        .input(input("limit", PrimitiveType::Integer, false))
        .input(input("since", PrimitiveType::Datetime, true))
        .input(InputVariable {
            default: Some(Value::String("x".to_owned())),
            ..input("label", PrimitiveType::String, false)
        })
        .build()
        .unwrap()
    }

    #[test]
    fn values_round_trip_through_bytes() {
        let task = task();
        let mut values = InputValues::new();
        values.insert("limit".to_owned(), Value::Integer(-3));
        values.insert(
            "since".to_owned(),
            Value::Datetime(chrono::Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()),
        );
        values.insert("label".to_owned(), Value::String("y".to_owned()));
        let bytes = literal_map(&task, &values).unwrap().encode_to_vec();
        let decoded = input_values(&task, &LiteralMap::decode(bytes.as_slice()).unwrap()).unwrap();
        assert_eq!(decoded, values);
    }

    #[test]
    fn missing_inputs_get_defaults_nulls_or_an_error() {
        let task = task();
        let mut only_limit = LiteralMap::default();
        let limit = input_literal(&task.inputs()[0], &Value::Integer(1)).unwrap();
        only_limit.literals.insert("limit".to_owned(), limit);
        let values = input_values(&task, &only_limit).unwrap();
        assert_eq!(values["since"], Value::Null(PrimitiveType::Datetime));
        assert_eq!(values["label"], Value::String("x".to_owned()));
        let error = input_values(&task, &LiteralMap::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "missing input `limit` of type integer: supply a value (it has no default)"
        );
    }

    #[test]
    fn wrong_and_unknown_literals_name_the_input() {
        let task = task();
        let mut wrong = LiteralMap::default();
        let text = input_literal(&task.inputs()[2], &Value::String("5".to_owned())).unwrap();
        wrong.literals.insert("limit".to_owned(), text.clone());
        assert_eq!(
            input_values(&task, &wrong).unwrap_err().to_string(),
            "input `limit`: expected integer, found string"
        );
        let mut unknown = LiteralMap::default();
        unknown.literals.insert("offset".to_owned(), text);
        assert_eq!(
            input_values(&task, &unknown).unwrap_err().to_string(),
            "unknown input `offset`: the task declares limit, since, label"
        );
        let null = input_literal(&task.inputs()[0], &Value::Null(PrimitiveType::Integer));
        assert_eq!(
            null.unwrap_err().to_string(),
            "input `limit`: expected integer, found none"
        );
    }

    #[test]
    fn durations_keep_sign_and_nanoseconds() {
        let input = InputVariable {
            name: "d".to_owned(),
            ty: PrimitiveType::Duration,
            optional: false,
            default: None,
        };
        for nanos in [-86_394_750_000_000_i64, 1, -1, 93_784_500_000_000] {
            let value = Value::Duration(TimeDelta::nanoseconds(nanos));
            let literal = input_literal(&input, &value).unwrap();
            assert_eq!(literal_value(&input, &literal).unwrap(), value);
        }
    }

    #[test]
    fn output_literals_are_structured_datasets() {
        let literal = structured_dataset_literal(
            "s3://bucket/raw/abc",
            Some(&[OutputColumn {
                name: "id".to_owned(),
                ty: PrimitiveType::Integer,
            }]),
        );
        let Some(literal::Value::Scalar(scalar)) = literal.value else {
            panic!("not a scalar: {literal:?}");
        };
        let Some(scalar::Value::StructuredDataset(dataset)) = scalar.value else {
            panic!("not a structured dataset: {scalar:?}");
        };
        assert_eq!(dataset.uri, "s3://bucket/raw/abc");
        let dataset_type = dataset.metadata.unwrap().structured_dataset_type.unwrap();
        assert_eq!(dataset_type.format, "parquet");
        assert_eq!(dataset_type.columns[0].name, "id");
    }
}
