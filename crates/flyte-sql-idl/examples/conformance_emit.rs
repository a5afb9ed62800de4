//! Writes every kind of message flyte-sql emits for the conformance cases into a directory, with a
//! `manifest.json` that names each file's message type, the flytekit golden JSON to compare it with
//! and the normalizations that apply. `cargo xtask conformance` runs this and hands the directory to
//! the Python oracle, which decodes every file with the real `flyteidl` classes.
//!
//! Usage: `cargo run -p flyte-sql-idl --example conformance_emit -- OUT_DIR`

// A command-line helper reports on stderr.
#![allow(clippy::print_stderr)]

#[path = "../tests/conformance/cases.rs"]
mod cases;
#[path = "../tests/conformance/extra_tasks.rs"]
mod extra_tasks;
#[path = "../tests/conformance/normalize.rs"]
mod normalize;

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use flyte_sql_config::ErrorKind;
use flyte_sql_idl::proto::admin::TaskSpec;
use flyte_sql_idl::proto::core::{LiteralMap, TaskTemplate};
use flyte_sql_idl::{
    BindingSource, ContainerFailure, Message, Name, NodeInput, Recoverability, TaskNodeOptions,
};
use flyte_sql_model::{InputValues, PrimitiveType, Value};

use crate::cases::{all_cases, fixtures_dir, read_bytes};
use crate::extra_tasks::{extra_settings, optional_inputs_task, tracks_node_task};
use crate::normalize::{Normalization, normalize_outputs, normalize_task_spec, normalize_template};

/// One emitted file, as the manifest lists it.
struct Emitted {
    file: String,
    message: String,
    /// The golden JSON, relative to the fixtures directory.
    golden_json: String,
    normalizations: Vec<Normalization>,
    /// Whether Python's deterministic encoding must reproduce our bytes exactly.
    bytes_comparable: bool,
}

struct Emitter {
    out: PathBuf,
    emitted: Vec<Emitted>,
}

impl Emitter {
    fn emit<M: Message + Name>(
        &mut self,
        file: String,
        message: &M,
        golden_json: &Path,
        normalizations: Vec<Normalization>,
        bytes_comparable: bool,
    ) {
        let path = self.out.join(&file);
        std::fs::write(&path, message.encode_to_vec())
            .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
        let golden_json = golden_json
            .strip_prefix(fixtures_dir())
            .expect("goldens live in the fixtures")
            .to_string_lossy()
            .into_owned();
        self.emitted.push(Emitted {
            file,
            message: M::full_name(),
            golden_json,
            normalizations,
            bytes_comparable,
        });
    }
}

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: conformance_emit OUT_DIR"),
    );
    std::fs::create_dir_all(&out).expect("creating the output directory");
    let mut emitter = Emitter {
        out: out.clone(),
        emitted: Vec::new(),
    };
    emit_cases(&mut emitter);
    emit_extras(&mut emitter);

    let manifest: Vec<serde_json::Value> = emitter
        .emitted
        .iter()
        .map(|emitted| {
            serde_json::json!({
                "file": emitted.file,
                "message": emitted.message,
                "golden_json": emitted.golden_json,
                "normalizations": emitted
                    .normalizations
                    .iter()
                    .map(|normalization| normalization.name())
                    .collect::<Vec<_>>(),
                "bytes_comparable": emitted.bytes_comparable,
            })
        })
        .collect();
    let manifest = serde_json::to_string_pretty(&manifest).expect("manifest JSON");
    std::fs::write(out.join("manifest.json"), manifest).expect("writing manifest.json");
    eprintln!(
        "conformance_emit: {} messages in {}",
        emitter.emitted.len(),
        out.display()
    );
}

