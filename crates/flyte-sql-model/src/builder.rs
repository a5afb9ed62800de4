//! Building a [`SqlTask`] and validating it up front.

use flyte_sql_config::{ConnectionConfig, SecretRef};

use crate::error::{Error, Problem, Result};
use crate::task::{
    InputVariable, Interpolation, Output, ResourceSpec, Resources, Runtime, SqlTask, TableKind,
    TableOutput, TaskMetadata,
};

/// Builds a [`SqlTask`]; [`SqlTaskBuilder::build`] checks everything at once.
///
/// Defaults: safe interpolation, the native runtime, the runtime's default image, no inputs, an
/// untyped table output (FlyteSchema, as the reference), default metadata and resources.
#[derive(Debug, Clone)]
pub struct SqlTaskBuilder {
    task: SqlTask,
}

impl SqlTask {
    /// Starts a task with its name, query template and connection.
    pub fn builder(name: &str, query: &str, connection: ConnectionConfig) -> SqlTaskBuilder {
        SqlTaskBuilder {
            task: SqlTask {
                name: name.to_owned(),
                query: query.to_owned(),
                interpolation: Interpolation::Safe,
                runtime: Runtime::Native,
                image: None,
                connection,
                secret_requests: Vec::new(),
                inputs: Vec::new(),
                output: Output::Table(TableOutput {
                    kind: TableKind::Schema,
                    columns: None,
                }),
                metadata: TaskMetadata::default(),
                resources: Resources::default(),
                environment: Vec::new(),
                description: None,
            },
        }
    }
}

impl SqlTaskBuilder {
    /// How input values get into the query.
    pub fn interpolation(mut self, interpolation: Interpolation) -> SqlTaskBuilder {
        self.task.interpolation = interpolation;
        self
    }

    /// Which executor the container runs.
    pub fn runtime(mut self, runtime: Runtime) -> SqlTaskBuilder {
        self.task.runtime = runtime;
        self
    }

    /// The container image (may hold `{{.image.NAME.fqn}}` placeholders).
    pub fn image(mut self, image: &str) -> SqlTaskBuilder {
        self.task.image = Some(image.to_owned());
        self
    }

    /// Adds an input after the ones already declared.
    pub fn input(mut self, input: InputVariable) -> SqlTaskBuilder {
        self.task.inputs.push(input);
        self
    }

    /// Sets the output.
    pub fn output(mut self, output: Output) -> SqlTaskBuilder {
        self.task.output = output;
        self
    }

    /// Requests a secret for the container (besides the secret connect args, which are requested
    /// automatically).
    pub fn secret_request(mut self, secret: SecretRef) -> SqlTaskBuilder {
        self.task.secret_requests.push(secret);
        self
    }

    /// Sets the metadata.
    pub fn metadata(mut self, metadata: TaskMetadata) -> SqlTaskBuilder {
        self.task.metadata = metadata;
        self
    }

    /// Sets resource requests and limits.
    pub fn resources(mut self, resources: Resources) -> SqlTaskBuilder {
        self.task.resources = resources;
        self
    }

