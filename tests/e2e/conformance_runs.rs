//! The reference's recorded runs (`fixtures/conformance/*/expected_output.json`) replayed through
//! `flyte-sql run` on every backend, values compared with the golden rows.
//!
//! The tasks run in compatible mode, as flytekit made them. Where our types are better than the
//! reference's, the comparison says so (`Upgrade`) and `docs/type-mapping.md` ("Differences from
//! the reference") documents it: integers with NULLs stay integers (exact where the reference
//! rounded through float64), declared and SQLite-declared booleans are booleans, timestamps and
//! dates declared as such are typed, declared output columns are enforced, and an empty result
//! keeps its column types.

use std::path::{Path, PathBuf};

use flyte_sql_tests::{Backend, TestDb, backend_test, stderr_of_failure, stdout_of_success};
use serde_json::Value as Json;

use crate::run::{Table, only_output, read_table};

pub(crate) fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/conformance")
}

/// The cases that have a recorded entrypoint run.
pub(crate) fn cases_with_runs() -> Vec<String> {
    let mut cases: Vec<String> = std::fs::read_dir(conformance_dir())
        .expect("the conformance fixtures")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.join("expected_output.json").exists())
        .map(|path| {
            path.file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    cases.sort();
    cases
}

pub(crate) fn read_json(path: &Path) -> Json {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

/// Creates the golden database's tables (`tracks`, `typed`) under unique names; returns the
/// names. SQLite runs the fixture script as is; the servers get the same values in their types.
pub(crate) fn create_golden_tables(db: &TestDb, case_number: usize) -> (String, String) {
    // Neither name contains the other table's name, so that replacing one keeps the other.
    let tracks = db.table(&format!("c{case_number}_tracks"));
    let typed = db.table(&format!("c{case_number}_typ"));
    let script = std::fs::read_to_string(conformance_dir().join("fixtures/golden_db.sql"))
        .expect("golden_db.sql");
    let statements: Vec<String> = match db.backend {
        Backend::Sqlite => script
            .split(";\n")
            .map(str::trim)
            .filter(|statement| !statement.is_empty())
            .map(|statement| {
                statement
                    .trim_end_matches(';')
                    .replace("tracks", &tracks)
                    .replace("typed", &typed)
            })
            .collect(),
        Backend::Postgres | Backend::Mysql => {
            let (boolean, bytes, real, numeric, timestamp, options, hex) =
                if db.backend == Backend::Postgres {
                    (
                        "boolean",
                        "bytea",
                        "double precision",
                        "numeric",
                        "timestamp",
                        "",
                        "'\\x00ff'::bytea",
                    )
                } else {
                    (
                        "boolean",
                        "varbinary(8)",
                        "double",
                        "decimal(20,2)",
                        "datetime(6)",
                        " DEFAULT CHARSET=utf8mb4",
                        "x'00ff'",
                    )
                };
            let (yes, no) = if db.backend == Backend::Postgres {
                ("true", "false")
            } else {
                ("1", "0")
            };
            let empty = if db.backend == Backend::Postgres {
                "''::bytea"
            } else {
                "x''"
            };
            vec![
                format!("CREATE TABLE {tracks} (TrackId bigint, Name text){options}"),
                format!(
                    "INSERT INTO {tracks} VALUES (0, 'Sue'), (1, 'L'), (2, 'M'), (3, 'Ji'), (4, 'Po')"
                ),
                format!(
                    "CREATE TABLE {typed} (id integer PRIMARY KEY, i bigint, f {real}, t text, b {boolean}, b_null {boolean}, ts {timestamp}, d date, n {numeric}, bl {bytes}, u text, i_null bigint, all_null text){options}"
                ),
                format!(
                    "INSERT INTO {typed} VALUES \
                     (1, 42, 1.5, 'plain', {yes}, {yes}, '2024-01-02 03:04:05', '2024-01-02', 10.25, {hex}, 'héllo wörld ✓', 7, NULL), \
                     (2, -9007199254740993, -0.0, '', {no}, {no}, '2024-02-29 23:59:59.123456', '2024-02-29', 3, {empty}, '日本語', NULL, NULL), \
                     (3, 0, NULL, NULL, {yes}, NULL, NULL, NULL, NULL, NULL, '😀 emoji ''quoted''', 9007199254740993, NULL)"
                ),
            ]
        }
    };
    for statement in statements {
        db.execute(&statement);
    }
    (tracks, typed)
}

/// The task file of a case, in compatible mode, against the renamed tables.
pub(crate) fn task_file(db: &TestDb, case: &Json, tracks: &str, typed: &str) -> PathBuf {
    let query = case["query_template"]
        .as_str()
        .expect("query_template")
        .replace("tracks", tracks)
        .replace("typed", typed);
    let mut inputs = String::new();
    for input in case["inputs"].as_array().expect("inputs") {
        inputs.push_str(&format!(
            "[[inputs]]\nname = \"{}\"\ntype = \"{}\"\n",
            input["name"].as_str().expect("name"),
            input["type"].as_str().expect("type").to_ascii_lowercase()
        ));
    }
    let output = match &case["output"] {
        Json::Null => "kind = \"none\"".to_owned(),
        output => {
            let kind = match output["kind"].as_str() {
                Some("StructuredDataset") => "structured_dataset",
                _ => "schema",
            };
            let mut text = format!("kind = \"{kind}\"");
            for column in output["columns"].as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "\n[[output.columns]]\nname = \"{}\"\ntype = \"{}\"",
                    column["name"].as_str().expect("name"),
                    column["type"].as_str().expect("type").to_ascii_lowercase()
                ));
            }
            text
        }
    };
    let name = case["case"].as_str().unwrap_or("case");
    let path = db.task_file(name, &query, &output, &inputs);
    // Top-level keys must come before the first table of the task file: compatible mode goes
    // in at the top.
    let text = std::fs::read_to_string(&path).expect("the task file");
    std::fs::write(&path, format!("interpolation = \"compat\"\n{text}"))
        .expect("rewriting the task file");
    path
}

