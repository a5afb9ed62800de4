//! SQLite's faults through `flyte-sql run`: a locked database, a file that is not a database, a
//! statement timeout on a slow query, text that is not UTF-8, and duplicate column names (on
//! every backend, since the others refuse them too).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flyte_sql_tests::{TestDb, backend_test, stderr_of_failure, stdout_of_success};

use crate::run::{query, run_task};

/// A python3 child holding `BEGIN EXCLUSIVE` on the database at `path` until it is dropped.
struct ExclusiveLock {
    child: Child,
}

impl ExclusiveLock {
    fn hold(path: &std::path::Path) -> ExclusiveLock {
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import sqlite3, sys\n\
                 db = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
                 db.execute('BEGIN EXCLUSIVE')\n\
                 print('locked', flush=True)\n\
                 sys.stdin.read()\n",
            ])
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting python3 (the lock holder)");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("piped stdout"))
            .read_line(&mut line)
            .expect("reading from the lock holder");
        assert_eq!(line.trim(), "locked", "the lock holder took its lock");
        ExclusiveLock { child }
    }
}

impl Drop for ExclusiveLock {
    fn drop(&mut self) {
        // Closing its stdin ends the holder, which rolls back.
        drop(self.child.stdin.take().map(|mut stdin| stdin.flush()));
        let _ = self.child.wait();
    }
}

fn sqlite_db(name: &str) -> TestDb {
    TestDb::new(flyte_sql_tests::Backend::Sqlite, name).expect("SQLite is always available")
}

/// The task's busy timeout holds, and the error is SQLite's own, once, as a system fault that a
/// retry may fix (exit 1): not a 30 s pool timeout wrapping a connection check.
#[test]
fn a_locked_database_fails_after_the_busy_timeout_with_its_own_error() {
    let db = sqlite_db("locked");
    db.execute("create table t (x int)");
    db.execute("insert into t values (1)");
    let _lock = ExclusiveLock::hold(&db.dir.join("test.db"));
    let task = db.task_file(
        "locked",
        "select x from t",
        "kind = \"schema\"",
        "connect_args = { timeout = 1 }",
    );
    let started = Instant::now();
    let (out, output) = run_task(&db, &task, &[]);
    let elapsed = started.elapsed();
    let stderr = stderr_of_failure(&output, 1);
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(10),
        "took {elapsed:?}: {stderr}"
    );
    assert_eq!(
        stderr.matches("database is locked").count(),
        1,
        "the database's error, once: {stderr}"
    );
    assert!(
        !stderr.contains("no database connection available"),
        "{stderr}"
    );
    assert!(!out.exists() || std::fs::read_dir(&out).expect("out").count() == 0);
}

/// A file that is not a database fails at once, as the user's fault (exit 2).
#[test]
fn a_file_that_is_not_a_database_is_a_user_error_at_once() {
    let db = sqlite_db("not-a-database");
    std::fs::write(
        db.dir.join("test.db"),
        "this is a text file, not a SQLite database: it is long enough to have a header\n"
            .repeat(20),
    )
    .expect("writing the file");
    let started = Instant::now();
    let output = db.run(["run", "--uri", &db.url, "--query", "select 1"]);
    let elapsed = started.elapsed();
    let stderr = stderr_of_failure(&output, 2);
    assert!(
        elapsed < Duration::from_secs(5),
        "took {elapsed:?}: {stderr}"
    );
    assert!(stderr.contains("file is not a database"), "{stderr}");
}

/// A query whose rows come slowly stops at the statement timeout, not a batch of rows later.
#[test]
fn the_statement_timeout_stops_a_slow_query_between_rows() {
    let db = sqlite_db("slow-query");
    // One row per million steps of a recursive CTE: tens of rows a second.
    let slow = "with recursive c(n) as (select 1 union all select n + 1 from c where n < 200000000) \
                select n from c where n % 1000000 = 0";
    let task = db.task_file(
        "slow",
        slow,
        "kind = \"schema\"",
        "connect_args = { statement_timeout = 1 }",
    );
    let started = Instant::now();
    let (out, output) = run_task(&db, &task, &[]);
    let elapsed = started.elapsed();
    let stderr = stderr_of_failure(&output, 1);
    assert!(stderr.contains("statement timeout"), "{stderr}");
    assert!(
        elapsed < Duration::from_secs(4),
        "took {elapsed:?}: {stderr}"
    );
    assert!(!out.exists() || std::fs::read_dir(&out).expect("out").count() == 0);
}

/// Text that is not UTF-8 is an error naming the column and the row, with the cast that reads
/// it as bytes; the cast works.
#[test]
fn text_that_is_not_utf8_is_refused_with_the_cast_that_reads_it() {
    let db = sqlite_db("invalid-utf8");
    db.execute("create table t (id int, label text)");
    db.execute(
        "insert into t values (1, 'fine'), (2, 'also fine \u{FFFD} by itself'), (3, CAST(x'66ff6f' AS TEXT))",
    );
    let output = db.run([
        "run",
        "--uri",
        &db.url,
        "--query",
        "select id, label from t order by id",
    ]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(stderr.contains("column `label`, row 3"), "{stderr}");
    assert!(stderr.contains("not valid UTF-8"), "{stderr}");
    assert!(stderr.contains("CAST(label AS BLOB)"), "{stderr}");

    let table = query(
        &db,
        "select id, CAST(label AS BLOB) as label from t order by id",
    );
    assert_eq!(table.schema, ["id: Int64", "label: Binary"]);
    assert_eq!(table.rows.len(), 3);
}

// Two result columns with one name are refused on every backend (SQLite's describe step would
// otherwise rename the second one `a:1`).
backend_test!(duplicate_column_names_are_refused, |db: &TestDb| {
    let output = db.run(["run", "--uri", &db.url, "--query", "select 1 as a, 2 as a"]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(
        stderr.contains("the query returns two columns named `a`"),
        "{stderr}"
    );
    // Distinct names are fine, including one that looks like SQLite's renaming.
    let table = query(db, "select 1 as a, 2 as \"b:1\"");
    assert_eq!(table.rows.len(), 1);
    stdout_of_success(&db.run(["run", "--uri", &db.url, "--query", "select 1 as a"]));
});
