//! The binary under a hostile user and a hostile environment: closed and full output streams,
//! signals and full disks in the middle of a command, bad inputs, control characters in data,
//! oversized secrets and passwords written in clear (docs/cli.md says what each must do).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use flyte_sql_tests::{TestDir, run, stderr_of_failure, stdout_of_success, toml_string};

fn fixture_task() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/conformance/_flyte_sql_extra/package/tracks.toml")
}

/// A SQLite task of `rows` generated rows (about 400 bytes each), and its directory.
fn generated_rows_task(dir: &TestDir, rows: u64) -> PathBuf {
    File::create(dir.join("gen.db")).unwrap();
    let query = format!(
        "with recursive c(x) as (select 1 union all select x + 1 from c where x < {rows}) select x, hex(randomblob(200)) as s from c"
    );
    dir.write(
        "gen.toml",
        &format!(
            "name = \"hostile.gen\"\nquery = {}\n[connection]\nuri = {}\n[output]\nkind = \"schema\"\n",
            toml_string(&query),
            toml_string(&format!("sqlite:///{}", dir.join("gen.db").display()))
        ),
    )
}

/// The argument lists of every subcommand that prints on standard output, run in `dir`.
fn printing_commands(dir: &TestDir) -> Vec<Vec<String>> {
    let task = fixture_task().display().to_string();
    let rows = generated_rows_task(dir, 200).display().to_string();
    let owned = |args: &[&str]| args.iter().map(|arg| (*arg).to_owned()).collect::<Vec<_>>();
    vec![
        owned(&[
            "render",
            "--template",
            "select {{ .inputs.x }}",
            "--input",
            "x:integer=5",
        ]),
        owned(&["render", "--json", "--template", "select 1"]),
        owned(&["run", &rows, "--preview", "100", "--out", "out"]),
        owned(&[
            "serialize",
            &task,
            "--project",
            "p",
            "--domain",
            "d",
            "--version",
            "v",
            "--out",
            "templates",
            "--json",
        ]),
        owned(&[
            "package",
            &task,
            "--image",
            "ghcr.io/x/sql:1",
            "-o",
            "package.tgz",
        ]),
        owned(&["--help"]),
        owned(&["run", "--help"]),
        owned(&["--version"]),
    ]
}

fn no_panic(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked") && output.status.code() != Some(101),
        "{}: {stderr}",
        output.status
    );
}

#[test]
fn a_closed_stdout_ends_every_command_quietly_with_success() {
    let dir = TestDir::new("closed-stdout");
    for args in printing_commands(&dir) {
        let mut child = dir
            .cli()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command prints anything (`| head -c0`).
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        no_panic(&output);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {output:?}");
        assert!(output.stderr.is_empty(), "{args:?}: {output:?}");
    }
    // The work was done before the printing: the run's Parquet stays, complete.
    let outputs: Vec<_> = std::fs::read_dir(dir.join("out")).unwrap().collect();
    assert_eq!(outputs.len(), 1);
    assert!(dir.join("templates/golden.pkg.tracks.json").exists());
    assert!(dir.join("package.tgz").exists());
}