/// `--input NAME=VALUE` arguments from a recorded run's inputs.
fn input_arguments(run: &Json) -> Vec<String> {
    let mut arguments = Vec::new();
    for (name, input) in run["inputs"].as_object().expect("inputs") {
        let value = match &input["value"] {
            Json::String(text) => text.clone(),
            other => other.to_string(),
        };
        arguments.push("--input".to_owned());
        arguments.push(format!("{name}={value}"));
    }
    arguments
}

/// How one of our values relates to the reference's.
#[derive(Debug, PartialEq)]
enum Match {
    /// The same value.
    Same,
    /// The same value with a better type (see the module docs).
    Upgrade(&'static str),
}

fn compare(golden: &Json, ours: &str, our_type: &str) -> Result<Match, String> {
    let mismatch = || Err(format!("golden {golden} vs ours {ours} ({our_type})"));
    let numeric_type = our_type.starts_with("Int") || our_type.starts_with("UInt");
    match golden {
        Json::Null => {
            if ours == "NULL" {
                Ok(Match::Same)
            } else {
                mismatch()
            }
        }
        Json::Object(object) => {
            let bytes = base64_decode(
                object
                    .get("base64")
                    .and_then(Json::as_str)
                    .unwrap_or_default(),
            );
            let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
            if hex == ours {
                Ok(Match::Same)
            } else {
                mismatch()
            }
        }
        Json::Bool(value) => {
            if ours == value.to_string() {
                Ok(Match::Same)
            } else {
                mismatch()
            }
        }
        Json::Number(number) => {
            if our_type == "Boolean" {
                let truth = number.as_f64() != Some(0.0);
                return if ours == truth.to_string() {
                    Ok(Match::Upgrade("a declared boolean is a boolean, not 0/1"))
                } else {
                    mismatch()
                };
            }
            if numeric_type && number.is_f64() {
                // The reference turned an integer column with NULLs into float64.
                let ours_integer: i64 = ours
                    .parse()
                    .map_err(|_| format!("ours {ours} is no integer"))?;
                #[allow(clippy::cast_precision_loss)]
                return if ours_integer as f64 == number.as_f64().unwrap_or(f64::NAN) {
                    Ok(Match::Upgrade(
                        "an integer column with NULLs stays an integer, exactly",
                    ))
                } else {
                    mismatch()
                };
            }
            if numeric_type {
                return if ours == number.to_string() {
                    Ok(Match::Same)
                } else {
                    mismatch()
                };
            }
            let ours_float: f64 = ours
                .parse()
                .map_err(|_| format!("ours {ours} is no number"))?;
            if Some(ours_float) == number.as_f64() {
                Ok(Match::Same)
            } else {
                mismatch()
            }
        }
        Json::String(text) => {
            if our_type.starts_with("Timestamp") {
                let golden = text.trim_end_matches("+00:00").replace('T', " ");
                return if ours.trim_end_matches('Z') == golden {
                    Ok(Match::Upgrade("a timestamp is a timestamp, not text"))
                } else {
                    mismatch()
                };
            }
            if our_type == "Date32" {
                return if ours == text {
                    Ok(Match::Upgrade("a date is a date, not text"))
                } else {
                    mismatch()
                };
            }
            if our_type == "Boolean" {
                return if ours.eq_ignore_ascii_case(text) {
                    Ok(Match::Upgrade("a declared boolean is a boolean, not text"))
                } else {
                    mismatch()
                };
            }
            if our_type.starts_with("Duration") {
                let seconds = python_timedelta_seconds(text)
                    .ok_or_else(|| format!("golden {text} is no timedelta"))?;
                let ours_seconds: f64 = ours
                    .trim_end_matches('s')
                    .parse()
                    .map_err(|_| format!("ours {ours}"))?;
                return if (seconds - ours_seconds).abs() < 1e-9 {
                    Ok(Match::Upgrade(
                        "a declared duration is a duration, not text",
                    ))
                } else {
                    mismatch()
                };
            }
            if ours == text {
                Ok(Match::Same)
            } else {
                mismatch()
            }
        }
        Json::Array(_) => mismatch(),
    }
}

/// Seconds in Python's `str(timedelta)` form (`1 day, 2:03:04.500000`).
fn python_timedelta_seconds(text: &str) -> Option<f64> {
    let (days, clock) = match text.split_once(", ") {
        Some((days, clock)) => (days.split(' ').next()?.parse::<f64>().ok()?, clock),
        None => (0.0, text),
    };
    let mut parts = clock.split(':');
    let hours: f64 = parts.next()?.parse().ok()?;
    let minutes: f64 = parts.next()?.parse().ok()?;
    let seconds: f64 = parts.next()?.parse().ok()?;
    Some(days * 86_400.0 + hours * 3_600.0 + minutes * 60.0 + seconds)
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0_u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for symbol in text.bytes().filter(|byte| *byte != b'=') {
        let value = ALPHABET
            .iter()
            .position(|candidate| *candidate == symbol)
            .expect("base64") as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
        }
    }
    bytes
}

