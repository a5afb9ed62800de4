//! `SqlTask` to `TaskTemplate` / `admin.TaskSpec` and back.
//!
//! The encoding follows what flytekit writes for a `SQLAlchemyTask` (reference section 3), field
//! by field, with these deliberate differences (see `docs/deviations.md`):
//! - the SecurityContext also requests the secrets of `secret_connect_args` (the reference only
//!   requests `secret_requests`, so its tasks cannot read those secrets unless repeated);
//! - a `structured_dataset` output type says format `parquet` (the reference leaves it empty);
//! - `metadata.runtime` names flyte-sql rather than flytekit;
//! - the native runtime runs our executor, keeps the query as written and records safe
//!   interpolation in `config` (`flyte-sql.interpolation = safe`).

use std::collections::BTreeMap;

use chrono::TimeDelta;
use flyte_sql_config::{ConnectionConfig, MountRequirement, SecretRef};
use flyte_sql_model::{
    InputVariable, Interpolation, OUTPUT_VARIABLE, Output, OutputColumn, ResourceSpec, Resources,
    Runtime, SqlTask, TableKind, TableOutput, TaskMetadata,
};
use prost_types::value::Kind;

use crate::error::{Error, Result};
use crate::images::{default_python_image, find_native_image};
use crate::literals::{
    input_literal_type, primitive_type_of_schema_column, primitive_type_of_simple, schema_type,
    structured_dataset_type,
};
use crate::proto::admin::{DescriptionEntity, TaskSpec};
use crate::proto::core::{
    Container, Identifier, K8sObjectMetadata, KeyValuePair, LiteralType, ResourceType,
    RetryStrategy, RuntimeMetadata, Secret, SecurityContext, TaskMetadata as ProtoTaskMetadata,
    TaskTemplate, TypedInterface, Variable, VariableMap, literal_type, resources, runtime_metadata,
    task_metadata, task_template,
};
use crate::settings::{SerializationSettings, resolve_image};

/// The task type of every SQLAlchemy task, flytekit's and ours.
pub const TASK_TYPE: &str = "sqlalchemy";

/// The `TaskTemplate.config` key under which a native-runtime template records its interpolation
/// mode; present only for safe interpolation (absent means compat).
pub const INTERPOLATION_CONFIG_KEY: &str = "flyte-sql.interpolation";

/// The `RuntimeMetadata.flavor` flyte-sql writes (flytekit writes `python`).
pub const RUNTIME_FLAVOR: &str = "flyte-sql";

/// The container args of the python runtime: the reference's `pyflyte-execute` invocation of
/// `SQLAlchemyTaskExecutor`, constant for every task.
pub const PYTHON_RUNTIME_ARGS: [&str; 12] = [
    "pyflyte-execute",
    "--inputs",
    "{{.input}}",
    "--output-prefix",
    "{{.outputPrefix}}",
    "--raw-output-data-prefix",
    "{{.rawOutputDataPrefix}}",
    "--resolver",
    "flytekit.core.python_customized_container_task.default_task_template_resolver",
    "--",
    "{{.taskTemplatePath}}",
    "flytekitplugins.sqlalchemy.task.SQLAlchemyTaskExecutor",
];

/// The container args of the native runtime: our executor, reading the same files.
pub const NATIVE_RUNTIME_ARGS: [&str; 10] = [
    "flyte-sql",
    "execute",
    "--inputs",
    "{{.input}}",
    "--output-prefix",
    "{{.outputPrefix}}",
    "--raw-output-data-prefix",
    "{{.rawOutputDataPrefix}}",
    "--",
    "{{.taskTemplatePath}}",
];

/// The `TaskTemplate` to register: what flytekit's registration path (`pyflyte package` /
/// `register`) writes, with the SecurityContext requesting `secret_requests` and the secrets of
/// `secret_connect_args`.
pub fn task_template(task: &SqlTask, settings: &SerializationSettings) -> Result<TaskTemplate> {
    let mut template = task_template_without_security_context(task, settings)?;
    template.security_context = security_context(task);
    Ok(template)
}

/// The `TaskTemplate` as the reference's `SQLAlchemyTask.serialize_to_model` builds it: the same
/// as [`task_template()`] but without a SecurityContext. Flyte mounts no secret for such a template;
/// it exists for comparisons with flytekit and for local runs.
pub fn task_template_without_security_context(
    task: &SqlTask,
    settings: &SerializationSettings,
) -> Result<TaskTemplate> {
    let mut config = BTreeMap::new();
    if task.runtime() == Runtime::Native && task.interpolation() == Interpolation::Safe {
        config.insert(INTERPOLATION_CONFIG_KEY.to_owned(), "safe".to_owned());
    }
    Ok(TaskTemplate {
        id: Some(task_identifier(task, settings)),
        r#type: TASK_TYPE.to_owned(),
        metadata: Some(task_metadata(task.metadata())),
        interface: Some(interface(task)),
        custom: Some(custom(task)),
        target: Some(task_template::Target::Container(container(task, settings)?)),
        config,
        ..TaskTemplate::default()
    })
}

