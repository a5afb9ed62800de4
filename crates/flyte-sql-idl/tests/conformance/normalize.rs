//! What may differ between our messages and flytekit's goldens, and nothing else: the
//! normalizations `conformance/README.md` allows plus flyte-sql's documented deviations
//! (`docs/deviations.md`). Each one first asserts that the difference is exactly the expected one,
//! then makes our message look like the golden.

use flyte_sql_idl::proto::admin::TaskSpec;
use flyte_sql_idl::proto::core::{
    LiteralMap, RuntimeMetadata, Secret, TaskTemplate, literal, literal_type, runtime_metadata,
    scalar,
};

/// A named normalization; the names are also what the Python oracle applies (`xtask conformance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Normalization {
    /// README: `metadata.runtime` names the serializer (flytekit vs flyte-sql).
    Runtime,
    /// Deviation: a `structured_dataset` output type says format `parquet`.
    StructuredDatasetFormat,
    /// Deviation: the SecurityContext also requests the secrets of `secret_connect_args`.
    ConnectArgSecrets,
    /// Deviation: the output literal carries the declared columns.
    OutputLiteralColumns,
}

impl Normalization {
    /// The name used in the oracle's manifest.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Normalization::Runtime => "runtime",
            Normalization::StructuredDatasetFormat => "structured_dataset_format",
            Normalization::ConnectArgSecrets => "connect_arg_secrets",
            Normalization::OutputLiteralColumns => "output_literal_columns",
        }
    }
}

/// Normalizes our TaskTemplate against the golden one; returns the normalizations that applied.
pub(crate) fn normalize_template(
    ours: &mut TaskTemplate,
    golden: &TaskTemplate,
) -> Vec<Normalization> {
    let mut applied = vec![Normalization::Runtime];
    let metadata = ours.metadata.as_mut().expect("our template has metadata");
    assert_eq!(
        metadata.runtime,
        Some(RuntimeMetadata {
            r#type: runtime_metadata::RuntimeType::FlyteSdk as i32,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            flavor: "flyte-sql".to_owned(),
        })
    );
    metadata.runtime = golden
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.runtime.clone());

    let our_output = ours
        .interface
        .as_mut()
        .and_then(|interface| interface.outputs.as_mut())
        .and_then(|outputs| outputs.variables.get_mut("results"))
        .and_then(|variable| variable.r#type.as_mut())
        .and_then(|ty| ty.r#type.as_mut());
    let golden_format = golden
        .interface
        .as_ref()
        .and_then(|interface| interface.outputs.as_ref())
        .and_then(|outputs| outputs.variables.get("results"))
        .and_then(|variable| variable.r#type.as_ref())
        .and_then(|ty| match &ty.r#type {
            Some(literal_type::Type::StructuredDatasetType(dataset)) => {
                Some(dataset.format.clone())
            }
            _ => None,
        });
    if let (Some(literal_type::Type::StructuredDatasetType(dataset)), Some(golden_format)) =
        (our_output, golden_format)
    {
        assert_eq!(dataset.format, "parquet");
        if golden_format.is_empty() {
            dataset.format.clear();
            applied.push(Normalization::StructuredDatasetFormat);
        }
    }

    let implied = connect_arg_secrets(golden);
    if let Some(context) = ours.security_context.as_mut() {
        let golden_secrets = golden
            .security_context
            .as_ref()
            .map(|context| context.secrets.clone())
            .unwrap_or_default();
        let before = context.secrets.len();
        context.secrets.retain(|secret| {
            let extra = !golden_secrets.contains(secret);
            assert!(
                !extra || implied.contains(secret),
                "secret {secret:?} is neither the reference's nor a secret connect arg"
            );
            !extra
        });
        if context.secrets.len() != before {
            applied.push(Normalization::ConnectArgSecrets);
        }
        if context.secrets.is_empty() && golden.security_context.is_none() {
            ours.security_context = None;
        }
    }
    applied
}

/// Normalizes the template inside our TaskSpec.
pub(crate) fn normalize_task_spec(ours: &mut TaskSpec, golden: &TaskSpec) -> Vec<Normalization> {
    normalize_template(
        ours.template.as_mut().expect("our spec has a template"),
        golden
            .template
            .as_ref()
            .expect("the golden spec has a template"),
    )
}

/// Normalizes our `outputs.pb` against the golden one: drops the declared columns the reference
/// leaves out of the output literal.
pub(crate) fn normalize_outputs(ours: &mut LiteralMap, golden: &LiteralMap) -> Vec<Normalization> {
    let dataset_type = |map: &LiteralMap| {
        map.literals
            .get("results")
            .and_then(|literal| match &literal.value {
                Some(literal::Value::Scalar(scalar)) => match &scalar.value {
                    Some(scalar::Value::StructuredDataset(dataset)) => dataset
                        .metadata
                        .as_ref()
                        .and_then(|metadata| metadata.structured_dataset_type.clone()),
                    _ => None,
                },
                _ => None,
            })
    };
    let (Some(golden_type), Some(our_type)) = (dataset_type(golden), dataset_type(ours)) else {
        return Vec::new();
    };
    if !golden_type.columns.is_empty() || our_type.columns.is_empty() {
        return Vec::new();
    }
    let literal = ours.literals.get_mut("results").expect("results");
    if let Some(literal::Value::Scalar(scalar)) = &mut literal.value
        && let Some(scalar::Value::StructuredDataset(dataset)) = &mut scalar.value
        && let Some(dataset_type) = dataset
            .metadata
            .as_mut()
            .and_then(|metadata| metadata.structured_dataset_type.as_mut())
    {
        dataset_type.columns.clear();
    }
    vec![Normalization::OutputLiteralColumns]
}

/// The Secrets the golden template's `custom.secret_connect_args` name, as we request them.
fn connect_arg_secrets(template: &TaskTemplate) -> Vec<Secret> {
    use prost_types::value::Kind;
    let Some(Kind::StructValue(secrets)) = template
        .custom
        .as_ref()
        .and_then(|custom| custom.fields.get("secret_connect_args"))
        .and_then(|value| value.kind.as_ref())
    else {
        return Vec::new();
    };
    secrets
        .fields
        .values()
        .filter_map(|dict| match &dict.kind {
            Some(Kind::StructValue(dict)) => Some(dict),
            _ => None,
        })
        .map(|dict| {
            let text = |key: &str| match dict.fields.get(key).and_then(|value| value.kind.as_ref())
            {
                Some(Kind::StringValue(text)) => text.clone(),
                _ => String::new(),
            };
            let mount = match dict
                .fields
                .get("mount_requirement")
                .and_then(|value| value.kind.as_ref())
            {
                Some(Kind::NumberValue(number)) => *number as i32,
                _ => 0,
            };
            Secret {
                group: text("group"),
                group_version: text("group_version"),
                key: text("key"),
                mount_requirement: mount,
                env_var: String::new(),
            }
        })
        .collect()
}