/// Compares a table with a golden parquet description; returns the upgrades found.
pub(crate) fn compare_table(
    case: &str,
    backend: Backend,
    ours: &Table,
    golden: &Json,
) -> Vec<String> {
    let golden_columns = golden["columns"].as_array().expect("columns");
    assert_eq!(
        ours.schema.len(),
        golden_columns.len(),
        "{case}: column count"
    );
    for (field, column) in ours.schema.iter().zip(golden_columns) {
        let name = field.split(':').next().unwrap_or_default();
        let golden_name = column["name"].as_str().expect("name");
        // PostgreSQL folds unquoted names to lower case; declared columns keep their spelling.
        assert!(
            name == golden_name
                || (backend == Backend::Postgres && name.eq_ignore_ascii_case(golden_name)),
            "{case}: column {name} vs {golden_name}"
        );
    }
    let golden_rows = golden["rows"].as_array().expect("rows");
    assert_eq!(ours.rows.len(), golden_rows.len(), "{case}: row count");
    let mut upgrades = Vec::new();
    for (row, (our_row, golden_row)) in ours.rows.iter().zip(golden_rows).enumerate() {
        for ((ours, golden), field) in our_row
            .iter()
            .zip(golden_row.as_array().expect("a row"))
            .zip(&ours.schema)
        {
            let (name, our_type) = field.split_once(": ").expect("name: type");
            match compare(golden, ours, our_type) {
                Ok(Match::Same) => {}
                Ok(Match::Upgrade(reason)) => upgrades.push(format!("{name}: {reason}")),
                Err(problem) => panic!(
                    "{case} on {}: row {row}, column {name}: {problem}",
                    backend.name()
                ),
            }
        }
    }
    upgrades.sort();
    upgrades.dedup();
    upgrades
}

