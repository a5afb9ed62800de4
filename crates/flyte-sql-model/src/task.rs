//! The SQL task and its parts.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use flyte_sql_config::{ConnectionConfig, SecretRef};

use crate::error::{Error, Result};
use crate::types::{InputValues, PrimitiveType, Value};

/// The name of the task's one output variable, as in the reference plugin.
pub const OUTPUT_VARIABLE: &str = "results";

/// A SQL task: a query template, its typed inputs, its output and how to run it on Flyte.
///
/// Built with [`SqlTask::builder`] or read from a task file with [`SqlTask::from_toml`]; both
/// validate everything up front, so a `SqlTask` is always a task Flyte can register.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlTask {
    pub(crate) name: String,
    pub(crate) query: String,
    pub(crate) interpolation: Interpolation,
    pub(crate) runtime: Runtime,
    pub(crate) image: Option<String>,
    pub(crate) connection: ConnectionConfig,
    pub(crate) secret_requests: Vec<SecretRef>,
    pub(crate) inputs: Vec<InputVariable>,
    pub(crate) output: Output,
    pub(crate) metadata: TaskMetadata,
    pub(crate) resources: Resources,
    pub(crate) environment: Vec<(String, String)>,
    pub(crate) description: Option<String>,
}

impl SqlTask {
    /// The task name (a dotted identifier such as `examples.tracks.top_n`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The query template, stored exactly as written.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// How input values get into the query.
    pub fn interpolation(&self) -> Interpolation {
        self.interpolation
    }

    /// Which executor the container runs.
    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// The container image as given (possibly with `{{.image.NAME.fqn}}` placeholders), or `None`
    /// for the runtime's default image.
    pub fn image(&self) -> Option<&str> {
        self.image.as_deref()
    }

    /// The database connection.
    pub fn connection(&self) -> &ConnectionConfig {
        &self.connection
    }

    /// Secrets requested for the container besides the secret connect args.
    pub fn secret_requests(&self) -> &[SecretRef] {
        &self.secret_requests
    }

    /// The inputs, in declaration order.
    pub fn inputs(&self) -> &[InputVariable] {
        &self.inputs
    }

    /// The declared input of that name.
    pub fn input(&self, name: &str) -> Option<&InputVariable> {
        self.inputs.iter().find(|input| input.name == name)
    }

    /// The values to run the task with, from the values `given`: each declared input keeps its
    /// given value, or gets [`InputVariable::value_when_absent`]. This is the one rule for it,
    /// used by local runs, Flyte's input literals and workflow nodes.
    ///
    /// Errors, each naming the input: a value for an input the task does not declare
    /// ([`Error::UnknownInput`]), a value of another type or a null for a required input
    /// ([`Error::InputType`]), a required input without a default left out
    /// ([`Error::MissingInput`]).
    ///
    /// ```
    /// use flyte_sql_config::ConnectionConfig;
    /// use flyte_sql_model::{InputValues, InputVariable, PrimitiveType, SqlTask, Value};
    ///
    /// let task = SqlTask::builder("t", "select {{ .inputs.n }}, {{ .inputs.since }}", ConnectionConfig::new("sqlite://")?)
    ///     .input(InputVariable { name: "n".to_owned(), ty: PrimitiveType::Integer, optional: false, default: Some(Value::Integer(5)) })
    ///     .input(InputVariable { name: "since".to_owned(), ty: PrimitiveType::Datetime, optional: true, default: None })
    ///     .build()?;
    /// let values = task.complete_inputs(InputValues::new())?;
    /// assert_eq!(values["n"], Value::Integer(5));
    /// assert_eq!(values["since"], Value::Null(PrimitiveType::Datetime));
    /// let wrong = InputValues::from([("n".to_owned(), Value::String("5".to_owned()))]);
    /// assert_eq!(task.complete_inputs(wrong).unwrap_err().to_string(), "input `n`: expected integer, found string");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn complete_inputs(&self, mut given: InputValues) -> Result<InputValues> {
        if let Some(name) = given.keys().find(|name| self.input(name).is_none()) {
            return Err(Error::UnknownInput {
                input: name.clone(),
                declared: self.inputs.iter().map(|input| input.name.clone()).collect(),
            });
        }
        let mut values = InputValues::new();
        for input in &self.inputs {
            let value = match given.remove(&input.name) {
                Some(value) => input.check(value)?,
                None => input
                    .value_when_absent()
                    .ok_or_else(|| Error::MissingInput {
                        input: input.name.clone(),
                        ty: input.ty,
                    })?,
            };
            values.insert(input.name.clone(), value);
        }
        Ok(values)
    }

    /// The output.
    pub fn output(&self) -> &Output {
        &self.output
    }

    /// The declared output column names in order, `None` when the output is an untyped table or
    /// there is no output (the reference raises for the latter; callers can match on
    /// [`SqlTask::output`] to tell the two apart).
    pub fn output_columns(&self) -> Option<Vec<&str>> {
        match &self.output {
            Output::Table(table) => table
                .columns
                .as_ref()
                .map(|columns| columns.iter().map(|column| column.name.as_str()).collect()),
            Output::None => None,
        }
    }

    /// Task metadata (retries, timeout, cache, ...).
    pub fn metadata(&self) -> &TaskMetadata {
        &self.metadata
    }

    /// Resource requests and limits.
    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    /// Environment variables for the container, in the order given.
    pub fn environment(&self) -> &[(String, String)] {
        &self.environment
    }

    /// A human description of the task.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

