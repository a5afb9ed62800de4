//! Defining tasks through the builder and the TOML task file: what a valid task looks like, and
//! that every invalid one is rejected with all its problems, each naming its field.

use expect_test::{Expect, expect};
use flyte_sql_config::{ConnectionConfig, MountRequirement, SecretRef};
use flyte_sql_model::{
    InputVariable, Interpolation, Output, OutputColumn, PrimitiveType, Runtime, SqlTask, TableKind,
    TableOutput, TaskMetadata, Value,
};

/// Reads a task file and shows either a summary of the task or the error.
fn check_file(toml: &str, expected: Expect) {
    let actual = match SqlTask::from_toml(toml) {
        Ok(task) => summary(&task),
        Err(error) => format!("error: {error}"),
    };
    expected.assert_eq(&actual);
}

fn summary(task: &SqlTask) -> String {
    format!(
        "name: {}\nquery: {}\ninterpolation: {:?}\nruntime: {:?}\nimage: {:?}\nuri: {}\ninputs: {:?}\noutput: {:?}\noutput_columns: {:?}\nmetadata: {:?}\nresources: {:?}\nenvironment: {:?}\nsecret_requests: {:?}\nsecret_connect_args: {:?}\nconnect_args: {:?}",
        task.name(),
        task.query(),
        task.interpolation(),
        task.runtime(),
        task.image(),
        task.connection().uri(),
        task.inputs(),
        task.output(),
        task.output_columns(),
        task.metadata(),
        task.resources(),
        task.environment(),
        task.secret_requests(),
        task.connection().secret_connect_args(),
        task.connection().connect_args(),
    )
}

const MINIMAL: &str = r#"
name = "examples.tracks.top_n"
query = "select TrackId, Name from tracks limit {{ .inputs.limit }}"
[connection]
uri = "sqlite:///examples/chinook.db"
[[inputs]]
name = "limit"
type = "integer"
"#;

