//! PostgreSQL through rust-postgres (issues 8 and 11): a describe step that prepares the
//! statement and writes nothing, faults classified by SQLSTATE and by the client's own
//! connection failures, and text values exported byte for byte.
//!
//! Each test here failed on the libpq backend it replaced: its describe step made a temporary
//! view (impossible for a data-modifying `WITH`, skipped on a standby), it classified faults by
//! words in messages (`password-db` was "bad credentials", a lock timeout a user error), and it
//! refused text with control characters.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use flyte_sql_tests::{Backend, TestDb, flyte_sql_binary, stderr_of_failure, stdout_of_success};

use crate::run::{assert_no_output, only_output, query, read_table, run_task, unique};

fn postgres(name: &str) -> Option<TestDb> {
    TestDb::new(Backend::Postgres, name)
}

/// The test server's URL with `options` (libpq's `-c name=value` server settings) added.
fn with_options(db: &TestDb, options: &str) -> String {
    let separator = if db.url.contains('?') { '&' } else { '?' };
    let encoded = options
        .replace(' ', "%20")
        .replace('=', "%3D")
        .replace(',', "%2C");
    format!("{}{separator}options={encoded}", db.url)
}

/// `flyte-sql run --uri URL --query SQL` into a fresh directory; the directory and the output.
fn run_query(db: &TestDb, url: &str, sql: &str) -> (std::path::PathBuf, Output) {
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

/// Drops a schema the test made, also when the test fails.
struct SchemaGuard<'a> {
    db: &'a TestDb,
    name: String,
}

impl Drop for SchemaGuard<'_> {
    fn drop(&mut self) {
        let _ = self
            .db
            .try_execute(&format!("drop schema if exists {} cascade", self.name));
    }
}

// A data-modifying WITH cannot become a view, so the libpq backend's describe step gave up and
// an empty result had no columns at all. Preparing describes it without running it.
#[test]
fn a_data_modifying_with_describes_its_empty_result() {
    let Some(db) = postgres("pg_data_modifying_with") else {
        return;
    };
    let table = db.table("pg_cte");
    db.execute(&format!("create table {table} (id int8, name text)"));
    db.execute(&format!("insert into {table} values (1, 'kept')"));
    let empty = query(
        &db,
        &format!(
            "with gone as (delete from {table} where id < 0 returning id, name) select id, name from gone"
        ),
    );
    assert_eq!(empty.schema, ["id: Int64", "name: Utf8"]);
    assert!(empty.rows.is_empty());
    // Describing deleted nothing and the query ran once.
    let rows = query(&db, &format!("select count(*)::int8 as n from {table}"));
    assert_eq!(rows.rows, [["1"]]);
}

// The libpq backend asked `pg_is_in_recovery()` and, on a standby, typed columns by their values
// only, so an empty result lost its types. A session whose `search_path` finds a
// `pg_is_in_recovery()` that says true is how that backend saw a hot standby; the session is also
// read-only, as a standby's is. Preparing needs neither a write nor a question.
#[test]
fn a_standby_like_read_only_session_describes_empty_results() {
    let Some(db) = postgres("pg_standby_like") else {
        return;
    };
    let schema = format!("flyte_sql_standby_{}_{}", std::process::id(), unique());
    db.execute(&format!("create schema {schema}"));
    let _guard = SchemaGuard {
        db: &db,
        name: schema.clone(),
    };
    db.execute(&format!(
        "create function {schema}.pg_is_in_recovery() returns boolean language sql as 'select true'"
    ));
    let url = with_options(
        &db,
        &format!("-c default_transaction_read_only=on -c search_path={schema},pg_catalog"),
    );
    let (out, output) = run_query(
        &db,
        &url,
        "select 1::int8 as a, 'x'::text as b, 2.50::numeric(6,2) as c where false",
    );
    stdout_of_success(&output);
    let table = read_table(&only_output(&out));
    assert_eq!(table.schema, ["a: Int64", "b: Utf8", "c: Decimal128(6, 2)"]);
    assert!(table.rows.is_empty());
}

