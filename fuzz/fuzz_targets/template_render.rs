//! Fuzz target: the template renderer, both interpolation modes, every dialect.
//!
//! Input: the query template, a NUL, then the choices that give each placeholder's input a type
//! and two values of it. Beyond not panicking: a query the define-time check refuses does not
//! render; a rendered statement's markers are in order inside its body, each naming a bind the
//! statement has and spelled as the dialect spells it, and every bind has a marker; in safe mode
//! a second set of values of the same types (identifier inputs aside, whose text is spliced on
//! purpose) renders the same SQL and markers, with only the bind values differing.

#![no_main]

use arbitrary::Unstructured;
use flyte_sql_fuzz::{any_type, one_in, split_fields, value_of};
use flyte_sql_model::{Filter, InputValues, Interpolation, Value, placeholders};
use flyte_sql_template::{Dialect, Rendered, Statement, Warning, check_query, render};
use libfuzzer_sys::fuzz_target;

const DIALECTS: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql];

fuzz_target!(|data: &[u8]| {
    let (fields, choices) = split_fields(data, 1);
    let query = &fields[0];
    let mut u = Unstructured::new(choices);
    for mode in [Interpolation::Compat, Interpolation::Safe] {
        let (first, second) = two_value_sets(query, mode, &mut u);
        for dialect in DIALECTS {
            let checked = check_query(query, mode, dialect);
            let rendered = render(query, mode, dialect, &first);
            if checked.is_err() {
                assert!(
                    rendered.is_err(),
                    "{dialect:?} {mode:?}: render accepted a query check_query refuses"
                );
            }
            let rendered = match rendered {
                Ok(rendered) => rendered,
                Err(error) => {
                    let _ = (error.to_string(), error.kind(), format!("{error:?}"));
                    continue;
                }
            };
            check_rendered(query, mode, dialect, &rendered);
            if mode == Interpolation::Safe {
                let again = render(query, mode, dialect, &second)
                    .expect("safe mode rendered the first values, so the same types render");
                assert_eq!(
                    again.statement.sql, rendered.statement.sql,
                    "{dialect:?}: a value changed the statement text"
                );
                assert_eq!(again.statement.markers(), rendered.statement.markers());
                let names = |r: &Rendered| -> Vec<String> {
                    r.statement.binds.iter().map(|b| b.name.clone()).collect()
                };
                assert_eq!(names(&again), names(&rendered));
                for bind in &again.statement.binds {
                    // `Debug`, so that a NaN equals itself.
                    let expected = second.get(&bind.name).map(|value| format!("{value:?}"));
                    assert_eq!(Some(format!("{:?}", bind.value)), expected);
                }
            }
        }
    }
});

/// Two value sets for the inputs the query names, each input of one type in both; an input used
/// with `| identifier` gets the same value in both. Sometimes an input the query does not use is
/// added, or a used one left out.
fn two_value_sets(
    query: &str,
    mode: Interpolation,
    u: &mut Unstructured<'_>,
) -> (InputValues, InputValues) {
    let found = placeholders(query, mode);
    let mut first = InputValues::new();
    let mut second = InputValues::new();
    for placeholder in &found {
        if first.contains_key(&placeholder.name) {
            continue;
        }
        let identifier = found
            .iter()
            .any(|p| p.name == placeholder.name && p.filter == Some(Filter::Identifier));
        let ty = any_type(u);
        let value = value_of(ty, u);
        let other = if identifier {
            value.clone()
        } else {
            same_type(&value, u)
        };
        first.insert(placeholder.name.clone(), value);
        second.insert(placeholder.name.clone(), other);
    }
    if one_in(u, 16) {
        let ty = any_type(u);
        let extra = value_of(ty, u);
        first.insert("fuzz_unused".to_owned(), extra.clone());
        second.insert("fuzz_unused".to_owned(), extra);
    }
    if one_in(u, 16)
        && let Some(name) = first.keys().next().cloned()
    {
        first.remove(&name);
        second.remove(&name);
    }
    (first, second)
}

/// Another value of `value`'s type (a null stays a null of its type).
fn same_type(value: &Value, u: &mut Unstructured<'_>) -> Value {
    match value {
        Value::Null(ty) => Value::Null(*ty),
        other => match value_of(other.primitive_type(), u) {
            Value::Null(_) => other.clone(),
            candidate => candidate,
        },
    }
}

fn check_rendered(query: &str, mode: Interpolation, dialect: Dialect, rendered: &Rendered) {
    let statement = &rendered.statement;
    check_statement(dialect, statement);
    match mode {
        Interpolation::Compat => {
            assert!(statement.binds.is_empty(), "compatible mode made binds");
            for warning in &rendered.warnings {
                let offset = match warning {
                    Warning::UnquotedString { offset, .. }
                    | Warning::StringEndsQuotes { offset, .. } => *offset,
                    _ => continue,
                };
                assert!(offset < query.len() && query.is_char_boundary(offset));
                assert!(query[offset..].starts_with("{{"));
            }
        }
        Interpolation::Safe => {
            assert!(rendered.warnings.is_empty(), "safe mode warned");
            statement
                .ready_to_send()
                .expect("a safe-mode statement can be sent");
            if dialect != Dialect::Postgres {
                // `?` markers are positional: one value each.
                assert_eq!(statement.binds.len(), statement.markers().len());
            }
            for bind in 0..statement.binds.len() {
                assert!(
                    statement.markers().iter().any(|marker| marker.bind == bind),
                    "bind {bind} has no marker"
                );
            }
        }
    }
}

fn check_statement(dialect: Dialect, statement: &Statement) {
    let body = statement.body();
    assert!(statement.sql.starts_with(body));
    let mut previous_end = 0;
    for marker in statement.markers() {
        assert!(
            previous_end <= marker.range.start,
            "markers overlap or are out of order"
        );
        assert!(marker.range.end <= body.len(), "a marker outside the body");
        previous_end = marker.range.end;
        assert!(
            marker.bind < statement.binds.len(),
            "a marker without a bind"
        );
        let text = &statement.sql[marker.range.clone()];
        match dialect {
            Dialect::Postgres => assert_eq!(text, format!("${}", marker.bind + 1)),
            Dialect::Sqlite | Dialect::Mysql => assert_eq!(text, "?"),
        }
    }
    // Every marker replaced, nothing else touched.
    let replaced = statement.body_with_markers(|_, _| "@@");
    let marker_bytes: usize = statement.markers().iter().map(|m| m.range.len()).sum();
    assert_eq!(
        replaced.len() + marker_bytes,
        body.len() + 2 * statement.markers().len()
    );
}
