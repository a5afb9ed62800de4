//! The MySQL/MariaDB backend through `flyte-sql run`: a describe step with no side effects
//! (issue 8), failures classified by the server's error numbers and the driver's own errors
//! (issue 11), and secret connect args that never reach a message.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use flyte_sql_tests::{Backend, TestDb, stderr_of_failure, stdout_of_success, toml_string};

use crate::run::{only_output, query, read_table, run_task, unique};

/// The MariaDB test database, or `None` (skipped) when `FLYTE_SQL_TEST_MYSQL` is not set.
fn mysql(name: &str) -> Option<TestDb> {
    TestDb::new(Backend::Mysql, name)
}

/// The test URL with its user and password replaced by `userinfo` and its database by
/// `database` (the host and port stay).
fn url_with(db: &TestDb, userinfo: &str, database: &str) -> String {
    let rest = db.url.strip_prefix("mysql://").expect("a mysql:// URL");
    let (authority, _) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("mysql://{userinfo}@{host}/{database}")
}

/// `flyte-sql run --uri URL --query SQL` into a fresh directory.
fn run_query(db: &TestDb, url: &str, sql: &str) -> (PathBuf, Output) {
    let out = db.dir.join(&format!("out-{}", unique()));
    let output = db.run([
        "run",
        "--uri",
        url,
        "--query",
        sql,
        "--out",
        out.to_str().expect("UTF-8"),
    ]);
    (out, output)
}

/// A task file whose `[connection]` has the extra TOML `connection` (connect args, secrets).
fn task_with_connection(
    db: &TestDb,
    name: &str,
    sql: &str,
    kind: &str,
    connection: &str,
) -> PathBuf {
    db.dir.write(
        &format!("{name}-{}.toml", unique()),
        &format!(
            "name = \"tests.{name}\"\nquery = {}\n\n[connection]\nuri = {}\n{connection}\n\n[output]\nkind = \"{kind}\"\n",
            toml_string(sql),
            toml_string(&db.url)
        ),
    )
}

// Preparing a statement runs nothing: `select sleep(2)` takes two seconds, not four (every
// temporary-table describe evaluated the select list on MariaDB).
#[test]
fn the_describe_step_does_not_run_the_query() {
    let Some(db) = mysql("describe_runs_nothing") else {
        return;
    };
    let started = Instant::now();
    let table = query(&db, "select sleep(2) as s");
    let elapsed = started.elapsed();
    assert_eq!(table.rows, [["0"]]);
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_millis(3500),
        "sleep(2) took {elapsed:?}"
    );
}

// A stored function with a side effect (it takes the next value of a sequence) runs exactly
// once per run, and so does `nextval()` itself. (A function body that inserts a row needs
// `;` between its statements, which a task refuses; the sequence shows the same thing.)
#[test]
fn functions_with_side_effects_run_once() {
    let Some(db) = mysql("functions_run_once") else {
        return;
    };
    let sequence = db.table("seq");
    db.execute(&format!("create sequence {sequence} nocache"));
    let function = format!("flyte_sql_bump_{}", unique_suffix());
    db.execute(&format!(
        "create function {function}() returns bigint modifies sql data return nextval({sequence})"
    ));
    let through_function = query(&db, &format!("select {function}() as v"));
    let direct = query(&db, &format!("select nextval({sequence}) as v"));
    let next = query(
        &db,
        &format!("select next_not_cached_value as v from {sequence}"),
    );
    db.execute(&format!("drop function {function}"));
    db.execute(&format!("drop sequence {sequence}"));
    assert_eq!(through_function.rows, [["1"]], "the function ran once");
    assert_eq!(direct.rows, [["2"]], "nextval ran once");
    assert_eq!(next.rows, [["3"]]);
}

fn unique_suffix() -> String {
    format!("{}_{}", std::process::id(), unique())
}

