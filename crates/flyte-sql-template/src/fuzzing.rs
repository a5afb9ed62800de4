//! The lexer's tokens for the fuzz targets in `fuzz/` (feature `fuzzing`), which check that they
//! cover a query exactly. Not an API: the lexer's types stay private, only byte ranges leave.

use std::ops::Range;

use crate::dialect::Dialect;
use crate::lexer::{Kind, lex};

/// One token of [`tokens`]: its bytes, and which placeholder it is when it is one in code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuzzToken {
    /// Where the token is, in bytes.
    pub range: Range<usize>,
    /// The index in the given spans when the token is a placeholder in code.
    pub placeholder: Option<usize>,
}

/// The tokens of `text` by the rules of `dialect`, with `placeholders` (sorted, not overlapping
/// byte ranges, as the placeholder scanner finds them) opaque; and for each placeholder the
/// index of the token that holds it.
pub fn tokens(
    text: &str,
    dialect: Dialect,
    placeholders: &[Range<usize>],
) -> (Vec<FuzzToken>, Vec<usize>) {
    let lexed = lex(text, dialect, placeholders);
    let tokens = lexed
        .tokens
        .into_iter()
        .map(|token| FuzzToken {
            placeholder: match token.kind {
                Kind::Placeholder(index) => Some(index),
                _ => None,
            },
            range: token.range,
        })
        .collect();
    (tokens, lexed.placeholder_tokens)
}
