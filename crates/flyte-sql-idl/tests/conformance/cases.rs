//! The flytekit conformance cases (`tests/fixtures/conformance/<case>/case.json`) mapped onto the
//! task builder and serialization settings, as the reference built them: runtime python,
//! interpolation compat, the case's image (or the default), metadata, environment, resources and
//! secrets. Shared by the conformance tests and the `conformance_emit` example.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::TimeDelta;
use flyte_sql_config::{ConnectionConfig, MountRequirement, SecretRef};
use flyte_sql_idl::{Image, ImageConfig, SerializationSettings};
use flyte_sql_model::{
    InputVariable, Interpolation, Output, OutputColumn, PrimitiveType, ResourceSpec, Resources,
    Runtime, SqlTask, TableKind, TableOutput, TaskMetadata,
};
use serde_json::Value as Json;

/// `tests/fixtures/conformance` of the workspace.
pub(crate) fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/conformance")
}

/// One golden case.
pub(crate) struct Case {
    /// The case's folder name.
    pub(crate) name: String,
    /// Its folder.
    pub(crate) dir: PathBuf,
    /// Its `case.json`.
    pub(crate) json: Json,
}

/// Every case listed in `index.json`, in its order.
pub(crate) fn all_cases() -> Vec<Case> {
    let index: Json = read_json(&fixtures_dir().join("index.json"));
    index
        .as_array()
        .expect("index.json is a list")
        .iter()
        .map(|entry| {
            let name = entry["case"].as_str().expect("case name").to_owned();
            let dir = fixtures_dir().join(&name);
            let json = read_json(&dir.join("case.json"));
            Case { name, dir, json }
        })
        .collect()
}