// The describe step creates nothing in the user's database, so a user who may only read still
// gets the columns and types of an empty result (the describe view needed CREATE VIEW; without
// it the result had no columns at all).
#[test]
fn a_read_only_user_describes_empty_results() {
    let Some(db) = mysql("read_only_user") else {
        return;
    };
    let table = db.table("readable");
    db.execute(&format!(
        "create table {table} (id bigint unsigned, price decimal(8,3), at datetime(6))"
    ));
    let user = format!("flyte_ro_{}", unique_suffix());
    let database = db
        .url
        .rsplit_once('/')
        .map(|(_, database)| database.split('?').next().unwrap_or(database).to_owned())
        .expect("a database in the URL");
    db.execute(&format!("create user '{user}'@'%' identified by 'ro-pass'"));
    db.execute(&format!("grant select on `{database}`.* to '{user}'@'%'"));
    let url = url_with(&db, &format!("{user}:ro-pass"), &database);
    let (out, output) = run_query(
        &db,
        &url,
        &format!("select id, price, at from {table} where id > 0 -- none yet"),
    );
    db.execute(&format!("drop user '{user}'@'%'"));
    stdout_of_success(&output);
    let result = read_table(&only_output(&out));
    assert!(result.rows.is_empty());
    assert_eq!(
        result.schema,
        ["id: UInt64", "price: Decimal128(8, 3)", "at: Timestamp(µs)"]
    );
    let views = query(
        &db,
        "select count(*) as n from information_schema.views where table_name like 'flyte\\_sql\\_describe\\_%'",
    );
    assert_eq!(views.rows, [["0"]], "no describe view anywhere");
}

// An empty result keeps its types, the same Arrow schema as with rows, also when the query ends
// in a comment.
#[test]
fn empty_results_ending_in_a_comment_keep_their_types() {
    let Some(db) = mysql("empty_comment") else {
        return;
    };
    let full = query(&db, "select 1 as a, 'x' as b from dual -- c");
    let empty = query(&db, "select 1 as a, 'x' as b from dual where 0 -- c");
    assert_eq!(full.rows, [["1", "x"]]);
    assert!(empty.rows.is_empty());
    assert_eq!(empty.schema, full.schema);
    assert_eq!(full.schema, ["a: Int32", "b: Utf8"]);
}

// Typed binds without declared columns: the column types come from the CASTs at the markers,
// with rows and without.
#[test]
fn binds_type_their_columns_with_and_without_rows() {
    let Some(db) = mysql("typed_binds") else {
        return;
    };
    let inputs = "[[inputs]]\nname = \"i\"\ntype = \"integer\"\n[[inputs]]\nname = \"s\"\ntype = \"string\"\n[[inputs]]\nname = \"ts\"\ntype = \"datetime\"\n[[inputs]]\nname = \"keep\"\ntype = \"integer\"\n";
    let task = db.task_file(
        "typed_binds",
        "select {{ .inputs.i }} as i, {{ .inputs.s }} as s, {{ .inputs.ts }} as ts from dual where {{ .inputs.keep }} = 1",
        "kind = \"schema\"",
        inputs,
    );
    let mut schemas = Vec::new();
    for keep in ["keep=1", "keep=0"] {
        let (out, output) = run_task(
            &db,
            &task,
            &["i=-7", "s=it's", "ts=2024-01-02T03:04:05.25Z", keep],
        );
        stdout_of_success(&output);
        let table = read_table(&only_output(&out));
        if keep == "keep=1" {
            assert_eq!(table.rows, [["-7", "it's", "2024-01-02 03:04:05.250"]]);
        } else {
            assert!(table.rows.is_empty());
        }
        schemas.push(table.schema);
    }
    assert_eq!(schemas[0], ["i: Int64", "s: Utf8", "ts: Timestamp(µs)"]);
    assert_eq!(schemas[1], schemas[0]);
}