/// The `admin.TaskSpec` of a `*_1.pb` registration file: [`task_template()`] plus, when the task has
/// a description, a `DescriptionEntity` carrying it as the short description.
pub fn task_spec(task: &SqlTask, settings: &SerializationSettings) -> Result<TaskSpec> {
    Ok(TaskSpec {
        template: Some(task_template(task, settings)?),
        description: task.description().map(|description| DescriptionEntity {
            short_description: description.to_owned(),
            ..DescriptionEntity::default()
        }),
    })
}

/// The task's identifier: resource type TASK, the settings' project, domain and version.
pub fn task_identifier(task: &SqlTask, settings: &SerializationSettings) -> Identifier {
    Identifier {
        resource_type: ResourceType::Task as i32,
        project: settings.project.clone(),
        domain: settings.domain.clone(),
        name: task.name().to_owned(),
        version: settings.version.clone(),
        ..Identifier::default()
    }
}

/// The query text a template carries for this task: the reference's whitespace-normalized text
/// for the python runtime (the stock executor expects it), the query as written for the native one.
pub fn template_query(task: &SqlTask) -> String {
    match task.runtime() {
        Runtime::Python => flyte_sql_model::normalize_whitespace_like_reference(task.query()),
        Runtime::Native => task.query().to_owned(),
    }
}

/// Reads a TaskTemplate that flytekit (or flyte-sql) wrote for a SQLAlchemy task back into a task.
///
/// The runtime comes from the container args (`pyflyte-execute` is python, `flyte-sql` native),
/// the interpolation from `config` (compat unless `flyte-sql.interpolation = safe`), the query from
/// `custom.query_template` as stored. What a template cannot say is left at its default: input
/// defaults, the description, and which environment variables came from serialization settings
/// (all become the task's). Inputs come back ordered by name (the interface is a map). Secrets in
/// the SecurityContext that only repeat a secret connect arg are not repeated in
/// `secret_requests`.
pub fn task_from_template(template: &TaskTemplate) -> Result<SqlTask> {
    if template.r#type != TASK_TYPE {
        return Err(not_sql_task(
            "type",
            format!("is `{}`, expected `{TASK_TYPE}`", template.r#type),
        ));
    }
    let name = template
        .id
        .as_ref()
        .map(|id| id.name.as_str())
        .ok_or_else(|| not_sql_task("id", "is missing"))?;
    let custom = CustomFields::read(template.custom.as_ref())?;
    let Some(task_template::Target::Container(container)) = &template.target else {
        return Err(not_sql_task(
            "container",
            "is missing: a SQLAlchemy task runs in a container",
        ));
    };
    let runtime = match container.args.first().map(String::as_str) {
        Some("pyflyte-execute") => Runtime::Python,
        Some("flyte-sql") => Runtime::Native,
        other => {
            return Err(not_sql_task(
                "container.args",
                format!(
                    "start with {other:?}: expected `pyflyte-execute` (python runtime) or `flyte-sql` (native runtime)"
                ),
            ));
        }
    };
    let interpolation = match template
        .config
        .get(INTERPOLATION_CONFIG_KEY)
        .map(String::as_str)
    {
        None | Some("compat") => Interpolation::Compat,
        Some("safe") => Interpolation::Safe,
        Some(other) => {
            return Err(not_sql_task(
                "config",
                format!("has {INTERPOLATION_CONFIG_KEY} = `{other}`: expected `safe` or `compat`"),
            ));
        }
    };
    let connection = ConnectionConfig::new(&custom.uri)
        .map_err(|source| Error::Connection { source })?
        .with_connect_args(custom.connect_args)
        .with_secret_connect_args(custom.secret_connect_args);
    let implied_secrets: Vec<Secret> = connection
        .secret_connect_args()
        .into_iter()
        .flatten()
        .map(|(_, secret)| proto_secret(secret))
        .collect();

    let mut builder = SqlTask::builder(name, &custom.query, connection)
        .runtime(runtime)
        .interpolation(interpolation)
        .image(&container.image)
        .output(output_from_interface(template.interface.as_ref())?)
        .metadata(metadata_from_proto(template.metadata.as_ref())?)
        .resources(resources_from_proto(container.resources.as_ref())?);
    for input in inputs_from_interface(template.interface.as_ref())? {
        builder = builder.input(input);
    }
    for pair in &container.env {
        builder = builder.environment_variable(&pair.key, &pair.value);
    }
    if let Some(security_context) = &template.security_context {
        for secret in &security_context.secrets {
            if !implied_secrets.contains(secret) {
                builder = builder.secret_request(secret_ref(secret)?);
            }
        }
    }
    builder.build().map_err(|source| Error::Task { source })
}

