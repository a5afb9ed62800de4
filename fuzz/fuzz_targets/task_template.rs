//! Fuzz target: `TaskTemplate` bytes (a `task.pb`) and `admin.TaskSpec` bytes (a `*_1.pb`)
//! decoded into a task.
//!
//! Invariants: nothing panics; a task read from a template serializes again (unless its image
//! names an image the settings do not have); the bytes of that template read back into the same
//! task (the python runtime's query whitespace-normalized, as its template carries it), and from
//! there decode → encode → decode is exact: the same task, the same template.

#![no_main]

use flyte_sql_fuzz::settings;
use flyte_sql_idl::{
    Message, SerializationSettings, decode_task_spec, decode_task_template,
    proto::core::TaskTemplate, task_from_template, task_template,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(template) = decode_task_template(data) {
        check(&template);
    }
    if let Ok(spec) = decode_task_spec(data)
        && let Some(template) = spec.template
    {
        check(&template);
    }
});

fn check(template: &TaskTemplate) {
    let task = match task_from_template(template) {
        Ok(task) => task,
        Err(error) => {
            let _ = (error.to_string(), error.kind(), format!("{error:?}"));
            return;
        }
    };
    let _ = flyte_sql_template::check_task(&task).map_err(|error| error.to_string());
    // Without settings variables: they would join the task's environment on the way back.
    let settings = SerializationSettings {
        env: Vec::new(),
        ..settings()
    };
    let ours = match task_template(&task, &settings) {
        Ok(ours) => ours,
        Err(error) => {
            assert!(task.image().is_some(), "{error}");
            return;
        }
    };
    let bytes = ours.encode_to_vec();
    let decoded = decode_task_template(&bytes).expect("our own TaskTemplate bytes decode");
    let back = task_from_template(&decoded)
        .unwrap_or_else(|error| panic!("our own TaskTemplate reads back: {error}"));
    // The python runtime's template carries the reference's whitespace-normalized query, so a
    // template whose stored query was not normalized (flytekit always normalizes) comes back
    // normalized: everything else comes back as it was.
    assert_eq!(back.query(), flyte_sql_idl::template_query(&task));
    assert_eq!(back.name(), task.name());
    assert_eq!(back.interpolation(), task.interpolation());
    assert_eq!(back.runtime(), task.runtime());
    assert_eq!(back.image(), task.image());
    assert_eq!(back.connection(), task.connection());
    assert_eq!(back.secret_requests(), task.secret_requests());
    assert_eq!(back.inputs(), task.inputs());
    assert_eq!(back.output(), task.output());
    assert_eq!(back.metadata(), task.metadata());
    assert_eq!(back.resources(), task.resources());
    assert_eq!(back.environment(), task.environment());
    assert_eq!(back.description(), task.description());
    // From there on, the round trip is exact.
    let again = task_template(&back, &settings).expect("the read-back task serializes");
    assert_eq!(
        again, ours,
        "serializing the read-back task changed the template"
    );
    let twice = task_from_template(&decode_task_template(&again.encode_to_vec()).unwrap())
        .unwrap_or_else(|error| panic!("our own TaskTemplate reads back: {error}"));
    assert_eq!(twice, back, "decode → encode → decode changed the task");
}