    /// Adds an environment variable for the container; a later value for the same name wins.
    pub fn environment_variable(mut self, name: &str, value: &str) -> SqlTaskBuilder {
        match self
            .task
            .environment
            .iter_mut()
            .find(|(key, _)| key == name)
        {
            Some(entry) => entry.1 = value.to_owned(),
            None => self
                .task
                .environment
                .push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// A human description.
    pub fn description(mut self, description: &str) -> SqlTaskBuilder {
        self.task.description = Some(description.to_owned());
        self
    }

    /// Validates the task and returns it, or every problem found.
    pub fn build(self) -> Result<SqlTask> {
        let problems = validate(&self.task);
        if problems.is_empty() {
            Ok(self.task)
        } else {
            Err(Error::InvalidTask {
                task: self.task.name,
                problems,
            })
        }
    }
}

fn validate(task: &SqlTask) -> Vec<Problem> {
    let mut problems = Problems::default();
    check_task_name(&task.name, &mut problems);
    if task.query.trim().is_empty() {
        problems.add(
            "query",
            "the query is empty: write the SQL statement the task runs",
        );
    }
    check_inputs(task, &mut problems);
    check_placeholders(task, &mut problems);
    check_output(&task.output, &mut problems);
    check_metadata(task, &mut problems);
    check_resources(&task.resources, &mut problems);
    if task.runtime == Runtime::Python && task.interpolation == Interpolation::Safe {
        problems.add(
            "interpolation",
            "runtime `python` runs the reference executor, which only splices values as text: use interpolation = \"compat\", or runtime = \"native\" for typed binds",
        );
    }
    if task
        .image
        .as_deref()
        .is_some_and(|image| image.trim().is_empty())
    {
        problems.add(
            "image",
            "the image is empty: leave it out for the runtime's default image",
        );
    }
    for (index, (name, _)) in task.environment.iter().enumerate() {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            problems.add(
                format!("environment[{index}]"),
                format!("`{name}` is not a valid environment variable name: use a non-empty name without `=`"),
            );
        }
    }
    for (index, secret) in task.secret_requests.iter().enumerate() {
        check_secret(&format!("secret_requests[{index}]"), secret, &mut problems);
    }
    if let Some(secrets) = task.connection.secret_connect_args() {
        for (arg, secret) in secrets {
            check_secret(
                &format!("connection.secret_connect_args.{arg}"),
                secret,
                &mut problems,
            );
        }
    }
    problems.0
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.into(),
            message: message.into(),
        });
    }
}

/// A Flyte task name: dot-separated segments of letters, digits, `_` and `-`.
fn check_task_name(name: &str, problems: &mut Problems) {
    let valid = !name.is_empty()
        && name.split('.').all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if !valid {
        problems.add(
            "name",
            format!("`{name}` is not a valid task name: use dot-separated segments of letters, digits, `_` and `-`, such as `examples.tracks.top_n`"),
        );
    }
}

/// True for a name the reference's placeholder pattern can match and SQL tools accept: an ASCII
/// identifier.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_inputs(task: &SqlTask, problems: &mut Problems) {
    for (index, input) in task.inputs.iter().enumerate() {
        let field = format!("inputs[{index}]");
        if !is_identifier(&input.name) {
            problems.add(
                format!("{field}.name"),
                format!("`{}` is not an identifier: use letters, digits and `_`, not starting with a digit", input.name),
            );
        }
        if task.inputs[..index]
            .iter()
            .any(|earlier| earlier.name == input.name)
        {
            problems.add(
                format!("{field}.name"),
                format!(
                    "input `{}` is declared twice: give each input its own name",
                    input.name
                ),
            );
        }
        if let Some(default) = &input.default {
            if default.primitive_type() != input.ty {
                problems.add(
                    format!("{field}.default"),
                    format!(
                        "the default is a {} but the input is a {}: give a default of the input's type",
                        default.primitive_type(),
                        input.ty
                    ),
                );
            } else if matches!(default, crate::Value::Null(_)) && !input.optional {
                problems.add(
                    format!("{field}.default"),
                    "a null default needs `optional = true`",
                );
            }
        }
    }
}

fn check_placeholders(task: &SqlTask, problems: &mut Problems) {
    let scan = crate::placeholder::scan_placeholders(&task.query, task.interpolation);
    for malformed in &scan.malformed {
        problems.add(
            "query",
            format!(
                "`{}`: {}",
                &task.query[malformed.span.clone()],
                malformed.problem
            ),
        );
    }
    let found = scan.placeholders;
    for placeholder in &found {
        if task.input(&placeholder.name).is_none() {
            problems.add(
                "query",
                format!(
                    "placeholder `{}` names no declared input: declare an input `{}` or fix the placeholder",
                    &task.query[placeholder.span.clone()],
                    placeholder.name
                ),
            );
        }
    }
    for (index, input) in task.inputs.iter().enumerate() {
        if !found
            .iter()
            .any(|placeholder| placeholder.name == input.name)
        {
            problems.add(
                format!("inputs[{index}]"),
                format!(
                    "input `{}` is not used in the query: add `{{{{ .inputs.{} }}}}` to the query or remove the input",
                    input.name, input.name
                ),
            );
        }
    }
}

