//! A rough SQL lexer that says whether a position of a query is inside quotes or a comment, for
//! compatible mode's warnings.
//!
//! The heuristic reads the query as written, from the start, treating each placeholder as opaque
//! text that changes nothing, and tracks: `'...'` strings with `''` escapes (and backslash
//! escapes for MySQL and for PostgreSQL `E'...'`), `"..."` (a string in MySQL, a quoted
//! identifier elsewhere, `""` escapes), MySQL `` `...` `` identifiers, `--` line comments (MySQL:
//! only before whitespace, so `--` right before a placeholder is code), MySQL `#` comments,
//! `/* */` block comments (nested for PostgreSQL) and PostgreSQL `$tag$...$tag$` strings. It does
//! not know statement boundaries, `X'..'` blobs, `N'..'` prefixes or server modes such as MySQL's
//! `ANSI_QUOTES`; a miss costs at most a wrong warning.

use std::ops::Range;

use crate::dialect::Dialect;

/// Where a position of the query is, lexically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Context {
    /// Plain SQL: a spliced value is SQL.
    Code,
    /// Inside quotes; `closers` lists every text in the value that would end them early.
    Quoted { closers: Vec<String> },
    /// Inside a comment.
    Comment,
}

/// The context at the start of each span of `spans` (sorted, not overlapping) in `query`.
pub(crate) fn contexts_at(query: &str, dialect: Dialect, spans: &[Range<usize>]) -> Vec<Context> {
    let mut lexer = Lexer {
        dialect,
        state: State::Code,
        previous: None,
    };
    let mut contexts = Vec::with_capacity(spans.len());
    let mut position = 0;
    for span in spans {
        lexer.feed(&query[position..span.start]);
        contexts.push(lexer.context());
        position = span.end;
        // A placeholder stands for a value, like a word character before a quote or `$`.
        lexer.previous = Some('x');
    }
    contexts
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Code,
    SingleQuoted { backslash_escapes: bool },
    DoubleQuoted,
    Backticked,
    DollarQuoted { tag: String },
    LineComment,
    BlockComment { depth: u32 },
}

struct Lexer {
    dialect: Dialect,
    state: State,
    /// The last character fed, for `E'` and `$tag$` detection.
    previous: Option<char>,
}

impl Lexer {
    fn context(&self) -> Context {
        let mysql = self.dialect == Dialect::Mysql;
        let closers: Vec<String> = match &self.state {
            State::Code => return Context::Code,
            State::LineComment | State::BlockComment { .. } => return Context::Comment,
            State::SingleQuoted { backslash_escapes } => {
                let mut closers = Vec::from(["'".to_owned()]);
                if *backslash_escapes {
                    closers.push("\\".to_owned());
                }
                closers
            }
            State::DoubleQuoted if mysql => Vec::from(["\"".to_owned(), "\\".to_owned()]),
            State::DoubleQuoted => Vec::from(["\"".to_owned()]),
            State::Backticked => Vec::from(["`".to_owned()]),
            State::DollarQuoted { tag } => Vec::from([format!("${tag}$")]),
        };
        Context::Quoted { closers }
    }

    fn feed(&mut self, text: &str) {
        let mysql = self.dialect == Dialect::Mysql;
        let postgres = self.dialect == Dialect::Postgres;
        let mut chars = text.char_indices().peekable();
        while let Some((offset, c)) = chars.next() {
            let next = chars.peek().map(|&(_, next)| next);
            match &mut self.state {
                State::Code => match c {
                    '\'' => {
                        let escape_prefix = matches!(self.previous, Some('e' | 'E'))
                            && !is_word(text[..offset].chars().rev().nth(1));
                        self.state = State::SingleQuoted {
                            backslash_escapes: mysql || (postgres && escape_prefix),
                        };
                    }
                    '"' => self.state = State::DoubleQuoted,
                    '`' if mysql => self.state = State::Backticked,
                    '#' if mysql => self.state = State::LineComment,
                    '-' if next == Some('-') => {
                        let after = text[offset + 2..].chars().next();
                        if !mysql
                            || after
                                .is_some_and(|after| after.is_whitespace() || after.is_control())
                        {
                            chars.next();
                            self.state = State::LineComment;
                        }
                    }
                    '/' if next == Some('*') => {
                        chars.next();
                        self.state = State::BlockComment { depth: 1 };
                    }
                    '$' if postgres && !is_word(self.previous) => {
                        if let Some(tag) = dollar_tag(&text[offset + 1..]) {
                            for _ in 0..=tag.chars().count() {
                                chars.next();
                            }
                            self.state = State::DollarQuoted { tag };
                        }
                    }
                    _ => {}
                },
                State::SingleQuoted { backslash_escapes } => match c {
                    '\\' if *backslash_escapes => {
                        chars.next();
                    }
                    '\'' if next == Some('\'') => {
                        chars.next();
                    }
                    '\'' => self.state = State::Code,
                    _ => {}
                },
                State::DoubleQuoted => match c {
                    '\\' if mysql => {
                        chars.next();
                    }
                    '"' if next == Some('"') => {
                        chars.next();
                    }
                    '"' => self.state = State::Code,
                    _ => {}
                },
                State::Backticked => match c {
                    '`' if next == Some('`') => {
                        chars.next();
                    }
                    '`' => self.state = State::Code,
                    _ => {}
                },
                State::DollarQuoted { tag } => {
                    if c == '$' && text[offset + 1..].starts_with(&format!("{tag}$")) {
                        for _ in 0..=tag.chars().count() {
                            chars.next();
                        }
                        self.state = State::Code;
                    }
                }
                State::LineComment => {
                    if c == '\n' {
                        self.state = State::Code;
                    }
                }
                State::BlockComment { depth } => {
                    if c == '*' && next == Some('/') {
                        chars.next();
                        *depth -= 1;
                        if *depth == 0 {
                            self.state = State::Code;
                        }
                    } else if c == '/' && next == Some('*') && postgres {
                        chars.next();
                        *depth += 1;
                    }
                }
            }
            self.previous = Some(c);
        }
    }
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// The tag of a PostgreSQL dollar quote whose first `$` was just read, when `rest` continues
/// one: an empty tag or an identifier that does not start with a digit, then `$`.
fn dollar_tag(rest: &str) -> Option<String> {
    let end = rest.find('$')?;
    let tag = &rest[..end];
    let mut chars = tag.chars();
    let valid = match chars.next() {
        None => true,
        Some(first) => {
            (first.is_alphabetic() || first == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_')
        }
    };
    valid.then(|| tag.to_owned())
}