fn emit_cases(emitter: &mut Emitter) {
    for case in all_cases() {
        let task = case.task();
        let settings = case.settings();
        let prefix_free = case.json["expected"]["prefix_related_map_keys"]
            .as_array()
            .is_some_and(Vec::is_empty);

        let golden =
            TaskTemplate::decode(read_bytes(&case.dir.join("task_template.pb")).as_slice())
                .expect("golden template");
        let mut normalized =
            flyte_sql_idl::task_template_without_security_context(&task, &settings)
                .expect("template");
        let ours = normalized.clone();
        let normalizations = normalize_template(&mut normalized, &golden);
        emitter.emit(
            format!("{}.task_template.pb", case.name),
            &ours,
            &case.dir.join("task_template.json"),
            normalizations,
            prefix_free,
        );

        let golden = TaskSpec::decode(read_bytes(&case.dir.join("task_spec.pb")).as_slice())
            .expect("golden spec");
        let ours = flyte_sql_idl::task_spec(&task, &settings).expect("spec");
        let normalizations = normalize_task_spec(&mut ours.clone(), &golden);
        emitter.emit(
            format!("{}.task_spec.pb", case.name),
            &ours,
            &case.dir.join("task_spec.json"),
            normalizations,
            prefix_free,
        );

        for run in case.runs() {
            let run_name = run
                .file_name()
                .expect("run name")
                .to_string_lossy()
                .into_owned();
            let literals = flyte_sql_idl::decode_literal_map(&read_bytes(&run.join("inputs.pb")))
                .expect("golden inputs");
            let values = flyte_sql_idl::input_values(&task, &literals).expect("input values");
            let inputs = flyte_sql_idl::literal_map(&task, &values).expect("inputs");
            emitter.emit(
                format!("{}.{run_name}.inputs.pb", case.name),
                &inputs,
                &run.join("inputs.json"),
                Vec::new(),
                true,
            );

            let outputs_pb = run.join("out/outputs.pb");
            if outputs_pb.exists() {
                let golden =
                    flyte_sql_idl::decode_literal_map(&read_bytes(&outputs_pb)).expect("outputs");
                let uri = cases::read_json(&run.join("out/outputs.json"))["literals"]["results"]
                    ["scalar"]["structured_dataset"]["uri"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let ours = flyte_sql_idl::output_literal_map(&task, &uri);
                let normalizations = normalize_outputs(&mut ours.clone(), &golden);
                emitter.emit(
                    format!("{}.{run_name}.outputs.pb", case.name),
                    &ours,
                    &run.join("out/outputs.json"),
                    normalizations,
                    true,
                );
            }

            let error_pb = run.join("out/error.pb");
            if error_pb.exists() {
                let golden = flyte_sql_idl::decode_error_document(&read_bytes(&error_pb))
                    .expect("error document")
                    .error
                    .expect("container error");
                let timestamp = golden.timestamp.expect("timestamp");
                let failure = ContainerFailure {
                    code: golden.code.clone(),
                    message: golden.message.clone(),
                    recoverability: Recoverability::Recoverable,
                    origin: ErrorKind::System,
                    timestamp: DateTime::from_timestamp(
                        timestamp.seconds,
                        u32::try_from(timestamp.nanos).expect("nanos"),
                    )
                    .expect("timestamp"),
                    worker: golden.worker.clone(),
                };
                emitter.emit(
                    format!("{}.{run_name}.error.pb", case.name),
                    &flyte_sql_idl::error_document(&failure),
                    &run.join("out/error.json"),
                    Vec::new(),
                    true,
                );
            }
        }
    }
}

/// The messages of `_flyte_sql_extra` (see `gen_extra.py` there).
fn emit_extras(emitter: &mut Emitter) {
    let extra = fixtures_dir().join("_flyte_sql_extra");
    let settings = extra_settings();
    let optional = optional_inputs_task();
    let golden = TaskTemplate::decode(
        read_bytes(&extra.join("optional_inputs_task_template.pb")).as_slice(),
    )
    .expect("golden");
    let ours = flyte_sql_idl::task_template_without_security_context(&optional, &settings)
        .expect("template");
    let normalizations = normalize_template(&mut ours.clone(), &golden);
    emitter.emit(
        "extra.optional_inputs_task_template.pb".to_owned(),
        &ours,
        &extra.join("optional_inputs_task_template.json"),
        normalizations,
        true,
    );

    let mut values = InputValues::new();
    values.insert("i".to_owned(), Value::Integer(7));
    values.insert("f".to_owned(), Value::Null(PrimitiveType::Float));
    values.insert("s".to_owned(), Value::String("x".to_owned()));
    values.insert("b".to_owned(), Value::Null(PrimitiveType::Boolean));
    values.insert(
        "dt".to_owned(),
        Value::Datetime(
            Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5)
                .single()
                .expect("date")
                + TimeDelta::milliseconds(600),
        ),
    );
    values.insert(
        "td".to_owned(),
        Value::Duration(TimeDelta::days(-1) + TimeDelta::seconds(5) + TimeDelta::milliseconds(250)),
    );
    let literals: LiteralMap = flyte_sql_idl::literal_map(&optional, &values).expect("literals");
    emitter.emit(
        "extra.optional_inputs_literal_map.pb".to_owned(),
        &literals,
        &extra.join("optional_inputs_literal_map.json"),
        Vec::new(),
        true,
    );

    let tracks = tracks_node_task();
    let node = flyte_sql_idl::task_node(
        &tracks,
        &settings,
        &TaskNodeOptions {
            node_id: "n1".to_owned(),
            inputs: vec![
                NodeInput {
                    input: "limit".to_owned(),
                    source: BindingSource::WorkflowInput {
                        name: "limit".to_owned(),
                    },
                },
                NodeInput {
                    input: "name".to_owned(),
                    source: BindingSource::Value(Value::String("abc".to_owned())),
                },
            ],
            upstream_node_ids: Vec::new(),
        },
    )
    .expect("node");
    emitter.emit(
        "extra.node_tracks.pb".to_owned(),
        &node,
        &extra.join("node_tracks.json"),
        Vec::new(),
        true,
    );
    let node = flyte_sql_idl::task_node(
        &optional,
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
            ],
            upstream_node_ids: Vec::new(),
        },
    )
    .expect("node");
    emitter.emit(
        "extra.node_optional_inputs.pb".to_owned(),
        &node,
        &extra.join("node_optional_inputs.json"),
        Vec::new(),
        true,
    );
}