fn not_sql_task(field: &str, problem: impl Into<String>) -> Error {
    Error::NotSqlTask {
        field: field.to_owned(),
        problem: problem.into(),
    }
}

fn task_metadata(metadata: &TaskMetadata) -> ProtoTaskMetadata {
    ProtoTaskMetadata {
        discoverable: metadata.cache,
        runtime: Some(RuntimeMetadata {
            r#type: runtime_metadata::RuntimeType::FlyteSdk as i32,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            flavor: RUNTIME_FLAVOR.to_owned(),
        }),
        timeout: metadata.timeout.map(proto_duration),
        retries: Some(RetryStrategy {
            retries: metadata.retries,
        }),
        discovery_version: metadata.cache_version.clone().unwrap_or_default(),
        deprecated_error_message: metadata.deprecated.clone().unwrap_or_default(),
        interruptible_value: metadata
            .interruptible
            .map(task_metadata::InterruptibleValue::Interruptible),
        cache_serializable: metadata.cache_serialize,
        tags: metadata.tags.clone(),
        pod_template_name: metadata.pod_template_name.clone().unwrap_or_default(),
        cache_ignore_input_vars: metadata.cache_ignore_input_vars.clone(),
        is_eager: false,
        generates_deck: Some(metadata.generates_deck),
        metadata: Some(K8sObjectMetadata {
            labels: metadata.labels.clone(),
            annotations: metadata.annotations.clone(),
        }),
    }
}

fn proto_duration(duration: TimeDelta) -> prost_types::Duration {
    prost_types::Duration {
        seconds: duration.num_seconds(),
        nanos: duration.subsec_nanos(),
    }
}

fn interface(task: &SqlTask) -> TypedInterface {
    let inputs = task
        .inputs()
        .iter()
        .map(|input| {
            (
                input.name.clone(),
                variable(&input.name, input_literal_type(input)),
            )
        })
        .collect();
    let mut outputs = BTreeMap::new();
    if let Output::Table(table) = task.output() {
        let columns = table.columns.as_deref();
        let ty = match table.kind {
            TableKind::Schema => literal_type::Type::Schema(schema_type(columns)),
            TableKind::StructuredDataset => {
                literal_type::Type::StructuredDatasetType(structured_dataset_type(columns))
            }
        };
        let literal_type = LiteralType {
            r#type: Some(ty),
            ..LiteralType::default()
        };
        outputs.insert(
            OUTPUT_VARIABLE.to_owned(),
            variable(OUTPUT_VARIABLE, literal_type),
        );
    }
    TypedInterface {
        inputs: Some(VariableMap { variables: inputs }),
        outputs: Some(VariableMap { variables: outputs }),
    }
}

fn variable(name: &str, ty: LiteralType) -> Variable {
    Variable {
        r#type: Some(ty),
        description: name.to_owned(),
        ..Variable::default()
    }
}

/// The `custom` Struct: the reference's four keys, built the way `json.dumps` followed by protobuf
/// JSON parsing builds it (every number a double).
fn custom(task: &SqlTask) -> prost_types::Struct {
    let connection = task.connection();
    let mut fields = BTreeMap::new();
    fields.insert(
        "query_template".to_owned(),
        string_value(template_query(task)),
    );
    fields.insert(
        "uri".to_owned(),
        string_value(connection.uri().as_written().to_owned()),
    );
    fields.insert(
        "connect_args".to_owned(),
        struct_value(&serde_json::Value::Object(
            connection.connect_args().clone(),
        )),
    );
    fields.insert(
        "secret_connect_args".to_owned(),
        struct_value(&connection.secret_connect_args_json()),
    );
    prost_types::Struct { fields }
}

fn string_value(text: String) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::StringValue(text)),
    }
}

