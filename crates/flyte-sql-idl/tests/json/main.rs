//! The proto3 JSON renderings (`to_proto3_json`) against flytekit's `.json` goldens, which are
//! `MessageToJson(preserving_proto_field_name=True, sort_keys=True)` of the same messages: after
//! the allowed normalization, the texts are identical.

#[path = "../conformance/cases.rs"]
mod cases;
#[path = "../conformance/normalize.rs"]
mod normalize;

use std::fs;
use std::path::Path;

use flyte_sql_idl::proto::admin::TaskSpec;
use flyte_sql_idl::proto::core::{LiteralMap, Node, TaskTemplate};
use flyte_sql_idl::{Message, Name, to_proto3_json};

use crate::cases::{all_cases, fixtures_dir, read_bytes};
use crate::normalize::{Normalization, normalize_outputs, normalize_task_spec, normalize_template};

/// Asserts that our rendering, after the named normalizations, equals the golden text (which ends
/// with a newline).
fn check<M: Message + Name>(ours: &M, golden: &Path, applied: &[Normalization]) {
    let golden_text = fs::read_to_string(golden).unwrap();
    let ours = to_proto3_json(ours).unwrap();
    let applied: Vec<&str> = applied
        .iter()
        .map(|normalization| normalization.name())
        .collect();
    assert_eq!(
        format!("{ours}\n"),
        golden_text,
        "{} (normalized: {applied:?})",
        golden.display()
    );
}

#[test]
fn task_templates_and_specs_render_like_message_to_json() {
    for case in all_cases() {
        let golden =
            TaskTemplate::decode(read_bytes(&case.dir.join("task_template.pb")).as_slice())
                .unwrap();
        let mut ours =
            flyte_sql_idl::task_template_without_security_context(&case.task(), &case.settings())
                .unwrap();
        let applied = normalize_template(&mut ours, &golden);
        check(&ours, &case.dir.join("task_template.json"), &applied);

        let golden =
            TaskSpec::decode(read_bytes(&case.dir.join("task_spec.pb")).as_slice()).unwrap();
        let mut ours = flyte_sql_idl::task_spec(&case.task(), &case.settings()).unwrap();
        let applied = normalize_task_spec(&mut ours, &golden);
        check(&ours, &case.dir.join("task_spec.json"), &applied);
    }
}

fn uri_of_results(outputs_json: &Path) -> String {
    let json = cases::read_json(outputs_json);
    json["literals"]["results"]["scalar"]["structured_dataset"]["uri"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn literal_maps_render_like_message_to_json() {
    for case in all_cases() {
        for run in case.runs() {
            let inputs = LiteralMap::decode(read_bytes(&run.join("inputs.pb")).as_slice()).unwrap();
            check(&inputs, &run.join("inputs.json"), &[]);
            let outputs = run.join("out/outputs.pb");
            if outputs.exists() {
                let golden = LiteralMap::decode(read_bytes(&outputs).as_slice()).unwrap();
                let uri = match golden.literals.get("results") {
                    Some(_) => uri_of_results(&run.join("out/outputs.json")),
                    None => String::new(),
                };
                let mut ours = flyte_sql_idl::output_literal_map(&case.task(), &uri);
                let applied = normalize_outputs(&mut ours, &golden);
                check(&ours, &run.join("out/outputs.json"), &applied);
            }
        }
    }
    let extra = fixtures_dir().join("_flyte_sql_extra");
    let literals =
        LiteralMap::decode(read_bytes(&extra.join("optional_inputs_literal_map.pb")).as_slice())
            .unwrap();
    check(
        &literals,
        &extra.join("optional_inputs_literal_map.json"),
        &[],
    );
}

#[test]
fn nodes_render_like_message_to_json() {
    let extra = fixtures_dir().join("_flyte_sql_extra");
    for name in ["node_tracks", "node_optional_inputs"] {
        let node = Node::decode(read_bytes(&extra.join(format!("{name}.pb"))).as_slice()).unwrap();
        check(&node, &extra.join(format!("{name}.json")), &[]);
    }
}
