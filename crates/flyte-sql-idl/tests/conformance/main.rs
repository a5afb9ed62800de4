//! Conformance with flytekit: every golden case of `tests/fixtures/conformance/` (a copy of
//! `../shared/conformance`) is rebuilt from its `case.json`, serialized by flyte-sql and compared
//! with what flytekit 1.16.31 wrote, field by field after the allowed normalization
//! (`normalize.rs`), and byte by byte where the conformance README says bytes can match.

mod cases;
mod extra_tasks;
mod normalize;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use flyte_sql_config::{ConnectionConfig, ErrorKind, SecretRef};
use flyte_sql_idl::proto::admin::TaskSpec;
use flyte_sql_idl::proto::core::{
    ErrorDocument, LiteralMap, TaskTemplate, container_error, execution_error,
};
use flyte_sql_idl::{
    BindingSource, ContainerFailure, Message, NodeInput, PythonVersion, Recoverability,
    SerializationSettings, TaskNodeOptions,
};
use flyte_sql_model::{
    InputValues, InputVariable, Interpolation, Output, PrimitiveType, Runtime, SqlTask, TableKind,
    TableOutput, Value,
};

use crate::cases::{all_cases, fixtures_dir, read_bytes, read_json};
use crate::extra_tasks::{extra_settings, optional_inputs_task, tracks_node_task};
use crate::normalize::{Normalization, normalize_outputs, normalize_task_spec, normalize_template};

/// Whether flytekit's bytes are reproducible for this case: no map of the case has a key that is
/// a prefix of another key of the same map (upb and prost order those differently).
fn bytes_comparable(case: &cases::Case) -> bool {
    case.json["expected"]["prefix_related_map_keys"]
        .as_array()
        .is_some_and(Vec::is_empty)
}

#[test]
fn there_are_fourteen_cases() {
    assert_eq!(all_cases().len(), 14);
}

#[test]
fn task_templates_equal_flytekits_serialize_to_model() {
    for case in all_cases() {
        let golden_bytes = read_bytes(&case.dir.join("task_template.pb"));
        let golden = TaskTemplate::decode(golden_bytes.as_slice()).unwrap();
        let mut ours =
            flyte_sql_idl::task_template_without_security_context(&case.task(), &case.settings())
                .unwrap();
        let applied = normalize_template(&mut ours, &golden);
        let expected_deviations = match case.name.as_str() {
            "structured_dataset_output" => {
                vec![
                    Normalization::Runtime,
                    Normalization::StructuredDatasetFormat,
                ]
            }
            _ => vec![Normalization::Runtime],
        };
        assert_eq!(
            applied,
            expected_deviations,
            "case {}: normalizations {:?}",
            case.name,
            applied
                .iter()
                .map(|normalization| normalization.name())
                .collect::<Vec<_>>()
        );
        assert_eq!(ours, golden, "case {}: TaskTemplate differs", case.name);
        if bytes_comparable(&case) {
            assert_eq!(
                ours.encode_to_vec(),
                golden_bytes,
                "case {}: bytes differ",
                case.name
            );
        }
    }
}

#[test]
fn task_specs_equal_flytekits_registration_path() {
    for case in all_cases() {
        let golden_bytes = read_bytes(&case.dir.join("task_spec.pb"));
        let golden = TaskSpec::decode(golden_bytes.as_slice()).unwrap();
        let mut ours = flyte_sql_idl::task_spec(&case.task(), &case.settings()).unwrap();
        normalize_task_spec(&mut ours, &golden);
        assert_eq!(ours, golden, "case {}: TaskSpec differs", case.name);
        if bytes_comparable(&case) {
            assert_eq!(
                ours.encode_to_vec(),
                golden_bytes,
                "case {}: bytes differ",
                case.name
            );
        }
    }
}