backend_test!(
    recorded_reference_runs_give_the_same_values,
    |db: &TestDb| {
        let cases = cases_with_runs();
        assert!(
            cases.len() >= 8,
            "the conformance fixtures have their runs: {cases:?}"
        );
        for (case_number, case_name) in cases.iter().enumerate() {
            let case_dir = conformance_dir().join(case_name);
            let case = read_json(&case_dir.join("case.json"));
            let expected = read_json(&case_dir.join("expected_output.json"));
            let (tracks, typed) = create_golden_tables(db, case_number);
            let task = task_file(db, &case, &tracks, &typed);
            for (_, run) in expected.as_object().expect("runs") {
                let out = db.dir.join(&format!("out-{case_name}"));
                let mut args = vec![
                    "run".to_owned(),
                    task.display().to_string(),
                    "--out".to_owned(),
                    out.display().to_string(),
                ];
                args.extend(input_arguments(run));
                let output = db.run(&args);
                match run["status"].as_str() {
                    Some("error") => {
                        // Deviation: the reference reports bad SQL as a recoverable SYSTEM error (and
                        // retries it); we report a user error, exit code 2, and write nothing.
                        let stderr = stderr_of_failure(&output, 2);
                        assert!(stderr.contains("no_such_table"), "{case_name}: {stderr}");
                        assert!(
                            !out.exists() || std::fs::read_dir(&out).expect("out").next().is_none()
                        );
                    }
                    _ if run.get("db_after").is_some() => {
                        assert!(stdout_of_success(&output).starts_with("1 rows affected"));
                        let after = run["db_after"]["query"]
                            .as_str()
                            .expect("query")
                            .replace("tracks", &tracks);
                        let check = db.dir.join(&format!("after-{case_name}"));
                        stdout_of_success(&db.run([
                            "run",
                            "--uri",
                            &db.url,
                            "--query",
                            &after,
                            "--out",
                            check.to_str().expect("UTF-8"),
                        ]));
                        let table = read_table(&only_output(&check));
                        let rows = golden_rows(&run["db_after"]["rows"]);
                        assert_eq!(table.rows, rows, "{case_name}: the table after the insert");
                    }
                    _ => {
                        stdout_of_success(&output);
                        let ours = read_table(&only_output(&out));
                        let upgrades = compare_table(case_name, db.backend, &ours, &run["parquet"]);
                        check_upgrades(case_name, db.backend, &ours, &upgrades);
                    }
                }
            }
        }
    }
);

/// A golden JSON table (an array of rows) with every value as text, as `read_table` gives ours.
pub(crate) fn golden_rows(rows: &Json) -> Vec<Vec<String>> {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            row.as_array()
                .expect("a row")
                .iter()
                .map(|value| {
                    value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned)
                })
                .collect()
        })
        .collect()
}

/// The documented differences, case by case: the test fails on an undocumented one.
pub(crate) fn check_upgrades(case: &str, backend: Backend, ours: &Table, upgrades: &[String]) {
    let expected: &[&str] = match (case, backend) {
        ("typed_table", Backend::Sqlite | Backend::Postgres) => &[
            "b: a declared boolean is a boolean, not 0/1",
            "b_null: a declared boolean is a boolean, not 0/1",
            "d: a date is a date, not text",
            "i_null: an integer column with NULLs stays an integer, exactly",
            "ts: a timestamp is a timestamp, not text",
        ],
        // MySQL's BOOLEAN is TINYINT(1): an integer, as the reference has it, still exact with NULLs.
        ("typed_table", Backend::Mysql) => &[
            "b_null: an integer column with NULLs stays an integer, exactly",
            "d: a date is a date, not text",
            "i_null: an integer column with NULLs stays an integer, exactly",
            "ts: a timestamp is a timestamp, not text",
        ],
        ("many_input_types", _) => &[
            "b: a declared boolean is a boolean, not text",
            "td: a declared duration is a duration, not text",
            "ts: a timestamp is a timestamp, not text",
        ],
        _ => &[],
    };
    assert_eq!(
        upgrades,
        expected,
        "{case} on {}: differences from the reference",
        backend.name()
    );
    if case == "empty_result" {
        // The reference writes every column of an empty result as type null; ours keeps the
        // declared types.
        assert_eq!(ours.schema, ["TrackId: Int64", "Name: Utf8"]);
    }
}