// `init_command` is one prepared statement: a second statement in it never runs.
#[test]
fn init_command_runs_one_statement() {
    let Some(db) = mysql("init_command") else {
        return;
    };
    let table = db.table("init_victim");
    db.execute(&format!("create table {table} (x int)"));
    db.execute(&format!("insert into {table} values (1)"));
    let task = task_with_connection(
        &db,
        "init",
        "select 1 as a",
        "schema",
        &format!("connect_args = {{ init_command = \"set @a = 1; delete from {table}\" }}"),
    );
    let (_, output) = run_task(&db, &task, &[]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(
        stderr.contains("init_command failed") && stderr.contains("MySQL error 1064"),
        "{stderr}"
    );
    assert_eq!(
        query(&db, &format!("select count(*) as n from {table}")).rows,
        [["1"]]
    );

    // One statement works, and applies to the session.
    let task = task_with_connection(
        &db,
        "init_ok",
        "select @flyte_init as a",
        "schema",
        "connect_args = { init_command = \"set @flyte_init = 'on'\" }",
    );
    let (out, output) = run_task(&db, &task, &[]);
    stdout_of_success(&output);
    assert_eq!(read_table(&only_output(&out)).rows, [["on"]]);
}

// A lock wait timeout (error 1205) is the system's fault and worth a retry: exit code 1.
#[test]
fn a_lock_wait_timeout_is_a_system_error() {
    let Some(db) = mysql("lock_wait") else {
        return;
    };
    let table = db.table("locked");
    db.execute(&format!(
        "create table {table} (id int primary key, x int) engine=innodb"
    ));
    db.execute(&format!("insert into {table} values (1, 0)"));
    // The holder keeps row 1 locked for three seconds inside its transaction.
    let holder = db.task_file(
        "holder",
        &format!("update {table} set x = x + sleep(3) where id = 1"),
        "kind = \"none\"",
        "",
    );
    let mut holding = db
        .dir
        .cli()
        .args(["run", holder.to_str().expect("UTF-8")])
        .spawn()
        .expect("starting the lock holder");
    std::thread::sleep(Duration::from_millis(800));
    let waiter = task_with_connection(
        &db,
        "waiter",
        &format!("update {table} set x = 5 where id = 1"),
        "none",
        "connect_args = { init_command = \"set session innodb_lock_wait_timeout = 1\" }",
    );
    let (_, output) = run_task(&db, &waiter, &[]);
    let _ = holding.wait();
    let stderr = stderr_of_failure(&output, 1);
    assert!(stderr.contains("(MySQL error 1205)"), "{stderr}");
}

// A host name that does not resolve is a transient connection failure, whatever it is called
// (a host named like a password used to become a user error).
#[test]
fn unresolvable_hosts_are_system_errors() {
    let Some(db) = mysql("dns") else {
        return;
    };
    for host in ["password-db", "nohost-xyz"] {
        let url = format!("mysql://root@{host}:3306/test");
        let (out, output) = run_query(&db, &url, "select 1 as a");
        let stderr = stderr_of_failure(&output, 1);
        assert!(stderr.contains("cannot connect"), "{host}: {stderr}");
        assert!(!out.exists());
    }
}

// A wrong password (1045) and an unknown database (1049) are the user's to fix: exit code 2, the
// error number in the message, the password in none.
#[test]
fn bad_credentials_and_unknown_databases_are_user_errors() {
    let Some(db) = mysql("credentials") else {
        return;
    };
    let (_, output) = run_query(
        &db,
        &url_with(&db, "root:wrong-pw-4711", "test"),
        "select 1",
    );
    let stderr = stderr_of_failure(&output, 2);
    assert!(stderr.contains("(MySQL error 1045)"), "{stderr}");
    assert!(!stderr.contains("wrong-pw-4711"), "{stderr}");
    let userinfo = db
        .url
        .strip_prefix("mysql://")
        .and_then(|rest| rest.split_once('@'))
        .map_or("root", |(userinfo, _)| userinfo)
        .to_owned();
    let (_, output) = run_query(
        &db,
        &url_with(&db, &userinfo, "flyte_sql_no_such_database"),
        "select 1",
    );
    let stderr = stderr_of_failure(&output, 2);
    assert!(stderr.contains("(MySQL error 1049)"), "{stderr}");
}

// A secret connect arg with a value the backend refuses is named, never echoed.
#[test]
fn a_refused_secret_connect_arg_is_not_echoed() {
    let Some(db) = mysql("secret_charset") else {
        return;
    };
    let task = task_with_connection(
        &db,
        "secret_charset",
        "select 1 as a",
        "schema",
        "[connection.secret_connect_args.charset]\ngroup = \"db\"\nkey = \"charset\"",
    );
    let out = db.dir.join("out-secret");
    let output = db
        .dir
        .cli()
        .args(["run", task.to_str().expect("UTF-8"), "--out"])
        .arg(&out)
        .env("_FSEC_DB_CHARSET", "tiger123")
        .output()
        .expect("running flyte-sql");
    let stderr = stderr_of_failure(&output, 2);
    assert!(stderr.contains("connect arg `charset`"), "{stderr}");
    assert!(!stderr.contains("tiger123"), "{stderr}");
}

#[test]
fn a_database_name_with_underscores_is_used_as_written() {
    let Some(db) = mysql("underscore_database") else {
        return;
    };
    // diesel's URL form percent-encoded the name (`bench%5Fdb`), which the server then did not
    // know; the name must reach the server exactly as the URI decodes it.
    let name = format!("flyte_sql_{}", unique_suffix());
    db.execute(&format!("create database `{name}`"));
    let (out, output) = run_query(&db, &url_with(&db, "root", &name), "select database() as d");
    let outcome = output
        .status
        .success()
        .then(|| read_table(&only_output(&out)).rows);
    db.execute(&format!("drop database `{name}`"));
    assert_eq!(
        outcome,
        Some(vec![vec![name.clone()]]),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
