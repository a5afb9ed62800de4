//! Helpers for the end-to-end tests in `e2e/`: a unique temporary directory per test, a runner for
//! the `flyte-sql` binary, and the database URLs of the backends under test.
//!
//! The binary is the one `cargo test --workspace` builds next to this test binary
//! (`target/<profile>/flyte-sql`); set `FLYTE_SQL_BIN` to test another one.

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

/// The path of the `flyte-sql` binary under test.
pub fn flyte_sql_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FLYTE_SQL_BIN") {
        return PathBuf::from(path);
    }
    // Test binaries live in target/<profile>/deps; the binary sits one level up.
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test_binary
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let binary = profile_dir.join(format!("flyte-sql{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} does not exist: run the tests with `cargo test --workspace`, which builds it, or set FLYTE_SQL_BIN",
        binary.display()
    );
    binary
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
