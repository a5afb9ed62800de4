//! Finding `{{ .inputs.NAME }}` placeholders in a query template.
//!
//! One scanner serves the task model (every placeholder needs an input, every input a placeholder)
//! and the template renderer, so that both always agree on what a placeholder is. The syntax
//! depends on the task's [`Interpolation`]:
//!
//! - [`Interpolation::Compat`] is exactly the reference's regular expression
//!   `({{\s*.inputs.(\w+)\s*}})` with `re.IGNORECASE`, as Python 3.11 (Unicode 14.0) runs it,
//!   re-implemented by hand so that it matches bit for bit: both `.` accept any character except
//!   `\n` (so `{{ $inputs_x }}` and `{{ inputs.x }}` match, the latter because the first `.` eats
//!   the space, while `{{inputs.x}}` does not); `\s` is Python's `str.isspace()` set; `\w` is
//!   `str.isalnum()` or `_`; `inputs` is matched case-insensitively by Python's rules, which also
//!   accept U+0130, U+0131 for `i` and U+017F for `s`. The regular expression is leftmost-first
//!   with backtracking; matches do not overlap. Nothing is ever malformed in this mode: text that
//!   does not match is just text.
//! - [`Interpolation::Safe`] is our own, stricter syntax:
//!
//!   ```text
//!   placeholder := "{{" ws* ".inputs." NAME ws* [ "|" ws* "identifier" ws* ] "}}"
//!   NAME        := [A-Za-z_] [A-Za-z0-9_]*
//!   ```
//!
//!   where `inputs` is ASCII case-insensitive, the dots are real dots and `ws` is the same
//!   whitespace set as in compat mode. `{{ .inputs.NAME }}` binds a value; with the
//!   `| identifier` filter the (string) value is quoted as an SQL identifier instead, for table
//!   and column names. A `{{` that does not start a placeholder but whose text up to the next
//!   `}}` mentions `inputs` is reported as a [`MalformedPlaceholder`] rather than left in the SQL,
//!   since it is almost certainly a typo (`{{ inputs.x }}`, `{{ .inputs.x | upper }}`).

use std::ops::Range;

use crate::python_text::{is_python_space, is_python_word, python_ignorecase_eq};
use crate::task::Interpolation;

/// Every placeholder of a query, and in safe mode the near-misses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceholderScan {
    /// The placeholders, in the order they appear, not overlapping.
    pub placeholders: Vec<Placeholder>,
    /// Text that looks like a placeholder but is not one (always empty in compat mode).
    pub malformed: Vec<MalformedPlaceholder>,
}

/// One placeholder found in a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// Where the whole placeholder, braces included, sits in the query (byte offsets); the
    /// placeholder's text is `&query[span.clone()]`.
    pub span: Range<usize>,
    /// The input name, exactly as written (names are case-sensitive).
    pub name: String,
    /// The filter applied to the value (only in safe mode).
    pub filter: Option<Filter>,
}

/// A filter in a safe-mode placeholder (`{{ .inputs.NAME | FILTER }}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// `identifier`: the string value is quoted as an SQL identifier and spliced into the text.
    Identifier,
}

/// Text in a safe-mode query that starts like a placeholder but is not a valid one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedPlaceholder {
    /// From the opening `{{` to the closing `}}` (or the end of the query), in bytes.
    pub span: Range<usize>,
    /// What is wrong with it.
    pub problem: PlaceholderProblem,
}

/// Why a [`MalformedPlaceholder`] is not a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceholderProblem {
    /// The text between the braces is not `.inputs.NAME` with an optional filter.
    Syntax,
    /// The placeholder is well formed but its filter is not one we know.
    UnknownFilter {
        /// The filter as written.
        filter: String,
    },
    /// No `}}` follows the `{{`.
    Unterminated,
}

impl std::fmt::Display for PlaceholderProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlaceholderProblem::Syntax => f.write_str(
                "a placeholder must read `{{ .inputs.NAME }}` or `{{ .inputs.NAME | identifier }}` with NAME made of ASCII letters, digits and `_`",
            ),
            PlaceholderProblem::UnknownFilter { filter } => {
                write!(f, "unknown filter `{filter}`: the only filter is `identifier`")
            }
            PlaceholderProblem::Unterminated => f.write_str("the placeholder has no closing `}}`"),
        }
    }
}

