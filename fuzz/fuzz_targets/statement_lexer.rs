//! Fuzz target: the SQL lexer (`crates/flyte-sql-template/src/lexer.rs`) over arbitrary text,
//! every dialect, with no placeholders and with each mode's placeholders opaque.
//!
//! Invariants: the tokens are non-empty, in order, cover the text exactly without overlap, and
//! start and end on character boundaries; each placeholder in code is one token of exactly its
//! span, and every placeholder is held by a token whose range contains it. The checks built on
//! the lexer (`Statement::from_sql`, `check_query`) do not panic.

#![no_main]

use flyte_sql_model::{Interpolation, placeholders};
use flyte_sql_template::{Dialect, Statement, check_query, fuzzing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let compat: Vec<_> = placeholders(text, Interpolation::Compat)
        .into_iter()
        .map(|p| p.span)
        .collect();
    let safe: Vec<_> = placeholders(text, Interpolation::Safe)
        .into_iter()
        .map(|p| p.span)
        .collect();
    for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql] {
        for spans in [&[][..], &compat[..], &safe[..]] {
            check_tokens(text, dialect, spans);
        }
        if let Ok(statement) = Statement::from_sql(text, dialect) {
            assert!(text.starts_with(statement.body()));
            assert!(statement.markers().is_empty());
        }
        for mode in [Interpolation::Compat, Interpolation::Safe] {
            let _ = check_query(text, mode, dialect).map_err(|error| error.to_string());
        }
    }
});

fn check_tokens(text: &str, dialect: Dialect, spans: &[std::ops::Range<usize>]) {
    let (tokens, placeholder_tokens) = fuzzing::tokens(text, dialect, spans);
    let mut position = 0;
    for token in &tokens {
        assert_eq!(
            token.range.start, position,
            "{dialect:?}: a gap or an overlap before {token:?}"
        );
        assert!(
            token.range.end > token.range.start,
            "{dialect:?}: empty {token:?}"
        );
        assert!(
            text.is_char_boundary(token.range.start) && text.is_char_boundary(token.range.end),
            "{dialect:?}: {token:?} splits a character"
        );
        if let Some(index) = token.placeholder {
            assert_eq!(
                token.range, spans[index],
                "{dialect:?}: placeholder {index}"
            );
        }
        position = token.range.end;
    }
    assert_eq!(position, text.len(), "{dialect:?}: the tokens stop short");
    assert_eq!(placeholder_tokens.len(), spans.len());
    let mut previous = 0;
    for (span, &index) in spans.iter().zip(&placeholder_tokens) {
        assert!(index >= previous, "{dialect:?}: placeholders out of order");
        previous = index;
        let holder = &tokens[index].range;
        assert!(
            holder.start <= span.start && span.end <= holder.end,
            "{dialect:?}: token {holder:?} does not hold placeholder {span:?}"
        );
    }
}
