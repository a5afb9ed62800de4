//! The secret-redaction audit: every subcommand and every failure path run with known secret
//! values (a URI password, secret connect args from an environment variable and from a mounted
//! file, servers that echo them back), and every channel a value could leave by searched for each
//! of them: stdout, stderr at trace level, `error.pb`, `outputs.pb`, Parquet data and metadata,
//! serialized templates (protobuf and JSON) and registration packages.
//!
//! A plaintext URI password written in a task file is the one value that is meant to reach the
//! TaskTemplate (the reference does the same, and flyte-sql warns); everything else must never
//! appear anywhere.

use std::path::{Path, PathBuf};
use std::process::Output;

use flyte_sql_tests::{Backend, TestDb, TestDir, backend_test, toml_string};

use crate::propeller::{Pod, PodResult, no_inputs};
use crate::serialize::serialize_one;

/// The URI password: characters that must be percent-encoded in a URI, so both spellings are
/// searched for.
const URI_PASSWORD: &str = "Audit:Pw@7f3a/9c";
/// A secret connect arg resolved from an environment variable.
const ENV_SECRET: &str = "AuditEnv5b2e81";
/// A secret connect arg resolved from a mounted file.
const FILE_SECRET: &str = "AuditFile4d9e0c";

/// The spellings of `secret` that would count as leaking it.
fn spellings(secret: &str) -> Vec<String> {
    let encoded: String = secret
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    let mut spellings = vec![secret.to_owned(), encoded.clone(), encoded.to_lowercase()];
    spellings.dedup();
    spellings
}

/// Everything a run let out, labelled by channel.
#[derive(Default)]
struct Channels {
    seen: Vec<(String, Vec<u8>)>,
}

impl Channels {
    fn process(&mut self, label: &str, output: &Output) {
        self.seen
            .push((format!("{label}: stdout"), output.stdout.clone()));
        self.seen
            .push((format!("{label}: stderr"), output.stderr.clone()));
    }

    /// Every file under `root` except the ones the test wrote itself (`inputs`), with archives
    /// unpacked and Parquet files read back value by value, with their metadata.
    fn files(&mut self, label: &str, root: &Path, inputs: &[PathBuf]) {
        for path in walk(root) {
            if inputs.contains(&path) {
                continue;
            }
            let name = format!("{label}: {}", path.display());
            let bytes = std::fs::read(&path).unwrap_or_default();
            if bytes.starts_with(&[0x1f, 0x8b]) {
                let mut unpacked = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::GzDecoder::new(bytes.as_slice()),
                    &mut unpacked,
                )
                .expect("a gzip archive");
                self.seen.push((format!("{name} (unpacked)"), unpacked));
            } else if bytes.starts_with(b"PAR1") {
                self.seen.push((
                    format!("{name} (parquet)"),
                    parquet_text(&path).into_bytes(),
                ));
            }
            self.seen.push((name, bytes));
        }
    }

    /// Panics naming every channel where a spelling of a secret in `secrets` appears.
    fn assert_clean(&self, secrets: &[&str]) {
        let mut leaks = Vec::new();
        for secret in secrets {
            for spelling in spellings(secret) {
                for (label, bytes) in &self.seen {
                    if contains(bytes, spelling.as_bytes()) {
                        leaks.push(format!(
                            "`{spelling}` in {label}:\n{}",
                            String::from_utf8_lossy(bytes)
                        ));
                    }
                }
            }
        }
        assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n\n"));
        assert!(!self.seen.is_empty(), "the audit looked at nothing");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&directory) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A Parquet file as text: its key-value metadata, `created_by`, schema and every value.
fn parquet_text(path: &Path) -> String {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = std::fs::File::open(path).expect("opening a Parquet file");
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("a Parquet file");
    let metadata = builder.metadata().file_metadata();
    let mut text = format!(
        "{:?}\n{:?}\n",
        metadata.created_by(),
        metadata.key_value_metadata()
    );
    text.push_str(&format!("{:?}\n", builder.schema()));
    for batch in builder.build().expect("a Parquet reader") {
        for row in flyte_sql::executor::batch_to_text(&batch.expect("a record batch")) {
            text.push_str(&row.join("\t"));
            text.push('\n');
        }
    }
    text
}

/// The audit's view of one backend: a URI carrying [`URI_PASSWORD`] that the server accepts,
/// the name of a connect arg the server echoes back in an error, and a connect arg whose value a
/// secret can make invalid.
struct Target {
    /// The MySQL user made for the audit, dropped with the target.
    user: Option<(TestDb, String)>,
    uri_with_password: String,
    unreachable_uri: String,
    echoed_arg: &'static str,
    echo_query: &'static str,
    invalid_arg: &'static str,
}