/// The placeholders of `query` in the syntax of `mode` (see the module docs), in order; near-misses
/// are left out (see [`scan_placeholders`] for those).
pub fn placeholders(query: &str, mode: Interpolation) -> Vec<Placeholder> {
    scan_placeholders(query, mode).placeholders
}

/// Finds the placeholders of `query` in the syntax of `mode` (see the module docs), and in safe
/// mode the text that looks like a placeholder but is not one.
///
/// ```
/// use flyte_sql_model::{Interpolation, scan_placeholders};
///
/// let query = "select * from t where a = {{ .inputs.a }} and b = {{inputs.b}}";
/// let compat = scan_placeholders(query, Interpolation::Compat);
/// assert_eq!(compat.placeholders.len(), 1);
/// assert_eq!(compat.placeholders[0].name, "a");
/// assert_eq!(&query[compat.placeholders[0].span.clone()], "{{ .inputs.a }}");
///
/// let safe = scan_placeholders(query, Interpolation::Safe);
/// assert_eq!(safe.placeholders.len(), 1);
/// assert_eq!(safe.malformed.len(), 1);
/// ```
pub fn scan_placeholders(query: &str, mode: Interpolation) -> PlaceholderScan {
    match mode {
        Interpolation::Compat => PlaceholderScan {
            placeholders: scan_compat(query),
            malformed: Vec::new(),
        },
        Interpolation::Safe => scan_safe(query),
    }
}

fn scan_compat(query: &str) -> Vec<Placeholder> {
    let mut found = Vec::new();
    let mut position = 0;
    while let Some(relative) = query[position..].find("{{") {
        let start = position + relative;
        match match_compat_at(query, start) {
            Some(placeholder) => {
                position = placeholder.span.end;
                found.push(placeholder);
            }
            // The next attempt is at the next character, which is the second `{`.
            None => position = start + 1,
        }
    }
    found
}

/// Matches `({{\s*.inputs.(\w+)\s*}})` at `start`, backtracking like Python's `re`.
fn match_compat_at(query: &str, start: usize) -> Option<Placeholder> {
    let after_braces = start + 2;
    // `\s*` is greedy: try after the longest run of whitespace first, then give characters back
    // one at a time.
    let run_end = after_braces + end_of_run(&query[after_braces..], is_python_space);
    std::iter::once(run_end)
        .chain(
            query[after_braces..run_end]
                .char_indices()
                .rev()
                .map(|(offset, _)| after_braces + offset),
        )
        .find_map(|dot| match_compat_after_space(query, start, dot))
}

/// The rest of the compat pattern, `.inputs.(\w+)\s*}}`, from `position`.
fn match_compat_after_space(query: &str, start: usize, position: usize) -> Option<Placeholder> {
    let mut chars = query[position..].char_indices();
    let any_but_newline = |chars: &mut std::str::CharIndices<'_>| {
        chars.next().filter(|&(_, c)| c != '\n').map(|_| ())
    };
    any_but_newline(&mut chars)?;
    for letter in ['i', 'n', 'p', 'u', 't', 's'] {
        let (_, c) = chars.next()?;
        if !python_ignorecase_eq(c, letter) {
            return None;
        }
    }
    any_but_newline(&mut chars)?;
    let name_start = position + chars.offset();
    // `\w+` and the `\s*` after it are greedy, and giving characters back cannot help: the
    // character given back is a word or space character, never the `}` that must follow.
    let name_end = name_start + end_of_run(&query[name_start..], is_python_word);
    if name_end == name_start {
        return None;
    }
    let space_end = name_end + end_of_run(&query[name_end..], is_python_space);
    if !query[space_end..].starts_with("}}") {
        return None;
    }
    Some(Placeholder {
        span: start..space_end + 2,
        name: query[name_start..name_end].to_owned(),
        filter: None,
    })
}

/// The byte length of the longest prefix of `text` whose characters satisfy `accept`.
fn end_of_run(text: &str, accept: fn(char) -> bool) -> usize {
    text.char_indices()
        .find(|&(_, c)| !accept(c))
        .map_or(text.len(), |(offset, _)| offset)
}