#[test]
fn minimal_file_gets_the_defaults() {
    check_file(
        MINIMAL,
        expect![[r#"
            name: examples.tracks.top_n
            query: select TrackId, Name from tracks limit {{ .inputs.limit }}
            interpolation: Safe
            runtime: Native
            image: None
            uri: sqlite:///examples/chinook.db
            inputs: [InputVariable { name: "limit", ty: Integer, optional: false, default: None }]
            output: Table(TableOutput { kind: Schema, columns: None })
            output_columns: None
            metadata: TaskMetadata { cache: false, cache_serialize: false, cache_version: None, cache_ignore_input_vars: [], retries: 0, timeout: None, interruptible: None, deprecated: None, pod_template_name: None, generates_deck: false, labels: {}, annotations: {}, tags: {} }
            resources: Resources { requests: ResourceSpec { cpu: None, memory: None, gpu: None, ephemeral_storage: None }, limits: ResourceSpec { cpu: None, memory: None, gpu: None, ephemeral_storage: None } }
            environment: []
            secret_requests: []
            secret_connect_args: None
            connect_args: {}"#]],
    );
}

#[test]
fn every_key_of_the_task_file() {
    check_file(
        r#"
name = "examples.users.by_id"
query = """
select id, name, active, created, age, score
from users -- a comment that must survive
where id = {{ .inputs.user_id }} and created > {{ .inputs.since }}
"""
interpolation = "compat"
runtime = "python"
image = "{{.image.sql.fqn}}:{{.image.sql.version}}"
description = "One user"
[connection]
uri = "postgresql+psycopg2://app@db.internal:5432/analytics"
connect_args = { sslmode = "require", connect_timeout = 10, options = { nested = [1, 2.5, true] } }
[connection.secret_connect_args.password]
group = "db-creds"
key = "password"
group_version = "1"
mount_requirement = "env_var"
[[secret_requests]]
group = "other"
key = "token"
env_var = "TOKEN"
mount_requirement = "file"
[[inputs]]
name = "user_id"
type = "integer"
[[inputs]]
name = "since"
type = "datetime"
optional = true
default = 2024-01-02T03:04:05Z
[output]
kind = "structured_dataset"
[[output.columns]]
name = "id"
type = "integer"
[[output.columns]]
name = "created"
type = "datetime"
[metadata]
cache = true
cache_serialize = true
cache_version = "1.0"
cache_ignore_input_vars = ["since"]
retries = 3
timeout = "10m"
interruptible = false
deprecated = "use v2"
pod_template_name = "sql-pod"
generates_deck = true
labels = { team = "data" }
annotations = { owner = "data-eng" }
tags = { tier = "gold" }
[environment]
B = "2"
A = "1"
[resources.requests]
cpu = "500m"
memory = "1Gi"
[resources.limits]
gpu = "1"
ephemeral_storage = "10Gi"
"#,
        expect![[r#"
            name: examples.users.by_id
            query: select id, name, active, created, age, score
            from users -- a comment that must survive
            where id = {{ .inputs.user_id }} and created > {{ .inputs.since }}

            interpolation: Compat
            runtime: Python
            image: Some("{{.image.sql.fqn}}:{{.image.sql.version}}")
            uri: postgresql+psycopg2://app@db.internal:5432/analytics
            inputs: [InputVariable { name: "user_id", ty: Integer, optional: false, default: None }, InputVariable { name: "since", ty: Datetime, optional: true, default: Some(Datetime(2024-01-02T03:04:05Z)) }]
            output: Table(TableOutput { kind: StructuredDataset, columns: Some([OutputColumn { name: "id", ty: Integer }, OutputColumn { name: "created", ty: Datetime }]) })
            output_columns: Some(["id", "created"])
            metadata: TaskMetadata { cache: true, cache_serialize: true, cache_version: Some("1.0"), cache_ignore_input_vars: ["since"], retries: 3, timeout: Some(TimeDelta { secs: 600, nanos: 0 }), interruptible: Some(false), deprecated: Some("use v2"), pod_template_name: Some("sql-pod"), generates_deck: true, labels: {"team": "data"}, annotations: {"owner": "data-eng"}, tags: {"tier": "gold"} }
            resources: Resources { requests: ResourceSpec { cpu: Some("500m"), memory: Some("1Gi"), gpu: None, ephemeral_storage: None }, limits: ResourceSpec { cpu: None, memory: None, gpu: Some("1"), ephemeral_storage: Some("10Gi") } }
            environment: [("A", "1"), ("B", "2")]
            secret_requests: [SecretRef { group: "other", key: Some("token"), group_version: None, mount_requirement: File, env_var: Some("TOKEN") }]
            secret_connect_args: Some({"password": SecretRef { group: "db-creds", key: Some("password"), group_version: Some("1"), mount_requirement: EnvVar, env_var: None }})
            connect_args: {"connect_timeout": Number(10), "options": Object {"nested": Array [Number(1), Number(2.5), Bool(true)]}, "sslmode": String("require")}"#]],
    );
}

#[test]
fn output_none_has_no_columns() {
    check_file(
        r#"
name = "t.insert"
query = "insert into t values (1)"
[connection]
uri = "sqlite://"
[output]
kind = "none"
"#,
        expect![[r#"
            name: t.insert
            query: insert into t values (1)
            interpolation: Safe
            runtime: Native
            image: None
            uri: sqlite://
            inputs: []
            output: None
            output_columns: None
            metadata: TaskMetadata { cache: false, cache_serialize: false, cache_version: None, cache_ignore_input_vars: [], retries: 0, timeout: None, interruptible: None, deprecated: None, pod_template_name: None, generates_deck: false, labels: {}, annotations: {}, tags: {} }
            resources: Resources { requests: ResourceSpec { cpu: None, memory: None, gpu: None, ephemeral_storage: None }, limits: ResourceSpec { cpu: None, memory: None, gpu: None, ephemeral_storage: None } }
            environment: []
            secret_requests: []
            secret_connect_args: None
            connect_args: {}"#]],
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    check_file(
        r#"
name = "bad name"
query = "select {{ .inputs.a }}, {{ .inputs.missing }}, {{ .inputs.b | upper }}"
interpolation = "safe"
runtime = "python"
image = " "
[connection]
uri = "oracle://scott@db/orcl"
connect_args = { when = 2024-01-01 }
[[inputs]]
name = "a"
type = "integer"
default = "five"
[[inputs]]
name = "a"
type = "string"
[[inputs]]
name = "1x"
type = "boolean"
default = 1
[[inputs]]
name = "unused"
type = "float"
[output]
kind = "schema"
columns = []
[metadata]
cache_serialize = true
cache_ignore_input_vars = ["nope"]
timeout = "soon"
[environment]
"A=B" = "x"
[resources.requests]
cpu = "two"
[[secret_requests]]
group = ""
key = ""
"#,
        expect![[r#"
            error: invalid task `bad name`: 22 problems
              - connection.connect_args.when: TOML datetimes cannot go into connect args: write "2024-01-01" as a string
              - connection.uri: unsupported database dialect `oracle` in uri `oracle://scott@db/orcl`: use one of sqlite, postgresql, postgres, mysql, mariadb (optionally with a `+driver` suffix)
              - metadata.timeout: `soon` is not a duration: use a string such as "10m", "90s" or "1h30m"
              - inputs[0].default: invalid integer value `five`: expected a whole number between -9223372036854775808 and 9223372036854775807
              - inputs[2].default: a boolean default cannot be a TOML integer: write it as true or false
              - name: `bad name` is not a valid task name: use dot-separated segments of letters, digits, `_` and `-`, such as `examples.tracks.top_n`
              - inputs[1].name: input `a` is declared twice: give each input its own name
              - inputs[2].name: `1x` is not an identifier: use letters, digits and `_`, not starting with a digit
              - query: `{{ .inputs.b | upper }}`: unknown filter `upper`: the only filter is `identifier`
              - query: placeholder `{{ .inputs.missing }}` names no declared input: declare an input `missing` or fix the placeholder
              - inputs[2]: input `1x` is not used in the query: add `{{ .inputs.1x }}` to the query or remove the input
              - inputs[3]: input `unused` is not used in the query: add `{{ .inputs.unused }}` to the query or remove the input
              - output.columns: the column list is empty: declare at least one column, or leave `columns` out for an untyped table
              - metadata.cache_serialize: cache_serialize needs cache = true
              - metadata.cache_ignore_input_vars: cache_ignore_input_vars needs cache = true
              - metadata.cache_ignore_input_vars[0]: `nope` is not a declared input
              - resources.requests.cpu: `two` is not a Kubernetes quantity: use a string such as "500m", "2" or "1Gi"
              - interpolation: runtime `python` runs the reference executor, which only splices values as text: use interpolation = "compat", or runtime = "native" for typed binds
              - image: the image is empty: leave it out for the runtime's default image
              - environment[0]: `A=B` is not a valid environment variable name: use a non-empty name without `=`
              - secret_requests[0].group: the secret group is empty: name the secret's group
              - secret_requests[0].key: the secret key is empty: name the key or leave it out"#]],
    );
}

#[test]
fn structural_errors_name_the_key_and_position() {
    check_file(
        "name = \"t\"\nquery = \"select 1\"\nretries = 3\n[connection]\nuri = \"sqlite://\"\n",
        expect![[r#"
            error: invalid task file: TOML parse error at line 3, column 1
              |
            3 | retries = 3
              | ^^^^^^^
            unknown field `retries`, expected one of `name`, `query`, `interpolation`, `runtime`, `image`, `description`, `connection`, `secret_requests`, `inputs`, `output`, `metadata`, `environment`, `resources`"#]],
    );
    check_file(
        "name = \"t\"\nquery = \"select {{ .inputs.x }}\"\n[connection]\nuri = \"sqlite://\"\n[[inputs]]\nname = \"x\"\ntype = \"int\"\n",
        expect![[r#"
            error: invalid task file: TOML parse error at line 7, column 8
              |
            7 | type = "int"
              |        ^^^^^
            unknown variant `int`, expected one of `integer`, `float`, `string`, `boolean`, `datetime`, `duration`"#]],
    );
    check_file(
        "name = \"t\"\nquery = \"select 1\"\n",
        expect![[r#"
            error: invalid task file: TOML parse error at line 1, column 1
              |
            1 | name = "t"
              | ^
            missing field `connection`"#]],
    );
}

#[test]
fn compat_placeholders_follow_the_reference_syntax() {
    // The reference's pattern accepts `{{ inputs.x }}` (the space stands in for the first dot) and
    // rejects `{{inputs.x}}`: an input used only that way is unused.
    check_file(
        "name = \"t\"\nquery = \"select {{ inputs.x }}, {{inputs.y}}\"\ninterpolation = \"compat\"\n[connection]\nuri = \"sqlite://\"\n[[inputs]]\nname = \"x\"\ntype = \"integer\"\n[[inputs]]\nname = \"y\"\ntype = \"integer\"\n",
        expect![[
            r#"error: invalid task `t`: inputs[1]: input `y` is not used in the query: add `{{ .inputs.y }}` to the query or remove the input"#
        ]],
    );
}

fn connection() -> ConnectionConfig {
    ConnectionConfig::new("sqlite://").unwrap()
}

#[test]
fn builder_defaults_and_introspection() {
    let task = SqlTask::builder(
        "golden.int_input_typed_columns",
        "select TrackId, Name from tracks limit {{ .inputs.limit }}",
        connection(),
    )
    .input(InputVariable {
        name: "limit".to_owned(),
        ty: PrimitiveType::Integer,
        optional: false,
        default: Some(Value::Integer(10)),
    })
    .output(Output::Table(TableOutput {
        kind: TableKind::Schema,
        columns: Some(vec![
            OutputColumn {
                name: "TrackId".to_owned(),
                ty: PrimitiveType::Integer,
            },
            OutputColumn {
                name: "Name".to_owned(),
                ty: PrimitiveType::String,
            },
        ]),
    }))
    .environment_variable("A", "1")
    .environment_variable("B", "2")
    .environment_variable("A", "3")
    .build()
    .unwrap();
    assert_eq!(task.output_columns(), Some(vec!["TrackId", "Name"]));
    assert_eq!(
        task.input("limit").map(|input| input.ty),
        Some(PrimitiveType::Integer)
    );
    assert_eq!(task.input("nope"), None);
    assert_eq!(task.interpolation(), Interpolation::Safe);
    assert_eq!(task.runtime(), Runtime::Native);
    // A repeated variable keeps its first position and takes the last value.
    assert_eq!(
        task.environment(),
        [
            ("A".to_owned(), "3".to_owned()),
            ("B".to_owned(), "2".to_owned())
        ]
    );
}

#[test]
fn builder_rejects_each_invalid_field() {
    let check = |builder: flyte_sql_model::SqlTaskBuilder, expected: Expect| {
        let actual = match builder.build() {
            Ok(_) => "ok".to_owned(),
            Err(error) => error.to_string(),
        };
        expected.assert_eq(&actual);
    };
    check(
        SqlTask::builder("t", "  ", connection()),
        expect![
            "invalid task `t`: query: the query is empty: write the SQL statement the task runs"
        ],
    );
    check(
        SqlTask::builder("", "select 1", connection()),
        expect![
            "invalid task ``: name: `` is not a valid task name: use dot-separated segments of letters, digits, `_` and `-`, such as `examples.tracks.top_n`"
        ],
    );
    check(
        SqlTask::builder("a..b", "select 1", connection()),
        expect![
            "invalid task `a..b`: name: `a..b` is not a valid task name: use dot-separated segments of letters, digits, `_` and `-`, such as `examples.tracks.top_n`"
        ],
    );
    check(
        SqlTask::builder("t", "select {{ .inputs.x }}", connection()).input(InputVariable {
            name: "x".to_owned(),
            ty: PrimitiveType::Float,
            optional: false,
            default: Some(Value::Null(PrimitiveType::Float)),
        }),
        expect!["invalid task `t`: inputs[0].default: a null default needs `optional = true`"],
    );
    check(
        SqlTask::builder("t", "select {{ .inputs.x }}", connection()).input(InputVariable {
            name: "x".to_owned(),
            ty: PrimitiveType::Float,
            optional: false,
            default: Some(Value::Integer(1)),
        }),
        expect![
            "invalid task `t`: inputs[0].default: the default is a integer but the input is a float: give a default of the input's type"
        ],
    );
    check(
        SqlTask::builder("t", "select 1", connection()).output(Output::Table(TableOutput {
            kind: TableKind::StructuredDataset,
            columns: Some(vec![
                OutputColumn {
                    name: "a".to_owned(),
                    ty: PrimitiveType::Integer,
                },
                OutputColumn {
                    name: "a".to_owned(),
                    ty: PrimitiveType::String,
                },
                OutputColumn {
                    name: String::new(),
                    ty: PrimitiveType::String,
                },
            ]),
        })),
        expect![[r#"
            invalid task `t`: 2 problems
              - output.columns[1].name: column `a` is declared twice
              - output.columns[2].name: the column name is empty"#]],
    );
    check(
        SqlTask::builder("t", "select 1", connection()).metadata(TaskMetadata {
            cache: true,
            timeout: Some(chrono::TimeDelta::zero()),
            ..TaskMetadata::default()
        }),
        expect![[r#"
            invalid task `t`: 2 problems
              - metadata.cache_version: caching is on but there is no cache version: set cache_version (bump it when the query's meaning changes)
              - metadata.timeout: the timeout must be positive, such as "10m""#]],
    );
    check(
        SqlTask::builder(
            "t",
            "select 1",
            connection().with_secret_connect_args(Some(
                [(
                    "password".to_owned(),
                    SecretRef {
                        group: " ".to_owned(),
                        key: None,
                        group_version: None,
                        mount_requirement: MountRequirement::Any,
                        env_var: None,
                    },
                )]
                .into(),
            )),
        ),
        expect![
            "invalid task `t`: connection.secret_connect_args.password.group: the secret group is empty: name the secret's group"
        ],
    );
}
