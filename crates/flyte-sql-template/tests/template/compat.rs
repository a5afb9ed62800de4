//! Compatible mode beyond the golden cases: renderings, error texts and the quoting warnings.

use chrono::{TimeDelta, TimeZone, Utc};
use expect_test::{Expect, expect};
use flyte_sql_model::{InputValues, Interpolation, PrimitiveType, Value};
use flyte_sql_template::{Dialect, render};

/// Snapshot: the SQL and the warnings, or the error.
fn check(dialect: Dialect, query: &str, inputs: &[(&str, Value)], expect: Expect) {
    let inputs: InputValues = inputs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    let actual = match render(query, Interpolation::Compat, dialect, &inputs) {
        Ok(rendered) => {
            assert!(rendered.statement.binds.is_empty());
            let mut lines = Vec::from([format!("sql: {}", rendered.statement.sql)]);
            for warning in &rendered.warnings {
                lines.push(format!("warning: {warning}"));
            }
            lines.join("\n")
        }
        Err(error) => format!("error: {error}"),
    };
    expect.assert_eq(&actual);
}

fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

#[test]
fn renders_every_type_like_python_str() {
    check(
        Dialect::Postgres,
        "{{ .inputs.i }}|{{ .inputs.f }}|{{ .inputs.g }}|{{ .inputs.b }}|{{ .inputs.t }}|{{ .inputs.d }}|{{ .inputs.n }}",
        &[
            ("i", Value::Integer(-7)),
            ("f", Value::Float(1e16)),
            ("g", Value::Float(1.5e-7)),
            ("b", Value::Boolean(false)),
            (
                "t",
                Value::Datetime(
                    Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()
                        + TimeDelta::nanoseconds(123_456_789),
                ),
            ),
            (
                "d",
                Value::Duration(TimeDelta::seconds(93_784) + TimeDelta::milliseconds(500)),
            ),
            ("n", Value::Null(PrimitiveType::Float)),
        ],
        expect![
            "sql: -7|1e+16|1.5e-07|False|2024-01-02 03:04:05.123456+00:00|1 day, 2:03:04.500000|None"
        ],
    );
}