fn scan_safe(query: &str) -> PlaceholderScan {
    let mut scan = PlaceholderScan {
        placeholders: Vec::new(),
        malformed: Vec::new(),
    };
    let mut position = 0;
    while let Some(relative) = query[position..].find("{{") {
        let start = position + relative;
        match parse_safe_at(query, start) {
            SafeParse::Placeholder(placeholder) => {
                position = placeholder.span.end;
                scan.placeholders.push(placeholder);
            }
            SafeParse::Malformed(malformed) => {
                position = malformed.span.end;
                scan.malformed.push(malformed);
            }
            SafeParse::NotAPlaceholder => position = start + 1,
        }
    }
    scan
}

enum SafeParse {
    Placeholder(Placeholder),
    Malformed(MalformedPlaceholder),
    NotAPlaceholder,
}

/// Parses a safe-mode placeholder at `start`, where the query has `{{`.
fn parse_safe_at(query: &str, start: usize) -> SafeParse {
    if let Some(parsed) = parse_safe_placeholder(query, start) {
        return parsed;
    }
    // In `{{{ .inputs.x }}` the placeholder starts at the next brace.
    if query[start + 2..].starts_with('{') {
        return SafeParse::NotAPlaceholder;
    }
    let inner_start = start + 2;
    let (inner_end, span_end, problem) = match query[inner_start..].find("}}") {
        Some(relative) => (
            inner_start + relative,
            inner_start + relative + 2,
            PlaceholderProblem::Syntax,
        ),
        None => (query.len(), query.len(), PlaceholderProblem::Unterminated),
    };
    if query[inner_start..inner_end]
        .to_ascii_lowercase()
        .contains("inputs")
    {
        SafeParse::Malformed(MalformedPlaceholder {
            span: start..span_end,
            problem,
        })
    } else {
        SafeParse::NotAPlaceholder
    }
}

/// The strict safe grammar; `None` when the text is not of that shape at all.
fn parse_safe_placeholder(query: &str, start: usize) -> Option<SafeParse> {
    let mut position = start + 2;
    position += end_of_run(&query[position..], is_python_space);
    let prefix = query.get(position..position + ".inputs.".len())?;
    if !prefix.eq_ignore_ascii_case(".inputs.") {
        return None;
    }
    position += prefix.len();
    let name_start = position;
    position += ascii_identifier_len(&query[position..])?;
    let name = query[name_start..position].to_owned();
    position += end_of_run(&query[position..], is_python_space);
    let mut filter = None;
    if query[position..].starts_with('|') {
        position += 1;
        position += end_of_run(&query[position..], is_python_space);
        let filter_start = position;
        position += ascii_identifier_len(&query[position..])?;
        filter = Some(&query[filter_start..position]);
        position += end_of_run(&query[position..], is_python_space);
    }
    if !query[position..].starts_with("}}") {
        return None;
    }
    let span = start..position + 2;
    Some(match filter {
        None => SafeParse::Placeholder(Placeholder {
            span,
            name,
            filter: None,
        }),
        Some("identifier") => SafeParse::Placeholder(Placeholder {
            span,
            name,
            filter: Some(Filter::Identifier),
        }),
        Some(other) => SafeParse::Malformed(MalformedPlaceholder {
            span,
            problem: PlaceholderProblem::UnknownFilter {
                filter: other.to_owned(),
            },
        }),
    })
}