// Every value a text column can store comes out unchanged: all of chr(1)..chr(31) (chr(0) cannot
// be stored), alone and inside other text. The libpq backend refused bytes below 0x20.
#[test]
fn control_characters_round_trip() {
    let Some(db) = postgres("pg_control_characters") else {
        return;
    };
    let table = query(
        &db,
        "select i, chr(i) as c, 'a' || chr(i) || 'b' as w, chr(i)::varchar(3) as v from generate_series(1, 31) i order by i",
    );
    assert_eq!(table.schema, ["i: Int32", "c: Utf8", "w: Utf8", "v: Utf8"]);
    assert_eq!(table.rows.len(), 31);
    for (row, code) in table.rows.iter().zip(1_u8..) {
        let c = char::from(code).to_string();
        assert_eq!(row, &[code.to_string(), c.clone(), format!("a{c}b"), c]);
    }
    let joined = query(
        &db,
        "select string_agg(chr(i), '' order by i) as v from generate_series(1, 31) i",
    );
    let expected: String = (1_u8..32).map(char::from).collect();
    assert_eq!(joined.rows, [[expected]]);
}

// A query without binds streams through `COPY (query) TO STDOUT (FORMAT binary)`, one with
// binds through the extended protocol: both give the same Parquet, values and types, for every
// kind of query COPY takes (a trailing comment, a CTE, VALUES, TABLE), and a statement COPY
// does not take (SHOW) still runs as written.
#[test]
fn copy_and_bound_queries_give_the_same_table() {
    let Some(db) = postgres("pg_copy_path") else {
        return;
    };
    let table = db.table("pg_copy");
    db.execute(&format!(
        "create table {table} (id int8, small int2, n numeric(12, 3), f float4, b bool, t text, \
         d date, ts timestamp, tz timestamptz, u uuid, j jsonb, bytes bytea, iv interval)"
    ));
    db.execute(&format!(
        "insert into {table} select i, (i % 100)::int2, i * 1.125, i / 4.0, i % 2 = 0, \
         case when i % 5 = 0 then null else repeat(chr(1) || 'é''x', i % 7) end, \
         date '2000-01-01' + i, timestamp '1999-12-31 23:59:59.5' + i * interval '1 minute', \
         timestamptz '2024-01-01 00:00+02' + i * interval '1 hour', \
         md5(i::text)::uuid, jsonb_build_object('i', i), decode(md5(i::text), 'hex'), \
         i * interval '1 day 1 second' from generate_series(1, 20000) i"
    ));
    let select = format!("select * from {table} order by id");
    let copied = query(&db, &format!("{select} -- a comment without a newline"));
    assert_eq!(copied.rows.len(), 20000);
    let task = db.task_file(
        "bound",
        &format!("select * from {table} where id > {{{{ .inputs.n }}}} order by id"),
        "kind = \"schema\"",
        "[[inputs]]\nname = \"n\"\ntype = \"integer\"\n",
    );
    let (out, output) = run_task(&db, &task, &["n=0"]);
    stdout_of_success(&output);
    let bound = read_table(&only_output(&out));
    assert_eq!(bound.schema, copied.schema);
    assert_eq!(bound.rows, copied.rows);
    let with = query(
        &db,
        &format!("/* report */ WITH x AS ({select}) select * from x order by id"),
    );
    assert_eq!(with.rows, copied.rows);
    let values = query(&db, "values (1::int8, 'a'), (null, null)");
    assert_eq!(values.rows, [["1", "a"], ["NULL", "NULL"]]);
    assert_eq!(query(&db, &format!("table {table}")).rows.len(), 20000);
    assert_eq!(query(&db, "show timezone").schema, ["TimeZone: Utf8"]);
}