#[test]
fn the_one_secret_case_differs_only_in_field_order_of_its_bytes() {
    // upb writes `group_version` before `group` inside the secret connect arg struct; the
    // messages are equal (tested above) and the encodings have the same length.
    let case = all_cases()
        .into_iter()
        .find(|case| case.name == "secret_one")
        .unwrap();
    let golden_bytes = read_bytes(&case.dir.join("task_spec.pb"));
    let golden = TaskSpec::decode(golden_bytes.as_slice()).unwrap();
    let mut ours = flyte_sql_idl::task_spec(&case.task(), &case.settings()).unwrap();
    normalize_task_spec(&mut ours, &golden);
    let ours = ours.encode_to_vec();
    assert_eq!(ours.len(), golden_bytes.len());
    assert_ne!(ours, golden_bytes);
}

#[test]
fn flytekit_templates_decode_into_the_case_task_and_reencode_identically() {
    for case in all_cases() {
        let settings = case.settings();
        for (file, registration) in [("task_template.pb", false), ("task_spec.pb", true)] {
            let bytes = read_bytes(&case.dir.join(file));
            let golden = if registration {
                flyte_sql_idl::decode_task_spec(&bytes)
                    .unwrap()
                    .template
                    .unwrap()
            } else {
                flyte_sql_idl::decode_task_template(&bytes).unwrap()
            };
            let decoded = flyte_sql_idl::task_from_template(&golden)
                .unwrap_or_else(|error| panic!("case {}: {error}", case.name));
            let built = case.task();
            assert_eq!(decoded.name(), built.name());
            assert_eq!(decoded.runtime(), Runtime::Python);
            assert_eq!(decoded.interpolation(), Interpolation::Compat);
            assert_eq!(
                decoded.query(),
                case.json["query_template_stored"].as_str().unwrap(),
                "case {}",
                case.name
            );
            let mut built_inputs = built.inputs().to_vec();
            built_inputs.sort_by(|a, b| a.name.cmp(&b.name));
            assert_eq!(
                decoded.inputs(),
                built_inputs.as_slice(),
                "case {}",
                case.name
            );
            assert_eq!(decoded.output(), built.output(), "case {}", case.name);
            assert_eq!(decoded.metadata(), built.metadata(), "case {}", case.name);
            assert_eq!(decoded.resources(), built.resources(), "case {}", case.name);
            // Every number of the connect args comes back a double, as the Struct holds it.
            assert_eq!(decoded.connection().uri(), built.connection().uri());
            assert_eq!(
                decoded.connection().secret_connect_args(),
                built.connection().secret_connect_args()
            );
            assert_eq!(
                as_doubles(&serde_json::Value::Object(
                    decoded.connection().connect_args().clone()
                )),
                as_doubles(&serde_json::Value::Object(
                    built.connection().connect_args().clone()
                )),
                "case {}",
                case.name
            );
            // Secrets that only repeat a secret connect arg are implied by it and not repeated.
            let implied: Vec<&SecretRef> = built
                .connection()
                .secret_connect_args()
                .into_iter()
                .flatten()
                .map(|(_, secret)| secret)
                .collect();
            let expected_requests: Vec<SecretRef> = if registration {
                built
                    .secret_requests()
                    .iter()
                    .filter(|secret| !implied.contains(secret))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            assert_eq!(
                decoded.secret_requests(),
                expected_requests.as_slice(),
                "case {}",
                case.name
            );

            let mut again =
                flyte_sql_idl::task_template_without_security_context(&decoded, &settings).unwrap();
            if registration {
                again.security_context = flyte_sql_idl::task_template(&decoded, &settings)
                    .unwrap()
                    .security_context;
            }
            normalize_template(&mut again, &golden);
            assert_eq!(
                again, golden,
                "case {}: {file} does not round-trip",
                case.name
            );
        }
    }
}

/// The JSON value with every number turned into a double, as a `google.protobuf.Struct` holds it.
fn as_doubles(json: &serde_json::Value) -> serde_json::Value {
    match json {
        serde_json::Value::Number(number) => serde_json::Number::from_f64(number.as_f64().unwrap())
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(as_doubles).collect())
        }
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), as_doubles(value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[test]
fn inputs_decode_and_reencode_to_the_entrypoints_bytes() {
    for case in all_cases() {
        let task = case.task();
        for run in case.runs() {
            let golden_bytes = read_bytes(&run.join("inputs.pb"));
            let literals = flyte_sql_idl::decode_literal_map(&golden_bytes).unwrap();
            let values = flyte_sql_idl::input_values(&task, &literals).unwrap();
            let ours = flyte_sql_idl::literal_map(&task, &values).unwrap();
            assert_eq!(ours.encode_to_vec(), golden_bytes, "{}", run.display());
        }
    }
}

#[test]
fn many_input_types_decode_to_the_expected_values() {
    let case = all_cases()
        .into_iter()
        .find(|case| case.name == "many_input_types")
        .unwrap();
    let bytes = read_bytes(&case.dir.join("entrypoint/run/inputs.pb"));
    let values = flyte_sql_idl::input_values(
        &case.task(),
        &flyte_sql_idl::decode_literal_map(&bytes).unwrap(),
    )
    .unwrap();
    let inputs: serde_json::Value = read_json(&case.dir.join("entrypoint/run/inputs.json"));
    for (name, value) in &values {
        let literal = &inputs["literals"][name]["scalar"]["primitive"];
        let golden = literal
            .as_object()
            .and_then(|object| object.values().next())
            .unwrap();
        let golden_text = golden.as_str().unwrap_or_default();
        match value {
            Value::Integer(value) => assert_eq!(golden_text.parse::<i64>().unwrap(), *value),
            Value::Float(value) => assert_eq!(golden.as_f64().unwrap(), *value),
            Value::String(value) => assert_eq!(golden_text, value),
            Value::Boolean(value) => assert_eq!(golden.as_bool().unwrap(), *value),
            Value::Datetime(value) => {
                assert_eq!(DateTime::parse_from_rfc3339(golden_text).unwrap(), *value);
            }
            Value::Duration(value) => {
                let seconds: f64 = golden_text.trim_end_matches('s').parse().unwrap();
                assert_eq!(seconds, value.as_seconds_f64());
            }
            Value::Null(ty) => panic!("input {name}: unexpected null {ty}"),
        }
    }
}

#[test]
fn outputs_equal_the_entrypoints_after_the_columns_deviation() {
    for case in all_cases() {
        let task = case.task();
        for run in case.runs() {
            let path = run.join("out/outputs.pb");
            if !path.exists() {
                continue;
            }
            let golden_bytes = read_bytes(&path);
            let golden = flyte_sql_idl::decode_literal_map(&golden_bytes).unwrap();
            let uri = read_json(&run.join("out/outputs.json"))["literals"]["results"]["scalar"]
                ["structured_dataset"]["uri"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let mut ours = flyte_sql_idl::output_literal_map(&task, &uri);
            let applied = normalize_outputs(&mut ours, &golden);
            let declares_schema_columns = matches!(
                task.output(),
                Output::Table(TableOutput {
                    kind: TableKind::Schema,
                    columns: Some(_)
                })
            );
            assert_eq!(
                applied.contains(&Normalization::OutputLiteralColumns),
                declares_schema_columns,
                "{}",
                run.display()
            );
            assert_eq!(ours.encode_to_vec(), golden_bytes, "{}", run.display());
        }
    }
}

#[test]
fn error_documents_encode_like_the_entrypoints() {
    let path = fixtures_dir().join("sql_error/entrypoint/run/out/error.pb");
    let golden_bytes = read_bytes(&path);
    let golden = ErrorDocument::decode(golden_bytes.as_slice())
        .unwrap()
        .error
        .unwrap();
    assert_eq!(golden.kind, container_error::Kind::Recoverable as i32);
    assert_eq!(golden.origin, execution_error::ErrorKind::System as i32);
    let timestamp = golden.timestamp.unwrap();
    let failure = ContainerFailure {
        code: golden.code.clone(),
        message: golden.message.clone(),
        recoverability: Recoverability::Recoverable,
        origin: ErrorKind::System,
        timestamp: DateTime::from_timestamp(timestamp.seconds, timestamp.nanos as u32).unwrap(),
        worker: golden.worker.clone(),
    };
    let ours = flyte_sql_idl::error_document(&failure);
    assert_eq!(ours.encode_to_vec(), golden_bytes);
}

#[test]
fn default_images_equal_sqlalchemy_default_images() {
    let golden = read_json(&fixtures_dir().join("_reference/default_images.json"));
    assert_eq!(
        flyte_sql_idl::default_python_image(None),
        golden["default_image"].as_str().unwrap()
    );
    assert_eq!(
        flyte_sql_idl::get_version_suffix(flyte_sql_idl::REFERENCE_FLYTEKIT_VERSION),
        golden["get_version_suffix"].as_str().unwrap()
    );
    for (key, flytekit_version) in [
        ("find_image_for", None),
        (
            "find_image_for_with_flytekit_version_v1_2_3",
            Some("v1.2.3"),
        ),
    ] {
        for (python, image) in golden[key].as_object().unwrap() {
            let python = PythonVersion::parse(python).unwrap();
            assert_eq!(
                flyte_sql_idl::find_image_for(python, flytekit_version, None),
                image.as_str().unwrap()
            );
        }
    }
    for (version, suffix) in golden["get_version_suffix_for"].as_object().unwrap() {
        assert_eq!(
            flyte_sql_idl::get_version_suffix(version),
            suffix.as_str().unwrap()
        );
    }
    let overridden = golden["find_image_for_with_FLYTE_INTERNAL_IMAGE_set"]
        .as_str()
        .unwrap();
    assert_eq!(
        flyte_sql_idl::find_image_for(PythonVersion::Py311, None, Some(overridden)),
        overridden
    );
}

#[test]
fn secret_connect_args_serialize_like_secret_connect_args_to_dicts() {
    let golden = read_json(&fixtures_dir().join("_reference/default_images.json"));
    let secrets: BTreeMap<String, SecretRef> = golden["secret_connect_args_to_dicts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(arg, dict)| {
            let secret = SecretRef {
                group: dict["group"].as_str().unwrap().to_owned(),
                key: dict["key"].as_str().map(str::to_owned),
                group_version: dict["group_version"].as_str().map(str::to_owned),
                mount_requirement: flyte_sql_config::MountRequirement::from_wire_value(
                    dict["mount_requirement"].as_i64().unwrap() as i32,
                )
                .unwrap(),
                env_var: None,
            };
            (arg.clone(), secret)
        })
        .collect();
    let connection = ConnectionConfig::new("sqlite://")
        .unwrap()
        .with_secret_connect_args(Some(secrets));
    let task = SqlTask::builder("t.secrets", "select 1", connection)
        .runtime(Runtime::Python)
        .interpolation(Interpolation::Compat)
        .build()
        .unwrap();
    let template = flyte_sql_idl::task_template(&task, &package_settings()).unwrap();
    let custom = template.custom.unwrap();
    let dicts = &custom.fields["secret_connect_args"];
    let prost_types::value::Kind::StructValue(dicts) = dicts.kind.as_ref().unwrap() else {
        panic!("secret_connect_args is not a struct");
    };
    assert_eq!(dicts.fields.len(), 3);
    // The deviation: the three secrets are requested although the task has no secret_requests.
    let secrets = template.security_context.unwrap().secrets;
    assert_eq!(
        secrets
            .iter()
            .map(|secret| secret.key.as_str())
            .collect::<Vec<_>>(),
        ["k", "k2", "k3"]
    );
    assert_eq!(secrets[1].group_version, "v7");
    assert_eq!(secrets[2].mount_requirement, 2);
}

/// The settings `pyflyte package --image ghcr.io/example/sql:latest` serializes with.
fn package_settings() -> SerializationSettings {
    SerializationSettings {
        project: String::new(),
        domain: String::new(),
        version: String::new(),
        ..extra_settings()
    }
}

/// The two tasks of `_reference/package/sqlgolden_tasks.py`.
fn package_tasks() -> Vec<SqlTask> {
    let secret = SecretRef {
        group: "db-creds".to_owned(),
        key: Some("password".to_owned()),
        group_version: None,
        mount_requirement: flyte_sql_config::MountRequirement::Any,
        env_var: None,
    };
    let mut secret_args = BTreeMap::new();
    secret_args.insert("password".to_owned(), secret.clone());
    let tracks = SqlTask::builder(
        "golden.pkg.tracks",
        "select TrackId, Name from tracks limit {{ .inputs.limit }}",
        ConnectionConfig::new("postgresql+psycopg2://app@db.internal:5432/analytics")
            .unwrap()
            .with_secret_connect_args(Some(secret_args)),
    )
    .runtime(Runtime::Python)
    .interpolation(Interpolation::Compat)
    .input(InputVariable {
        name: "limit".to_owned(),
        ty: PrimitiveType::Integer,
        optional: false,
        default: None,
    })
    .output(Output::Table(TableOutput {
        kind: TableKind::Schema,
        columns: Some(vec![
            flyte_sql_model::OutputColumn {
                name: "TrackId".to_owned(),
                ty: PrimitiveType::Integer,
            },
            flyte_sql_model::OutputColumn {
                name: "Name".to_owned(),
                ty: PrimitiveType::String,
            },
        ]),
    }))
    .secret_request(secret)
    .build()
    .unwrap();
    let insert = SqlTask::builder(
        "golden.pkg.insert",
        "insert into tracks values (9, 'x')",
        ConnectionConfig::new("sqlite:///golden.db").unwrap(),
    )
    .runtime(Runtime::Python)
    .interpolation(Interpolation::Compat)
    .output(Output::None)
    .build()
    .unwrap();
    vec![tracks, insert]
}

#[test]
fn package_members_are_named_and_shaped_like_pyflyte_package() {
    let listing = read_json(&fixtures_dir().join("_reference/package/listing.json"));
    let golden_names: Vec<&str> = listing["members_in_archive_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| member["name"].as_str().unwrap())
        .collect();
    let members = flyte_sql_idl::package_members(&package_tasks(), &package_settings()).unwrap();
    let names: Vec<&str> = members.iter().map(|member| member.name.as_str()).collect();
    assert_eq!(names, golden_names);
    for member in &members {
        let golden_bytes =
            read_bytes(&fixtures_dir().join("_reference/package").join(&member.name));
        let golden = TaskSpec::decode(golden_bytes.as_slice()).unwrap();
        let mut ours = TaskSpec::decode(member.contents.as_slice()).unwrap();
        normalize_task_spec(&mut ours, &golden);
        assert_eq!(ours, golden, "{}", member.name);
    }
}

#[test]
fn package_indexes_are_zero_padded_to_the_entity_count() {
    let tasks: Vec<SqlTask> = (0..10)
        .map(|index| {
            SqlTask::builder(
                &format!("t.task{index}"),
                "select 1",
                ConnectionConfig::new("sqlite://").unwrap(),
            )
            .build()
            .unwrap()
        })
        .collect();
    let members = flyte_sql_idl::package_members(&tasks, &package_settings()).unwrap();
    assert_eq!(members[0].name, "00_t.task0_1.pb");
    assert_eq!(members[9].name, "09_t.task9_1.pb");
}

/// The settings of `_flyte_sql_extra/gen_extra.py`.
fn extra(name: &str) -> Vec<u8> {
    read_bytes(&fixtures_dir().join("_flyte_sql_extra").join(name))
}

#[test]
fn optional_inputs_are_unions_like_flytekits_optional() {
    let golden_bytes = extra("optional_inputs_task_template.pb");
    let golden = TaskTemplate::decode(golden_bytes.as_slice()).unwrap();
    let mut ours = flyte_sql_idl::task_template_without_security_context(
        &optional_inputs_task(),
        &extra_settings(),
    )
    .unwrap();
    normalize_template(&mut ours, &golden);
    assert_eq!(ours, golden);
    assert_eq!(ours.encode_to_vec(), golden_bytes);
    let decoded = flyte_sql_idl::task_from_template(&golden).unwrap();
    assert!(decoded.inputs().iter().all(|input| input.optional));
}

#[test]
fn optional_values_and_nulls_encode_like_flytekit() {
    let golden_bytes = extra("optional_inputs_literal_map.pb");
    let mut values = InputValues::new();
    values.insert("i".to_owned(), Value::Integer(7));
    values.insert("f".to_owned(), Value::Null(PrimitiveType::Float));
    values.insert("s".to_owned(), Value::String("x".to_owned()));
    values.insert("b".to_owned(), Value::Null(PrimitiveType::Boolean));
    values.insert(
        "dt".to_owned(),
        Value::Datetime(
            Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap() + TimeDelta::milliseconds(600),
        ),
    );
    values.insert(
        "td".to_owned(),
        Value::Duration(TimeDelta::days(-1) + TimeDelta::seconds(5) + TimeDelta::milliseconds(250)),
    );
    let task = optional_inputs_task();
    let ours = flyte_sql_idl::literal_map(&task, &values).unwrap();
    assert_eq!(ours.encode_to_vec(), golden_bytes);
    let decoded =
        flyte_sql_idl::input_values(&task, &LiteralMap::decode(golden_bytes.as_slice()).unwrap())
            .unwrap();
    assert_eq!(decoded, values);
}

#[test]
fn task_nodes_equal_flytekits_compiled_nodes() {
    let settings = extra_settings();
    let tracks = flyte_sql_idl::task_node(
        &tracks_node_task(),
        &settings,
        &TaskNodeOptions {
            node_id: "n1".to_owned(),
            inputs: vec![
                NodeInput {
                    input: "name".to_owned(),
                    source: BindingSource::Value(Value::String("abc".to_owned())),
                },
                NodeInput {
                    input: "limit".to_owned(),
                    source: BindingSource::WorkflowInput {
                        name: "limit".to_owned(),
                    },
                },
            ],
            upstream_node_ids: Vec::new(),
        },
    )
    .unwrap();
    assert_eq!(tracks.encode_to_vec(), extra("node_tracks.pb"));

    let optional = flyte_sql_idl::task_node(
        &optional_inputs_task(),
        &settings,
        &TaskNodeOptions {
            node_id: "n0".to_owned(),
            inputs: vec![
                NodeInput {
                    input: "f".to_owned(),
                    source: BindingSource::Value(Value::Float(2.5)),
                },
                NodeInput {
                    input: "b".to_owned(),
                    source: BindingSource::Value(Value::Boolean(true)),
                },
                NodeInput {
                    input: "i".to_owned(),
                    source: BindingSource::Value(Value::Null(PrimitiveType::Integer)),
                },
            ],
            upstream_node_ids: Vec::new(),
        },
    )
    .unwrap();
    assert_eq!(optional.encode_to_vec(), extra("node_optional_inputs.pb"));
}

#[test]
fn task_nodes_reject_bad_bindings() {
    let settings = extra_settings();
    let options = |inputs| TaskNodeOptions {
        node_id: "n0".to_owned(),
        inputs,
        upstream_node_ids: Vec::new(),
    };
    let bind = |input: &str, value| NodeInput {
        input: input.to_owned(),
        source: BindingSource::Value(value),
    };
    let error = flyte_sql_idl::task_node(
        &tracks_node_task(),
        &settings,
        &options(vec![bind("limit", Value::Integer(1))]),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "missing input `name` of type string: supply a value (it has no default)"
    );
    let error = flyte_sql_idl::task_node(
        &tracks_node_task(),
        &settings,
        &options(vec![
            bind("limit", Value::String("1".to_owned())),
            bind("name", Value::String("x".to_owned())),
        ]),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "input `limit`: expected integer, found string"
    );
    let upstream = flyte_sql_idl::task_node(
        &tracks_node_task(),
        &settings,
        &TaskNodeOptions {
            node_id: "n2".to_owned(),
            inputs: vec![
                NodeInput {
                    input: "limit".to_owned(),
                    source: BindingSource::NodeOutput {
                        node_id: "n1".to_owned(),
                        output: "o0".to_owned(),
                    },
                },
                bind("name", Value::String("x".to_owned())),
            ],
            upstream_node_ids: vec!["n0".to_owned(), "n1".to_owned()],
        },
    )
    .unwrap();
    assert_eq!(upstream.upstream_node_ids, ["n1", "n0"]);
}
