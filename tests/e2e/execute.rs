//! `flyte-sql execute` and `flyte-sql pyflyte-execute`, run through the propeller harness the way
//! a Flyte cluster runs a container task: flytekit's own templates (the drop-in), our native and
//! python-runtime templates from `flyte-sql serialize` on every backend, and the contract's
//! failure paths (error.pb first, classified; never both files; nothing left behind).

use std::path::{Path, PathBuf};

use flyte_sql::idl::proto::core::{ContainerError, LiteralMap, container_error, execution_error};
use flyte_sql::idl::{self, Message};
use flyte_sql::model::{InputValues, PrimitiveType, SqlTask, Value};
use flyte_sql_tests::{
    Backend, TestDb, TestDir, backend_test, run, stdout_of_success, toml_string,
};
use serde_json::Value as Json;

use crate::conformance_runs::{
    cases_with_runs, check_upgrades, compare_table, conformance_dir, create_golden_tables,
    golden_rows, read_json, task_file,
};
use crate::propeller::{Pod, PodResult, dataset_directory, dataset_uri, no_inputs};
use crate::run::{Table, only_output, read_table};
use crate::serialize::serialize_one;

/// The TaskTemplate `flyte-sql serialize` writes for `task` (run in `dir`).
pub(crate) fn serialize(dir: &TestDir, task: &Path) -> Vec<u8> {
    let out = dir.join(&format!(
        "serialized-{}",
        task.file_stem().unwrap().to_string_lossy()
    ));
    stdout_of_success(&serialize_one(dir, task, out.to_str().unwrap()));
    let entry = std::fs::read_dir(&out)
        .expect("the serialized templates")
        .map(|entry| entry.expect("an entry").path())
        .find(|path| path.extension().is_some_and(|extension| extension == "pb"))
        .expect("one .pb file");
    std::fs::read(entry).expect("reading the template")
}

/// The task of a task file, as the model reads it.
fn task_of(path: &Path) -> SqlTask {
    SqlTask::from_toml(&std::fs::read_to_string(path).expect("the task file"))
        .expect("a valid task")
}

/// The inputs.pb of `values` for `task`.
pub(crate) fn inputs_of(task: &SqlTask, values: &[(&str, Value)]) -> Vec<u8> {
    let values: InputValues = values
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    idl::literal_map(task, &values)
        .expect("valid inputs")
        .encode_to_vec()
}

/// Checks an error document: its kind, origin and code prefix.
pub(crate) fn assert_classified(
    error: &ContainerError,
    recoverable: bool,
    user: bool,
    category: &str,
) {
    let kind = if recoverable {
        container_error::Kind::Recoverable
    } else {
        container_error::Kind::NonRecoverable
    };
    let origin = if user {
        execution_error::ErrorKind::User
    } else {
        execution_error::ErrorKind::System
    };
    assert_eq!(error.kind, kind as i32, "kind of {error:?}");
    assert_eq!(error.origin, origin as i32, "origin of {error:?}");
    let code = format!("{}:{category}", if user { "USER" } else { "SYSTEM" });
    assert_eq!(error.code, code, "code of {error:?}");
    assert!(error.timestamp.is_some(), "a timestamp");
}

/// Nothing under the raw output prefix: a failed run leaves no Parquet behind.
fn assert_no_raw_data(pod: &Pod) {
    let raw = pod.cwd.join(&pod.raw_prefix);
    let entries: Vec<_> = std::fs::read_dir(&raw)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    assert!(entries.is_empty(), "left under the raw prefix: {entries:?}");
}

/// Builds `golden.db` in `dir` from the conformance fixture script, one statement at a time.
pub(crate) fn build_golden_db(dir: &TestDir) {
    let script = std::fs::read_to_string(conformance_dir().join("fixtures/golden_db.sql"))
        .expect("golden_db.sql");
    for (index, statement) in script
        .split(";\n")
        .map(str::trim)
        .filter(|statement| !statement.is_empty())
        .enumerate()
    {
        let task = dir.write(
            &format!("golden-{index}.toml"),
            &format!(
                "name = \"golden.setup\"\nquery = {}\n[connection]\nuri = \"sqlite:///golden.db\"\n[output]\nkind = \"none\"\n",
                toml_string(statement.trim_end_matches(';'))
            ),
        );
        // Creating the file first: flyte-sql refuses a SQLite path that does not exist.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("golden.db"))
            .expect("creating golden.db");
        stdout_of_success(&run(dir, ["run", task.to_str().unwrap()]));
    }
}

