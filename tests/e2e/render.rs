//! `flyte-sql render`: compatible and safe rendering from the command line, JSON output, and exit
//! code 2 with a message on stderr for bad input.

use flyte_sql_tests::{TestDir, run, stderr_of_failure, stdout_of_success};

#[test]
fn compat_mode_splices_like_the_reference() {
    let dir = TestDir::new("render-compat");
    let output = run(
        &dir,
        [
            "render",
            "--mode",
            "compat",
            "--template",
            "x={{ .inputs.x }}",
            "--input",
            "x:integer=5",
        ],
    );
    assert_eq!(stdout_of_success(&output), "x=5\n");
}

#[test]
fn safe_mode_json_shows_the_statement_and_the_bind() {
    let dir = TestDir::new("render-safe-json");
    let output = run(
        &dir,
        [
            "render",
            "--mode",
            "safe",
            "--dialect",
            "postgres",
            "--json",
            "--template",
            "x={{ .inputs.x }}",
            "--input",
            "x:integer=5",
        ],
    );
    let document: serde_json::Value = serde_json::from_str(&stdout_of_success(&output)).unwrap();
    assert_eq!(
        document,
        serde_json::json!({
            "sql": "x=$1",
            "binds": [{"name": "x", "type": "integer", "value": 5}],
            "warnings": [],
        })
    );
}

#[test]
fn safe_mode_text_lists_binds_in_order() {
    let dir = TestDir::new("render-safe-text");
    let output = run(
        &dir,
        [
            "render",
            "--dialect",
            "mysql",
            "--template",
            "select * from t where a = {{ .inputs.a }} and b = {{ .inputs.b }}",
            "--input",
            "a:string=O'Brien",
            "--input",
            "b:datetime=2024-01-02T03:04:05Z",
        ],
    );
    expect_test::expect![[r#"
        select * from t where a = ? and b = ?
        -- bind 1: a string = "O'Brien"
        -- bind 2: b datetime = "2024-01-02T03:04:05Z"
    "#]]
    .assert_eq(&stdout_of_success(&output));
}

#[test]
fn inputs_json_takes_the_conformance_shape() {
    let dir = TestDir::new("render-inputs-json");
    let inputs = dir.write(
        "inputs.json",
        r#"{"v": {"type": "DURATION", "value": "-0.250s"}, "f": {"type": "FLOAT", "value": "Infinity"}}"#,
    );
    let output = run(
        &dir,
        [
            "render",
            "--mode",
            "compat",
            "--template",
            "{{ .inputs.v }} {{ .inputs.f }}",
            "--inputs-json",
            inputs.to_str().unwrap(),
        ],
    );
    assert_eq!(stdout_of_success(&output), "-1 day, 23:59:59.750000 inf\n");
}

#[test]
fn compat_errors_are_the_references_and_exit_2() {
    let dir = TestDir::new("render-missing");
    let output = run(
        &dir,
        [
            "render",
            "--mode",
            "compat",
            "--template",
            "select {{ .inputs.y }}",
        ],
    );
    let stderr = stderr_of_failure(&output, 2);
    assert!(
        stderr.contains(
            "Variable y in Query (part of {{ .inputs.y }}) not found in inputs dict_keys([])"
        ),
        "{stderr}"
    );
}

#[test]
fn bad_input_flags_exit_2_and_say_what_to_write() {
    let dir = TestDir::new("render-bad-flag");
    for (flag, needle) in [
        ("x=5", "has no `:TYPE`"),
        ("x:integer", "has no `=`"),
        ("x:int=5", "unknown type `int`"),
        ("x:integer=five", "invalid integer value `five`"),
    ] {
        let output = run(
            &dir,
            ["render", "--template", "{{ .inputs.x }}", "--input", flag],
        );
        let stderr = stderr_of_failure(&output, 2);
        assert!(stderr.contains(needle), "{flag}: {stderr}");
    }
}

#[test]
fn unknown_flags_exit_2() {
    let dir = TestDir::new("render-unknown-flag");
    let output = run(&dir, ["render", "--template", "x", "--bogus"]);
    let stderr = stderr_of_failure(&output, 2);
    assert!(stderr.contains("--bogus"), "{stderr}");
}
