//! The reference's golden cases: `interpolation.json` and `normalization.json`, copied from
//! `shared/conformance/_reference/` into `tests/fixtures/`.

use flyte_sql_model::{InputValues, Interpolation, PrimitiveType, Value};
use flyte_sql_template::{Dialect, normalize_whitespace_like_reference, render};

use crate::support::fixture;

#[test]
fn every_interpolation_case_renders_like_the_reference() {
    let cases = fixture("interpolation.json");
    let cases = cases.as_array().expect("a list of cases");
    assert_eq!(cases.len(), 32);
    let mut failures = Vec::new();
    for case in cases {
        let id = case["id"].as_str().expect("id");
        let template = case["template"].as_str().expect("template");
        let inputs: InputValues = case["inputs"]
            .as_object()
            .expect("inputs")
            .iter()
            .map(|(name, input)| {
                let ty = input["type"].as_str().expect("type");
                let ty = PrimitiveType::from_name(ty).expect("a Flyte simple type");
                let value = Value::from_proto_json(ty, &input["value"])
                    .unwrap_or_else(|error| panic!("{name}: {error}"));
                (name.clone(), value)
            })
            .collect();
        let got = render(template, Interpolation::Compat, Dialect::Sqlite, &inputs)
            .map(|rendered| {
                assert!(
                    rendered.statement.binds.is_empty(),
                    "{id}: compat has no binds"
                );
                rendered.statement.sql
            })
            .map_err(|error| error.to_string());
        let expected = match (case.get("expected"), case.get("error")) {
            (Some(sql), None) => Ok(sql.as_str().expect("expected").to_owned()),
            (None, Some(error)) => {
                assert_eq!(error["type"], "ValueError", "{id}");
                Err(error["message"].as_str().expect("message").to_owned())
            }
            _ => panic!("{id}: a case has either `expected` or `error`"),
        };
        if got != expected {
            failures.push(format!(
                "{id}:\n  expected {expected:?}\n  got      {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn whitespace_normalization_matches_the_reference() {
    let cases = fixture("normalization.json");
    for case in cases.as_array().expect("a list of cases") {
        let raw = case["raw"].as_str().expect("raw");
        let stored = case["stored"].as_str().expect("stored");
        assert_eq!(
            normalize_whitespace_like_reference(raw),
            stored,
            "raw query {raw:?}"
        );
    }
}
