//! `flyte-sql run` on every backend: the type mapping of `docs/type-mapping.md` row by row,
//! declared output columns, typed binds, statements without output, empty results, failures that
//! leave no partial output, and the reference's layout.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use flyte_sql_tests::{Backend, TestDb, backend_test, stderr_of_failure, stdout_of_success};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A Parquet output read back: `name: type` per column, and every value as text.
#[derive(Debug, PartialEq)]
pub(crate) struct Table {
    pub(crate) schema: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
}

/// The only output directory under `out`; checks the reference's layout on the way: a
/// directory named by 32 lowercase hex digits holding exactly `00000`, and nothing else.
pub(crate) fn only_output(out: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("the output directory exists")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "one output under {}: {entries:?}",
        out.display()
    );
    let directory = entries.into_iter().next().expect("one entry");
    let name = directory
        .file_name()
        .and_then(|name| name.to_str())
        .expect("a UTF-8 name");
    assert!(
        name.len() == 32
            && name
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "output directory {name} is 32 lowercase hex digits"
    );
    let files: Vec<String> = std::fs::read_dir(&directory)
        .expect("reading the output directory")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(files, ["00000"]);
    directory
}

/// Reads `<directory>/00000`.
pub(crate) fn read_table(directory: &Path) -> Table {
    let file = std::fs::File::open(directory.join("00000")).expect("opening 00000");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a Parquet file")
        .build()
        .expect("a Parquet reader");
    let mut schema = None;
    let mut rows = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.expect("a record batch");
        schema.get_or_insert_with(|| {
            batch
                .schema()
                .fields()
                .iter()
                .map(|field| format!("{}: {}", field.name(), field.data_type()))
                .collect::<Vec<_>>()
        });
        rows.extend(flyte_sql::executor::batch_to_text(&batch));
    }
    let schema = schema.unwrap_or_else(|| {
        let file = std::fs::File::open(directory.join("00000")).expect("opening 00000");
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("a Parquet file");
        builder
            .schema()
            .fields()
            .iter()
            .map(|field| format!("{}: {}", field.name(), field.data_type()))
            .collect()
    });
    Table { schema, rows }
}

/// Runs a one-off query into `out` and reads the result back.
pub(crate) fn query(db: &TestDb, sql: &str) -> Table {
    let out = db.dir.join(&format!("out-{}", unique()));
    stdout_of_success(&db.run([
        "run",
        "--uri",
        &db.url,
        "--query",
        sql,
        "--out",
        out.to_str().expect("UTF-8"),
    ]));
    read_table(&only_output(&out))
}

/// Runs a task file into a fresh directory; returns the directory and the process output.
pub(crate) fn run_task(
    db: &TestDb,
    task: &Path,
    inputs: &[&str],
) -> (PathBuf, std::process::Output) {
    let out = db.dir.join(&format!("out-{}", unique()));
    let mut args = vec![
        "run".to_owned(),
        task.display().to_string(),
        "--out".to_owned(),
        out.display().to_string(),
    ];
    for input in inputs {
        args.push("--input".to_owned());
        args.push((*input).to_owned());
    }
    let output = db.run(&args);
    (out, output)
}

pub(crate) fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Asserts a table's schema and rows, column by column, for readable failures.
fn assert_columns(table: &Table, expected: &[(&str, &str, &str)]) {
    let got: Vec<(String, String)> = table
        .schema
        .iter()
        .zip(&table.rows[0])
        .map(|(field, value)| (field.clone(), value.clone()))
        .collect();
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(name, ty, value)| (format!("{name}: {ty}"), (*value).to_owned()))
        .collect();
    assert_eq!(got, want);
}

