//! Fuzz target: `LiteralMap` bytes (an `inputs.pb`) decoded into a task's input values.
//!
//! Input: the bytes, read against a task with an input of every type, required and optional
//! (`every_type_task`), or — when the first byte is odd — against the conformance case
//! `many_input_types`, whose task is read from its `task_template.pb` seed. Invariants: nothing
//! panics; values that decode encode again, and decode → encode → decode is stable (the same
//! values, NaN included, and the same bytes).

#![no_main]

use std::sync::OnceLock;

use flyte_sql_fuzz::{every_type_task, shown};
use flyte_sql_idl::{Message, decode_literal_map, input_values, literal_map, task_from_template};
use flyte_sql_model::SqlTask;
use libfuzzer_sys::fuzz_target;

fn tasks() -> &'static [SqlTask; 2] {
    static TASKS: OnceLock<[SqlTask; 2]> = OnceLock::new();
    TASKS.get_or_init(|| {
        let bytes = include_bytes!("../seeds/task_template/many_input_types.pb");
        let template = flyte_sql_idl::decode_task_template(bytes).expect("the seed decodes");
        let golden = task_from_template(&template).expect("the seed is a SQL task");
        [every_type_task(), golden]
    })
}

fuzz_target!(|data: &[u8]| {
    for task in tasks() {
        check(task, data);
    }
});

fn check(task: &SqlTask, data: &[u8]) {
    let map = match decode_literal_map(data) {
        Ok(map) => map,
        Err(error) => {
            let _ = (error.to_string(), error.kind());
            return;
        }
    };
    let values = match input_values(task, &map) {
        Ok(values) => values,
        Err(error) => {
            let _ = (error.to_string(), error.kind(), format!("{error:?}"));
            return;
        }
    };
    let encoded = literal_map(task, &values)
        .unwrap_or_else(|error| panic!("decoded values encode: {error}"))
        .encode_to_vec();
    let map = decode_literal_map(&encoded).expect("our own LiteralMap bytes decode");
    let again = input_values(task, &map)
        .unwrap_or_else(|error| panic!("our own LiteralMap reads back: {error}"));
    assert_eq!(
        shown(&again),
        shown(&values),
        "decode → encode → decode changed the values"
    );
    let reencoded = literal_map(task, &again)
        .expect("the values encoded once")
        .encode_to_vec();
    assert_eq!(reencoded, encoded, "encoding the same values twice differs");
}
