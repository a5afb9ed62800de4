//! Helpers for the end-to-end tests in `e2e/`: a unique temporary directory per test, a runner for
//! the `flyte-sql` binary, and the database URLs of the backends under test.
//!
//! The binary is the one `cargo test --workspace` builds next to this test binary
//! (`target/<profile>/flyte-sql`); set `FLYTE_SQL_BIN` to test another one.

pub mod stores;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary directory that lives as long as the test that made it.
#[derive(Debug)]
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    /// A fresh, empty directory named after the test.
    pub fn new(test_name: &str) -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("flyte-sql-{test_name}-"))
            .tempdir()
            .expect("creating a temporary directory");
        TestDir { dir }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the directory.
    pub fn join(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes a file inside the directory and returns its path.
    pub fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("creating the file's directory");
        }
        std::fs::write(&path, contents).expect("writing a test file");
        path
    }

    /// A `flyte-sql` command that runs inside this directory.
    pub fn cli(&self) -> Command {
        let mut command = Command::new(flyte_sql_binary());
        command.current_dir(self.path());
        command
    }
}

/// The path of the `flyte-sql` binary under test; panics with what to do when it is not built.
pub fn flyte_sql_binary() -> PathBuf {
    let binary = expected_binary_path();
    assert!(
        binary.exists(),
        "{} does not exist: run the tests with `cargo test --workspace`, which builds it, or set FLYTE_SQL_BIN",
        binary.display()
    );
    binary
}

/// Where the binary under test should be: `FLYTE_SQL_BIN`, or next to this test binary's
/// `deps` directory (`target/<profile>/flyte-sql`).
fn expected_binary_path() -> PathBuf {
    if let Some(path) = std::env::var_os("FLYTE_SQL_BIN") {
        return PathBuf::from(path);
    }
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test_binary
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    profile_dir.join(format!("flyte-sql{}", std::env::consts::EXE_SUFFIX))
}

/// Runs `flyte-sql` with the arguments in `dir` and returns what it printed and its status.
pub fn run<I, S>(dir: &TestDir, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    dir.cli().args(args).output().expect("starting flyte-sql")
}

/// The standard output of a run that must have succeeded; panics with both streams otherwise.
pub fn stdout_of_success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "flyte-sql failed with {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

/// The standard error of a run that must have failed with `code`; panics otherwise.
pub fn stderr_of_failure(output: &Output, code: i32) -> String {
    assert_eq!(
        output.status.code(),
        Some(code),
        "expected exit code {code}\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// A database the end-to-end tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's directory: always available.
    Sqlite,
    /// The server in `FLYTE_SQL_TEST_POSTGRES` (e.g. `postgres://postgres@127.0.0.1:5432/test`).
    Postgres,
    /// The server in `FLYTE_SQL_TEST_MYSQL` (e.g. `mysql://root@127.0.0.1:3306/test`).
    Mysql,
}

impl Backend {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }

    /// The variable holding the server URL, `None` for SQLite.
    pub fn url_variable(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some("FLYTE_SQL_TEST_POSTGRES"),
            Backend::Mysql => Some("FLYTE_SQL_TEST_MYSQL"),
        }
    }
}

/// Set to `1` (as `.ci/run` does) to make a missing server URL a failure instead of a skip.
pub const REQUIRE_ALL_VARIABLE: &str = "FLYTE_SQL_TEST_REQUIRE_ALL";

/// A database for one test: its URL, a directory to run `flyte-sql` in, and tables with names
/// unique to the test (so tests run in parallel against one server), dropped when it ends.
#[derive(Debug)]
pub struct TestDb {
    /// The backend.
    pub backend: Backend,
    /// The URL to hand to `flyte-sql`.
    pub url: String,
    /// The test's directory (the working directory of every run).
    pub dir: TestDir,
    suffix: String,
    tables: std::cell::RefCell<Vec<String>>,
}

