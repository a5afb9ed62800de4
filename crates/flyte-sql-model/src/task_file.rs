//! The TOML task file (SPEC section 6b): a serde mirror of the builder's vocabulary.
//!
//! The file form is a separate set of types so that [`SqlTask`] itself stays free of serde; a
//! file is read into these, then handed to the builder, which validates it like any other task.

use std::collections::BTreeMap;

use flyte_sql_config::{ConnectionConfig, SecretRef};
use serde::Deserialize;

use crate::error::{Error, Problem, Result};
use crate::task::{
    InputVariable, Interpolation, Output, OutputColumn, ResourceSpec, Resources, Runtime, SqlTask,
    TableKind, TableOutput, TaskMetadata,
};
use crate::types::{PrimitiveType, Value};
use crate::value_parse::parse_duration;

impl SqlTask {
    /// Reads and validates a task file; every problem is reported at once, each naming its field.
    ///
    /// TOML's parser and the file's shape (unknown keys, wrong types) stop at the first problem
    /// of that kind; every problem with the values of a well-formed file is reported together.
    pub fn from_toml(text: &str) -> Result<SqlTask> {
        let file: TaskFile = toml::from_str(text).map_err(|error| Error::TaskFile {
            message: toml_error_message(text, &error),
        })?;
        file.into_task()
    }
}

/// The widest excerpt of the offending line an error shows, in characters.
const EXCERPT_CHARS: usize = 80;

/// toml's message and position, in toml's layout, with the excerpt of the offending line bounded
/// to [`EXCERPT_CHARS`] around the error (toml's own rendering echoes the whole line, however
/// long).
fn toml_error_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end();
    let Some(span) = error.span() else {
        return message.to_owned();
    };
    let start = span.start.min(text.len());
    let start = (0..=start)
        .rev()
        .find(|index| text.is_char_boundary(*index))
        .unwrap_or(0);
    let line_start = text[..start].rfind('\n').map_or(0, |index| index + 1);
    let line_end = text[start..]
        .find('\n')
        .map_or(text.len(), |index| start + index);
    let line = text[line_start..line_end].trim_end_matches('\r');
    let line_number = text[..line_start].matches('\n').count() + 1;
    let column = text[line_start..start].chars().count();
    let chars: Vec<char> = line.chars().collect();
    let first = column
        .saturating_sub(EXCERPT_CHARS / 2)
        .min(chars.len().saturating_sub(EXCERPT_CHARS));
    let last = (first + EXCERPT_CHARS).min(chars.len());
    let mut excerpt = String::new();
    let mut caret_at = column - first;
    if first > 0 {
        excerpt.push('…');
        caret_at += 1;
    }
    excerpt.extend(&chars[first..last]);
    if last < chars.len() {
        excerpt.push('…');
    }
    let span_end = span.end.clamp(start, line_start + line.len());
    let span_end = (span_end..=text.len())
        .find(|index| text.is_char_boundary(*index))
        .unwrap_or(text.len());
    let carets = text[start..span_end]
        .chars()
        .count()
        .clamp(1, last.saturating_sub(column).max(1));
    let gutter = " ".repeat(line_number.to_string().len());
    format!(
        "TOML parse error at line {line_number}, column {}\n{gutter} |\n{line_number} | {excerpt}\n{gutter} | {}{}\n{message}",
        column + 1,
        " ".repeat(caret_at),
        "^".repeat(carets)
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    name: String,
    query: String,
    #[serde(default = "default_interpolation")]
    interpolation: Interpolation,
    #[serde(default = "default_runtime")]
    runtime: Runtime,
    image: Option<String>,
    description: Option<String>,
    connection: ConnectionFile,
    #[serde(default)]
    secret_requests: Vec<SecretRef>,
    #[serde(default)]
    inputs: Vec<InputFile>,
    output: Option<OutputFile>,
    #[serde(default)]
    metadata: MetadataFile,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    resources: ResourcesFile,
}

fn default_interpolation() -> Interpolation {
    Interpolation::Safe
}

