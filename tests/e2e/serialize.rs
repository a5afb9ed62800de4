//! `flyte-sql serialize` and `flyte-sql package`: task files in, protobuf files out, decoded and
//! checked against what flytekit writes for the same tasks.

use std::path::{Path, PathBuf};

use flyte_sql::idl;
use flyte_sql_tests::{TestDir, run, stderr_of_failure, stdout_of_success};

fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/conformance")
        .join(relative)
}

fn package_task_files() -> [String; 2] {
    ["tracks.toml", "insert.toml"].map(|name| {
        fixture("_flyte_sql_extra/package")
            .join(name)
            .to_str()
            .unwrap()
            .to_owned()
    })
}

/// `flyte-sql serialize TASK --project p --domain d --version 1 --out OUT` in `dir`.
pub(crate) fn serialize_one(dir: &TestDir, task: &Path, out: &str) -> std::process::Output {
    run(
        dir,
        [
            "serialize",
            task.to_str().unwrap(),
            "--project",
            "p",
            "--domain",
            "d",
            "--version",
            "1",
            "--out",
            out,
        ],
    )
}

#[test]
fn serialize_writes_one_template_per_task_with_the_settings() {
    let dir = TestDir::new("serialize");
    let [tracks, insert] = package_task_files();
    let output = run(
        &dir,
        [
            "serialize",
            &tracks,
            &insert,
            "--project",
            "proj",
            "--domain",
            "dev",
            "--version",
            "v1",
            "--env",
            "A=1",
            "--out",
            "out",
            "--json",
        ],
    );
    stdout_of_success(&output);

    let bytes = std::fs::read(dir.join("out/golden.pkg.tracks.pb")).unwrap();
    let template = idl::decode_task_template(&bytes).unwrap();
    let id = template.id.as_ref().unwrap();
    assert_eq!(
        (
            id.project.as_str(),
            id.domain.as_str(),
            id.name.as_str(),
            id.version.as_str()
        ),
        ("proj", "dev", "golden.pkg.tracks", "v1")
    );
    assert_eq!(template.r#type, "sqlalchemy");
    let container = match template.target.as_ref().unwrap() {
        idl::proto::core::task_template::Target::Container(container) => container,
        other => panic!("expected a container target, got {other:?}"),
    };
    // runtime = "python": the reference's 12 arguments, so the stock flytekit image runs it.
    assert_eq!(container.args.len(), 12);
    assert_eq!(container.args[0], "pyflyte-execute");
    assert_eq!(
        container.args[11],
        "flytekitplugins.sqlalchemy.task.SQLAlchemyTaskExecutor"
    );
    assert_eq!(
        container
            .env
            .iter()
            .map(|pair| (pair.key.as_str(), pair.value.as_str()))
            .collect::<Vec<_>>(),
        [("A", "1")]
    );
    // The secret behind the password connect arg is requested, so Flyte mounts it.
    let secrets = &template.security_context.as_ref().unwrap().secrets;
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0].group, "db-creds");

    // The JSON rendering is the same message.
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out/golden.pkg.tracks.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json, idl::to_proto3_json_value(&template).unwrap());
    assert!(dir.join("out/golden.pkg.insert.pb").exists());
}

#[test]
fn native_runtime_templates_run_our_executor_with_typed_binds() {
    let dir = TestDir::new("serialize-native");
    let task = dir.write(
        "task.toml",
        r#"
name = "examples.tracks.top_n"
query = "select TrackId from tracks limit {{ .inputs.limit }}"
[connection]
uri = "sqlite:///chinook.db"
[[inputs]]
name = "limit"
type = "integer"
"#,
    );
    let output = serialize_one(&dir, &task, "out");
    stdout_of_success(&output);
    let template = idl::decode_task_template(
        &std::fs::read(dir.join("out/examples.tracks.top_n.pb")).unwrap(),
    )
    .unwrap();
    let Some(idl::proto::core::task_template::Target::Container(container)) = &template.target
    else {
        panic!("no container in {template:?}");
    };
    assert_eq!(&container.args[..2], ["flyte-sql", "execute"]);
    assert!(
        container.image.starts_with("ghcr.io/flyte-sql/flyte-sql:"),
        "{}",
        container.image
    );
    assert_eq!(
        template
            .config
            .get(idl::INTERPOLATION_CONFIG_KEY)
            .map(String::as_str),
        Some("safe")
    );
}

#[test]
fn package_writes_what_pyflyte_package_writes() {
    let dir = TestDir::new("package");
    let [tracks, insert] = package_task_files();
    let output = run(
        &dir,
        [
            "package",
            &tracks,
            &insert,
            "--image",
            "ghcr.io/example/sql:latest",
            "-o",
            "flyte-package.tgz",
        ],
    );
    stdout_of_success(&output);

    let archive = std::fs::File::open(dir.join("flyte-package.tgz")).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut members = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        members.push((name, bytes));
    }
    let names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["0_golden.pkg.tracks_1.pb", "1_golden.pkg.insert_1.pb"]
    );

    for (name, bytes) in &members {
        let ours = idl::decode_task_spec(bytes).unwrap();
        let golden = idl::decode_task_spec(
            &std::fs::read(fixture("_reference/package").join(name)).unwrap(),
        )
        .unwrap();
        let (ours, golden) = (ours.template.unwrap(), golden.template.unwrap());
        // flytectl fills in project, domain and version: the package leaves them empty.
        assert_eq!(ours.id, golden.id, "{name}");
        assert_eq!(ours.custom, golden.custom, "{name}");
        assert_eq!(ours.interface, golden.interface, "{name}");
        assert_eq!(ours.security_context, golden.security_context, "{name}");
        assert_eq!(ours.target, golden.target, "{name}");
    }
}

#[test]
fn invalid_task_files_exit_2_naming_the_field() {
    let dir = TestDir::new("serialize-invalid");
    let task = dir.write(
        "task.toml",
        "name = \"t\"\nquery = \"select {{ .inputs.x }}\"\n[connection]\nuri = \"sqlite://\"\n",
    );
    let output = serialize_one(&dir, &task, "out");
    let stderr = stderr_of_failure(&output, 2);
    assert!(stderr.contains("task.toml"), "{stderr}");
    assert!(
        stderr.contains("placeholder `{{ .inputs.x }}` names no declared input"),
        "{stderr}"
    );
    assert!(
        !dir.join("out").exists() || std::fs::read_dir(dir.join("out")).unwrap().next().is_none()
    );
}

#[test]
fn definition_warnings_go_to_stderr() {
    let dir = TestDir::new("serialize-warning");
    let task = dir.write(
        "task.toml",
        "name = \"t\"\nquery = \"select 1\"\n[connection]\nuri = \"postgresql://u@h/db\"\nconnect_args = { ssl_mode = \"require\" }\n",
    );
    let output = serialize_one(&dir, &task, "out");
    stdout_of_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning:") && stderr.contains("did you mean `sslmode`?"),
        "{stderr}"
    );
}
