//! How statements are understood (`docs/statements.md`), through `flyte-sql run` on every
//! backend: quoted placeholders bind in safe mode, one statement per task and per `--query`, a
//! describe step that runs and evaluates nothing, bind markers in comments, and empty results
//! that keep their column types. Each of issue 8's four holes has a test here that failed before
//! the fix.

use std::time::{Duration, Instant};

use flyte_sql_tests::{
    Backend, TestDb, backend_test, stderr_of_failure, stdout_of_success, toml_string,
};

use crate::run::{Table, only_output, query, read_table, run_task, unique};

/// A table `name` with rows `(1, 'alice')` and `(2, m)`, where `m` is the text of the backend's
/// bind marker, so that a statement that compares with its own marker text finds row 2.
fn people(db: &TestDb) -> String {
    let table = db.table("people");
    db.execute(&format!("create table {table} (id int, name varchar(20))"));
    let marker = match db.backend {
        Backend::Postgres => "$1",
        Backend::Sqlite | Backend::Mysql => "?",
    };
    db.execute(&format!(
        "insert into {table} values (1, 'alice'), (2, '{marker}')"
    ));
    table
}

fn count(db: &TestDb, table: &str) -> String {
    let Table { rows, .. } = query(db, &format!("select count(*) as n from {table}"));
    rows[0][0].clone()
}

// Hole 1: a placeholder that is a whole quoted literal, as every reference query is written,
// is the bind in safe mode (it used to become the literal text `'$1'` or `'?'`, or fail on
// SQLite with "column index out of range").
backend_test!(quoted_placeholders_bind_in_safe_mode, |db: &TestDb| {
    let table = people(db);
    let task = db.task_file(
        "quoted",
        &format!("select id, name from {table} where name = '{{{{ .inputs.n }}}}'"),
        "kind = \"schema\"",
        "[[inputs]]\nname = \"n\"\ntype = \"string\"\n",
    );
    let (out, output) = run_task(db, &task, &["n=alice"]);
    stdout_of_success(&output);
    assert_eq!(read_table(&only_output(&out)).rows, [["1", "alice"]]);
});

// A placeholder inside a longer literal is refused when the task is defined, before anything
// connects, with the fix in the message.
backend_test!(
    placeholders_inside_literals_are_refused_with_the_fix,
    |db: &TestDb| {
        let task = db.task_file(
            "inside",
            "select 'id-{{ .inputs.n }}' as v",
            "kind = \"schema\"",
            "[[inputs]]\nname = \"n\"\ntype = \"string\"\n",
        );
        let (out, output) = run_task(db, &task, &["n=x"]);
        let stderr = stderr_of_failure(&output, 2);
        let fix = match db.backend {
            Backend::Mysql => "CONCAT('id-', {{ .inputs.n }})",
            Backend::Sqlite | Backend::Postgres => "'id-' || {{ .inputs.n }}",
        };
        assert!(
            stderr.contains("inside a string literal") && stderr.contains(fix),
            "{stderr}"
        );
        assert!(!out.exists(), "nothing ran");
    }
);