fn default_runtime() -> Runtime {
    Runtime::Native
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionFile {
    uri: String,
    #[serde(default)]
    connect_args: toml::Table,
    secret_connect_args: Option<BTreeMap<String, SecretRef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFile {
    name: String,
    #[serde(rename = "type")]
    ty: PrimitiveType,
    #[serde(default)]
    optional: bool,
    default: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputFile {
    kind: OutputKindFile,
    columns: Option<Vec<ColumnFile>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum OutputKindFile {
    Schema,
    StructuredDataset,
    None,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnFile {
    name: String,
    #[serde(rename = "type")]
    ty: PrimitiveType,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MetadataFile {
    #[serde(default)]
    cache: bool,
    #[serde(default)]
    cache_serialize: bool,
    cache_version: Option<String>,
    #[serde(default)]
    cache_ignore_input_vars: Vec<String>,
    #[serde(default)]
    retries: u32,
    timeout: Option<TimeoutFile>,
    interruptible: Option<bool>,
    deprecated: Option<String>,
    pod_template_name: Option<String>,
    #[serde(default)]
    generates_deck: bool,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// A timeout as a duration string (`"10m"`, `"600s"`) or whole seconds.
#[derive(Deserialize)]
#[serde(untagged)]
enum TimeoutFile {
    Seconds(i64),
    Text(String),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResourcesFile {
    #[serde(default)]
    requests: ResourceSpecFile,
    #[serde(default)]
    limits: ResourceSpecFile,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResourceSpecFile {
    cpu: Option<String>,
    memory: Option<String>,
    gpu: Option<String>,
    ephemeral_storage: Option<String>,
}

impl From<ResourceSpecFile> for ResourceSpec {
    fn from(file: ResourceSpecFile) -> ResourceSpec {
        ResourceSpec {
            cpu: file.cpu,
            memory: file.memory,
            gpu: file.gpu,
            ephemeral_storage: file.ephemeral_storage,
        }
    }
}

impl TaskFile {
    /// Converts to a task, collecting the file-level problems (connection, defaults, timeout)
    /// together with the builder's.
    fn into_task(self) -> Result<SqlTask> {
        let mut problems = Vec::new();
        let connect_args = toml_table_to_json(&self.connection.connect_args, &mut problems);
        let connection = match ConnectionConfig::new(&self.connection.uri) {
            Ok(connection) => Some(
                connection
                    .with_connect_args(connect_args)
                    .with_secret_connect_args(self.connection.secret_connect_args),
            ),
            Err(error) => {
                problems.push(Problem {
                    field: "connection.uri".to_owned(),
                    message: error.to_string(),
                });
                None
            }
        };
        let timeout = match self.metadata.timeout {
            None => None,
            Some(TimeoutFile::Seconds(seconds)) => {
                let timeout = chrono::TimeDelta::try_seconds(seconds);
                if timeout.is_none() {
                    problems.push(Problem {
                        field: "metadata.timeout".to_owned(),
                        message: format!("{seconds} seconds is beyond protobuf Duration's range of {} s (10,000 years): use a shorter timeout", crate::MAX_PROTO_DURATION_SECONDS),
                    });
                }
                timeout
            }
            Some(TimeoutFile::Text(text)) => {
                let parsed = parse_duration(text.trim());
                if parsed.is_none() {
                    problems.push(Problem {
                        field: "metadata.timeout".to_owned(),
                        message: format!("`{text}` is not a duration: use a string such as \"10m\", \"90s\" or \"1h30m\""),
                    });
                }
                parsed
            }
        };
        let mut inputs = Vec::new();
        for (index, input) in self.inputs.into_iter().enumerate() {
            let default =
                input
                    .default
                    .as_ref()
                    .and_then(|value| match toml_to_value(input.ty, value) {
                        Ok(value) => Some(value),
                        Err(message) => {
                            problems.push(Problem {
                                field: format!("inputs[{index}].default"),
                                message,
                            });
                            None
                        }
                    });
            inputs.push(InputVariable {
                name: input.name,
                ty: input.ty,
                optional: input.optional,
                default,
            });
        }
        let output = match self.output {
            None => Output::Table(TableOutput {
                kind: TableKind::Schema,
                columns: None,
            }),
            Some(OutputFile {
                kind: OutputKindFile::None,
                columns,
            }) => {
                if columns.is_some() {
                    problems.push(Problem {
                        field: "output.columns".to_owned(),
                        message: "an output of kind `none` has no columns: remove them or choose kind \"schema\" or \"structured_dataset\"".to_owned(),
                    });
                }
                Output::None
            }
            Some(OutputFile { kind, columns }) => Output::Table(TableOutput {
                kind: match kind {
                    OutputKindFile::StructuredDataset => TableKind::StructuredDataset,
                    _ => TableKind::Schema,
                },
                columns: columns.map(|columns| {
                    columns
                        .into_iter()
                        .map(|column| OutputColumn {
                            name: column.name,
                            ty: column.ty,
                        })
                        .collect()
                }),
            }),
        };

        // Without a valid connection there is no task to build, but the builder's checks still
        // run on a placeholder connection so that every problem is reported in one go.
        let connection_or_placeholder = match connection {
            Some(connection) => connection,
            None => ConnectionConfig::new("sqlite://").map_err(|error| Error::TaskFile {
                message: error.to_string(),
            })?,
        };
        let mut builder = SqlTask::builder(&self.name, &self.query, connection_or_placeholder)
            .interpolation(self.interpolation)
            .runtime(self.runtime)
            .output(output)
            .metadata(TaskMetadata {
                cache: self.metadata.cache,
                cache_serialize: self.metadata.cache_serialize,
                cache_version: self.metadata.cache_version,
                cache_ignore_input_vars: self.metadata.cache_ignore_input_vars,
                retries: self.metadata.retries,
                timeout,
                interruptible: self.metadata.interruptible,
                deprecated: self.metadata.deprecated,
                pod_template_name: self.metadata.pod_template_name,
                generates_deck: self.metadata.generates_deck,
                labels: self.metadata.labels,
                annotations: self.metadata.annotations,
                tags: self.metadata.tags,
            })
            .resources(Resources {
                requests: self.resources.requests.into(),
                limits: self.resources.limits.into(),
            });
        if let Some(image) = &self.image {
            builder = builder.image(image);
        }
        if let Some(description) = &self.description {
            builder = builder.description(description);
        }
        for input in inputs {
            builder = builder.input(input);
        }
        for secret in self.secret_requests {
            builder = builder.secret_request(secret);
        }
        for (name, value) in &self.environment {
            builder = builder.environment_variable(name, value);
        }
        match builder.build() {
            Ok(task) if problems.is_empty() => Ok(task),
            Ok(task) => Err(Error::InvalidTask {
                task: task.name,
                problems,
            }),
            Err(Error::InvalidTask {
                task,
                problems: builder_problems,
            }) => {
                problems.extend(builder_problems);
                Err(Error::InvalidTask { task, problems })
            }
            Err(other) => Err(other),
        }
    }
}

/// How deeply a connect arg's value may nest tables and arrays (a plain value is level 1). In the
/// TaskTemplate each level is a `Struct` or `ListValue` inside a `Value`, two protobuf messages,
/// and Python's protobuf refuses messages nested deeper than 100: 32 levels stay well inside.
pub const MAX_CONNECT_ARG_DEPTH: usize = 32;

/// A TOML value as the JSON value the reference would keep in `connect_args`.
fn toml_table_to_json(
    table: &toml::Table,
    problems: &mut Vec<Problem>,
) -> serde_json::Map<String, serde_json::Value> {
    fn convert(
        path: &str,
        value: &toml::Value,
        depth: usize,
        problems: &mut Vec<Problem>,
    ) -> serde_json::Value {
        if depth > MAX_CONNECT_ARG_DEPTH {
            problems.push(Problem {
                field: path.to_owned(),
                message: format!("connect args nest tables and arrays at most {MAX_CONNECT_ARG_DEPTH} levels deep (protobuf decoders refuse deeper messages): flatten this value"),
            });
            return serde_json::Value::Null;
        }
        match value {
            toml::Value::String(text) => serde_json::Value::String(text.clone()),
            toml::Value::Integer(number) => serde_json::Value::from(*number),
            toml::Value::Float(number) => match serde_json::Number::from_f64(*number) {
                Some(number) => serde_json::Value::Number(number),
                None => {
                    problems.push(Problem {
                        field: path.to_owned(),
                        message: "NaN and infinities cannot be serialized into a Flyte Struct: use a finite number".to_owned(),
                    });
                    serde_json::Value::Null
                }
            },
            toml::Value::Boolean(boolean) => serde_json::Value::Bool(*boolean),
            toml::Value::Datetime(datetime) => {
                problems.push(Problem {
                    field: path.to_owned(),
                    message: format!("TOML datetimes cannot go into connect args: write \"{datetime}\" as a string"),
                });
                serde_json::Value::Null
            }
            toml::Value::Array(items) => serde_json::Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        convert(&format!("{path}[{index}]"), item, depth + 1, problems)
                    })
                    .collect(),
            ),
            toml::Value::Table(table) => serde_json::Value::Object(
                table
                    .iter()
                    .map(|(key, item)| {
                        (
                            key.clone(),
                            convert(&format!("{path}.{key}"), item, depth + 1, problems),
                        )
                    })
                    .collect(),
            ),
        }
    }
    table
        .iter()
        .map(|(key, value)| {
            let path = format!("connection.connect_args.{key}");
            (key.clone(), convert(&path, value, 1, problems))
        })
        .collect()
}

/// A TOML default value of a declared input type.
fn toml_to_value(ty: PrimitiveType, value: &toml::Value) -> std::result::Result<Value, String> {
    match (ty, value) {
        (PrimitiveType::Integer, toml::Value::Integer(number)) => Ok(Value::Integer(*number)),
        (PrimitiveType::Float, toml::Value::Float(number)) => Ok(Value::Float(*number)),
        (PrimitiveType::Float, toml::Value::Integer(number)) => Ok(Value::Float(*number as f64)),
        (PrimitiveType::Boolean, toml::Value::Boolean(boolean)) => Ok(Value::Boolean(*boolean)),
        (PrimitiveType::Datetime, toml::Value::Datetime(datetime)) => {
            Value::parse_text(ty, &datetime.to_string()).map_err(|error| error.to_string())
        }
        (_, toml::Value::String(text)) if ty != PrimitiveType::Boolean => {
            Value::parse_text(ty, text).map_err(|error| error.to_string())
        }
        _ => Err(format!(
            "a {} default cannot be a TOML {}: write it as {}",
            ty,
            value.type_str(),
            match ty {
                PrimitiveType::Integer => "a whole number",
                PrimitiveType::Float => "a number",
                PrimitiveType::String => "a string",
                PrimitiveType::Boolean => "true or false",
                PrimitiveType::Datetime => "an RFC 3339 timestamp",
                PrimitiveType::Duration => "a string such as \"90s\"",
            }
        )),
    }
}