/// How input values get into the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// Each placeholder becomes a typed bind parameter: no value can change the statement.
    Safe,
    /// Values are spliced as text exactly as the reference plugin does (`str()` of the value).
    Compat,
}

/// Which executor the task's container runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Runtime {
    /// The `flyte-sql execute` binary in our image.
    Native,
    /// The reference's `pyflyte-execute ... SQLAlchemyTaskExecutor` in flytekit's image.
    Python,
}

/// A declared task input.
#[derive(Debug, Clone, PartialEq)]
pub struct InputVariable {
    /// The name used in `{{ .inputs.NAME }}`.
    pub name: String,
    /// The Flyte type.
    pub ty: PrimitiveType,
    /// Whether the input may be left without a value (then it is a typed null).
    pub optional: bool,
    /// The value used when none is supplied (local runs and workflow defaults).
    pub default: Option<Value>,
}

impl InputVariable {
    /// The value the input gets when none is given: its default, else a typed null when it is
    /// optional; `None` for a required input without a default.
    pub fn value_when_absent(&self) -> Option<Value> {
        match (&self.default, self.optional) {
            (Some(default), _) => Some(default.clone()),
            (None, true) => Some(Value::Null(self.ty)),
            (None, false) => None,
        }
    }

    /// `value` when it has this input's type (a null only when the input is optional).
    pub fn check(&self, value: Value) -> Result<Value> {
        let fits = match &value {
            Value::Null(ty) => self.optional && *ty == self.ty,
            other => other.primitive_type() == self.ty,
        };
        if fits {
            return Ok(value);
        }
        Err(Error::InputType {
            input: self.name.clone(),
            expected: if self.optional {
                format!("{} or none", self.ty)
            } else {
                self.ty.name().to_owned()
            },
            found: match value {
                Value::Null(ty) if ty != self.ty => format!("none of type {ty}"),
                Value::Null(_) => "none".to_owned(),
                other => other.primitive_type().name().to_owned(),
            },
        })
    }
}

/// What the task produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Nothing: the statement runs for its effect (INSERT, DDL).
    None,
    /// A table in the `results` output variable.
    Table(TableOutput),
}

/// A table output: its Flyte type and, optionally, its declared columns.
#[derive(Debug, Clone, PartialEq)]
pub struct TableOutput {
    /// How the output variable is typed in the interface.
    pub kind: TableKind,
    /// The declared columns in order; `None` for an untyped table (never an empty list).
    pub columns: Option<Vec<OutputColumn>>,
}

/// How a table output is typed in the task interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    /// `FlyteSchema`, what the reference declares.
    Schema,
    /// `StructuredDataset` with format `parquet`, what modern Flyte prefers.
    StructuredDataset,
}

/// A declared output column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    /// The column name as the query returns it.
    pub name: String,
    /// Its Flyte type.
    pub ty: PrimitiveType,
}

/// Task metadata, as flytekit's `TaskMetadata`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskMetadata {
    /// Whether outputs are cached (flyteidl `discoverable`).
    pub cache: bool,
    /// Whether concurrent identical executions wait for one another.
    pub cache_serialize: bool,
    /// The cache version (required when `cache` is on).
    pub cache_version: Option<String>,
    /// Inputs left out of the cache key.
    pub cache_ignore_input_vars: Vec<String>,
    /// User retries.
    pub retries: u32,
    /// The execution timeout.
    pub timeout: Option<TimeDelta>,
    /// Whether the task may run on interruptible nodes; `None` leaves it to the workflow.
    pub interruptible: Option<bool>,
    /// A deprecation message shown at registration.
    pub deprecated: Option<String>,
    /// The pod template to run in.
    pub pod_template_name: Option<String>,
    /// Whether the task writes a deck.
    pub generates_deck: bool,
    /// Kubernetes labels for the pod.
    pub labels: BTreeMap<String, String>,
    /// Kubernetes annotations for the pod.
    pub annotations: BTreeMap<String, String>,
    /// Free-form tags (flyteidl `TaskMetadata.tags`).
    pub tags: BTreeMap<String, String>,
}

/// Resource requests and limits of the container.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resources {
    /// What the container asks for.
    pub requests: ResourceSpec,
    /// The most it may use.
    pub limits: ResourceSpec,
}

/// Quantities of each resource, as Kubernetes strings (`"500m"`, `"1Gi"`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceSpec {
    /// CPU.
    pub cpu: Option<String>,
    /// Memory.
    pub memory: Option<String>,
    /// GPUs.
    pub gpu: Option<String>,
    /// Ephemeral storage.
    pub ephemeral_storage: Option<String>,
}