/// The length of the ASCII identifier (`[A-Za-z_][A-Za-z0-9_]*`) at the start of `text`.
fn ascii_identifier_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if !bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return None;
    }
    Some(
        bytes
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .unwrap_or(bytes.len()),
    )
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    /// Lists what the scanner finds, one line per placeholder or near-miss.
    fn check(query: &str, mode: Interpolation, expect: Expect) {
        let scan = scan_placeholders(query, mode);
        let mut lines = Vec::new();
        for placeholder in &scan.placeholders {
            lines.push(format!(
                "{:?} {:?} name={:?} filter={:?}",
                placeholder.span,
                &query[placeholder.span.clone()],
                placeholder.name,
                placeholder.filter
            ));
        }
        for malformed in &scan.malformed {
            lines.push(format!(
                "malformed {:?} {:?}: {}",
                malformed.span,
                &query[malformed.span.clone()],
                malformed.problem
            ));
        }
        expect.assert_eq(&lines.join("\n"));
    }

    #[test]
    fn compat_matches_the_reference_spellings() {
        check(
            "{{ .inputs.x }}+{{.inputs.x}}+{{ inputs.y }}+{{inputs.z}}+{{ #INPUTS/w \t}}",
            Interpolation::Compat,
            expect![[r#"
                0..15 "{{ .inputs.x }}" name="x" filter=None
                16..29 "{{.inputs.x}}" name="x" filter=None
                30..44 "{{ inputs.y }}" name="y" filter=None
                58..74 "{{ #INPUTS/w \t}}" name="w" filter=None"#]],
        );
    }

    #[test]
    fn compat_name_must_end_at_the_braces() {
        check(
            "{{ .inputs.x.y }} {{ .inputs.a b }} {{ .inputs. }} {{ .inputs.x | identifier }}",
            Interpolation::Compat,
            expect![[""]],
        );
    }

    #[test]
    fn compat_backtracks_into_leading_whitespace() {
        // The `.` takes the last space when the next character is already `i`.
        check(
            "{{  inputs.v}}",
            Interpolation::Compat,
            expect![[r#"0..14 "{{  inputs.v}}" name="v" filter=None"#]],
        );
        // A newline cannot be the `.`.
        check("{{\ninputs.v}}", Interpolation::Compat, expect![[""]]);
    }

    #[test]
    fn compat_folds_case_like_python() {
        check(
            "{{ .\u{130}nput\u{17F}.a }} {{ .\u{131}NPUTS.b }} {{ .\u{212A}nputs.c }}",
            Interpolation::Compat,
            expect![[r#"
                0..17 "{{ .İnputſ.a }}" name="a" filter=None
                18..34 "{{ .ıNPUTS.b }}" name="b" filter=None"#]],
        );
    }

    #[test]
    fn compat_names_are_unicode_words() {
        check(
            "{{ .inputs.größe_2 }} {{ .inputs.x\u{2028}}} {{ .inputs.\u{660}\u{B2} }}",
            Interpolation::Compat,
            expect![[r#"
                0..23 "{{ .inputs.größe_2 }}" name="größe_2" filter=None
                24..41 "{{ .inputs.x\u{2028}}}" name="x" filter=None
                42..60 "{{ .inputs.٠² }}" name="٠²" filter=None"#]],
        );
    }

    #[test]
    fn safe_accepts_values_and_identifiers() {
        check(
            "select {{.inputs.col|identifier}} from {{ .INPUTS.table | identifier }} where a = {{ .inputs.a }} and b = {{{ .inputs.b }}}",
            Interpolation::Safe,
            expect![[r#"
                7..33 "{{.inputs.col|identifier}}" name="col" filter=Some(Identifier)
                39..71 "{{ .INPUTS.table | identifier }}" name="table" filter=Some(Identifier)
                82..97 "{{ .inputs.a }}" name="a" filter=None
                107..122 "{{ .inputs.b }}" name="b" filter=None"#]],
        );
    }

    #[test]
    fn safe_reports_near_misses() {
        check(
            "{{ inputs.a }} {{ .inputs.b | upper }} {{ $inputs.c }} {{ .inputs.größe }} {{ .outputPrefix }} {{ .inputs.d",
            Interpolation::Safe,
            expect![[r#"
                malformed 0..14 "{{ inputs.a }}": a placeholder must read `{{ .inputs.NAME }}` or `{{ .inputs.NAME | identifier }}` with NAME made of ASCII letters, digits and `_`
                malformed 15..38 "{{ .inputs.b | upper }}": unknown filter `upper`: the only filter is `identifier`
                malformed 39..54 "{{ $inputs.c }}": a placeholder must read `{{ .inputs.NAME }}` or `{{ .inputs.NAME | identifier }}` with NAME made of ASCII letters, digits and `_`
                malformed 55..76 "{{ .inputs.größe }}": a placeholder must read `{{ .inputs.NAME }}` or `{{ .inputs.NAME | identifier }}` with NAME made of ASCII letters, digits and `_`
                malformed 97..109 "{{ .inputs.d": the placeholder has no closing `}}`"#]],
        );
    }
}
