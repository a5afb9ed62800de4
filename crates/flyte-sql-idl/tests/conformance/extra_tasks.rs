//! The tasks and settings behind the `_flyte_sql_extra` goldens (workflow nodes, optional inputs),
//! made with flytekit by `_flyte_sql_extra/gen_extra.py`. Shared by the conformance tests and the
//! `conformance_emit` example.

use chrono::TimeDelta;
use flyte_sql_config::ConnectionConfig;
use flyte_sql_idl::{Image, ImageConfig, SerializationSettings};
use flyte_sql_model::{
    InputVariable, Interpolation, PrimitiveType, Runtime, SqlTask, TaskMetadata,
};

/// The settings the `_flyte_sql_extra` goldens were made with: project `proj`, domain `dev`,
/// version `v1`, default image `ghcr.io/example/sql:latest`.
pub(crate) fn extra_settings() -> SerializationSettings {
    SerializationSettings {
        project: "proj".to_owned(),
        domain: "dev".to_owned(),
        version: "v1".to_owned(),
        env: Vec::new(),
        image_config: ImageConfig {
            default_image: Some(Image::parse("default", "ghcr.io/example/sql:latest").unwrap()),
            images: Vec::new(),
            internal_image: None,
        },
    }
}

/// `golden.wf.optional_inputs` of `_flyte_sql_extra`: one optional input of each type.
pub(crate) fn optional_inputs_task() -> SqlTask {
    let mut builder = SqlTask::builder(
        "golden.wf.optional_inputs",
        "select {{ .inputs.i }}, {{ .inputs.f }}, {{ .inputs.s }}, {{ .inputs.b }}, {{ .inputs.dt }}, {{ .inputs.td }}",
        ConnectionConfig::new("sqlite:///golden.db").unwrap(),
    )
    .runtime(Runtime::Python)
    .interpolation(Interpolation::Compat);
    for (name, ty) in [
        ("i", PrimitiveType::Integer),
        ("f", PrimitiveType::Float),
        ("s", PrimitiveType::String),
        ("b", PrimitiveType::Boolean),
        ("dt", PrimitiveType::Datetime),
        ("td", PrimitiveType::Duration),
    ] {
        builder = builder.input(InputVariable {
            name: name.to_owned(),
            ty,
            optional: true,
            default: None,
        });
    }
    builder.build().unwrap()
}

/// `golden.wf.tracks` of `_flyte_sql_extra`: the task behind the workflow node golden.
pub(crate) fn tracks_node_task() -> SqlTask {
    let input = |name: &str, ty| InputVariable {
        name: name.to_owned(),
        ty,
        optional: false,
        default: None,
    };
    SqlTask::builder(
        "golden.wf.tracks",
        "select * from tracks where Name <> {{ .inputs.name }} limit {{ .inputs.limit }}",
        ConnectionConfig::new("sqlite:///golden.db").unwrap(),
    )
    .runtime(Runtime::Python)
    .interpolation(Interpolation::Compat)
    .input(input("limit", PrimitiveType::Integer))
    .input(input("name", PrimitiveType::String))
    .metadata(TaskMetadata {
        retries: 2,
        timeout: Some(TimeDelta::seconds(90)),
        interruptible: Some(true),
        ..TaskMetadata::default()
    })
    .build()
    .unwrap()
}
