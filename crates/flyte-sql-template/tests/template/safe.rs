//! Safe mode, one snapshot per behaviour: the SQL text and the bind list, or the error.

use chrono::{TimeDelta, TimeZone, Utc};
use expect_test::{Expect, expect};
use flyte_sql_model::{InputValues, Interpolation, PrimitiveType, Value};
use flyte_sql_template::{Dialect, ErrorKind, render};

fn check(dialect: &str, query: &str, inputs: &[(&str, Value)], expect: Expect) {
    let dialect = Dialect::parse(dialect).expect("a known dialect");
    let inputs: InputValues = inputs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    let actual = match render(query, Interpolation::Safe, dialect, &inputs) {
        Ok(rendered) => {
            assert!(rendered.warnings.is_empty(), "safe mode never warns");
            let mut lines = Vec::from([format!("sql: {}", rendered.statement.sql)]);
            for (index, bind) in rendered.statement.binds.iter().enumerate() {
                lines.push(format!(
                    "bind {}: {} = {:?}",
                    index + 1,
                    bind.name,
                    bind.value
                ));
            }
            lines.join("\n")
        }
        Err(error) => {
            assert_eq!(error.kind(), ErrorKind::User);
            format!("error: {error}")
        }
    };
    expect.assert_eq(&actual);
}

fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