fn target(db: &TestDb) -> Option<Target> {
    let encoded = &spellings(URI_PASSWORD)[1];
    match db.backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            // The test server trusts 127.0.0.1, so the password is accepted whatever it is.
            let rest = db
                .url
                .strip_prefix("postgres://postgres@")
                .expect("a postgres URL");
            Some(Target {
                user: None,
                uri_with_password: format!("postgresql://postgres:{encoded}@{rest}"),
                unreachable_uri: format!("postgresql://postgres:{encoded}@127.0.0.1:9/test"),
                echoed_arg: "application_name",
                echo_query: "select current_setting('application_name')::int as x",
                invalid_arg: "connect_timeout",
            })
        }
        Backend::Mysql => {
            // A user of its own whose password is the audit's, made from another directory (the
            // statements' task files carry the password).
            let user = format!("audit_{}", db.table("u"));
            let admin = TestDb::new(Backend::Mysql, "audit-admin").expect("MySQL is configured");
            for host in ["%", "localhost", "127.0.0.1"] {
                admin.execute(&format!(
                    "create or replace user '{user}'@'{host}' identified by '{URI_PASSWORD}'"
                ));
                admin.execute(&format!("grant all on test.* to '{user}'@'{host}'"));
            }
            let rest = db.url.split_once('@').expect("a mysql URL").1;
            Some(Target {
                uri_with_password: format!("mysql://{user}:{encoded}@{rest}"),
                unreachable_uri: format!("mysql://{user}:{encoded}@127.0.0.1:9/test"),
                user: Some((admin, user)),
                // MySQL echoes the text near a syntax error, so a secret init command comes back.
                echoed_arg: "init_command",
                echo_query: "select 1 as x",
                invalid_arg: "charset",
            })
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some((admin, user)) = &self.user {
            for host in ["%", "localhost", "127.0.0.1"] {
                let _ = admin.try_execute(&format!("drop user if exists '{user}'@'{host}'"));
            }
        }
    }
}

/// A task file with `query` on `uri`, the echoed arg from the environment secret and, when
/// `invalid` is set, the invalid arg from the file secret.
fn task(
    db: &TestDb,
    name: &str,
    uri: &str,
    query: &str,
    target: &Target,
    invalid: bool,
) -> PathBuf {
    let mut text = format!(
        "name = \"audit.{name}\"\nquery = {}\n[connection]\nuri = {}\n[connection.secret_connect_args.{}]\ngroup = \"audit\"\nkey = \"echo\"\n",
        toml_string(query),
        toml_string(uri),
        target.echoed_arg,
    );
    if invalid {
        text.push_str(&format!(
            "[connection.secret_connect_args.{}]\ngroup = \"audit\"\nkey = \"file\"\n",
            target.invalid_arg
        ));
    }
    text.push_str("[output]\nkind = \"schema\"\n");
    db.dir.write(&format!("{name}.toml"), &text)
}

/// The value the echoed connect arg's secret has: plain for PostgreSQL's application_name, a
/// statement that fails naming it for MySQL's init command.
fn echo_secret_value(db: &TestDb) -> String {
    match db.backend {
        Backend::Mysql => format!("select {ENV_SECRET}"),
        _ => ENV_SECRET.to_owned(),
    }
}

/// The environment every audited process runs with: trace logging and both secrets reachable.
fn secret_env(db: &TestDb, secrets_dir: &Path) -> Vec<(String, String)> {
    vec![
        ("FLYTE_SQL_LOG".to_owned(), "trace".to_owned()),
        ("_FSEC_AUDIT_ECHO".to_owned(), echo_secret_value(db)),
        (
            "FLYTE_SECRETS_DEFAULT_DIR".to_owned(),
            secrets_dir.display().to_string(),
        ),
    ]
}

fn run_with(db: &TestDb, env: &[(String, String)], args: &[&str]) -> Output {
    let mut command = db.dir.cli();
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("starting flyte-sql")
}