#[test]
fn a_value_is_spliced_again_by_later_placeholders() {
    check(
        Dialect::Sqlite,
        "{{ .inputs.b }}|{{ .inputs.a }}|{{ .inputs.b }}",
        &[("a", string("{{ .inputs.b }}")), ("b", string("B"))],
        expect![[r#"
            sql: B|B|B
            warning: string input `b` is spliced outside SQL quotes at byte 0, so its value runs as SQL: quote the placeholder ('{{ .inputs.b }}') or use safe interpolation
            warning: string input `a` is spliced outside SQL quotes at byte 16, so its value runs as SQL: quote the placeholder ('{{ .inputs.a }}') or use safe interpolation
            warning: string input `b` is spliced outside SQL quotes at byte 32, so its value runs as SQL: quote the placeholder ('{{ .inputs.b }}') or use safe interpolation"#]],
    );
}

#[test]
fn errors_quote_names_like_python() {
    check(
        Dialect::Sqlite,
        "select {{ .inputs.missing }}",
        &[
            ("it's", Value::Integer(1)),
            ("tab\t\u{7f}é\u{200b}", Value::Integer(2)),
        ],
        expect![[
            r#"error: Variable missing in Query (part of {{ .inputs.missing }}) not found in inputs dict_keys(["it's", 'tab\t\x7fé\u200b'])"#
        ]],
    );
    check(
        Dialect::Sqlite,
        "select 1",
        &[("b", Value::Integer(1)), ("a\"'", Value::Integer(2))],
        expect![[
            r#"error: Extra Inputs have no matches in query template - missing {'a"\'', 'b'}"#
        ]],
    );
}

#[test]
fn values_python_cannot_hold_are_errors() {
    check(
        Dialect::Sqlite,
        "{{ .inputs.t }}",
        &[(
            "t",
            Value::Datetime(Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap()),
        )],
        expect![
            "error: input `t` is a datetime that Python cannot represent (datetimes must fall in years 1 to 9999, durations within 999999999 days), so the reference cannot render it: use a smaller value or safe mode"
        ],
    );
    check(
        Dialect::Sqlite,
        "{{ .inputs.d }}",
        &[("d", Value::Duration(TimeDelta::days(1_000_000_000)))],
        expect![
            "error: input `d` is a duration that Python cannot represent (datetimes must fall in years 1 to 9999, durations within 999999999 days), so the reference cannot render it: use a smaller value or safe mode"
        ],
    );
}

#[test]
fn quoted_strings_do_not_warn() {
    check(
        Dialect::Postgres,
        "select '{{ .inputs.a }}', 'it''s {{ .inputs.a }}', $$ {{ .inputs.a }} $$, $q$'$q$ || '{{ .inputs.a }}', {{ .inputs.n }}",
        &[("a", string("fine")), ("n", Value::Integer(1))],
        expect!["sql: select 'fine', 'it''s fine', $$ fine $$, $q$'$q$ || 'fine', 1"],
    );
}

#[test]
fn strings_outside_quotes_warn() {
    check(
        Dialect::Sqlite,
        "select * from t where a = {{ .inputs.a }} and b = 'x''{{ .inputs.b }}'",
        &[("a", string("1 or 1=1")), ("b", string("ok"))],
        expect![[r#"
            sql: select * from t where a = 1 or 1=1 and b = 'x''ok'
            warning: string input `a` is spliced outside SQL quotes at byte 26, so its value runs as SQL: quote the placeholder ('{{ .inputs.a }}') or use safe interpolation"#]],
    );
}

#[test]
fn strings_that_close_their_quotes_warn() {
    check(
        Dialect::Mysql,
        "select \"{{ .inputs.a }}\", '{{ .inputs.b }}', `{{ .inputs.c }}`",
        &[
            ("a", string("x\"y")),
            ("b", string("back\\")),
            ("c", string("c")),
        ],
        expect![[r#"
            sql: select "x"y", 'back\', `c`
            warning: string input `a` spliced at byte 8 contains `"`, which ends the quotes around it, so part of its value runs as SQL: use safe interpolation
            warning: string input `b` spliced at byte 27 contains `\`, which ends the quotes around it, so part of its value runs as SQL: use safe interpolation"#]],
    );
}

#[test]
fn comments_are_not_quotes() {
    check(
        Dialect::Postgres,
        "select 1 -- it's {{ .inputs.a }}\n/* ' /* nested */ {{ .inputs.a }} */ , {{ .inputs.a }}",
        &[("a", string("v"))],
        expect![[r#"
            sql: select 1 -- it's v
            /* ' /* nested */ v */ , v
            warning: string input `a` is spliced outside SQL quotes at byte 72, so its value runs as SQL: quote the placeholder ('{{ .inputs.a }}') or use safe interpolation"#]],
    );
    check(
        Dialect::Mysql,
        "select 1 --{{ .inputs.a }}\n# '{{ .inputs.a }}\n, E'{{ .inputs.a }}'",
        &[("a", string("v"))],
        expect![[r#"
            sql: select 1 --v
            # 'v
            , E'v'
            warning: string input `a` is spliced outside SQL quotes at byte 11, so its value runs as SQL: quote the placeholder ('{{ .inputs.a }}') or use safe interpolation"#]],
    );
}

#[test]
fn a_value_holding_its_own_placeholder_cannot_grow_the_query_without_bound() {
    // Found by the `template_render` fuzz target. Each repetition of the placeholder splices the
    // value again into the copies of its own text, doubling the query: 17 repetitions would make
    // 33 MB, a few more all the memory there is (the reference too).
    let value = string("{{ .inputs.y }}{{ .inputs.y }}");
    let inputs = InputValues::from([("y".to_owned(), value)]);
    let query = ["{{ .inputs.y }}"; 17].join(" ");
    let error = render(&query, Interpolation::Compat, Dialect::Sqlite, &inputs).unwrap_err();
    assert_eq!(error.kind(), flyte_sql_template::ErrorKind::User);
    expect!["compatible mode: splicing input `y` would make the query 33423376 bytes long, over the limit of 16777216 bytes; a value that contains the text of a placeholder is spliced again wherever that placeholder repeats: use safe interpolation, or values without `{{ .inputs.NAME }}` text"].assert_eq(&error.to_string());
    // Below the limit the reference's splicing is kept, doubling included: 3 placeholders,
    // doubled at each of their 3 splices.
    let query = ["{{ .inputs.y }}"; 3].join(" ");
    let sql = render(&query, Interpolation::Compat, Dialect::Sqlite, &inputs)
        .unwrap()
        .statement
        .sql;
    assert_eq!(sql.matches("{{ .inputs.y }}").count(), 3 * 2 * 2 * 2);
}