/// The golden outputs.pb of a conformance run, with its random uri replaced by ours and, where
/// the task declares columns, our documented deviation applied: the declared columns go into the
/// structured dataset's metadata (the reference leaves them out).
fn expected_outputs(case_dir: &Path, ours: &LiteralMap, case: &Json) -> LiteralMap {
    use flyte_sql::idl::proto::core::{literal, scalar};
    let bytes = std::fs::read(case_dir.join("entrypoint/run/out/outputs.pb")).expect("golden");
    let mut golden = idl::decode_literal_map(&bytes).expect("golden outputs");
    let Some(results) = golden.literals.get_mut("results") else {
        return golden;
    };
    let Some(literal::Value::Scalar(scalar)) = results.value.as_mut() else {
        panic!("golden results is not a scalar");
    };
    let Some(scalar::Value::StructuredDataset(dataset)) = scalar.value.as_mut() else {
        panic!("golden results is not a structured dataset");
    };
    let golden_uri = std::mem::replace(&mut dataset.uri, dataset_uri(ours));
    assert!(
        golden_uri.starts_with("raw/") && golden_uri.len() == "raw/".len() + 32,
        "the golden uri is <raw prefix>/<32 hex>: {golden_uri}"
    );
    let columns: Vec<_> = case["output"]["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|column| flyte_sql::model::OutputColumn {
            name: column["name"].as_str().expect("name").to_owned(),
            ty: PrimitiveType::from_name(
                &column["type"].as_str().expect("type").to_ascii_lowercase(),
            )
            .expect("a simple type"),
        })
        .collect();
    if !columns.is_empty() {
        let metadata = dataset.metadata.as_mut().expect("metadata");
        let declared = idl::structured_dataset_type(Some(&columns));
        metadata
            .structured_dataset_type
            .as_mut()
            .expect("a structured dataset type")
            .columns = declared.columns;
    }
    golden
}

/// The table a successful run wrote, read through its outputs.pb, in the reference's layout.
fn table_of(result: &PodResult, pod: &Pod) -> Table {
    let directory = dataset_directory(result.expect_outputs(), &pod.cwd);
    let parent = directory.parent().expect("the raw prefix");
    assert_eq!(only_output(parent), directory);
    read_table(&directory)
}

#[test]
fn flytekit_templates_run_through_pyflyte_execute_as_the_reference_ran_them() {
    let cases = cases_with_runs();
    assert!(cases.len() >= 8, "the conformance runs: {cases:?}");
    for case_name in &cases {
        let dir = TestDir::new(&format!("flytekit-{case_name}"));
        build_golden_db(&dir);
        let case_dir = conformance_dir().join(case_name);
        let case = read_json(&case_dir.join("case.json"));
        let expected = read_json(&case_dir.join("expected_output.json"));
        let run_expectation = &expected["run"];
        let template = std::fs::read(case_dir.join("entrypoint/run/task.pb")).expect("task.pb");
        let inputs = std::fs::read(case_dir.join("entrypoint/run/inputs.pb")).expect("inputs.pb");
        let mut pod = Pod::new(&dir);
        // The goldens ran with relative prefixes; so does this.
        pod.raw_prefix = "raw".to_owned();
        let result = pod.run(&template, &inputs);
        assert_eq!(
            result.exit_code(),
            Some(0),
            "{case_name}: pyflyte-execute exits 0"
        );
        match run_expectation["status"].as_str() {
            Some("error") => {
                // Deviation (docs/running-on-flyte.md): the reference reports bad SQL as a
                // recoverable SYSTEM error, which Flyte retries; ours is the user's, not retried.
                let error = result.expect_error();
                assert_classified(error, false, true, "SqlError");
                assert!(
                    error.message.contains("no such table"),
                    "{case_name}: {error:?}"
                );
                assert_no_raw_data(&pod);
            }
            _ => {
                let outputs = result.expect_outputs();
                assert_eq!(
                    outputs,
                    &expected_outputs(&case_dir, outputs, &case),
                    "{case_name}: outputs.pb"
                );
                assert_eq!(
                    result.outputs_size,
                    run_expectation["outputs_pb_size_bytes"]
                        .as_u64()
                        .map(|size| size as usize)
                        .filter(|_| outputs.literals.is_empty())
                        .or(result.outputs_size),
                    "{case_name}: an empty outputs.pb is zero bytes"
                );
                if outputs.literals.is_empty() {
                    check_table_after(&dir, case_name, run_expectation);
                } else {
                    let ours = table_of(&result, &pod);
                    let upgrades = compare_table(
                        case_name,
                        Backend::Sqlite,
                        &ours,
                        &run_expectation["parquet"],
                    );
                    check_upgrades(case_name, Backend::Sqlite, &ours, &upgrades);
                }
            }
        }
    }
}