/// A JSON value as a `google.protobuf.Value`.
fn struct_value(json: &serde_json::Value) -> prost_types::Value {
    let kind = match json {
        serde_json::Value::Null => Kind::NullValue(prost_types::NullValue::NullValue as i32),
        serde_json::Value::Bool(value) => Kind::BoolValue(*value),
        // Every JSON number is a double in a Struct; integers beyond 2^53 round, as in the reference.
        serde_json::Value::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(text) => Kind::StringValue(text.clone()),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(struct_value).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(prost_types::Struct {
            fields: map
                .iter()
                .map(|(key, value)| (key.clone(), struct_value(value)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

/// A `google.protobuf.Value` as JSON; `None` for a value JSON cannot hold (a non-finite number).
fn json_value(value: &prost_types::Value) -> Option<serde_json::Value> {
    Some(match value.kind.as_ref()? {
        Kind::NullValue(_) => serde_json::Value::Null,
        Kind::NumberValue(number) => {
            serde_json::Value::Number(serde_json::Number::from_f64(*number)?)
        }
        Kind::StringValue(text) => serde_json::Value::String(text.clone()),
        Kind::BoolValue(value) => serde_json::Value::Bool(*value),
        Kind::StructValue(fields) => serde_json::Value::Object(json_object(fields)?),
        Kind::ListValue(list) => serde_json::Value::Array(
            list.values
                .iter()
                .map(json_value)
                .collect::<Option<Vec<_>>>()?,
        ),
    })
}

fn json_object(fields: &prost_types::Struct) -> Option<serde_json::Map<String, serde_json::Value>> {
    fields
        .fields
        .iter()
        .map(|(key, value)| Some((key.clone(), json_value(value)?)))
        .collect()
}

fn container(task: &SqlTask, settings: &SerializationSettings) -> Result<Container> {
    let image = match task.image() {
        Some(image) => resolve_image(image, &settings.image_config)?,
        None => match task.runtime() {
            Runtime::Python => {
                default_python_image(settings.image_config.internal_image.as_deref())
            }
            Runtime::Native => find_native_image(settings.image_config.internal_image.as_deref()),
        },
    };
    let args: &[&str] = match task.runtime() {
        Runtime::Python => &PYTHON_RUNTIME_ARGS,
        Runtime::Native => &NATIVE_RUNTIME_ARGS,
    };
    Ok(Container {
        image,
        args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        resources: Some(proto_resources(task.resources())),
        env: merged_environment(&settings.env, task.environment())
            .into_iter()
            .map(|(key, value)| KeyValuePair { key, value })
            .collect(),
        ..Container::default()
    })
}

/// `{**settings.env, **task.environment}`: the settings' variables first, a task variable of the
/// same name replacing the value in place, the task's other variables after them.
fn merged_environment(
    settings_env: &[(String, String)],
    task_env: &[(String, String)],
) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = Vec::new();
    for (key, value) in settings_env.iter().chain(task_env) {
        match merged.iter_mut().find(|(existing, _)| existing == key) {
            Some(entry) => entry.1 = value.clone(),
            None => merged.push((key.clone(), value.clone())),
        }
    }
    merged
}

/// Requests then limits, each in the reference's order: EPHEMERAL_STORAGE, CPU, GPU, MEMORY.
fn proto_resources(resources: &Resources) -> crate::proto::core::Resources {
    crate::proto::core::Resources {
        requests: resource_entries(&resources.requests),
        limits: resource_entries(&resources.limits),
    }
}

fn resource_entries(spec: &ResourceSpec) -> Vec<resources::ResourceEntry> {
    use resources::ResourceName;
    [
        (ResourceName::EphemeralStorage, &spec.ephemeral_storage),
        (ResourceName::Cpu, &spec.cpu),
        (ResourceName::Gpu, &spec.gpu),
        (ResourceName::Memory, &spec.memory),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        value.as_ref().map(|value| resources::ResourceEntry {
            name: name as i32,
            value: value.clone(),
        })
    })
    .collect()
}

/// `secret_requests` first, then each secret connect arg's secret not already requested.
fn security_context(task: &SqlTask) -> Option<SecurityContext> {
    let mut secrets: Vec<Secret> = task.secret_requests().iter().map(proto_secret).collect();
    for secret in task
        .connection()
        .secret_connect_args()
        .into_iter()
        .flatten()
    {
        let secret = proto_secret(secret.1);
        if !secrets.contains(&secret) {
            secrets.push(secret);
        }
    }
    (!secrets.is_empty()).then(|| SecurityContext {
        secrets,
        ..SecurityContext::default()
    })
}

fn proto_secret(secret: &SecretRef) -> Secret {
    Secret {
        group: secret.group.clone(),
        group_version: secret.group_version.clone().unwrap_or_default(),
        key: secret.key.clone().unwrap_or_default(),
        mount_requirement: secret.mount_requirement.wire_value(),
        env_var: secret.env_var.clone().unwrap_or_default(),
    }
}

fn secret_ref(secret: &Secret) -> Result<SecretRef> {
    let non_empty = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    Ok(SecretRef {
        group: secret.group.clone(),
        key: non_empty(&secret.key),
        group_version: non_empty(&secret.group_version),
        mount_requirement: MountRequirement::from_wire_value(secret.mount_requirement).ok_or_else(
            || {
                not_sql_task(
                    "security_context.secrets",
                    format!(
                        "has mount requirement {} for group `{}`: expected 0 (ANY), 1 (ENV_VAR) or 2 (FILE)",
                        secret.mount_requirement, secret.group
                    ),
                )
            },
        )?,
        env_var: non_empty(&secret.env_var),
    })
}

/// The four `custom` fields, read back.
struct CustomFields {
    query: String,
    uri: String,
    connect_args: serde_json::Map<String, serde_json::Value>,
    secret_connect_args: Option<BTreeMap<String, SecretRef>>,
}

impl CustomFields {
    fn read(custom: Option<&prost_types::Struct>) -> Result<CustomFields> {
        let custom = custom.ok_or_else(|| not_sql_task("custom", "is missing"))?;
        let string = |key: &str| match custom.fields.get(key).and_then(|value| value.kind.as_ref())
        {
            Some(Kind::StringValue(text)) => Ok(text.clone()),
            _ => Err(not_sql_task(
                &format!("custom.{key}"),
                "is missing or not a string",
            )),
        };
        let connect_args = match custom
            .fields
            .get("connect_args")
            .and_then(|value| value.kind.as_ref())
        {
            None | Some(Kind::NullValue(_)) => serde_json::Map::new(),
            Some(Kind::StructValue(fields)) => json_object(fields).ok_or_else(|| {
                not_sql_task(
                    "custom.connect_args",
                    "holds a number JSON cannot represent",
                )
            })?,
            Some(_) => return Err(not_sql_task("custom.connect_args", "is not a struct")),
        };
        let secret_connect_args = match custom
            .fields
            .get("secret_connect_args")
            .and_then(|value| value.kind.as_ref())
        {
            None | Some(Kind::NullValue(_)) => None,
            Some(Kind::StructValue(fields)) => Some(
                fields
                    .fields
                    .iter()
                    .map(|(arg, dict)| Ok((arg.clone(), secret_from_dict(arg, dict)?)))
                    .collect::<Result<BTreeMap<_, _>>>()?,
            ),
            Some(_) => {
                return Err(not_sql_task(
                    "custom.secret_connect_args",
                    "is not a struct",
                ));
            }
        };
        Ok(CustomFields {
            query: string("query_template")?,
            uri: string("uri")?,
            connect_args,
            secret_connect_args,
        })
    }
}

/// One `secret_connect_args_to_dicts()` entry back into a secret reference.
fn secret_from_dict(arg: &str, dict: &prost_types::Value) -> Result<SecretRef> {
    let field = format!("custom.secret_connect_args.{arg}");
    let Some(Kind::StructValue(dict)) = &dict.kind else {
        return Err(not_sql_task(&field, "is not a struct"));
    };
    let text = |key: &str| -> Result<Option<String>> {
        match dict.fields.get(key).and_then(|value| value.kind.as_ref()) {
            None | Some(Kind::NullValue(_)) => Ok(None),
            Some(Kind::StringValue(text)) => Ok(Some(text.clone())),
            Some(_) => Err(not_sql_task(
                &format!("{field}.{key}"),
                "is not a string or null",
            )),
        }
    };
    let group =
        text("group")?.ok_or_else(|| not_sql_task(&format!("{field}.group"), "is missing"))?;
    let mount_requirement = match dict
        .fields
        .get("mount_requirement")
        .and_then(|value| value.kind.as_ref())
    {
        None | Some(Kind::NullValue(_)) => MountRequirement::Any,
        Some(Kind::NumberValue(number)) => {
            let number = *number;
            let whole = (number.fract() == 0.0 && number.abs() < 1e9).then_some(number as i32);
            whole
                .and_then(MountRequirement::from_wire_value)
                .ok_or_else(|| {
                    not_sql_task(
                        &format!("{field}.mount_requirement"),
                        format!("is {number}: expected 0 (ANY), 1 (ENV_VAR) or 2 (FILE)"),
                    )
                })?
        }
        Some(_) => {
            return Err(not_sql_task(
                &format!("{field}.mount_requirement"),
                "is not a number",
            ));
        }
    };
    Ok(SecretRef {
        group,
        key: text("key")?,
        group_version: text("group_version")?,
        mount_requirement,
        env_var: None,
    })
}

fn inputs_from_interface(interface: Option<&TypedInterface>) -> Result<Vec<InputVariable>> {
    let variables = interface
        .and_then(|interface| interface.inputs.as_ref())
        .map(|inputs| &inputs.variables);
    variables
        .into_iter()
        .flatten()
        .map(|(name, variable)| {
            let field = format!("interface.inputs.{name}");
            let unsupported = || {
                not_sql_task(
                    &field,
                    "has a type flyte-sql does not support: expected a simple integer, float, string, boolean, datetime or duration, or an optional one",
                )
            };
            let ty = variable.r#type.as_ref().and_then(|ty| ty.r#type.as_ref());
            let (ty, optional) = match ty {
                Some(literal_type::Type::Simple(simple)) => {
                    (primitive_type_of_simple(*simple).ok_or_else(unsupported)?, false)
                }
                Some(literal_type::Type::UnionType(union)) => {
                    (optional_variant(&union.variants).ok_or_else(unsupported)?, true)
                }
                _ => return Err(unsupported()),
            };
            Ok(InputVariable {
                name: name.clone(),
                ty,
                optional,
                default: None,
            })
        })
        .collect()
}

/// The `T` of a `[T, none]` union (in either order), as flytekit types `Optional[T]`.
fn optional_variant(variants: &[LiteralType]) -> Option<flyte_sql_model::PrimitiveType> {
    let simple = |ty: &LiteralType| match ty.r#type {
        Some(literal_type::Type::Simple(simple)) => Some(simple),
        _ => None,
    };
    let none = crate::proto::core::SimpleType::None as i32;
    let [first, second] = variants else {
        return None;
    };
    match (simple(first)?, simple(second)?) {
        (ty, other) if other == none && ty != none => primitive_type_of_simple(ty),
        (other, ty) if other == none && ty != none => primitive_type_of_simple(ty),
        _ => None,
    }
}

fn output_from_interface(interface: Option<&TypedInterface>) -> Result<Output> {
    let outputs = interface
        .and_then(|interface| interface.outputs.as_ref())
        .map(|outputs| &outputs.variables);
    let Some(outputs) = outputs.filter(|outputs| !outputs.is_empty()) else {
        return Ok(Output::None);
    };
    let (Some(results), 1) = (outputs.get(OUTPUT_VARIABLE), outputs.len()) else {
        return Err(not_sql_task(
            "interface.outputs",
            format!("must be the one variable `{OUTPUT_VARIABLE}` or nothing"),
        ));
    };
    let field = "interface.outputs.results";
    let column = |name: &str, ty: Option<flyte_sql_model::PrimitiveType>| {
        ty.map(|ty| OutputColumn {
            name: name.to_owned(),
            ty,
        })
        .ok_or_else(|| {
            not_sql_task(
                field,
                format!("column `{name}` has a type flyte-sql does not support"),
            )
        })
    };
    let (kind, columns) = match results.r#type.as_ref().and_then(|ty| ty.r#type.as_ref()) {
        Some(literal_type::Type::Schema(schema)) => (
            TableKind::Schema,
            schema
                .columns
                .iter()
                .map(|c| column(&c.name, primitive_type_of_schema_column(c.r#type)))
                .collect::<Result<Vec<_>>>()?,
        ),
        Some(literal_type::Type::StructuredDatasetType(dataset)) => (
            TableKind::StructuredDataset,
            dataset
                .columns
                .iter()
                .map(|c| {
                    let ty = c.literal_type.as_ref().and_then(|ty| match ty.r#type {
                        Some(literal_type::Type::Simple(simple)) => {
                            primitive_type_of_simple(simple)
                        }
                        _ => None,
                    });
                    column(&c.name, ty)
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        _ => {
            return Err(not_sql_task(
                field,
                "is neither a schema nor a structured dataset",
            ));
        }
    };
    Ok(Output::Table(TableOutput {
        kind,
        columns: (!columns.is_empty()).then_some(columns),
    }))
}

fn metadata_from_proto(metadata: Option<&ProtoTaskMetadata>) -> Result<TaskMetadata> {
    let Some(metadata) = metadata else {
        return Ok(TaskMetadata::default());
    };
    let non_empty = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    let timeout = match &metadata.timeout {
        None => None,
        Some(duration) => Some(
            TimeDelta::try_seconds(duration.seconds)
                .and_then(|seconds| {
                    seconds.checked_add(&TimeDelta::nanoseconds(i64::from(duration.nanos)))
                })
                .ok_or_else(|| not_sql_task("metadata.timeout", "is out of range"))?,
        ),
    };
    let k8s = metadata.metadata.clone().unwrap_or_default();
    Ok(TaskMetadata {
        cache: metadata.discoverable,
        cache_serialize: metadata.cache_serializable,
        cache_version: non_empty(&metadata.discovery_version),
        cache_ignore_input_vars: metadata.cache_ignore_input_vars.clone(),
        retries: metadata.retries.map_or(0, |retries| retries.retries),
        timeout,
        interruptible: metadata
            .interruptible_value
            .map(|task_metadata::InterruptibleValue::Interruptible(interruptible)| interruptible),
        deprecated: non_empty(&metadata.deprecated_error_message),
        pod_template_name: non_empty(&metadata.pod_template_name),
        generates_deck: metadata.generates_deck.unwrap_or_default(),
        labels: k8s.labels,
        annotations: k8s.annotations,
        tags: metadata.tags.clone(),
    })
}

fn resources_from_proto(resources: Option<&crate::proto::core::Resources>) -> Result<Resources> {
    let Some(resources) = resources else {
        return Ok(Resources::default());
    };
    Ok(Resources {
        requests: resource_spec("container.resources.requests", &resources.requests)?,
        limits: resource_spec("container.resources.limits", &resources.limits)?,
    })
}

fn resource_spec(field: &str, entries: &[resources::ResourceEntry]) -> Result<ResourceSpec> {
    use resources::ResourceName;
    let mut spec = ResourceSpec::default();
    for entry in entries {
        let slot = match ResourceName::try_from(entry.name) {
            Ok(ResourceName::Cpu) => &mut spec.cpu,
            Ok(ResourceName::Gpu) => &mut spec.gpu,
            Ok(ResourceName::Memory) => &mut spec.memory,
            Ok(ResourceName::EphemeralStorage) => &mut spec.ephemeral_storage,
            Ok(ResourceName::Unknown | ResourceName::Storage) | Err(_) => {
                return Err(not_sql_task(
                    field,
                    format!(
                        "names resource {}: expected CPU, GPU, MEMORY or EPHEMERAL_STORAGE",
                        entry.name
                    ),
                ));
            }
        };
        *slot = Some(entry.value.clone());
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use flyte_sql_model::PrimitiveType;
    use prost::Message;

    use super::*;
    use crate::settings::{Image, ImageConfig};

    fn settings() -> SerializationSettings {
        SerializationSettings {
            project: "p".to_owned(),
            domain: "d".to_owned(),
            version: "v".to_owned(),
            env: vec![("FROM_SETTINGS".to_owned(), "1".to_owned())],
            image_config: ImageConfig {
                default_image: Some(Image::parse("default", "ghcr.io/example/sql:2").unwrap()),
                images: Vec::new(),
                internal_image: None,
            },
        }
    }

    fn native_task(interpolation: Interpolation) -> SqlTask {
        SqlTask::builder(
            "t.native",
            "select *\n  from t  where id = {{ .inputs.id }}",
            ConnectionConfig::new("sqlite:///x.db").unwrap(),
        )
        .interpolation(interpolation)
        .input(InputVariable {
            name: "id".to_owned(),
            ty: PrimitiveType::Integer,
            optional: false,
            default: None,
        })
        .build()
        .unwrap()
    }

    fn container_of(template: &TaskTemplate) -> &Container {
        match &template.target {
            Some(task_template::Target::Container(container)) => container,
            other => panic!("not a container target: {other:?}"),
        }
    }

    #[test]
    fn native_templates_run_our_executor_and_keep_the_query() {
        let template = task_template(&native_task(Interpolation::Safe), &settings()).unwrap();
        let container = container_of(&template);
        assert_eq!(container.args, NATIVE_RUNTIME_ARGS);
        assert_eq!(container.image, crate::images::default_native_image());
        assert_eq!(
            template
                .config
                .get(INTERPOLATION_CONFIG_KEY)
                .map(String::as_str),
            Some("safe")
        );
        let query = &template.custom.as_ref().unwrap().fields["query_template"];
        assert_eq!(
            query.kind,
            Some(Kind::StringValue(
                "select *\n  from t  where id = {{ .inputs.id }}".to_owned()
            ))
        );
        assert!(template.security_context.is_none());
        let compat = task_template(&native_task(Interpolation::Compat), &settings()).unwrap();
        assert!(compat.config.is_empty());
    }

    #[test]
    fn native_templates_decode_back_into_the_same_task() {
        for interpolation in [Interpolation::Safe, Interpolation::Compat] {
            let task = native_task(interpolation);
            let bytes = task_template(&task, &settings()).unwrap().encode_to_vec();
            let decoded = task_from_template(&TaskTemplate::decode(bytes.as_slice()).unwrap());
            let decoded = decoded.unwrap();
            assert_eq!(decoded.runtime(), Runtime::Native);
            assert_eq!(decoded.interpolation(), interpolation);
            assert_eq!(decoded.query(), task.query());
            assert_eq!(decoded.inputs(), task.inputs());
            assert_eq!(
                decoded.environment(),
                [("FROM_SETTINGS".to_owned(), "1".to_owned())]
            );
        }
    }

    #[test]
    fn image_placeholders_are_filled_from_the_settings() {
        let task = SqlTask::builder(
            "t.image",
            "select 1",
            ConnectionConfig::new("sqlite://").unwrap(),
        )
        .image("{{.image.default.fqn}}:{{.image.default.version}}")
        .build()
        .unwrap();
        let template = task_template(&task, &settings()).unwrap();
        assert_eq!(container_of(&template).image, "ghcr.io/example/sql:2");
        let mut no_images = settings();
        no_images.image_config.default_image = None;
        assert_eq!(
            task_template(&task, &no_images).unwrap_err().to_string(),
            "image `{{.image.default.fqn}}:{{.image.default.version}}` refers to image `default`, which the image config does not define: pass `--image default=FQN:TAG`"
        );
    }

    #[test]
    fn internal_image_replaces_the_default_image_of_both_runtimes() {
        let task = SqlTask::builder(
            "t.py",
            "select 1",
            ConnectionConfig::new("sqlite://").unwrap(),
        )
        .runtime(Runtime::Python)
        .interpolation(Interpolation::Compat)
        .build()
        .unwrap();
        let mut overridden = settings();
        overridden.image_config.internal_image = Some("registry.example/override:1".to_owned());
        let template = task_template(&task, &overridden).unwrap();
        assert_eq!(container_of(&template).image, "registry.example/override:1");
        let native = task_template(&native_task(Interpolation::Safe), &overridden).unwrap();
        assert_eq!(container_of(&native).image, "registry.example/override:1");
        let native = task_template(&native_task(Interpolation::Safe), &settings()).unwrap();
        assert_eq!(
            container_of(&native).image,
            crate::images::default_native_image()
        );
        let named = SqlTask::builder(
            "t.named",
            "select 1",
            ConnectionConfig::new("sqlite://").unwrap(),
        )
        .image("ghcr.io/example/own:3")
        .build()
        .unwrap();
        let named = task_template(&named, &overridden).unwrap();
        assert_eq!(container_of(&named).image, "ghcr.io/example/own:3");
    }

    #[test]
    fn templates_of_other_tasks_are_refused_naming_the_field() {
        let template = task_template(&native_task(Interpolation::Safe), &settings()).unwrap();
        let check = |edit: &dyn Fn(&mut TaskTemplate), message: &str| {
            let mut edited = template.clone();
            edit(&mut edited);
            assert_eq!(
                task_from_template(&edited).unwrap_err().to_string(),
                message
            );
        };
        check(
            &|template| template.r#type = "python-task".to_owned(),
            "not a SQLAlchemy task template: type is `python-task`, expected `sqlalchemy`",
        );
        check(
            &|template| template.custom = None,
            "not a SQLAlchemy task template: custom is missing",
        );
        check(
            &|template| {
                template
                    .config
                    .insert(INTERPOLATION_CONFIG_KEY.to_owned(), "fast".to_owned());
            },
            "not a SQLAlchemy task template: config has flyte-sql.interpolation = `fast`: expected `safe` or `compat`",
        );
        check(
            &|template| {
                if let Some(task_template::Target::Container(container)) = &mut template.target {
                    container.args = vec!["python".to_owned()];
                }
            },
            "not a SQLAlchemy task template: container.args start with Some(\"python\"): expected `pyflyte-execute` (python runtime) or `flyte-sql` (native runtime)",
        );
        check(
            &|template| {
                let inputs = template
                    .interface
                    .as_mut()
                    .unwrap()
                    .inputs
                    .as_mut()
                    .unwrap();
                let variable = inputs.variables.get_mut("id").unwrap();
                variable.r#type = Some(LiteralType {
                    r#type: Some(literal_type::Type::Simple(
                        crate::proto::core::SimpleType::Binary as i32,
                    )),
                    ..LiteralType::default()
                });
            },
            "not a SQLAlchemy task template: interface.inputs.id has a type flyte-sql does not support: expected a simple integer, float, string, boolean, datetime or duration, or an optional one",
        );
    }

    #[test]
    fn connect_arg_secrets_are_requested_once() {
        let secret = SecretRef {
            group: "db".to_owned(),
            key: Some("password".to_owned()),
            group_version: None,
            mount_requirement: MountRequirement::EnvVar,
            env_var: None,
        };
        let connection = ConnectionConfig::new("sqlite://")
            .unwrap()
            .with_secret_connect_args(Some(BTreeMap::from([(
                "password".to_owned(),
                secret.clone(),
            )])));
        let task = SqlTask::builder("t.secret", "select 1", connection)
            .secret_request(secret)
            .secret_request(SecretRef {
                group: "other".to_owned(),
                key: None,
                group_version: None,
                mount_requirement: MountRequirement::File,
                env_var: Some("OTHER".to_owned()),
            })
            .build()
            .unwrap();
        let template = task_template(&task, &settings()).unwrap();
        let secrets = template.security_context.clone().unwrap().secrets;
        assert_eq!(
            secrets
                .iter()
                .map(|secret| secret.group.as_str())
                .collect::<Vec<_>>(),
            ["db", "other"]
        );
        let decoded = task_from_template(&template).unwrap();
        // The request that only repeats the connect arg is implied by it.
        assert_eq!(decoded.secret_requests().len(), 1);
        assert_eq!(
            decoded.secret_requests()[0].env_var.as_deref(),
            Some("OTHER")
        );
    }

    #[test]
    fn environment_merges_like_a_python_dict_update() {
        let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
            items
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect()
        };
        let merged = merged_environment(
            &pairs(&[("FROM_SETTINGS", "s"), ("SHARED", "from-settings")]),
            &pairs(&[("LOG_LEVEL", "debug"), ("SHARED", "from-task")]),
        );
        assert_eq!(
            merged,
            pairs(&[
                ("FROM_SETTINGS", "s"),
                ("SHARED", "from-task"),
                ("LOG_LEVEL", "debug")
            ])
        );
    }

    #[test]
    fn struct_numbers_become_doubles_and_come_back_as_floats() {
        let json = serde_json::json!({"a": 10, "big": 9_007_199_254_740_993_u64, "n": null, "l": [true, "x"]});
        let value = struct_value(&json);
        let back = json_value(&value).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"a": 10.0, "big": 9_007_199_254_740_992.0, "n": null, "l": [true, "x"]})
        );
    }
}