/// Reads and parses a JSON file.
pub(crate) fn read_json(path: &Path) -> Json {
    let text =
        fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Reads a file's bytes.
pub(crate) fn read_bytes(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

impl Case {
    /// The task the reference serialized, built with our builder.
    pub(crate) fn task(&self) -> SqlTask {
        let case = &self.json;
        let mut connection = ConnectionConfig::new(text(&case["uri"])).expect("case uri");
        if let Some(connect_args) = case["connect_args"].as_object() {
            connection = connection.with_connect_args(connect_args.clone());
        }
        if let Some(secrets) = case["secret_connect_args"].as_object() {
            let secrets: BTreeMap<String, SecretRef> = secrets
                .iter()
                .map(|(arg, secret)| (arg.clone(), secret_ref(secret)))
                .collect();
            connection = connection.with_secret_connect_args(Some(secrets));
        }
        let mut builder = SqlTask::builder(
            text(&case["task_name"]),
            text(&case["query_template"]),
            connection,
        )
        .runtime(Runtime::Python)
        .interpolation(Interpolation::Compat)
        .output(output(&case["output"]))
        .metadata(metadata(&case["metadata"]))
        .resources(Resources {
            requests: resource_spec(&case["requests"]),
            limits: resource_spec(&case["limits"]),
        });
        if let Some(image) = case["container_image"].as_str() {
            builder = builder.image(image);
        }
        for input in case["inputs"].as_array().expect("inputs") {
            builder = builder.input(InputVariable {
                name: text(&input["name"]).to_owned(),
                ty: primitive_type(&input["type"]),
                optional: false,
                default: None,
            });
        }
        for secret in case["secret_requests"].as_array().expect("secret_requests") {
            builder = builder.secret_request(secret_ref(secret));
        }
        for (name, value) in case["environment"].as_object().into_iter().flatten() {
            builder = builder.environment_variable(name, text(value));
        }
        builder
            .build()
            .unwrap_or_else(|error| panic!("case {}: {error}", self.name))
    }

    /// The reference's SerializationSettings for this case.
    pub(crate) fn settings(&self) -> SerializationSettings {
        let settings = &self.json["serialization_settings"];
        SerializationSettings {
            project: text(&settings["project"]).to_owned(),
            domain: text(&settings["domain"]).to_owned(),
            version: text(&settings["version"]).to_owned(),
            env: settings["env"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(key, value)| (key.clone(), text(value).to_owned()))
                .collect(),
            image_config: ImageConfig {
                default_image: Some(
                    Image::parse("default", text(&settings["default_image"]))
                        .expect("default image"),
                ),
                images: Vec::new(),
                internal_image: None,
            },
        }
    }

    /// The entrypoint run folders of this case (`entrypoint/<run>`).
    pub(crate) fn runs(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(self.dir.join("entrypoint")) else {
            return Vec::new();
        };
        let mut runs: Vec<PathBuf> = entries
            .map(|entry| entry.expect("run dir").path())
            .collect();
        runs.sort();
        runs
    }
}

fn text(json: &Json) -> &str {
    json.as_str()
        .unwrap_or_else(|| panic!("expected a string, found {json}"))
}

fn primitive_type(json: &Json) -> PrimitiveType {
    PrimitiveType::from_name(text(json)).unwrap_or_else(|| panic!("unknown type {json}"))
}

fn secret_ref(secret: &Json) -> SecretRef {
    SecretRef {
        group: text(&secret["group"]).to_owned(),
        key: secret["key"].as_str().map(str::to_owned),
        group_version: secret["group_version"].as_str().map(str::to_owned),
        mount_requirement: match text(&secret["mount_requirement"]) {
            "ANY" => MountRequirement::Any,
            "ENV_VAR" => MountRequirement::EnvVar,
            "FILE" => MountRequirement::File,
            other => panic!("unknown mount requirement {other}"),
        },
        env_var: secret["env_var"].as_str().map(str::to_owned),
    }
}

fn output(json: &Json) -> Output {
    if json.is_null() {
        return Output::None;
    }
    let columns: Vec<OutputColumn> = json["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|column| OutputColumn {
            name: text(&column["name"]).to_owned(),
            ty: primitive_type(&column["type"]),
        })
        .collect();
    let kind = match text(&json["kind"]) {
        "FlyteSchema" => TableKind::Schema,
        "StructuredDataset" => TableKind::StructuredDataset,
        other => panic!("unknown output kind {other}"),
    };
    Output::Table(TableOutput {
        kind,
        columns: (!columns.is_empty()).then_some(columns),
    })
}

fn metadata(json: &Json) -> TaskMetadata {
    let non_empty = |value: &Json| {
        value
            .as_str()
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    let map = |value: &Json| -> BTreeMap<String, String> {
        value
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, value)| (key.clone(), text(value).to_owned()))
            .collect()
    };
    assert_eq!(
        json["is_eager"],
        Json::Bool(false),
        "flyte-sql tasks are never eager"
    );
    TaskMetadata {
        cache: json["cache"].as_bool().expect("cache"),
        cache_serialize: json["cache_serialize"].as_bool().expect("cache_serialize"),
        cache_version: non_empty(&json["cache_version"]),
        cache_ignore_input_vars: json["cache_ignore_input_vars"]
            .as_array()
            .expect("cache_ignore_input_vars")
            .iter()
            .map(|name| text(name).to_owned())
            .collect(),
        retries: u32::try_from(json["retries"].as_u64().expect("retries")).expect("retries"),
        timeout: json["timeout_seconds"]
            .as_f64()
            .map(|seconds| TimeDelta::nanoseconds((seconds * 1e9).round() as i64)),
        interruptible: json["interruptible"].as_bool(),
        deprecated: non_empty(&json["deprecated"]),
        pod_template_name: non_empty(&json["pod_template_name"]),
        generates_deck: json["generates_deck"].as_bool().expect("generates_deck"),
        labels: map(&json["labels"]),
        annotations: map(&json["annotations"]),
        tags: BTreeMap::new(),
    }
}

fn resource_spec(json: &Json) -> ResourceSpec {
    let get = |key: &str| json.get(key).and_then(Json::as_str).map(str::to_owned);
    ResourceSpec {
        cpu: get("cpu"),
        memory: get("mem"),
        gpu: get("gpu"),
        ephemeral_storage: get("ephemeral_storage"),
    }
}