// A COPY that fails part way (a division by zero at row 5000) is the server's error, classified
// as any other (a user error), and leaves no output. (The statement timeout stopping a COPY is
// `run.rs`'s `the_statement_timeout_cancels_long_queries`, a connection killed mid-COPY
// `execute.rs`'s `a_connection_killed_mid_query_is_recoverable`.)
#[test]
fn a_copy_failing_part_way_leaves_nothing() {
    let Some(db) = postgres("pg_copy_failure") else {
        return;
    };
    let (out, output) = run_query(
        &db,
        &db.url,
        "select i, 1 / (5000 - i) as q from generate_series(1, 100000) i",
    );
    let stderr = stderr_of_failure(&output, 2);
    assert!(
        stderr.contains("division by zero") && stderr.contains("22012"),
        "{stderr}"
    );
    assert_no_output(&out);
}

/// A database for one test, made and dropped with `psql` (`CREATE DATABASE` cannot run in the
/// transaction `flyte-sql` runs statements in).
struct DatabaseGuard {
    admin_url: String,
    name: String,
}

impl DatabaseGuard {
    fn create(db: &TestDb, name: &str, options: &str) -> DatabaseGuard {
        let guard = DatabaseGuard {
            admin_url: db.url.clone(),
            name: format!("{name}_{}", std::process::id()),
        };
        guard.psql(&format!("drop database if exists {}", guard.name));
        guard.psql(&format!("create database {} {options}", guard.name));
        guard
    }

    /// The test server's URL with this database in it.
    fn url(&self) -> String {
        let (address, parameters) = match self.admin_url.split_once('?') {
            Some((address, parameters)) => (address, format!("?{parameters}")),
            None => (self.admin_url.as_str(), String::new()),
        };
        let server = address
            .rsplit_once('/')
            .map_or(address, |(server, _)| server);
        format!("{server}/{}{parameters}", self.name)
    }