#[test]
fn postgres_numbers_binds_and_reuses_them() {
    check(
        "postgres",
        "select * from t where a = {{ .inputs.a }} or b = {{.inputs.b}} or a2 = {{ .INPUTS.a }}",
        &[("a", Value::Integer(1)), ("b", string("x"))],
        expect![[r#"
            sql: select * from t where a = $1 or b = $2 or a2 = $1
            bind 1: a = Integer(1)
            bind 2: b = String("x")"#]],
    );
}

#[test]
fn sqlite_and_mysql_bind_every_occurrence() {
    let inputs = [("a", Value::Integer(1)), ("b", Value::Boolean(false))];
    let query = "{{ .inputs.a }}, {{ .inputs.b }}, {{ .inputs.a }}";
    check(
        "sqlite",
        query,
        &inputs,
        expect![[r#"
            sql: ?, ?, ?
            bind 1: a = Integer(1)
            bind 2: b = Boolean(false)
            bind 3: a = Integer(1)"#]],
    );
    check(
        "mariadb",
        query,
        &inputs,
        expect![[r#"
            sql: ?, ?, ?
            bind 1: a = Integer(1)
            bind 2: b = Boolean(false)
            bind 3: a = Integer(1)"#]],
    );
}

#[test]
fn every_type_binds_as_is_and_nulls_keep_their_type() {
    check(
        "postgresql",
        "values ({{ .inputs.f }}, {{ .inputs.t }}, {{ .inputs.d }}, {{ .inputs.n }})",
        &[
            ("f", Value::Float(f64::NAN)),
            (
                "t",
                Value::Datetime(Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()),
            ),
            ("d", Value::Duration(TimeDelta::milliseconds(-250))),
            ("n", Value::Null(PrimitiveType::Integer)),
        ],
        expect![[r#"
            sql: values ($1, $2, $3, $4)
            bind 1: f = Float(NaN)
            bind 2: t = Datetime(2024-01-02T03:04:05Z)
            bind 3: d = Duration(TimeDelta { secs: -1, nanos: 750000000 })
            bind 4: n = Null(Integer)"#]],
    );
}

#[test]
fn values_never_reach_the_text() {
    check(
        "sqlite",
        "select '{{ .inputs.v }}', {{ .inputs.v }} -- ?",
        &[("v", string("x'); drop table t; -- {{ .inputs.v }}"))],
        expect![[r#"
            sql: select ?, ? -- ?
            bind 1: v = String("x'); drop table t; -- {{ .inputs.v }}")
            bind 2: v = String("x'); drop table t; -- {{ .inputs.v }}")"#]],
    );
}

#[test]
fn text_outside_placeholders_is_kept_as_written() {
    check(
        "postgres",
        "select  '$1', ?, '{{', \"}}\", {{ .outputPrefix }}\n\tfrom t",
        &[],
        expect![[r#"
            sql: select  '$1', ?, '{{', "}}", {{ .outputPrefix }}
            	from t"#]],
    );
}

#[test]
fn identifiers_are_quoted_per_dialect() {
    let inputs = [
        ("table", string("my \"odd\" `table`")),
        ("limit", Value::Integer(3)),
    ];
    let query = "select * from {{ .inputs.table | identifier }} limit {{ .inputs.limit }}";
    check(
        "postgres",
        query,
        &inputs,
        expect![[r#"
            sql: select * from "my ""odd"" `table`" limit $1
            bind 1: limit = Integer(3)"#]],
    );
    check(
        "sqlite",
        query,
        &inputs,
        expect![[r#"
            sql: select * from "my ""odd"" `table`" limit ?
            bind 1: limit = Integer(3)"#]],
    );
    check(
        "mysql",
        query,
        &inputs,
        expect![[r#"
            sql: select * from `my "odd" ``table``` limit ?
            bind 1: limit = Integer(3)"#]],
    );
}

#[test]
fn an_input_can_be_both_an_identifier_and_a_value() {
    check(
        "postgres",
        "select {{.inputs.c|identifier}} from t where name = {{ .inputs.c }}",
        &[("c", string("Name"))],
        expect![[r#"
            sql: select "Name" from t where name = $1
            bind 1: c = String("Name")"#]],
    );
}

#[test]
fn identifiers_must_be_non_empty_strings_without_nul() {
    let query = "select * from {{ .inputs.t | identifier }}";
    check(
        "sqlite",
        query,
        &[("t", string(""))],
        expect!["error: input `t` cannot be used as an identifier: the name is empty"],
    );
    check(
        "mysql",
        query,
        &[("t", string("a\0b"))],
        expect![
            "error: input `t` cannot be used as an identifier: the name contains a NUL character"
        ],
    );
    check(
        "postgres",
        query,
        &[("t", Value::Integer(1))],
        expect![
            "error: input `t` cannot be used as an identifier: identifiers come from string inputs, but this value is of type integer"
        ],
    );
    check(
        "postgres",
        query,
        &[("t", Value::Null(PrimitiveType::String))],
        expect!["error: input `t` cannot be used as an identifier: the value is null"],
    );
}

#[test]
fn a_placeholder_without_a_value_is_an_error() {
    check(
        "postgres",
        "select {{ .inputs.a }}, {{ .inputs.b }}",
        &[("a", Value::Integer(1))],
        expect![
            "error: placeholder `{{ .inputs.b }}` at byte 24 of the query uses input `b`, which has no value: supply a value for `b` or fix the placeholder"
        ],
    );
}

#[test]
fn a_value_without_a_placeholder_is_an_error() {
    check(
        "sqlite",
        "select {{ .inputs.a }}",
        &[
            ("a", Value::Integer(1)),
            ("b", Value::Integer(2)),
            ("c", Value::Integer(3)),
        ],
        expect![
            "error: the query uses no placeholder for `b`, `c`: use each input as `{{ .inputs.NAME }}` or leave it out"
        ],
    );
}

#[test]
fn malformed_placeholders_are_errors_not_text() {
    check(
        "sqlite",
        "select {{ inputs.a }}",
        &[("a", Value::Integer(1))],
        expect![
            "error: `{{ inputs.a }}` at byte 7 of the query is not a valid placeholder: a placeholder must read `{{ .inputs.NAME }}` or `{{ .inputs.NAME | identifier }}` with NAME made of ASCII letters, digits and `_`"
        ],
    );
    check(
        "sqlite",
        "select {{ .inputs.a | quote }}",
        &[("a", Value::Integer(1))],
        expect![
            "error: `{{ .inputs.a | quote }}` at byte 7 of the query is not a valid placeholder: unknown filter `quote`: the only filter is `identifier`"
        ],
    );
    check(
        "sqlite",
        "select {{ .inputs.a",
        &[("a", Value::Integer(1))],
        expect![
            "error: `{{ .inputs.a` at byte 7 of the query is not a valid placeholder: the placeholder has no closing `}}`"
        ],
    );
}

#[test]
fn unknown_dialects_are_refused() {
    let error = Dialect::parse("oracle").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::User);
    expect![
        "unknown SQL dialect `oracle`: use one of sqlite, postgres, postgresql, mysql, mariadb"
    ]
    .assert_eq(&error.to_string());
}

#[test]
fn whole_quoted_placeholders_are_the_bind() {
    let inputs = [("n", string("alice"))];
    check(
        "postgres",
        "select * from t where name = '{{ .inputs.n }}' and x = E'{{'",
        &inputs,
        expect![[r#"
            sql: select * from t where name = $1 and x = E'{{'
            bind 1: n = String("alice")"#]],
    );
    check(
        "mysql",
        "select * from t where name = \"{{ .inputs.n }}\" limit '{{ .inputs.n }}'",
        &inputs,
        expect![[r#"
            sql: select * from t where name = ? limit ?
            bind 1: n = String("alice")
            bind 2: n = String("alice")"#]],
    );
}

#[test]
fn misplaced_placeholders_are_refused_with_the_fix() {
    let inputs = [("n", string("x"))];
    check(
        "sqlite",
        "select 'id-{{ .inputs.n }}-end'",
        &inputs,
        expect![
            "error: placeholder `{{ .inputs.n }}` at byte 11 of the query is inside a string literal, where safe mode cannot bind a value: bind outside the literal: 'id-' || {{ .inputs.n }} || '-end' (or {{ .inputs.n | identifier }} for a name)"
        ],
    );
    check(
        "mysql",
        "select 'id-{{ .inputs.n }}'",
        &inputs,
        expect![
            "error: placeholder `{{ .inputs.n }}` at byte 11 of the query is inside a string literal, where safe mode cannot bind a value: bind outside the literal: CONCAT('id-', {{ .inputs.n }}) (or {{ .inputs.n | identifier }} for a name)"
        ],
    );
    check(
        "postgres",
        "select 1 -- {{ .inputs.n }}",
        &inputs,
        expect![
            "error: placeholder `{{ .inputs.n }}` at byte 12 of the query is inside a comment, where safe mode cannot bind a value: move it out of the comment, or delete it from the comment"
        ],
    );
    check(
        "postgres",
        "select \"{{ .inputs.n }}\"",
        &inputs,
        expect![
            "error: placeholder `{{ .inputs.n }}` at byte 8 of the query is inside a quoted identifier, where safe mode cannot bind a value: for a name write {{ .inputs.n | identifier }} without quotes around it; it is quoted for you"
        ],
    );
    check(
        "postgres",
        "select '{{ .inputs.n | identifier }}'",
        &inputs,
        expect![
            "error: placeholder `{{ .inputs.n | identifier }}` at byte 8 of the query is in quotes, where safe mode cannot bind a value: for a name write {{ .inputs.n | identifier }} without quotes around it; it is quoted for you"
        ],
    );
    check(
        "postgres",
        "select $f$ {{ .inputs.n }} $f$",
        &inputs,
        expect![
            "error: placeholder `{{ .inputs.n }}` at byte 11 of the query is inside a dollar-quoted string, where safe mode cannot bind a value: a dollar-quoted body cannot take binds: pass the value as an argument of the function it defines, or for a name use {{ .inputs.n | identifier }}"
        ],
    );
    check(
        "sqlite",
        "select {{ .inputs.n }}; drop table t",
        &inputs,
        expect![
            "error: the query holds more than one statement (the `;` at byte 22 is followed by more SQL): a task runs exactly one statement, so split it into one task per statement (a trailing `;` and comments are fine)"
        ],
    );
}