/// For the insert case: the table holds what the reference left in it.
fn check_table_after(dir: &TestDir, case_name: &str, run_expectation: &Json) {
    let after = run_expectation["db_after"]["query"]
        .as_str()
        .unwrap_or_else(|| panic!("{case_name}: a task without output has a db_after check"));
    let out = dir.join("after");
    stdout_of_success(&run(
        dir,
        [
            "run",
            "--uri",
            "sqlite:///golden.db",
            "--query",
            after,
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    let table = read_table(&only_output(&out));
    let rows = golden_rows(&run_expectation["db_after"]["rows"]);
    assert_eq!(table.rows, rows, "{case_name}: the table after the insert");
}

backend_test!(
    serialized_templates_of_both_runtimes_run_the_conformance_cases,
    |db: &TestDb| {
        for (case_number, case_name) in cases_with_runs().iter().enumerate() {
            let case_dir = conformance_dir().join(case_name);
            let case = read_json(&case_dir.join("case.json"));
            let expected = read_json(&case_dir.join("expected_output.json"));
            let run_expectation = &expected["run"];
            let inputs =
                std::fs::read(case_dir.join("entrypoint/run/inputs.pb")).expect("inputs.pb");
            for runtime in ["native", "python"] {
                let (tracks, typed) =
                    create_golden_tables(db, case_number * 2 + usize::from(runtime == "python"));
                let task = task_file(db, &case, &tracks, &typed);
                let text = std::fs::read_to_string(&task).expect("the task file");
                std::fs::write(&task, format!("runtime = \"{runtime}\"\n{text}"))
                    .expect("rewriting the task file");
                let template = serialize(&db.dir, &task);
                let pod_dir = TestDir::new(&format!("{case_name}-{runtime}"));
                let pod = Pod::new(&pod_dir);
                let result = pod.run(&template, &inputs);
                let label = format!("{case_name} ({runtime} runtime, {})", db.backend.name());
                assert_eq!(result.exit_code(), Some(0), "{label}");
                match run_expectation["status"].as_str() {
                    Some("error") => {
                        let error = result.expect_error();
                        assert_classified(error, false, true, "SqlError");
                        assert_no_raw_data(&pod);
                    }
                    _ if run_expectation.get("db_after").is_some() => {
                        assert_eq!(result.outputs_size, Some(0), "{label}: empty outputs.pb");
                    }
                    _ => {
                        let ours = table_of(&result, &pod);
                        let upgrades =
                            compare_table(&label, db.backend, &ours, &run_expectation["parquet"]);
                        check_upgrades(case_name, db.backend, &ours, &upgrades);
                    }
                }
            }
        }
    }
);

/// A table `t` with three typed rows on the backend, and a safe-mode task over it with two
/// inputs and declared columns.
fn safe_task(db: &TestDb, extra_toml: &str) -> (PathBuf, String) {
    let table = db.table("people");
    db.execute(&format!(
        "create table {table} (id integer, name varchar(20), score double precision)"
    ));
    db.execute(&format!(
        "insert into {table} values (1, 'ann', 1.5), (2, 'bob', 2.5), (3, 'o''hara', 3.5)"
    ));
    let query = format!(
        "select id, name, score from {table} where id >= {{{{ .inputs.min_id }}}} and name <> {{{{ .inputs.skip }}}} order by id"
    );
    let extra = format!(
        "[[inputs]]\nname = \"min_id\"\ntype = \"integer\"\n[[inputs]]\nname = \"skip\"\ntype = \"string\"\n{extra_toml}"
    );
    let output = "kind = \"structured_dataset\"\n[[output.columns]]\nname = \"id\"\ntype = \"integer\"\n[[output.columns]]\nname = \"name\"\ntype = \"string\"\n[[output.columns]]\nname = \"score\"\ntype = \"float\"";
    (db.task_file("people", &query, output, &extra), table)
}

backend_test!(native_safe_templates_bind_their_inputs, |db: &TestDb| {
    let (task_path, _) = safe_task(db, "");
    let task = task_of(&task_path);
    assert_eq!(task.interpolation(), flyte_sql::model::Interpolation::Safe);
    let template = serialize(&db.dir, &task_path);
    let decoded = idl::decode_task_template(&template).unwrap();
    assert_eq!(
        decoded
            .config
            .get(idl::INTERPOLATION_CONFIG_KEY)
            .map(String::as_str),
        Some("safe")
    );
    // A value that would be an injection when spliced is just a value when bound.
    let inputs = inputs_of(
        &task,
        &[
            ("min_id", Value::Integer(2)),
            ("skip", Value::String("x' or '1'='1".to_owned())),
        ],
    );
    let pod_dir = TestDir::new("native-safe");
    let pod = Pod::new(&pod_dir);
    let result = pod.run(&template, &inputs);
    assert_eq!(result.exit_code(), Some(0));
    let table = table_of(&result, &pod);
    assert_eq!(table.schema, ["id: Int64", "name: Utf8", "score: Float64"]);
    assert_eq!(table.rows, [["2", "bob", "2.5"], ["3", "o'hara", "3.5"]]);
    // The uri is <raw prefix>/<32 hex>, the declared columns are in the metadata.
    let uri = dataset_uri(result.expect_outputs());
    assert!(uri.starts_with(&pod.raw_prefix), "{uri}");
    let literal = &result.expect_outputs().literals["results"];
    let text = format!("{literal:?}");
    assert!(
        text.contains("format: \"parquet\"") && text.contains("name: \"score\""),
        "{text}"
    );
});

backend_test!(
    bad_sql_is_the_users_fault_and_leaves_nothing,
    |db: &TestDb| {
        let task = db.task_file(
            "bad_sql",
            "select nothing from no_such_table_at_all",
            "kind = \"schema\"",
            "",
        );
        let template = serialize(&db.dir, &task);
        let pod_dir = TestDir::new("bad-sql");
        let pod = Pod::new(&pod_dir);
        let result = pod.run(&template, &no_inputs());
        assert_eq!(result.exit_code(), Some(0), "Flyte reads error.pb: exit 0");
        let error = result.expect_error();
        assert_classified(error, false, true, "SqlError");
        assert!(
            !pod.output_prefix.join("outputs.pb").exists(),
            "never both files"
        );
        assert_no_raw_data(&pod);
        // FLYTE_FAIL_ON_ERROR makes the pod fail too.
        let failing_dir = TestDir::new("bad-sql-fail");
        let failing = Pod::new(&failing_dir).env("FLYTE_FAIL_ON_ERROR", "True");
        let result = failing.run(&template, &no_inputs());
        assert_eq!(result.exit_code(), Some(1));
        assert_classified(result.expect_error(), false, true, "SqlError");
    }
);

backend_test!(an_unreachable_server_is_recoverable, |db: &TestDb| {
    if db.backend == Backend::Sqlite {
        return;
    }
    // The same server URL with a port nothing listens on.
    let (scheme, rest) = db.url.split_once("://").unwrap();
    let host_end = rest.find('/').unwrap();
    let authority = &rest[..host_end];
    let userinfo = authority
        .rsplit_once('@')
        .map_or("", |(userinfo, _)| userinfo);
    let url = format!("{scheme}://{userinfo}@127.0.0.1:1{}", &rest[host_end..]);
    let task = db.dir.write(
        "unreachable.toml",
        &format!(
            "name = \"t.unreachable\"\nquery = \"select 1 as x\"\n[connection]\nuri = {}\n[output]\nkind = \"schema\"\n",
            toml_string(&url)
        ),
    );
    let template = serialize(&db.dir, &task);
    let pod_dir = TestDir::new("unreachable");
    let result = Pod::new(&pod_dir).run(&template, &no_inputs());
    assert_eq!(result.exit_code(), Some(0));
    assert_classified(result.expect_error(), true, false, "ConnectionError");
});

backend_test!(
    connect_args_that_became_doubles_still_work,
    |db: &TestDb| {
        // Flyte stores connect args in a protobuf Struct, whose numbers are doubles: 10 arrives as
        // 10.0, which the reference then hands to the driver as a float.
        let connect_args = match db.backend {
            Backend::Sqlite => "connect_args = { busy_timeout = 5000 }",
            Backend::Postgres | Backend::Mysql => "connect_args = { connect_timeout = 10 }",
        };
        let task = db.dir.write(
        "doubles.toml",
        &format!(
            "name = \"t.doubles\"\nquery = \"select 7 as x\"\n[connection]\nuri = {}\n{connect_args}\n[output]\nkind = \"schema\"\n",
            toml_string(&db.url)
        ),
    );
        let template = serialize(&db.dir, &task);
        let decoded = format!("{:?}", idl::decode_task_template(&template).unwrap().custom);
        assert!(decoded.contains("NumberValue("), "{decoded}");
        let pod_dir = TestDir::new("doubles");
        let pod = Pod::new(&pod_dir);
        let result = pod.run(&template, &no_inputs());
        assert_eq!(table_of(&result, &pod).rows, [["7"]]);
    }
);

backend_test!(
    statements_without_output_write_an_empty_outputs_pb,
    |db: &TestDb| {
        let table = db.table("sink");
        db.execute(&format!("create table {table} (x integer)"));
        let task_path = db.task_file(
            "insert",
            &format!("insert into {table} values ({{{{ .inputs.x }}}})"),
            "kind = \"none\"",
            "[[inputs]]\nname = \"x\"\ntype = \"integer\"\n",
        );
        let task = task_of(&task_path);
        let template = serialize(&db.dir, &task_path);
        let pod_dir = TestDir::new("insert");
        let pod = Pod::new(&pod_dir);
        let result = pod.run(&template, &inputs_of(&task, &[("x", Value::Integer(41))]));
        assert_eq!(result.exit_code(), Some(0));
        assert!(result.error.is_none(), "{:?}", result.error);
        assert_eq!(result.outputs_size, Some(0));
        let out = db.dir.join("check");
        stdout_of_success(&db.run([
            "run",
            "--uri",
            &db.url,
            "--query",
            &format!("select x from {table}"),
            "--out",
            out.to_str().unwrap(),
        ]));
        assert_eq!(read_table(&only_output(&out)).rows, [["41"]]);
    }
);

backend_test!(
    secrets_resolve_like_flytekit_and_never_reach_error_pb,
    |db: &TestDb| {
        if db.backend != Backend::Postgres {
            return;
        }
        // The secret becomes the session's application_name; the query then makes the server echo
        // it back in its error message, which must reach error.pb redacted.
        let secret = "s3cr3t-application-value";
        let task_path = db.dir.write(
        "secret.toml",
        &format!(
            "name = \"t.secret\"\nquery = \"select current_setting('application_name')::int as x\"\n[connection]\nuri = {}\n[connection.secret_connect_args.application_name]\ngroup = \"db\"\nkey = \"app\"\n[output]\nkind = \"schema\"\n",
            toml_string(&db.url)
        ),
    );
        let template = serialize(&db.dir, &task_path);
        // Missing: a user error naming where it was looked for.
        let missing_dir = TestDir::new("secret-missing");
        let missing = Pod::new(&missing_dir).run(&template, &no_inputs());
        let error = missing.expect_error();
        assert_classified(error, false, true, "ConfigError");
        assert!(error.message.contains("_FSEC_DB_APP"), "{}", error.message);
        // From the environment, with flytekit's prefix.
        let env_dir = TestDir::new("secret-env");
        let result = Pod::new(&env_dir)
            .env("_FSEC_DB_APP", secret)
            .run(&template, &no_inputs());
        let error = result.expect_error();
        assert_classified(error, false, true, "SqlError");
        assert!(!error.message.contains(secret), "{}", error.message);
        assert!(error.message.contains("***"), "{}", error.message);
        let stderr = String::from_utf8_lossy(&result.process.stderr);
        assert!(!stderr.contains(secret), "{stderr}");
        // From a mounted file, with Flyte's webhook settings.
        let file_dir = TestDir::new("secret-file");
        let secrets = file_dir.join("secrets");
        file_dir.write("secrets/db/app", &format!("{secret}\n"));
        let result = Pod::new(&file_dir)
            .env("FLYTE_SECRETS_DEFAULT_DIR", secrets.to_str().unwrap())
            .run(&template, &no_inputs());
        let error = result.expect_error();
        assert!(
            !error.message.contains(secret) && error.message.contains("***"),
            "{}",
            error.message
        );
    }
);

/// A SQLite task over `golden.db` (relative to the working directory), serialized in `dir`.
static TASKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) fn serialize_task(
    dir: &TestDir,
    query: &str,
    inputs: &str,
    extra: &str,
) -> (SqlTask, Vec<u8>) {
    let path = dir.write(
        &format!("task-{}.toml", TASKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)),
        &format!(
            "name = \"t.sqlite\"\n{extra}\nquery = {}\n[connection]\nuri = \"sqlite:///golden.db\"\n{inputs}\n[output]\nkind = \"schema\"\n",
            toml_string(query)
        ),
    );
    (task_of(&path), serialize(dir, &path))
}

#[test]
fn inputs_that_do_not_fit_the_interface_are_user_errors_naming_the_input() {
    let dir = TestDir::new("bad-inputs");
    build_golden_db(&dir);
    let (task, template) = serialize_task(
        &dir,
        "select Name from tracks where TrackId = {{ .inputs.id }}",
        "[[inputs]]\nname = \"id\"\ntype = \"integer\"\n",
        "",
    );
    let literal = |name: &str, ty, value: Value| {
        let variable = flyte_sql::model::InputVariable {
            name: name.to_owned(),
            ty,
            optional: false,
            default: None,
        };
        idl::input_literal(&variable, &value).unwrap()
    };
    let cases = [
        (
            "unknown",
            vec![
                (
                    "id",
                    literal("id", PrimitiveType::Integer, Value::Integer(1)),
                ),
                (
                    "other",
                    literal("other", PrimitiveType::Integer, Value::Integer(2)),
                ),
            ],
            "`other`",
        ),
        (
            "wrong-type",
            vec![(
                "id",
                literal("id", PrimitiveType::String, Value::String("1".to_owned())),
            )],
            "input `id`",
        ),
        ("missing", vec![], "input `id`"),
    ];
    for (label, literals, named) in cases {
        let map = LiteralMap {
            literals: literals
                .into_iter()
                .map(|(name, literal)| (name.to_owned(), literal))
                .collect(),
        };
        let result = Pod::attempt(&dir, label).run(&template, &map.encode_to_vec());
        let error = result.expect_error();
        assert_classified(error, false, true, "InputError");
        assert!(error.message.contains(named), "{label}: {}", error.message);
    }
    // And a good one runs.
    let pod = Pod::attempt(&dir, "good");
    let result = pod.run(&template, &inputs_of(&task, &[("id", Value::Integer(3))]));
    assert_eq!(table_of(&result, &pod).rows, [["Ji"]]);
}

#[test]
fn colons_in_the_sql_and_in_spliced_values_are_text_not_binds() {
    // The reference wraps the query in sqlalchemy.text(), so `:name` anywhere fails with "A value
    // is required for bind parameter".
    let dir = TestDir::new("colons");
    build_golden_db(&dir);
    let (task, template) = serialize_task(
        &dir,
        "select ':name' as a, '{{ .inputs.v }}' as b, 'x::text' as c",
        "[[inputs]]\nname = \"v\"\ntype = \"string\"\n",
        "interpolation = \"compat\"\nruntime = \"python\"",
    );
    let pod = Pod::new(&dir);
    let result = pod.run(
        &template,
        &inputs_of(&task, &[("v", Value::String("at :other".to_owned()))]),
    );
    assert_eq!(
        table_of(&result, &pod).rows,
        [[":name", "at :other", "x::text"]]
    );
}

#[test]
fn a_file_url_raw_prefix_works() {
    // The reference creates a directory literally named `file:` and fails.
    let dir = TestDir::new("file-url");
    build_golden_db(&dir);
    let (_, template) =
        serialize_task(&dir, "select TrackId from tracks where TrackId < 2", "", "");
    let mut pod = Pod::new(&dir);
    pod.raw_prefix = format!("file://{}/", dir.join("raw-url").display());
    let result = pod.run(&template, &no_inputs());
    let uri = dataset_uri(result.expect_outputs());
    assert!(
        uri.starts_with(&format!("file://{}/", dir.join("raw-url").display())),
        "{uri}"
    );
    assert_eq!(table_of(&result, &pod).rows, [["0"], ["1"]]);
    assert!(!dir.join("file:").exists());
}

#[test]
fn a_distributed_error_strategy_names_the_error_file_and_worker() {
    let dir = TestDir::new("dist-error");
    build_golden_db(&dir);
    let (_, template) = serialize_task(&dir, "select * from no_such_table", "", "");
    let result = Pod::new(&dir)
        .env("FLYTE_INTERNAL_DIST_ERROR_STRATEGY", "Earliest")
        .env("FLYTE_INTERNAL_WORKER_NAME", "worker-3")
        .run(&template, &no_inputs());
    let name = result.error_file.clone().expect("an error file");
    let hex = name
        .strip_prefix("error-")
        .and_then(|rest| rest.strip_suffix(".pb"))
        .unwrap();
    assert!(
        hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
    assert_eq!(result.expect_error().worker, "worker-3");
}

#[test]
fn a_run_whose_outputs_cannot_be_written_leaves_no_parquet() {
    let dir = TestDir::new("unwritable");
    build_golden_db(&dir);
    let (_, template) = serialize_task(&dir, "select TrackId from tracks", "", "");
    let blocker = dir.write(
        "blocker",
        "a file where the output prefix should be a directory",
    );
    let mut pod = Pod::new(&dir);
    pod.output_prefix = blocker.join("0");
    let result = pod.run(&template, &no_inputs());
    // Neither outputs.pb nor error.pb could be written: the pod fails, and propeller finds no
    // outputs.
    assert_eq!(result.exit_code(), Some(1));
    assert!(result.outputs_not_found);
    assert_no_raw_data(&pod);
}

#[test]
fn loader_arguments_flyte_sql_does_not_implement_are_user_errors() {
    let dir = TestDir::new("loader");
    build_golden_db(&dir);
    let (_, template) = serialize_task(
        &dir,
        "select 1 as x",
        "",
        "runtime = \"python\"\ninterpolation = \"compat\"",
    );
    std::fs::write(dir.join("task.pb"), &template).unwrap();
    std::fs::write(dir.join("inputs.pb"), no_inputs()).unwrap();
    let resolver = "flytekit.core.python_customized_container_task.default_task_template_resolver";
    let executor = "flytekitplugins.sqlalchemy.task.SQLAlchemyTaskExecutor";
    for (label, resolver, loader_args, mentions) in [
        (
            "resolver",
            "my.resolver",
            vec!["task.pb", executor],
            "my.resolver",
        ),
        (
            "executor",
            resolver,
            vec!["task.pb", "my.Executor"],
            "my.Executor",
        ),
        (
            "template",
            resolver,
            vec!["missing.pb", executor],
            "missing.pb",
        ),
        ("arity", resolver, vec!["task.pb"], "two arguments"),
    ] {
        let out = format!("out-{label}");
        let mut args = vec![
            "pyflyte-execute",
            "--inputs",
            "inputs.pb",
            "--output-prefix",
            &out,
            "--raw-output-data-prefix",
            "raw",
            "--resolver",
            resolver,
            "--",
        ];
        args.extend(loader_args);
        let output = run(&dir, &args);
        assert_eq!(output.status.code(), Some(0), "{label}");
        let bytes = std::fs::read(dir.join(&out).join("error.pb")).expect("error.pb");
        let error = idl::decode_error_document(&bytes).unwrap().error.unwrap();
        assert_classified(&error, false, true, "TaskLoadError");
        assert!(
            error.message.contains(mentions),
            "{label}: {}",
            error.message
        );
    }
    // `--test` checks nothing and runs nothing, as flytekit's.
    let output = run(
        &dir,
        [
            "pyflyte-execute",
            "--inputs",
            "inputs.pb",
            "--output-prefix",
            "out-test",
            "--test",
            "--resolver",
            resolver,
            "--",
            "task.pb",
            executor,
        ],
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(!dir.join("out-test").exists());
    // A command line without an output prefix cannot report through Flyte: a usage error.
    let output = run(&dir, ["execute", "--inputs", "inputs.pb", "--", "task.pb"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn the_version_is_what_templates_and_parquet_carry() {
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(version, "0.1.0");
    let dir = TestDir::new("version");
    let printed = stdout_of_success(&run(&dir, ["--version"]));
    assert_eq!(printed.trim(), format!("flyte-sql {version}"));
    build_golden_db(&dir);
    let (_, template) = serialize_task(&dir, "select 1 as x", "", "");
    let decoded = idl::decode_task_template(&template).unwrap();
    let runtime = decoded.metadata.unwrap().runtime.unwrap();
    assert_eq!(runtime.version, version);
    let Some(idl::proto::core::task_template::Target::Container(container)) = decoded.target else {
        panic!("a container");
    };
    assert_eq!(
        container.image,
        format!("ghcr.io/flyte-sql/flyte-sql:{version}")
    );
    let pod = Pod::new(&dir);
    let result = pod.run(&template, &no_inputs());
    let file = dataset_directory(result.expect_outputs(), &pod.cwd).join("00000");
    let reader =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(file).unwrap())
            .unwrap();
    let created_by = parquet::file::reader::FileReader::metadata(&reader)
        .file_metadata()
        .created_by()
        .map(str::to_owned);
    assert_eq!(created_by, Some(format!("flyte-sql version {version}")));
}

backend_test!(
    a_connection_killed_mid_query_is_recoverable,
    |db: &TestDb| {
        // The server ends the task's connection while its query runs, as a failover or an operator
        // would: Flyte may retry.
        let marker = format!("flyte_sql_victim_{}", std::process::id());
        let (query, find_victim) = match db.backend {
            Backend::Sqlite => return,
            Backend::Postgres => (
                format!("select pg_sleep(30) as {marker}"),
                format!(
                    "select pg_terminate_backend(pid) as killed from pg_stat_activity where query like '%{marker}%' and pid <> pg_backend_pid()"
                ),
            ),
            Backend::Mysql => (
                format!("select sleep(30) as {marker}"),
                format!(
                    "select id from information_schema.processlist where info like '%sleep(30) as {marker}%' and id <> connection_id()"
                ),
            ),
        };
        let task = db.dir.write(
        "victim.toml",
        &format!(
            "name = \"t.victim\"\nquery = {}\n[connection]\nuri = {}\n[output]\nkind = \"schema\"\n",
            toml_string(&query),
            toml_string(&db.url)
        ),
    );
        let template = serialize(&db.dir, &task);
        let pod_dir = TestDir::new("victim");
        let pod = Pod::new(&pod_dir);
        let child = pod.spawn(&template, &no_inputs());
        let started = std::time::Instant::now();
        loop {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "the victim's query never showed up on the server"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
            let out = db.dir.join("killer");
            let _ = std::fs::remove_dir_all(&out);
            stdout_of_success(&db.run([
                "run",
                "--uri",
                &db.url,
                "--query",
                &find_victim,
                "--out",
                out.to_str().unwrap(),
            ]));
            let victims = read_table(&only_output(&out)).rows;
            let Some(victim) = victims.first() else {
                continue;
            };
            if db.backend == Backend::Mysql {
                db.execute(&format!("kill {}", victim[0]));
            }
            break;
        }
        let result = pod.wait(&template, child);
        assert_eq!(result.exit_code(), Some(0));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(25),
            "the kill ended the query"
        );
        let error = result.expect_error();
        assert_classified(error, true, false, "ConnectionError");
        assert_no_raw_data(&pod);
    }
);

#[test]
fn unknown_url_schemes_are_refused_and_never_become_local_folders() {
    let dir = TestDir::new("unknown-scheme");
    build_golden_db(&dir);
    let (_, template) = serialize_task(&dir, "select 1 as x", "", "");
    // `run --out s3://...` used to write a local folder named `s3:`; a scheme flyte-sql does not
    // know is refused by name.
    let output = run(
        &dir,
        [
            "run",
            "--uri",
            "sqlite://",
            "--query",
            "select 1 as x",
            "--out",
            "ftp://host/prefix",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`ftp://`"), "{stderr}");
    assert!(!dir.join("ftp:").exists());
    // A raw prefix of that kind: the pod reports it through error.pb.
    let mut pod = Pod::new(&dir);
    pod.raw_prefix = "ftp://host/raw".to_owned();
    let result = pod.run(&template, &no_inputs());
    assert_classified(result.expect_error(), false, true, "UsageError");
    // An output prefix of that kind: nothing can be reported through Flyte.
    std::fs::write(dir.join("task.pb"), &template).unwrap();
    std::fs::write(dir.join("inputs.pb"), no_inputs()).unwrap();
    let output = run(
        &dir,
        [
            "execute",
            "--inputs",
            "inputs.pb",
            "--output-prefix",
            "ftp://host/out",
            "--raw-output-data-prefix",
            "raw",
            "--",
            "task.pb",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(!dir.join("ftp:").exists());
}