fn check_output(output: &Output, problems: &mut Problems) {
    let Output::Table(TableOutput {
        columns: Some(columns),
        ..
    }) = output
    else {
        return;
    };
    if columns.is_empty() {
        problems.add(
            "output.columns",
            "the column list is empty: declare at least one column, or leave `columns` out for an untyped table",
        );
    }
    for (index, column) in columns.iter().enumerate() {
        if column.name.is_empty() {
            problems.add(
                format!("output.columns[{index}].name"),
                "the column name is empty",
            );
        } else if columns[..index]
            .iter()
            .any(|earlier| earlier.name == column.name)
        {
            problems.add(
                format!("output.columns[{index}].name"),
                format!("column `{}` is declared twice", column.name),
            );
        }
    }
}

fn check_metadata(task: &SqlTask, problems: &mut Problems) {
    let metadata = &task.metadata;
    let has_cache_version = metadata
        .cache_version
        .as_deref()
        .is_some_and(|version| !version.is_empty());
    if metadata.cache && !has_cache_version {
        problems.add(
            "metadata.cache_version",
            "caching is on but there is no cache version: set cache_version (bump it when the query's meaning changes)",
        );
    }
    if !metadata.cache {
        if metadata.cache_serialize {
            problems.add(
                "metadata.cache_serialize",
                "cache_serialize needs cache = true",
            );
        }
        if !metadata.cache_ignore_input_vars.is_empty() {
            problems.add(
                "metadata.cache_ignore_input_vars",
                "cache_ignore_input_vars needs cache = true",
            );
        }
    }
    for (index, name) in metadata.cache_ignore_input_vars.iter().enumerate() {
        if task.input(name).is_none() {
            problems.add(
                format!("metadata.cache_ignore_input_vars[{index}]"),
                format!("`{name}` is not a declared input"),
            );
        }
    }
    if metadata
        .timeout
        .is_some_and(|timeout| timeout <= chrono::TimeDelta::zero())
    {
        problems.add(
            "metadata.timeout",
            "the timeout must be positive, such as \"10m\"",
        );
    }
    if metadata
        .timeout
        .is_some_and(|timeout| !crate::duration_in_proto_range(timeout))
    {
        problems.add(
            "metadata.timeout",
            format!(
                "the timeout is beyond protobuf Duration's range of {} s (10,000 years): use a shorter one",
                crate::MAX_PROTO_DURATION_SECONDS
            ),
        );
    }
}

fn check_resources(resources: &Resources, problems: &mut Problems) {
    for (side, spec) in [
        ("requests", &resources.requests),
        ("limits", &resources.limits),
    ] {
        let ResourceSpec {
            cpu,
            memory,
            gpu,
            ephemeral_storage,
        } = spec;
        for (name, value) in [
            ("cpu", cpu),
            ("memory", memory),
            ("gpu", gpu),
            ("ephemeral_storage", ephemeral_storage),
        ] {
            if let Some(value) = value
                && !is_quantity(value)
            {
                problems.add(
                    format!("resources.{side}.{name}"),
                    format!("`{value}` is not a Kubernetes quantity: use a string such as \"500m\", \"2\" or \"1Gi\""),
                );
            }
        }
    }
}

/// A Kubernetes quantity: a decimal number, then an optional suffix (`m`, `Ki`, `Gi`, `e3`, ...).
fn is_quantity(value: &str) -> bool {
    let number_len = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(number_len);
    let number_ok = !number.is_empty() && number != "." && number.matches('.').count() <= 1;
    let suffix_ok = matches!(
        suffix,
        "" | "m" | "k" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"
    ) || suffix.strip_prefix(['e', 'E']).is_some_and(|exponent| {
        !exponent.is_empty() && exponent.chars().all(|c| c.is_ascii_digit())
    });
    number_ok && suffix_ok
}

fn check_secret(field: &str, secret: &SecretRef, problems: &mut Problems) {
    if secret.group.trim().is_empty() {
        problems.add(
            format!("{field}.group"),
            "the secret group is empty: name the secret's group",
        );
    }
    if secret
        .key
        .as_deref()
        .is_some_and(|key| key.trim().is_empty())
    {
        problems.add(
            format!("{field}.key"),
            "the secret key is empty: name the key or leave it out",
        );
    }
}