#[test]
fn a_full_stdout_is_an_error_with_exit_status_1() {
    let dir = TestDir::new("full-stdout");
    for args in printing_commands(&dir) {
        let output = dir
            .cli()
            .args(&args)
            .stdout(File::options().write(true).open("/dev/full").unwrap())
            .output()
            .unwrap();
        no_panic(&output);
        let stderr = stderr_of_failure(&output, 1);
        assert!(
            stderr.contains("error: cannot write to standard output: No space left on device"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn an_unwritable_stderr_changes_nothing_but_what_is_shown() {
    let dir = TestDir::new("full-stderr");
    let bad = ["render", "--template", "select {{ .inputs.missing }}"];
    for stderr in ["/dev/full", "closed"] {
        let mut command = dir.cli();
        command.args(bad).stdout(Stdio::null());
        let output = if stderr == "closed" {
            let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
            drop(child.stderr.take());
            child.wait_with_output().unwrap()
        } else {
            command
                .stderr(File::options().write(true).open(stderr).unwrap())
                .output()
                .unwrap()
        };
        assert_eq!(output.status.code(), Some(2), "{stderr}: {output:?}");
    }
    // A usage error of clap's own, and a success that warns (the progress and warnings).
    let output = dir
        .cli()
        .arg("--no-such-flag")
        .stderr(File::options().write(true).open("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let task = generated_rows_task(&dir, 10);
    let output = dir
        .cli()
        .args(["run", task.to_str().unwrap(), "--out", "out"])
        .stderr(File::options().write(true).open("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

/// Every path under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            found.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                walk(root, &path, found);
            }
        }
    }
    let mut found = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut found);
    }
    found.sort();
    found
}

/// Starts `run` of a big result into `out`, waits until its temporary Parquet file exists, sends
/// `signal` and returns how the process ended.
fn interrupted_run(dir: &TestDir, signal: &str) -> Output {
    let task = generated_rows_task(dir, 20_000_000);
    std::fs::create_dir(dir.join("out")).unwrap();
    let child = dir
        .cli()
        .args(["run", task.to_str().unwrap(), "--out", "out"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !tree(&dir.join("out"))
        .iter()
        .any(|path| path.ends_with(".partial"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no temporary file appeared: {:?}",
            tree(&dir.join("out"))
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let it write for a moment: the file is being streamed when the signal comes.
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait_with_output().unwrap()
}

#[test]
fn sigint_in_the_middle_of_run_leaves_nothing_and_exits_130() {
    let dir = TestDir::new("sigint");
    let output = interrupted_run(&dir, "INT");
    let stderr = stderr_of_failure(&output, 130);
    assert!(stderr.contains("stopped by SIGINT"), "{stderr}");
    assert_eq!(tree(&dir.join("out")), Vec::<String>::new());
}

#[test]
fn sigterm_in_the_middle_of_run_leaves_nothing_and_exits_143() {
    let dir = TestDir::new("sigterm");
    let output = interrupted_run(&dir, "TERM");
    stderr_of_failure(&output, 143);
    assert_eq!(tree(&dir.join("out")), Vec::<String>::new());
}

/// `flyte-sql ARGS` with files limited to `bytes` (`prlimit --fsize`, as `ulimit -f` does): a
/// write past it fails with EFBIG, as on a full disk.
fn with_file_size_limit(dir: &TestDir, bytes: u64, args: &[&str]) -> Output {
    Command::new("prlimit")
        .arg(format!("--fsize={bytes}"))
        .arg(flyte_sql_tests::flyte_sql_binary())
        .args(args)
        .current_dir(dir.path())
        .output()
        .expect("running prlimit (util-linux)")
}

#[test]
fn serialize_writes_the_template_and_its_json_together_or_neither() {
    let dir = TestDir::new("serialize-full");
    let task = fixture_task();
    let args = |out: &'static str| {
        vec![
            "serialize".to_owned(),
            task.display().to_string(),
            "--project".to_owned(),
            "p".to_owned(),
            "--domain".to_owned(),
            "d".to_owned(),
            "--version".to_owned(),
            "v".to_owned(),
            "--out".to_owned(),
            out.to_owned(),
            "--json".to_owned(),
        ]
    };
    stdout_of_success(&run(&dir, args("whole")));
    let size = |name: &str| {
        std::fs::metadata(dir.join("whole").join(name))
            .unwrap()
            .len()
    };
    let (pb, json) = (size("golden.pkg.tracks.pb"), size("golden.pkg.tracks.json"));
    assert!(pb < json, "the .pb fits where the .json does not");
    let argv = args("cut");
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let output = with_file_size_limit(&dir, pb + 1, &argv);
    let stderr = stderr_of_failure(&output, 1);
    assert!(stderr.contains("File too large"), "{stderr}");
    assert_eq!(tree(&dir.join("cut")), Vec::<String>::new());
    assert!(
        !dir.join("cut").exists(),
        "the directory made for them goes too"
    );
}

#[test]
fn package_on_a_full_disk_leaves_no_partial_archive() {
    let dir = TestDir::new("package-full");
    let task = fixture_task();
    let output = with_file_size_limit(
        &dir,
        100,
        &[
            "package",
            task.to_str().unwrap(),
            "--image",
            "ghcr.io/x/sql:1",
            "-o",
            "built/package.tgz",
        ],
    );
    let stderr = stderr_of_failure(&output, 1);
    assert!(stderr.contains("File too large"), "{stderr}");
    assert_eq!(tree(dir.path()), Vec::<String>::new());
}

#[test]
fn run_on_a_full_disk_leaves_no_partial_output() {
    let dir = TestDir::new("run-full");
    let task = generated_rows_task(&dir, 100_000);
    let before = tree(dir.path());
    let output = with_file_size_limit(
        &dir,
        1 << 20,
        &["run", task.to_str().unwrap(), "--out", "out"],
    );
    no_panic(&output);
    let stderr = stderr_of_failure(&output, 1);
    assert!(stderr.contains("File too large"), "{stderr}");
    assert_eq!(tree(dir.path()), before);
}

/// A one-input SQLite task (`n`, an integer) and its directory's database.
fn one_input_task(dir: &TestDir, extra_connection: &str) -> PathBuf {
    File::create(dir.join("one.db")).unwrap();
    dir.write(
        "one.toml",
        &format!(
            "name = \"hostile.one\"\nquery = \"select {{{{ .inputs.n }}}} as n\"\n[connection]\nuri = {}\n{extra_connection}\n[[inputs]]\nname = \"n\"\ntype = \"integer\"\n[output]\nkind = \"schema\"\n",
            toml_string(&format!("sqlite:///{}", dir.join("one.db").display()))
        ),
    )
}

#[test]
fn an_input_given_twice_is_refused_by_name() {
    let dir = TestDir::new("input-twice");
    let task = one_input_task(&dir, "");
    let output = run(
        &dir,
        [
            "run",
            task.to_str().unwrap(),
            "--input",
            "n=1",
            "--input",
            "n=2",
        ],
    );
    let stderr = stderr_of_failure(&output, 2);
    assert!(stderr.contains("--input `n` is given twice"), "{stderr}");
    let output = run(
        &dir,
        [
            "render",
            "--template",
            "{{ .inputs.n }}",
            "--input",
            "n:integer=1",
            "--input",
            "n:integer=2",
        ],
    );
    assert!(stderr_of_failure(&output, 2).contains("--input `n` is given twice"));
}

#[test]
fn inputs_json_refuses_flags_besides_it_and_duplicate_or_unknown_keys() {
    let dir = TestDir::new("inputs-json");
    let render = |json: &str, extra: &[&str]| {
        let path = dir.write("inputs.json", json);
        let mut args = vec![
            "render".to_owned(),
            "--template".to_owned(),
            "{{ .inputs.n }}".to_owned(),
            "--inputs-json".to_owned(),
            path.display().to_string(),
        ];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        run(&dir, args)
    };
    let good = r#"{"n": {"type": "integer", "value": 5}}"#;
    assert_eq!(
        stdout_of_success(&render(good, &[])),
        "?\n-- bind 1: n integer = 5\n"
    );
    let stderr = stderr_of_failure(&render(good, &["--input", "n:integer=6"]), 2);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    let stderr = stderr_of_failure(
        &render(
            r#"{"n": {"type": "integer", "value": 5}, "n": {"type": "integer", "value": 6}}"#,
            &[],
        ),
        2,
    );
    assert!(stderr.contains("input `n` is given twice"), "{stderr}");
    let stderr = stderr_of_failure(
        &render(r#"{"n": {"type": "integer", "value": 5, "vaule": 6}}"#, &[]),
        2,
    );
    assert!(stderr.contains("unknown field `vaule`"), "{stderr}");
    let stderr = stderr_of_failure(
        &render(r#"{"n": {"type": "integer", "value": 5, "value": 6}}"#, &[]),
        2,
    );
    assert!(stderr.contains("duplicate field `value`"), "{stderr}");
}

#[test]
fn empty_project_domain_or_version_is_refused() {
    let dir = TestDir::new("empty-settings");
    let task = fixture_task();
    for flag in ["--project", "--domain", "--version"] {
        let mut args = vec![
            "serialize",
            task.to_str().unwrap(),
            "--project",
            "p",
            "--domain",
            "d",
            "--version",
            "v",
            "--out",
            "out",
        ];
        let at = args.iter().position(|arg| *arg == flag).unwrap();
        args[at + 1] = "";
        let stderr = stderr_of_failure(&run(&dir, &args), 2);
        assert!(stderr.contains(flag), "{flag}: {stderr}");
        assert!(!dir.join("out").exists());
    }
}

#[test]
fn durations_beyond_protobufs_range_are_refused_by_field() {
    let dir = TestDir::new("durations");
    for (timeout, message) in [
        ("315576000001", "metadata.timeout"),
        ("9223372036854775807", "metadata.timeout"),
        ("\"3652500d1s\"", "metadata.timeout"),
    ] {
        let task = dir.write(
            "t.toml",
            &format!("name = \"t\"\nquery = \"select 1\"\n[connection]\nuri = \"sqlite://\"\n[metadata]\ntimeout = {timeout}\n"),
        );
        let output = run(
            &dir,
            [
                "serialize",
                task.to_str().unwrap(),
                "--project",
                "p",
                "--domain",
                "d",
                "--version",
                "v",
                "--out",
                "out",
            ],
        );
        let stderr = stderr_of_failure(&output, 2);
        assert!(
            stderr.contains(message) && stderr.contains("protobuf Duration's range"),
            "{timeout}: {stderr}"
        );
    }
    let output = run(
        &dir,
        [
            "render",
            "--template",
            "{{ .inputs.d }}",
            "--input",
            "d:duration=315576000001s",
        ],
    );
    let stderr = stderr_of_failure(&output, 2);
    assert!(stderr.contains("±315576000000 s"), "{stderr}");
}

#[test]
fn connect_args_nested_too_deep_are_refused_with_their_path() {
    let dir = TestDir::new("deep-args");
    let nested = |levels: usize| format!("{}1{}", "[".repeat(levels - 1), "]".repeat(levels - 1));
    let task_with = |levels: usize| {
        dir.write(
            "deep.toml",
            &format!(
                "name = \"t\"\nquery = \"select 1\"\n[connection]\nuri = \"sqlite://\"\nconnect_args = {{ deep = {} }}\n",
                nested(levels)
            ),
        )
    };
    let serialize = |task: &Path| {
        run(
            &dir,
            [
                "serialize",
                task.to_str().unwrap(),
                "--project",
                "p",
                "--domain",
                "d",
                "--version",
                "v",
                "--out",
                "out",
            ],
        )
    };
    stdout_of_success(&serialize(&task_with(32)));
    let stderr = stderr_of_failure(&serialize(&task_with(33)), 2);
    let path = format!("connection.connect_args.deep{}", "[0]".repeat(32));
    assert!(
        stderr.contains(&format!("{path}: connect args nest")),
        "{stderr}"
    );
}

#[test]
fn unreadable_task_files_are_the_users_fault() {
    let dir = TestDir::new("unreadable-task");
    std::fs::create_dir(dir.join("a-directory")).unwrap();
    std::fs::write(dir.join("latin1.toml"), b"name = \"caf\xe9\"\n").unwrap();
    for (path, message) in [
        ("missing.toml", "No such file"),
        ("a-directory", "directory"),
        ("latin1.toml", "UTF-8"),
    ] {
        let stderr = stderr_of_failure(&run(&dir, ["run", path]), 2);
        assert!(
            stderr.contains(&format!("cannot read task file {path}")) && stderr.contains(message),
            "{stderr}"
        );
    }
}

#[test]
fn a_long_line_is_shown_as_an_excerpt_around_the_error() {
    let dir = TestDir::new("long-line");
    let task = dir.write(
        "long.toml",
        &format!("name = \"t\"\nquery = \"{}\" oops\n", "x".repeat(400_000)),
    );
    let stderr = stderr_of_failure(&run(&dir, ["run", task.to_str().unwrap()]), 2);
    assert!(stderr.len() < 1_000, "{} bytes of error", stderr.len());
    assert!(stderr.contains("line 2, column 400012"), "{stderr}");
    assert!(
        stderr.contains("2 | …xxxx") && stderr.contains("xxxx\" oops\n"),
        "{stderr}"
    );
}

#[test]
fn control_characters_reach_the_terminal_escaped_and_the_parquet_unchanged() {
    let dir = TestDir::new("controls");
    File::create(dir.join("c.db")).unwrap();
    let uri = format!("sqlite:///{}", dir.join("c.db").display());
    let output = run(
        &dir,
        [
            "run",
            "--uri",
            &uri,
            "--query",
            "select char(27) || ']0;pwned' || char(7) || char(10) || 'x' as \"col\u{1b}[31m\"",
            "--out",
            "out",
        ],
    );
    let stdout = stdout_of_success(&output);
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "{stdout:?}"
    );
    assert!(stdout.contains("\\x1b]0;pwned\\x07\\nx"), "{stdout}");
    assert!(stdout.contains("col\\x1b[31m"), "{stdout}");
    let parquet = crate::run::read_table(&crate::run::only_output(&dir.join("out")));
    assert_eq!(parquet.rows, [["\u{1b}]0;pwned\u{7}\nx"]]);
    // And in errors: a URI with an escape sequence.
    let output = run(
        &dir,
        [
            "run",
            "--uri",
            "sqlite:///no\u{1b}]0;pwned\u{7}.db",
            "--query",
            "select 1",
        ],
    );
    let stderr = stderr_of_failure(&output, 2);
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(stderr.contains("no\\x1b]0;pwned\\x07.db"), "{stderr}");
}

#[test]
fn a_secret_file_larger_than_64_kib_is_refused_unread() {
    let dir = TestDir::new("huge-secret");
    let task = one_input_task(
        &dir,
        "secret_connect_args = { timeout = { group = \"db\", key = \"wait\" } }",
    );
    std::fs::create_dir_all(dir.join("secrets/db")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("secrets/db/wait")).unwrap();
    let output = dir
        .cli()
        .args(["run", task.to_str().unwrap(), "--input", "n=1"])
        .env("FLYTE_SECRETS_DEFAULT_DIR", dir.join("secrets"))
        .output()
        .unwrap();
    // A secret mount gone wrong is the system's fault (exit 1), as any unreadable secret file.
    let stderr = stderr_of_failure(&output, 1);
    assert!(
        stderr.contains("secret file") && stderr.contains("65536-byte (64 KiB) limit"),
        "{stderr}"
    );
}

#[test]
fn a_password_in_clear_is_warned_about_without_showing_it() {
    let dir = TestDir::new("plaintext-password");
    // SQLite takes no password: a server URI that is never connected to (serialize, package) and
    // a SQLite task with a password-like connect arg (run) show the warning.
    let server = dir.write(
        "server.toml",
        "name = \"t\"\nquery = \"select 1\"\n[connection]\nuri = \"postgresql://app:hunter2@db.invalid/x\"\n",
    );
    let task = server.to_str().unwrap();
    for args in [
        vec![
            "serialize",
            task,
            "--project",
            "p",
            "--domain",
            "d",
            "--version",
            "v",
            "--out",
            "out",
        ],
        vec!["package", task, "-o", "p.tgz"],
    ] {
        let output = run(&dir, &args);
        stdout_of_success(&output);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("connection.uri holds a password in clear")
                && stderr.contains("[connection.secret_connect_args]"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
    let output = run(&dir, ["run", task, "--out", "out"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("connection.uri holds a password in clear"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