// Every row of docs/type-mapping.md, per backend: a table with one column per database type,
// one row of values and one row of NULLs, read back from Parquet.
backend_test!(type_mapping, |db: &TestDb| {
    let table = db.table("types");
    let (create, insert, expected): (String, String, Vec<(&str, &str, &str)>) = match db.backend {
        Backend::Sqlite => (
            format!(
                "create table {table} (i bigint, u int unsigned, f real, d numeric(10,2), n numeric, t text, b boolean, dt date, tm time, ts timestamp, tz timestamptz, iv interval, bl blob, id uuid, j json)"
            ),
            format!(
                "insert into {table} values (-42, 42, 1.5, 10.25, 3, 'héllo', 1, '2024-01-02', '03:04:05.5', '2024-01-02 03:04:05', '2024-01-02 05:04:05+02:00', 93784.5, x'00ff', '12345678-9abc-def0-0001-020304050607', '{{\"a\": 1}}')"
            ),
            vec![
                ("i", "Int64", "-42"),
                ("u", "Int64", "42"),
                ("f", "Float64", "1.5"),
                ("d", "Decimal128(10, 2)", "10.25"),
                ("n", "Int64", "3"),
                ("t", "Utf8", "héllo"),
                ("b", "Boolean", "true"),
                ("dt", "Date32", "2024-01-02"),
                ("tm", "Time64(µs)", "03:04:05.500"),
                ("ts", "Timestamp(µs)", "2024-01-02 03:04:05"),
                ("tz", "Timestamp(µs, \"UTC\")", "2024-01-02 03:04:05Z"),
                ("iv", "Duration(µs)", "93784.5s"),
                ("bl", "Binary", "00ff"),
                ("id", "Utf8", "12345678-9abc-def0-0001-020304050607"),
                ("j", "Utf8", "{\"a\": 1}"),
            ],
        ),
        Backend::Postgres => (
            format!(
                "create table {table} (s int2, i int4, b8 int8, o oid, f4 float4, f8 float8, d numeric(10,2), n numeric, t text, v varchar(10), b boolean, dt date, tm time, ts timestamp, tz timestamptz, iv interval, bl bytea, id uuid, j json, jb jsonb)"
            ),
            format!(
                "insert into {table} values (-1, -2, -3, 4, 1.5, 2.5, 10.25, 3.5, 'héllo', 'v', true, '2024-01-02', '03:04:05.5', '2024-01-02 03:04:05', '2024-01-02 05:04:05+02', '1 day 02:03:04.5', '\\x00ff', '12345678-9abc-def0-0001-020304050607', '{{\"a\": 1}}', '{{\"a\": 1}}')"
            ),
            vec![
                ("s", "Int16", "-1"),
                ("i", "Int32", "-2"),
                ("b8", "Int64", "-3"),
                ("o", "UInt32", "4"),
                ("f4", "Float32", "1.5"),
                ("f8", "Float64", "2.5"),
                ("d", "Decimal128(10, 2)", "10.25"),
                ("n", "Float64", "3.5"),
                ("t", "Utf8", "héllo"),
                ("v", "Utf8", "v"),
                ("b", "Boolean", "true"),
                ("dt", "Date32", "2024-01-02"),
                ("tm", "Time64(µs)", "03:04:05.500"),
                ("ts", "Timestamp(µs)", "2024-01-02 03:04:05"),
                ("tz", "Timestamp(µs, \"UTC\")", "2024-01-02 03:04:05Z"),
                ("iv", "Duration(µs)", "93784.5s"),
                ("bl", "Binary", "00ff"),
                ("id", "Utf8", "12345678-9abc-def0-0001-020304050607"),
                ("j", "Utf8", "{\"a\": 1}"),
                ("jb", "Utf8", "{\"a\": 1}"),
            ],
        ),
        Backend::Mysql => (
            format!(
                "create table {table} (ti tinyint, su smallint unsigned, i int, bu bigint unsigned, f float, d8 double, d decimal(10,2), t text, v varchar(10), b boolean, dt date, tm time(6), ts datetime(6), tz timestamp(6) null, bl varbinary(8), id uuid, j json)"
            ),
            format!(
                "insert into {table} values (-1, 65535, -3, 18446744073709551615, 1.5, 2.5, 10.25, 'héllo', 'v', true, '2024-01-02', '03:04:05.5', '2024-01-02 03:04:05', '2024-01-02 03:04:05', x'00ff', '12345678-9abc-def0-0001-020304050607', '{{\"a\": 1}}')"
            ),
            vec![
                ("ti", "Int8", "-1"),
                ("su", "UInt16", "65535"),
                ("i", "Int32", "-3"),
                ("bu", "UInt64", "18446744073709551615"),
                ("f", "Float32", "1.5"),
                ("d8", "Float64", "2.5"),
                ("d", "Decimal128(10, 2)", "10.25"),
                ("t", "Utf8", "héllo"),
                ("v", "Utf8", "v"),
                // MySQL's BOOLEAN is TINYINT(1): an integer unless the output declares a boolean.
                ("b", "Int8", "1"),
                ("dt", "Date32", "2024-01-02"),
                ("tm", "Time64(µs)", "03:04:05.500"),
                ("ts", "Timestamp(µs)", "2024-01-02 03:04:05"),
                ("tz", "Timestamp(µs, \"UTC\")", "2024-01-02 03:04:05Z"),
                ("bl", "Binary", "00ff"),
                ("id", "Utf8", "12345678-9abc-def0-0001-020304050607"),
                ("j", "Utf8", "{\"a\": 1}"),
            ],
        ),
    };
    db.execute(&create);
    db.execute(&insert);
    let nulls = vec!["null"; expected.len()].join(", ");
    db.execute(&format!("insert into {table} values ({nulls})"));
    let order = expected.first().map(|(name, _, _)| *name).expect("columns");
    let result = query(
        db,
        &format!("select * from {table} order by {order} is null, {order}"),
    );
    assert_columns(&result, &expected);
    assert_eq!(result.rows.len(), 2);
    assert!(
        result.rows[1].iter().all(|value| value == "NULL"),
        "{:?}",
        result.rows[1]
    );
});