backend_test!(
    no_secret_reaches_any_output_of_any_subcommand,
    |db: &TestDb| {
        let Some(target) = target(db) else {
            return;
        };
        let secrets_dir = db.dir.join("secrets");
        db.dir
            .write("secrets/audit/file", &format!("{FILE_SECRET}\n"));
        let env = secret_env(db, &secrets_dir);
        let mut channels = Channels::default();
        let mut written = vec![db.dir.join("secrets/audit/file")];

        // Tasks with secrets but no plaintext password: nothing secret may reach a template.
        let plain_uri = match db.backend {
            Backend::Postgres => db.url.replace("postgres://", "postgresql://"),
            _ => db.url.clone(),
        };
        let ok_query = "select 1 as x";
        // MySQL's secret init command always fails, so its success path uses the password alone.
        let succeeding = if db.backend == Backend::Mysql {
            db.dir.write(
                "succeeding.toml",
                &format!(
                    "name = \"audit.succeeding\"\nquery = \"select 1 as x\"\n[connection]\nuri = {}\n[output]\nkind = \"schema\"\n",
                    toml_string(&target.uri_with_password)
                ),
            )
        } else {
            task(
                db,
                "succeeding",
                &target.uri_with_password,
                ok_query,
                &target,
                false,
            )
        };
        let echoing = task(db, "echoing", &plain_uri, target.echo_query, &target, false);
        let invalid = task(db, "invalid", &plain_uri, ok_query, &target, true);
        let unreachable = task(
            db,
            "unreachable",
            &target.unreachable_uri,
            ok_query,
            &target,
            false,
        );
        written.extend([
            succeeding.clone(),
            echoing.clone(),
            invalid.clone(),
            unreachable.clone(),
        ]);

        // `run`, on every path, and a one-off query with the password in `--uri`.
        for (label, task) in [
            ("run succeeding", &succeeding),
            ("run echoing", &echoing),
            ("run invalid", &invalid),
            ("run unreachable", &unreachable),
        ] {
            let out = db.dir.join(&format!("out-{}", label.replace(' ', "-")));
            let output = run_with(
                db,
                &env,
                &[
                    "run",
                    task.to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                ],
            );
            if label == "run succeeding" {
                assert!(
                    output.status.success(),
                    "{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            } else {
                assert!(!output.status.success(), "{label} must fail");
            }
            channels.process(label, &output);
        }
        for (label, uri) in [
            ("one-off", &target.uri_with_password),
            ("one-off unreachable", &target.unreachable_uri),
        ] {
            let out = db.dir.join(&format!("out-{}", label.replace(' ', "-")));
            let output = run_with(
                db,
                &env,
                &[
                    "run",
                    "--uri",
                    uri,
                    "--query",
                    "select 1 as x",
                    "--out",
                    out.to_str().unwrap(),
                ],
            );
            channels.process(label, &output);
        }

        // `serialize` (protobuf and JSON) and `package` of the tasks whose secrets are references.
        for (label, task) in [("echoing", &echoing), ("invalid", &invalid)] {
            let out = db.dir.join(&format!("serialized-{label}"));
            channels.process(
                &format!("serialize {label}"),
                &serialize_one(&db.dir, task, out.to_str().unwrap()),
            );
            let json = db.dir.join(&format!("json-{label}"));
            let output = run_with(
                db,
                &env,
                &[
                    "serialize",
                    task.to_str().unwrap(),
                    "--json",
                    "--project",
                    "p",
                    "--domain",
                    "d",
                    "--version",
                    "1",
                    "--out",
                    json.to_str().unwrap(),
                ],
            );
            channels.process(&format!("serialize --json {label}"), &output);
        }
        let output = run_with(
            db,
            &env,
            &[
                "package",
                echoing.to_str().unwrap(),
                invalid.to_str().unwrap(),
                "--image",
                "example/sql:1",
                "-o",
                "audit.tgz",
            ],
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        channels.process("package", &output);

        // `execute`, as a pod, on every path: the template of the succeeding task carries the
        // plaintext password by the user's choice, so its channels are searched separately below.
        for (label, task) in [
            ("echoing", &echoing),
            ("invalid", &invalid),
            ("unreachable", &unreachable),
        ] {
            let template = serialized(task);
            let pod_dir = TestDir::new(&format!("audit-{label}"));
            let mut pod = Pod::new(&pod_dir);
            for (name, value) in &env {
                pod = pod.env(name, value);
            }
            let result = pod.run(&template, &no_inputs());
            assert!(result.error.is_some(), "{label} must fail: {result:?}");
            record_pod(
                &mut channels,
                &format!("execute {label}"),
                &result,
                &pod_dir,
            );
        }
        channels.files("test dir", db.dir.path(), &written);
        channels.assert_clean(&[URI_PASSWORD, ENV_SECRET, FILE_SECRET]);

        // The password the user wrote into a task file: in the template, and nowhere else.
        let mut execution = Channels::default();
        let template = serialized(&succeeding);
        assert!(
            contains(&template, spellings(URI_PASSWORD)[1].as_bytes()),
            "the plaintext URI is the user's choice and stays in the template"
        );
        let pod_dir = TestDir::new("audit-succeeding");
        let mut pod = Pod::new(&pod_dir);
        for (name, value) in &env {
            pod = pod.env(name, value);
        }
        let result = pod.run(&template, &no_inputs());
        result.expect_outputs();
        record_pod(&mut execution, "execute succeeding", &result, &pod_dir);
        execution.assert_clean(&[URI_PASSWORD, ENV_SECRET, FILE_SECRET]);
    }
);

/// The TaskTemplate `serialize` writes for `task`, serialized in a directory of its own (a
/// template may carry the plaintext password its task file has).
fn serialized(task: &Path) -> Vec<u8> {
    crate::execute::serialize(&TestDir::new("audit-template"), task)
}

/// A pod's process output and every file it wrote (error.pb, outputs.pb, Parquet), except the
/// template, which the test wrote.
fn record_pod(channels: &mut Channels, label: &str, result: &PodResult, pod_dir: &TestDir) {
    channels.process(label, &result.process);
    channels.files(label, pod_dir.path(), &[pod_dir.join("node/task.pb")]);
}