    fn psql(&self, sql: &str) {
        let output = Command::new("psql")
            .arg(&self.admin_url)
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("psql (the PostgreSQL client) makes this test's database: install it");
        assert!(
            output.status.success(),
            "psql -c {sql:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.admin_url)
            .args(["-c", &format!("drop database if exists {}", self.name)])
            .output();
    }
}

// Text in a SQL_ASCII database need not be UTF-8, but the client asks for UTF-8 and the server
// checks what it sends: a value that is not UTF-8 stops the query (22021), part way through the
// rows, as the user's error, and nothing is written. (flyte-sql checks text a batch at a time
// as well, which the builder's unit tests cover: no server here sends it such text.)
#[test]
fn text_a_sql_ascii_database_cannot_send_as_utf8_is_the_users_error() {
    let Some(db) = postgres("pg_not_utf8") else {
        return;
    };
    let database = DatabaseGuard::create(
        &db,
        "flyte_sql_ascii",
        "encoding 'SQL_ASCII' locale 'C' template template0",
    );
    let (out, output) = run_query(
        &db,
        &database.url(),
        "select i, case when i = 10000 then E'caf\\xe9' else 'caf\u{e9}' end as label from generate_series(1, 20000) i",
    );
    let stderr = stderr_of_failure(&output, 2);
    assert!(
        stderr.contains("invalid byte sequence") && stderr.contains("22021"),
        "{stderr}"
    );
    assert_no_output(&out);
}

// `void` (pg_sleep's result) is a column of nulls, typed Null, rather than an unmappable type.
#[test]
fn void_columns_are_null_columns() {
    let Some(db) = postgres("pg_void") else {
        return;
    };
    let table = query(&db, "select pg_sleep(0) as slept, 1::int4 as n");
    assert_eq!(table.schema, ["slept: Null", "n: Int32"]);
    assert_eq!(table.rows, [["<Null>", "1"]]);
}

/// Starts `flyte-sql run` on a query in the background.
fn spawn_query(db: &TestDb, url: &str, sql: &str) -> std::process::Child {
    let out = db.dir.join(&format!("out-{}", unique()));
    Command::new(flyte_sql_binary())
        .current_dir(db.dir.path())
        .args(["run", "--uri", url, "--query", sql, "--out"])
        .arg(out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting flyte-sql")
}

/// Waits until `sql` (a one-row boolean query) says true.
fn wait_for(db: &TestDb, sql: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if query(db, sql).rows == [["true"]] {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {sql}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

// A lock timeout (SQLSTATE 55P03) is a passing conflict: a system error, exit code 1. The
// libpq backend matched words and called it a user error (exit 2).
#[test]
fn a_lock_timeout_is_a_system_error() {
    let Some(db) = postgres("pg_lock_timeout") else {
        return;
    };
    let table = db.table("pg_locked");
    db.execute(&format!("create table {table} (x int)"));
    db.execute(&format!("insert into {table} values (1)"));
    let holder_name = format!("flyte_sql_holder_{}_{}", std::process::id(), unique());
    let holder_url = format!(
        "{}{}application_name={holder_name}",
        db.url,
        if db.url.contains('?') { '&' } else { '?' }
    );
    let holder = spawn_query(
        &db,
        &holder_url,
        &format!("select pg_sleep(4)::text as s from (select x from {table} for update) l"),
    );
    wait_for(
        &db,
        &format!(
            "select count(*) > 0 as held from pg_stat_activity where application_name = '{holder_name}' and wait_event = 'PgSleep'"
        ),
    );
    let url = with_options(&db, "-c lock_timeout=200");
    let (out, output) = run_query(&db, &url, &format!("select x from {table} for update"));
    let stderr = stderr_of_failure(&output, 1);
    assert!(stderr.contains("55P03"), "{stderr}");
    assert_no_output(&out);
    let holder = holder.wait_with_output().expect("the lock holder ends");
    stdout_of_success(&holder);
}

// A query cancelled by an operator (pg_cancel_backend, SQLSTATE 57014) is a system error.
#[test]
fn a_cancelled_query_is_a_system_error() {
    let Some(db) = postgres("pg_cancelled") else {
        return;
    };
    let name = format!("flyte_sql_cancelled_{}_{}", std::process::id(), unique());
    let url = format!(
        "{}{}application_name={name}",
        db.url,
        if db.url.contains('?') { '&' } else { '?' }
    );
    let victim = spawn_query(&db, &url, "select pg_sleep(20)::text as s");
    wait_for(
        &db,
        &format!(
            "select bool_or(pg_cancel_backend(pid)) is true as cancelled from pg_stat_activity where application_name = '{name}' and wait_event = 'PgSleep'"
        ),
    );
    let output = victim.wait_with_output().expect("the cancelled run ends");
    let stderr = stderr_of_failure(&output, 1);
    assert!(stderr.contains("57014"), "{stderr}");
}

// A host name that does not resolve is a transient connection failure (exit 1), whatever the
// name says: the libpq backend called `password-db` bad credentials because of "password".
#[test]
fn unresolvable_hosts_are_system_errors_whatever_their_name() {
    // No server is needed, but the build must have the backend: the test runs where the other
    // PostgreSQL tests do.
    let Some(db) = postgres("pg_unresolvable") else {
        return;
    };
    for host in ["password-db", "nohost-xyz"] {
        let output = db.run([
            "run",
            "--uri",
            &format!("postgresql://user:hunter2@{host}:5432/db"),
            "--query",
            "select 1",
        ]);
        let stderr = stderr_of_failure(&output, 1);
        assert!(stderr.contains(host), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}

// A role or a database that does not exist is the user's to fix (exit 2), with the server's
// SQLSTATE.
#[test]
fn unknown_roles_and_databases_are_user_errors() {
    let Some(db) = postgres("pg_bad_login") else {
        return;
    };
    let (scheme, rest) = db.url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').expect("a database in the URL");
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let database = path.split('?').next().unwrap_or(path);
    for (url, code) in [
        (
            format!("{scheme}://flyte_sql_no_such_role:pw@{host}/{database}"),
            "28000",
        ),
        (
            format!("{scheme}://{authority}/flyte_sql_no_such_db"),
            "3D000",
        ),
    ] {
        let (out, output) = run_query(&db, &url, "select 1 as x");
        let stderr = stderr_of_failure(&output, 2);
        assert!(stderr.contains(code), "{url}: {stderr}");
        assert_no_output(&out);
    }
}

// libpq keywords rust-postgres cannot honour are refused by name before connecting.
#[test]
fn keywords_without_an_equivalent_are_refused() {
    let Some(db) = postgres("pg_refused_keywords") else {
        return;
    };
    let separator = if db.url.contains('?') { '&' } else { '?' };
    for keyword in ["service=prod", "krbsrvname=pg", "gssencmode=require"] {
        let url = format!("{}{separator}{keyword}", db.url);
        let (_, output) = run_query(&db, &url, "select 1 as x");
        let stderr = stderr_of_failure(&output, 2);
        let name = keyword.split('=').next().expect("a keyword");
        assert!(
            stderr.contains(&format!("`{name}`")) && stderr.contains("not supported"),
            "{stderr}"
        );
    }
}

// TLS through rustls: `require` encrypts (the server says so), `verify-full` checks the
// certificate against `sslrootcert` and refuses one it cannot verify, as a user error.
#[test]
fn tls_modes_encrypt_and_verify() {
    let Some(db) = postgres("pg_tls") else {
        return;
    };
    let separator = if db.url.contains('?') { '&' } else { '?' };
    let ssl_on = query(&db, "select current_setting('ssl') = 'on' as ssl");
    if ssl_on.rows != [["true"]] {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"skipping tls_modes_encrypt_and_verify: the test server has ssl off\n",
        );
        return;
    }
    let url = format!("{}{separator}sslmode=require", db.url);
    let (out, output) = run_query(
        &db,
        &url,
        "select ssl as encrypted from pg_stat_ssl where pid = pg_backend_pid()",
    );
    stdout_of_success(&output);
    assert_eq!(read_table(&only_output(&out)).rows, [["true"]]);

    let url = format!("{}{separator}sslmode=disable", db.url);
    let (out, output) = run_query(
        &db,
        &url,
        "select ssl as encrypted from pg_stat_ssl where pid = pg_backend_pid()",
    );
    stdout_of_success(&output);
    assert_eq!(read_table(&only_output(&out)).rows, [["false"]]);

    // A numeric address alone names the server for TLS, as in libpq.
    let (scheme, rest) = db.url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').expect("a database in the URL");
    let user = authority.rsplit_once('@').map_or("", |(user, _)| user);
    let database = path.split('?').next().unwrap_or(path);
    let port = authority.rsplit_once(':').map_or("5432", |(_, port)| port);
    let url =
        format!("{scheme}://{user}@/{database}?hostaddr=127.0.0.1&port={port}&sslmode=require");
    let (out, output) = run_query(
        &db,
        &url,
        "select ssl as encrypted from pg_stat_ssl where pid = pg_backend_pid()",
    );
    stdout_of_success(&output);
    assert_eq!(read_table(&only_output(&out)).rows, [["true"]]);

    // A root file that did not sign the server's certificate: verification fails.
    let other_ca = db.dir.write("other-ca.pem", OTHER_CA);
    let url = format!(
        "{}{separator}sslmode=verify-full&sslrootcert={}",
        db.url,
        other_ca.display()
    );
    let (_, output) = run_query(&db, &url, "select 1 as x");
    let stderr = stderr_of_failure(&output, 2);
    assert!(stderr.contains("certificate"), "{stderr}");
}

/// A self-signed CA certificate that signed nothing the test server has.
const OTHER_CA: &str = include_str!("postgres_other_ca.pem");
