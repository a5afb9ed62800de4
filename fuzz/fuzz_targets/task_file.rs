//! Fuzz target: the TOML task file (`SqlTask::from_toml`) and what a parsed task becomes.
//!
//! Invariants: nothing panics; a task that parses serializes to a `TaskTemplate` (unless its
//! image names an image the settings do not have); those bytes decode back into a task with the
//! same name, runtime, interpolation, stored query, inputs (defaults aside: a template has none),
//! output, metadata, resources, URI and secret connect args; and that task serializes to the
//! same template again.

#![no_main]

use flyte_sql_fuzz::settings;
use flyte_sql_idl::{Message, decode_task_template, task_from_template, task_spec, task_template};
use flyte_sql_model::{InputVariable, SqlTask};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let task = match SqlTask::from_toml(&text) {
        Ok(task) => task,
        Err(error) => {
            let _ = (error.to_string(), error.kind(), format!("{error:?}"));
            return;
        }
    };
    let _ = flyte_sql_template::check_task(&task).map_err(|error| error.to_string());
    let _ = task.definition_warnings();
    let settings = settings();
    let _ = task_spec(&task, &settings).map(|spec| spec.encode_to_vec());
    let template = match task_template(&task, &settings) {
        Ok(template) => template,
        Err(error) => {
            // Only an image the settings cannot resolve stops a valid task here.
            assert!(task.image().is_some(), "{error}");
            return;
        }
    };
    let bytes = template.encode_to_vec();
    let decoded = decode_task_template(&bytes).expect("our own TaskTemplate bytes decode");
    assert_eq!(decoded, template);
    let back = task_from_template(&decoded)
        .unwrap_or_else(|error| panic!("our own TaskTemplate reads back: {error}"));
    assert_eq!(back.name(), task.name());
    assert_eq!(back.runtime(), task.runtime());
    assert_eq!(back.interpolation(), task.interpolation());
    assert_eq!(back.query(), flyte_sql_idl::template_query(&task));
    assert_eq!(
        without_defaults(back.inputs()),
        without_defaults(task.inputs())
    );
    assert_eq!(back.output(), task.output());
    assert_eq!(back.metadata(), task.metadata());
    assert_eq!(back.resources(), task.resources());
    assert_eq!(back.connection().uri(), task.connection().uri());
    assert_eq!(
        back.connection().secret_connect_args(),
        task.connection().secret_connect_args()
    );
    let again = task_template(&back, &settings).expect("a read-back task serializes");
    assert_eq!(
        again, template,
        "serializing the read-back task changed the template"
    );
});

/// The inputs by name, without defaults (a template's interface carries none).
fn without_defaults(inputs: &[InputVariable]) -> Vec<InputVariable> {
    let mut inputs: Vec<InputVariable> = inputs
        .iter()
        .map(|input| InputVariable {
            default: None,
            ..input.clone()
        })
        .collect();
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    inputs
}