impl TestDb {
    /// The database of `backend` for the test `name`, or `None` (with a message on stderr) when
    /// the backend's server is not configured and `FLYTE_SQL_TEST_REQUIRE_ALL` is not `1`.
    pub fn new(backend: Backend, name: &str) -> Option<TestDb> {
        let dir = TestDir::new(&format!("{name}-{}", backend.name()));
        let url = match backend.url_variable() {
            None => format!("sqlite:///{}", dir.join("test.db").display()),
            Some(variable) => match std::env::var(variable) {
                Ok(url) if !url.is_empty() => url,
                _ => {
                    assert!(
                        std::env::var(REQUIRE_ALL_VARIABLE).as_deref() != Ok("1"),
                        "{variable} is not set but {REQUIRE_ALL_VARIABLE}=1 requires every backend"
                    );
                    // A skipped backend must show in the test output: written to the process's
                    // stderr directly, which the test harness does not capture.
                    let _ = std::io::Write::write_all(
                        &mut std::io::stderr(),
                        format!(
                            "skipping {name} on {}: set {variable} to run it\n",
                            backend.name()
                        )
                        .as_bytes(),
                    );
                    return None;
                }
            },
        };
        if backend == Backend::Sqlite {
            std::fs::File::create(dir.join("test.db")).expect("creating the SQLite database");
        }
        let suffix = format!("{}_{}", std::process::id(), unique_number());
        Some(TestDb {
            backend,
            url,
            dir,
            suffix,
            tables: std::cell::RefCell::new(Vec::new()),
        })
    }

    /// A table name unique to this test run, dropped when the test ends.
    pub fn table(&self, base: &str) -> String {
        let name = format!("{base}_{}", self.suffix);
        self.tables.borrow_mut().push(name.clone());
        name
    }

    /// Runs one statement without output through `flyte-sql run`; panics when it fails.
    pub fn execute(&self, sql: &str) {
        let output = self.try_execute(sql);
        stdout_of_success(&output);
    }

    /// Runs one statement without output through `flyte-sql run` and returns what happened.
    pub fn try_execute(&self, sql: &str) -> Output {
        let task = self.task_file("statement", sql, "kind = \"none\"", "");
        run(&self.dir, [std::ffi::OsStr::new("run"), task.as_os_str()])
    }

    /// Writes a task file with the given query, `[output]` body and extra TOML (inputs, extra
    /// output columns) and returns its path.
    pub fn task_file(&self, name: &str, query: &str, output: &str, extra: &str) -> PathBuf {
        let text = format!(
            "name = \"tests.{name}\"\nquery = {}\n\n[connection]\nuri = {}\n\n{extra}\n[output]\n{output}\n",
            toml_string(query),
            toml_string(&self.url),
        );
        self.dir
            .write(&format!("{name}_{}.toml", unique_number()), &text)
    }

    /// Runs `flyte-sql` in the test's directory.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run(&self.dir, args)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.backend == Backend::Sqlite {
            return;
        }
        // Best effort, and never a panic (this may run while a failed test unwinds): a table that
        // cannot be dropped stays behind under its unique name.
        let binary = expected_binary_path();
        if !binary.exists() {
            return;
        }
        for table in self.tables.borrow().iter() {
            let task = self.task_file(
                "cleanup",
                &format!("DROP TABLE IF EXISTS {table}"),
                "kind = \"none\"",
                "",
            );
            let _ = Command::new(&binary)
                .current_dir(self.dir.path())
                .arg("run")
                .arg(task)
                .output();
        }
    }
}

/// A TOML basic string holding `text`.
pub fn toml_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn unique_number() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Defines one test per backend (`NAME::sqlite`, `NAME::postgres`, `NAME::mysql`) running the
/// body with that backend's [`TestDb`]; server backends without a configured URL are skipped
/// with a message, unless `FLYTE_SQL_TEST_REQUIRE_ALL=1`.
///
/// ```text
/// backend_test!(counts_rows, |db: &TestDb| {
///     let table = db.table("t");
///     db.execute(&format!("create table {table} (x int)"));
/// });
/// ```
#[macro_export]
macro_rules! backend_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body(db: &$crate::TestDb) {
                let body: fn(&$crate::TestDb) = $body;
                body(db);
            }

            #[test]
            fn sqlite() {
                if let Some(db) = $crate::TestDb::new($crate::Backend::Sqlite, stringify!($name)) {
                    body(&db);
                }
            }

            #[test]
            fn postgres() {
                if let Some(db) = $crate::TestDb::new($crate::Backend::Postgres, stringify!($name))
                {
                    body(&db);
                }
            }

            #[test]
            fn mysql() {
                if let Some(db) = $crate::TestDb::new($crate::Backend::Mysql, stringify!($name)) {
                    body(&db);
                }
            }
        }
    };
}