// Hole 2: the describe step ran what came after the first statement of a one-off query (`t`
// was dropped, on PostgreSQL even though the run failed). Now the query is refused whole.
backend_test!(a_second_statement_never_runs, |db: &TestDb| {
    let table = db.table("kept");
    db.execute(&format!("create table {table} (x int)"));
    db.execute(&format!("insert into {table} values (1)"));
    let output = db.run([
        "run",
        "--uri",
        &db.url,
        "--query",
        &format!("select 1 as a; drop table {table}"),
        "--out",
        db.dir.join("out").to_str().expect("UTF-8"),
    ]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(stderr.contains("more than one statement"), "{stderr}");
    assert_eq!(count(db, &table), "1");

    // The same in a task file, and for a statement without output (where only the first
    // statement used to run, reporting success).
    let task = db.task_file(
        "two",
        &format!("update {table} set x = 2; delete from {table}"),
        "kind = \"none\"",
        "",
    );
    let (_, output) = run_task(db, &task, &[]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(stderr.contains("more than one statement"), "{stderr}");
    assert_eq!(query(db, &format!("select x from {table}")).rows, [["1"]]);

    // A trailing `;` and comments are one statement.
    assert_eq!(query(db, "select 1 as a; -- done\n").rows, [["1"]]);
});

// Hole 2 in compatible mode: a spliced value that ends its quotes and adds a statement is
// refused before anything is sent (it used to delete the rows on PostgreSQL although the run
// "failed").
backend_test!(a_spliced_statement_never_runs, |db: &TestDb| {
    let victim = db.table("victim");
    db.execute(&format!("create table {victim} (x int)"));
    db.execute(&format!("insert into {victim} values (1)"));
    // `interpolation` is a top-level key, before the sections `task_file` writes.
    let task = db.dir.write(
        "spliced.toml",
        &format!(
            "name = \"tests.spliced\"\nquery = \"select '{{{{ .inputs.v }}}}' as a\"\ninterpolation = \"compat\"\n\n[connection]\nuri = {}\n\n[[inputs]]\nname = \"v\"\ntype = \"string\"\n\n[output]\nkind = \"schema\"\n",
            toml_string(&db.url)
        ),
    );
    let value = format!("v=1'; delete from {victim}; select '1");
    let (out, output) = run_task(db, &task, &[&value]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(
        stderr.contains("more than one statement") && stderr.contains("`v`"),
        "{stderr}"
    );
    assert!(!out.exists());
    assert_eq!(count(db, &victim), "1");
});

// Hole 3: MySQL's describe step evaluated the select list (`nextval` returned 2 on a fresh
// sequence, `sleep(1)` took 2 s). No backend's describe step evaluates anything.
backend_test!(the_describe_step_evaluates_nothing, |db: &TestDb| {
    let sequence = db.table("seq");
    let (create, next, sleep) = match db.backend {
        // SQLite has no sequences and no sleep; its describe view is checked by the others.
        Backend::Sqlite => return,
        Backend::Postgres => (
            format!("create sequence {sequence}"),
            format!("select nextval('{sequence}') as v"),
            "select pg_sleep(1)::text as s",
        ),
        Backend::Mysql => (
            format!("create sequence {sequence}"),
            format!("select nextval({sequence}) as v"),
            "select sleep(1) as s",
        ),
    };
    db.execute(&create);
    let drop_sequence = format!("drop sequence {sequence}");
    assert_eq!(query(db, &next).rows, [["1"]]);
    assert_eq!(query(db, &next).rows, [["2"]]);
    db.execute(&drop_sequence);
    let started = Instant::now();
    query(db, sleep);
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(1900),
        "sleep(1) took {elapsed:?}: it ran twice"
    );
});

// Hole 4: a `?` inside a MySQL `#` comment shifted the bind numbering and panicked the process
// (exit 101 in diesel); every dialect's comments hide markers.
backend_test!(markers_in_comments_are_not_binds, |db: &TestDb| {
    let comment = match db.backend {
        Backend::Mysql => "# why?",
        Backend::Sqlite | Backend::Postgres => "-- why? $1 :x",
    };
    let task = db.task_file(
        "comment",
        // The comment comes before the bind, so that a lexer blind to it numbers the binds wrong.
        &format!("select 'a?' as w {comment}\n, {{{{ .inputs.n }}}} as v"),
        "kind = \"schema\"",
        "[[inputs]]\nname = \"n\"\ntype = \"integer\"\n",
    );
    let (out, output) = run_task(db, &task, &["n=5"]);
    stdout_of_success(&output);
    assert_eq!(read_table(&only_output(&out)).rows, [["a?", "5"]]);

    // A marker of the user's own in code is refused with its reason, never bound wrongly.
    let own = match db.backend {
        Backend::Postgres => "$1",
        Backend::Sqlite | Backend::Mysql => "?",
    };
    let task = db.task_file(
        "own",
        &format!("select {{{{ .inputs.n }}}} as v, {own} as w"),
        "kind = \"schema\"",
        "[[inputs]]\nname = \"n\"\ntype = \"integer\"\n",
    );
    let (_, output) = run_task(db, &task, &["n=5"]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(stderr.contains("bind parameter marker"), "{stderr}");

    // Compatible mode binds nothing: a marker spliced in by a value is refused before anything
    // is sent (diesel's MySQL client crashed the process on a marker without a value).
    let task = db.dir.write(
        "spliced_marker.toml",
        &format!(
            "name = \"tests.spliced_marker\"\nquery = \"select {{{{ .inputs.v }}}} as a\"\ninterpolation = \"compat\"\n\n[connection]\nuri = {}\n\n[[inputs]]\nname = \"v\"\ntype = \"string\"\n\n[output]\nkind = \"schema\"\n",
            toml_string(&db.url)
        ),
    );
    let value = format!("v={own}");
    let (_, output) = run_task(db, &task, &[&value]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(
        stderr.contains("bind parameter marker") && stderr.contains("`v`"),
        "{stderr}"
    );
});

// Empty results keep their column types on every backend, the same schema as with rows, also
// for a query that ends in a comment (MySQL used to fall back to a file without columns).
backend_test!(empty_results_keep_their_types, |db: &TestDb| {
    let (columns, comment) = match db.backend {
        Backend::Sqlite => ("cast(1 as integer) as a, cast('x' as text) as b", "-- end"),
        Backend::Postgres => ("1::bigint as a, 'x'::text as b", "-- end"),
        Backend::Mysql => ("cast(1 as signed) as a, cast('x' as char) as b", "# end"),
    };
    let full = query(db, &format!("select {columns} {comment}"));
    let empty = query(
        db,
        &format!("select {columns} from (select 1 as z) t where 1 = 0 {comment}"),
    );
    // MariaDB types `CAST(1 AS SIGNED)` as `int(2)`.
    let integer = match db.backend {
        Backend::Mysql => "a: Int32",
        Backend::Sqlite | Backend::Postgres => "a: Int64",
    };
    assert_eq!(full.schema, [integer, "b: Utf8"]);
    assert!(empty.rows.is_empty());
    assert_eq!(empty.schema, full.schema);
});

// A PostgreSQL session in `default_transaction_read_only` still describes (its describe view
// is made in a read-write transaction that is rolled back), so an empty result keeps its types.
#[test]
fn postgres_read_only_sessions_describe() {
    let Some(db) = TestDb::new(Backend::Postgres, "postgres_read_only_sessions_describe") else {
        return;
    };
    let separator = if db.url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{separator}options=-c%20default_transaction_read_only%3Don",
        db.url
    );
    let out = db.dir.join(&format!("out-{}", unique()));
    stdout_of_success(&db.run([
        "run",
        "--uri",
        &url,
        "--query",
        "select 1::bigint as a where false",
        "--out",
        out.to_str().expect("UTF-8"),
    ]));
    let table = read_table(&only_output(&out));
    assert_eq!(table.schema, ["a: Int64"]);
    assert!(table.rows.is_empty());
}