// The interval row on every backend: an interval or a number of seconds, read into a declared
// duration column (MySQL has no interval type; its TIME reaches 838 hours).
backend_test!(
    durations_read_into_declared_duration_columns,
    |db: &TestDb| {
        let sql = match db.backend {
            Backend::Sqlite => "select 93784.5 as d",
            Backend::Postgres => "select interval '1 day 02:03:04.5' as d",
            Backend::Mysql => "select cast('26:03:04.5' as time(6)) as d",
        };
        let task = db.task_file(
            "duration",
            sql,
            "kind = \"schema\"\n[[output.columns]]\nname = \"d\"\ntype = \"duration\"",
            "",
        );
        let (out, output) = run_task(db, &task, &[]);
        stdout_of_success(&output);
        assert_columns(
            &read_table(&only_output(&out)),
            &[("d", "Duration(µs)", "93784.5s")],
        );
    }
);

// An unknown database type is an error that suggests a cast (SQLite: a column mixing blobs and
// numbers, which no single type holds).
backend_test!(unmappable_types_suggest_a_cast, |db: &TestDb| {
    let sql = match db.backend {
        Backend::Sqlite => "select x'00' as v union all select 1",
        Backend::Postgres => "select array[1, 2] as v",
        Backend::Mysql => "select point(1, 2) as v",
    };
    let out = db.dir.join("out");
    let output = db.run([
        "run",
        "--uri",
        &db.url,
        "--query",
        sql,
        "--out",
        out.to_str().expect("UTF-8"),
    ]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(
        stderr.contains("column `v`") && stderr.contains("cast"),
        "{stderr}"
    );
    assert_no_output(&out);
});

pub(crate) fn assert_no_output(out: &Path) {
    let leftovers: Vec<_> = std::fs::read_dir(out)
        .map(|entries| {
            entries
                .map(|entry| entry.expect("an entry").path())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "no output, complete or partial: {leftovers:?}"
    );
}

// An empty result still has its columns and their types.
backend_test!(empty_results_are_typed, |db: &TestDb| {
    let table = db.table("empty");
    db.execute(&format!(
        "create table {table} (id bigint, name varchar(20), price decimal(8,3))"
    ));
    let result = query(
        db,
        &format!("select id, name, price from {table} where id < 0"),
    );
    assert_eq!(
        result.schema,
        ["id: Int64", "name: Utf8", "price: Decimal128(8, 3)"]
    );
    assert!(result.rows.is_empty());
});

// Declared columns: the declared order and types, safe widenings, and errors naming the column.
backend_test!(declared_columns_are_enforced, |db: &TestDb| {
    let table = db.table("declared");
    db.execute(&format!(
        "create table {table} (small smallint, name varchar(20), flag smallint)"
    ));
    db.execute(&format!("insert into {table} values (7, 'seven', 1)"));
    let columns = "kind = \"schema\"\n[[output.columns]]\nname = \"name\"\ntype = \"string\"\n[[output.columns]]\nname = \"small\"\ntype = \"float\"\n[[output.columns]]\nname = \"flag\"\ntype = \"boolean\"";
    let task = db.task_file(
        "declared",
        &format!("select small, name, flag from {table}"),
        columns,
        "",
    );
    let (out, output) = run_task(db, &task, &[]);
    stdout_of_success(&output);
    assert_columns(
        &read_table(&only_output(&out)),
        &[
            ("name", "Utf8", "seven"),
            ("small", "Float64", "7"),
            ("flag", "Boolean", "true"),
        ],
    );

    let missing = db.task_file(
        "missing",
        &format!("select small from {table}"),
        columns,
        "",
    );
    let (out, output) = run_task(db, &missing, &[]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(
        stderr.contains("declared output column `name` is not in the result"),
        "{stderr}"
    );
    assert_no_output(&out);

    let extra = db.task_file(
        "extra",
        &format!("select small, name, flag, 1 as surplus from {table}"),
        columns,
        "",
    );
    let (_, output) = run_task(db, &extra, &[]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(
        stderr.contains("column `surplus`, which is not among the declared output columns"),
        "{stderr}"
    );

    let unconvertible = db.task_file(
        "unconvertible",
        &format!("select name from {table}"),
        "kind = \"schema\"\n[[output.columns]]\nname = \"name\"\ntype = \"integer\"",
        "",
    );
    let (_, output) = run_task(db, &unconvertible, &[]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(
        stderr.contains("column `name`, row 1: text \"seven\" does not convert"),
        "{stderr}"
    );
});

// Safe mode: every input travels as a typed bind, so quotes and SQL in a value stay data.
backend_test!(safe_mode_binds_typed_values, |db: &TestDb| {
    let inputs = "[[inputs]]\nname = \"i\"\ntype = \"integer\"\n[[inputs]]\nname = \"f\"\ntype = \"float\"\n[[inputs]]\nname = \"s\"\ntype = \"string\"\n[[inputs]]\nname = \"b\"\ntype = \"boolean\"\n[[inputs]]\nname = \"ts\"\ntype = \"datetime\"\n[[inputs]]\nname = \"td\"\ntype = \"duration\"\n";
    let mut columns = "kind = \"structured_dataset\"".to_owned();
    for (name, ty) in [
        ("i", "integer"),
        ("f", "float"),
        ("s", "string"),
        ("b", "boolean"),
        ("ts", "datetime"),
        ("td", "duration"),
    ] {
        columns.push_str(&format!(
            "\n[[output.columns]]\nname = \"{name}\"\ntype = \"{ty}\""
        ));
    }
    let task = db.task_file(
        "binds",
        "select {{ .inputs.i }} as i, {{ .inputs.f }} as f, {{ .inputs.s }} as s, {{ .inputs.b }} as b, {{ .inputs.ts }} as ts, {{ .inputs.td }} as td",
        &columns,
        inputs,
    );
    let (out, output) = run_task(
        db,
        &task,
        &[
            "i=42",
            "f=2.5",
            "s=it's'; drop table x; --",
            "b=true",
            "ts=2024-01-02T03:04:05.123456Z",
            "td=93784.5s",
        ],
    );
    stdout_of_success(&output);
    assert_columns(
        &read_table(&only_output(&out)),
        &[
            ("i", "Int64", "42"),
            ("f", "Float64", "2.5"),
            ("s", "Utf8", "it's'; drop table x; --"),
            ("b", "Boolean", "true"),
            (
                "ts",
                "Timestamp(µs, \"UTC\")",
                "2024-01-02 03:04:05.123456Z",
            ),
            ("td", "Duration(µs)", "93784.5s"),
        ],
    );
});

// Statements without output run in a transaction and report the rows they changed; a failing
// statement changes nothing.
backend_test!(
    statements_report_rows_affected_and_roll_back,
    |db: &TestDb| {
        let table = db.table("changes");
        db.execute(&format!(
            "create table {table} (id int primary key, name varchar(10))"
        ));
        let output = db.try_execute(&format!(
            "insert into {table} values (1, 'a'), (2, 'b'), (3, 'c')"
        ));
        assert!(
            stdout_of_success(&output).starts_with("3 rows affected"),
            "{output:?}"
        );
        let output = db.try_execute(&format!(
            "insert into {table} values (4, 'd'), (1, 'again')"
        ));
        let stderr = stderr_of_failure(&output, 2);
        assert!(stderr.contains("statement failed"), "{stderr}");
        let result = query(db, &format!("select count(*) as n from {table}"));
        assert_eq!(result.rows, [["3"]]);
    }
);

// A value that fails after several batches were written leaves no output behind.
backend_test!(
    a_failure_mid_stream_leaves_no_partial_output,
    |db: &TestDb| {
        let sql = format!(
            "select case when n = 20000 then 'oops' else cast(n as char(10)) end as v from ({}) s order by n",
            numbers(20_000)
        );
        let task = db.task_file(
            "midstream",
            &sql,
            "kind = \"schema\"\n[[output.columns]]\nname = \"v\"\ntype = \"integer\"",
            "",
        );
        let (out, output) = run_task(db, &task, &[]);
        let stderr = stderr_of_failure(&output, 2);
        assert!(stderr.contains("column `v`, row 20000"), "{stderr}");
        assert_no_output(&out);
    }
);

// Many rows stream through several batches and come back complete and in order.
backend_test!(large_results_stream_in_batches, |db: &TestDb| {
    let result = query(
        db,
        &format!("select n from ({}) s order by n", numbers(50_000)),
    );
    assert_eq!(result.rows.len(), 50_000);
    assert_eq!(result.rows[0], ["1"]);
    assert_eq!(result.rows[49_999], ["50000"]);
});

/// A subquery of the numbers 1 to `count` (at most 100 000) in column `n`, portable across the
/// backends (MariaDB caps recursive CTEs at 1000 iterations by default).
fn numbers(count: u32) -> String {
    let digits = "select 0 as d union all select 1 union all select 2 union all select 3 union all select 4 \
                  union all select 5 union all select 6 union all select 7 union all select 8 union all select 9";
    format!(
        "select 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d as n \
         from ({digits}) a, ({digits}) b, ({digits}) c, ({digits}) e, ({digits}) f \
         where a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d < {count}"
    )
}

// SQL errors are user errors (exit 2) with the database's message, and write nothing.
backend_test!(sql_errors_are_reported_without_output, |db: &TestDb| {
    let out = db.dir.join("out");
    let output = db.run([
        "run",
        "--uri",
        &db.url,
        "--query",
        "select * from no_such_table_anywhere",
        "--out",
        out.to_str().expect("UTF-8"),
    ]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(
        stderr.contains("query failed") && stderr.contains("no_such_table_anywhere"),
        "{stderr}"
    );
    assert_no_output(&out);
});

#[test]
fn the_shipped_example_runs_from_the_repository_root() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root");
    let out = tempfile::tempdir().expect("a temporary directory");
    let output = std::process::Command::new(flyte_sql_tests::flyte_sql_binary())
        .current_dir(root)
        .args(["run", "examples/tracks.toml", "--input", "limit=3", "--out"])
        .arg(out.path())
        .output()
        .expect("running flyte-sql");
    let stdout = stdout_of_success(&output);
    assert!(stdout.contains("3 rows,"), "{stdout}");
    let table = read_table(&only_output(out.path()));
    assert_eq!(
        table.schema,
        [
            "TrackId: Int64",
            "Name: Utf8",
            "Artist: Utf8",
            "Album: Utf8",
            "Seconds: Float64",
            "UnitPrice: Float64",
            "Explicit: Boolean",
            "AddedAt: Timestamp(µs, \"UTC\")",
        ]
    );
    assert_eq!(table.rows.len(), 3);
}

#[test]
fn a_missing_sqlite_file_is_reported_not_created() {
    let dir = flyte_sql_tests::TestDir::new("missing-sqlite");
    let output = flyte_sql_tests::run(
        &dir,
        ["run", "--uri", "sqlite:///nope.db", "--query", "select 1"],
    );
    let stderr = stderr_of_failure(&output, 2);
    assert!(stderr.contains("no database file at `nope.db`"), "{stderr}");
    assert!(!dir.join("nope.db").exists());
}

#[test]
fn passwords_never_appear_in_errors() {
    let dir = flyte_sql_tests::TestDir::new("password-redaction");
    let output = flyte_sql_tests::run(
        &dir,
        [
            "run",
            "--uri",
            "postgresql://user:hunter2@127.0.0.1:1/db",
            "--query",
            "select 1",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

// The `statement_timeout` connect arg stops a long query with a system error (exit code 1) and no
// output: the server cancels it on PostgreSQL and MySQL; on SQLite the executor checks it between
// batches of rows.
backend_test!(the_statement_timeout_cancels_long_queries, |db: &TestDb| {
    let (sql, timeout) = match db.backend {
        Backend::Sqlite => (format!("select n from ({}) s", numbers(100_000)), "\"1ms\""),
        Backend::Postgres => ("select pg_sleep(5) is null as slept".to_owned(), "0.5"),
        Backend::Mysql => ("select sleep(5) as slept".to_owned(), "0.5"),
    };
    let task = db.task_file("timeout", &sql, "kind = \"schema\"", "");
    let text = std::fs::read_to_string(&task).expect("the task file");
    let text = text.replacen(
        "[connection]\n",
        &format!("[connection]\nconnect_args = {{ statement_timeout = {timeout} }}\n"),
        1,
    );
    std::fs::write(&task, text).expect("writing the task file");
    let started = std::time::Instant::now();
    let (out, output) = run_task(db, &task, &[]);
    let stderr = stderr_of_failure(&output, 1);
    assert!(
        stderr.contains("timeout")
            || stderr.contains("max_statement_time")
            || stderr.contains("interrupted"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "cancelled before the sleep ends"
    );
    assert_no_output(&out);
});

/// `examples/music.db` is committed so that the README's first command needs nothing else; it
/// must hold exactly what `examples/music.sql` creates.
#[test]
fn example_database_matches_its_script() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root");
    let db = TestDb::new(Backend::Sqlite, "example-database").expect("sqlite is always there");
    let script = std::fs::read_to_string(root.join("examples/music.sql")).expect("music.sql");
    let statements: Vec<String> = script
        .lines()
        .filter(|line| !line.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .split(";\n")
        .map(|statement| statement.trim().trim_end_matches(';').to_owned())
        .filter(|statement| !statement.is_empty())
        .collect();
    for statement in &statements {
        db.execute(statement);
    }
    let committed = format!("sqlite:///{}", root.join("examples/music.db").display());
    for table in ["artists", "albums", "tracks"] {
        let sql = format!("select * from {table} order by 1");
        let rebuilt = query(&db, &sql);
        let out = db.dir.join(&format!("committed-{table}"));
        stdout_of_success(&db.run([
            "run",
            "--uri",
            &committed,
            "--query",
            &sql,
            "--out",
            out.to_str().expect("UTF-8"),
        ]));
        assert_eq!(
            read_table(&only_output(&out)),
            rebuilt,
            "{table}: rebuild examples/music.db from examples/music.sql"
        );
    }
}
