//! The one SQL lexer of the workspace: splits a query into tokens by the rules of its
//! [`Dialect`], treating placeholders as opaque tokens.
//!
//! Everything that needs to know where SQL code, quotes and comments are reads this lexer's
//! tokens: safe mode (whether a placeholder may become a bind), compatible mode's warnings, the
//! one-statement check and the positions of bind markers. The rules per dialect:
//!
//! | | SQLite | PostgreSQL | MySQL/MariaDB |
//! |---|---|---|---|
//! | `-- ` line comment | yes | yes | only before whitespace, a control character or the end |
//! | `#` line comment | no | no | yes |
//! | `/* */` block comment | flat | nested | flat; `/*!` and `/*M!` are code (the server runs them) |
//! | `'...'` string | `''` | `''`; `E'...'` adds backslash escapes | `''` and backslash escapes |
//! | `"..."` | identifier | identifier | string, as `'...'` |
//! | `` `...` `` identifier | yes | no | yes |
//! | `[...]` identifier | yes | no | no |
//! | `$tag$...$tag$` string | no | yes | no |
//! | parameter markers | `?`, `?NNN`, `:name`, `@name`, `$name` | `$N` | `?` |
//!
//! Not modelled: server modes that change the rules (MySQL's `ANSI_QUOTES` and
//! `NO_BACKSLASH_ESCAPES`, PostgreSQL's `standard_conforming_strings = off`); `docs/statements.md`
//! says what that means. An unterminated quote or comment runs to the end of the text.

use std::ops::Range;

use crate::dialect::Dialect;

/// One token of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// What it is.
    pub(crate) kind: Kind,
    /// Where it is, in bytes.
    pub(crate) range: Range<usize>,
}

/// The kinds of tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A keyword, identifier or number: a run of letters, digits, `_` (and `$` after the first
    /// character, as PostgreSQL and MySQL allow).
    Word,
    /// Any other single character of code.
    Symbol,
    /// Whitespace.
    Space,
    /// A comment, delimiters included.
    Comment,
    /// A `;` in code.
    Semicolon,
    /// A parameter marker the dialect's database would bind (`?`, `$1`, `:name`, ...).
    Marker,
    /// The placeholder with this index in the spans given to [`lex`], in code.
    Placeholder(usize),
    /// A quoted string or identifier, quotes included.
    Quoted(Quoted),
}

/// What a quoted token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quoted {
    /// A string literal or a quoted identifier.
    pub(crate) role: Role,
    /// The text that ends it (`'`, `"`, `` ` ``, `]` or `$tag$`).
    pub(crate) closer: String,
    /// Whether a backslash escapes the next character inside it.
    pub(crate) backslash_escapes: bool,
    /// The text between the quotes, in bytes.
    pub(crate) content: Range<usize>,
}

/// The role of a quoted token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A string literal (a dollar-quoted string included).
    String,
    /// A quoted identifier.
    Identifier,
}

/// A lexed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lexed {
    /// The tokens, covering the whole text in order.
    pub(crate) tokens: Vec<Token>,
    /// For each placeholder span given to [`lex`], the index of the token that holds it: a
    /// [`Kind::Placeholder`] in code, else the quoted token or comment it sits in.
    pub(crate) placeholder_tokens: Vec<usize>,
}

impl Lexed {
    /// Where the first `;` that separates two statements is, when there is more than one
    /// statement (anything but whitespace, comments and `;` after a `;`).
    pub(crate) fn second_statement(&self) -> Option<usize> {
        let mut separator = None;
        for token in &self.tokens {
            match token.kind {
                Kind::Semicolon => {
                    separator.get_or_insert(token.range.start);
                }
                Kind::Space | Kind::Comment => {}
                _ if separator.is_some() => return separator,
                _ => {}
            }
        }
        None
    }

    /// The end of the statement proper: the end of its last token that is not whitespace, a
    /// comment or a `;`.
    pub(crate) fn body_end(&self) -> usize {
        self.tokens
            .iter()
            .rev()
            .find(|token| !matches!(token.kind, Kind::Space | Kind::Comment | Kind::Semicolon))
            .map_or(0, |token| token.range.end)
    }

    /// The first token of the statement when it is a word (its leading keyword, as `select` or
    /// `with`), after any whitespace and comments.
    pub(crate) fn leading_word(&self) -> Option<Range<usize>> {
        self.tokens
            .iter()
            .find(|token| !matches!(token.kind, Kind::Space | Kind::Comment))
            .filter(|token| token.kind == Kind::Word)
            .map(|token| token.range.clone())
    }

    /// Whether the code token at `index` is a `LIMIT` or `OFFSET` count (`LIMIT x`, `OFFSET x`,
    /// `LIMIT x, y`), where MySQL accepts only a bare marker or a literal.
    pub(crate) fn is_limit_count(&self, text: &str, index: usize) -> bool {
        let mut before = self.tokens[..index]
            .iter()
            .rev()
            .filter(|token| !matches!(token.kind, Kind::Space | Kind::Comment));
        let keyword = |token: Option<&Token>, keywords: &[&str]| {
            token.is_some_and(|token| {
                token.kind == Kind::Word
                    && keywords
                        .iter()
                        .any(|keyword| text[token.range.clone()].eq_ignore_ascii_case(keyword))
            })
        };
        let previous = before.next();
        if keyword(previous, &["limit", "offset"]) {
            return true;
        }
        let comma = previous.is_some_and(|token| &text[token.range.clone()] == ",");
        let count = before.next().is_some_and(|token| {
            matches!(token.kind, Kind::Word | Kind::Marker | Kind::Placeholder(_))
        });
        comma && count && keyword(before.next(), &["limit"])
    }
}

/// Lexes `text` by the rules of `dialect`. `placeholders` are byte ranges of `text` (sorted, not
/// overlapping) that are opaque: in code each becomes one [`Kind::Placeholder`] token, inside a
/// quote or comment it is skipped without ending it.
pub(crate) fn lex(text: &str, dialect: Dialect, placeholders: &[Range<usize>]) -> Lexed {
    let mut lexer = Lexer {
        text,
        bytes: text.as_bytes(),
        dialect,
        placeholders,
        next_placeholder: 0,
        position: 0,
        tokens: Vec::new(),
        placeholder_tokens: Vec::with_capacity(placeholders.len()),
    };
    while lexer.position < text.len() {
        lexer.token();
    }
    Lexed {
        tokens: lexer.tokens,
        placeholder_tokens: lexer.placeholder_tokens,
    }
}

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    dialect: Dialect,
    placeholders: &'a [Range<usize>],
    next_placeholder: usize,
    position: usize,
    tokens: Vec<Token>,
    placeholder_tokens: Vec<usize>,
}

impl Lexer<'_> {
    fn at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.position + offset).copied()
    }

    fn rest(&self) -> &str {
        &self.text[self.position..]
    }

    /// Whether the text at the current position starts with `prefix` (the position may be inside
    /// a character of a comment, which is skipped byte by byte).
    fn looking_at(&self, prefix: &str) -> bool {
        self.bytes[self.position..].starts_with(prefix.as_bytes())
    }

    /// The span of the next placeholder when it starts at `position`.
    fn placeholder_at(&self, position: usize) -> Option<Range<usize>> {
        self.placeholders
            .get(self.next_placeholder)
            .filter(|span| span.start == position)
            .cloned()
    }

    /// Whether the token before the current position is a word ending right here. A placeholder
    /// is not: safe mode separates the marker it becomes from what follows.
    fn follows_word(&self) -> bool {
        self.tokens
            .last()
            .is_some_and(|token| token.range.end == self.position && token.kind == Kind::Word)
    }

    fn push(&mut self, kind: Kind, start: usize) {
        self.tokens.push(Token {
            kind,
            range: start..self.position,
        });
    }

    fn token(&mut self) {
        let start = self.position;
        if let Some(span) = self.placeholder_at(start) {
            self.position = span.end;
            self.placeholder_tokens.push(self.tokens.len());
            let index = self.next_placeholder;
            self.next_placeholder += 1;
            self.push(Kind::Placeholder(index), start);
            return;
        }
        let mysql = self.dialect == Dialect::Mysql;
        let postgres = self.dialect == Dialect::Postgres;
        let sqlite = self.dialect == Dialect::Sqlite;
        let c = self.bytes[start];
        let next = self.at(1);
        match c {
            b'\'' => {
                // `E'...'` (PostgreSQL): the `E` is a word of its own, right before the quote.
                let escape_prefix = postgres
                    && self.tokens.last().is_some_and(|token| {
                        token.kind == Kind::Word
                            && token.range.end == start
                            && self.text[token.range.clone()].eq_ignore_ascii_case("e")
                    });
                self.quoted(Role::String, "'", mysql || escape_prefix);
            }
            b'"' if mysql => self.quoted(Role::String, "\"", true),
            b'"' => self.quoted(Role::Identifier, "\"", false),
            b'`' if mysql || sqlite => self.quoted(Role::Identifier, "`", false),
            b'[' if sqlite => self.quoted(Role::Identifier, "]", false),
            b'#' if mysql => self.line_comment(),
            b'-' if next == Some(b'-') => {
                let after = self.at(2);
                if !mysql || after.is_none_or(|after| after.is_ascii_whitespace() || after < 0x20) {
                    self.line_comment();
                } else {
                    self.position += 1;
                    self.push(Kind::Symbol, start);
                }
            }
            b'/' if next == Some(b'*') => {
                let rest = self.rest();
                if mysql && (rest.starts_with("/*!") || rest.starts_with("/*M!")) {
                    // Executable comments: the server runs their text, so it is code.
                    self.position += if rest.starts_with("/*!") { 3 } else { 4 };
                    self.push(Kind::Symbol, start);
                } else {
                    self.block_comment();
                }
            }
            b'$' if postgres && !self.follows_word() => {
                if let Some(tag) = dollar_tag(&self.rest()[1..]) {
                    let delimiter = format!("${tag}$");
                    self.position += delimiter.len();
                    let content_start = self.position;
                    let content_end = self.skip_until(&delimiter);
                    self.tokens.push(Token {
                        kind: Kind::Quoted(Quoted {
                            role: Role::String,
                            closer: delimiter,
                            backslash_escapes: false,
                            content: content_start..content_end,
                        }),
                        range: start..self.position,
                    });
                } else {
                    let digits = self.run_len(1, |b| b.is_ascii_digit());
                    self.position += 1 + digits;
                    let kind = if digits > 0 {
                        Kind::Marker
                    } else {
                        Kind::Symbol
                    };
                    self.push(kind, start);
                }
            }
            b'?' if !postgres => {
                let digits = if sqlite {
                    self.run_len(1, |b| b.is_ascii_digit())
                } else {
                    0
                };
                self.position += 1 + digits;
                self.push(Kind::Marker, start);
            }
            b':' | b'@' | b'$' if sqlite && next.is_some_and(is_word_byte) => {
                self.position += 1 + self.run_len(1, is_word_byte);
                self.push(Kind::Marker, start);
            }
            b';' => {
                self.position += 1;
                self.push(Kind::Semicolon, start);
            }
            c if c.is_ascii_whitespace() => {
                self.position += self.run_len(0, |b| b.is_ascii_whitespace());
                self.push(Kind::Space, start);
            }
            c if is_word_byte(c) => {
                let dollar = !sqlite;
                self.position += 1 + self.run_len(1, |b| is_word_byte(b) || (dollar && b == b'$'));
                self.push(Kind::Word, start);
            }
            _ => {
                let width = self.rest().chars().next().map_or(1, char::len_utf8);
                if self.rest().starts_with(char::is_whitespace) {
                    self.position += width;
                    self.push(Kind::Space, start);
                } else {
                    self.position += width;
                    self.push(Kind::Symbol, start);
                }
            }
        }
    }

    /// How many bytes from `offset` on satisfy `accept`, stopping at a placeholder.
    fn run_len(&self, offset: usize, accept: impl Fn(u8) -> bool) -> usize {
        let boundary = self
            .placeholders
            .get(self.next_placeholder)
            .map_or(self.bytes.len(), |span| span.start);
        self.bytes[(self.position + offset).min(boundary)..boundary]
            .iter()
            .take_while(|&&b| accept(b))
            .count()
    }

    /// Moves past the next `delimiter` (skipping placeholders) and returns where it starts, or
    /// moves to the end and returns that.
    fn skip_until(&mut self, delimiter: &str) -> usize {
        let token = self.tokens.len();
        while self.position < self.bytes.len() {
            if let Some(span) = self.placeholder_at(self.position) {
                self.enclosed_placeholder(token, span);
                continue;
            }
            if self.looking_at(delimiter) {
                let end = self.position;
                self.position += delimiter.len();
                return end;
            }
            self.position += self.rest().chars().next().map_or(1, char::len_utf8);
        }
        self.position
    }

    fn enclosed_placeholder(&mut self, token: usize, span: Range<usize>) {
        self.placeholder_tokens.push(token);
        self.next_placeholder += 1;
        self.position = span.end;
    }

    fn quoted(&mut self, role: Role, closer: &str, backslash_escapes: bool) {
        let start = self.position;
        let token = self.tokens.len();
        let quote = closer.as_bytes()[0];
        self.position += 1;
        let content_start = self.position;
        let mut content_end = self.bytes.len();
        while self.position < self.bytes.len() {
            if let Some(span) = self.placeholder_at(self.position) {
                self.enclosed_placeholder(token, span);
                continue;
            }
            let c = self.bytes[self.position];
            if c == b'\\' && backslash_escapes {
                self.position += 1;
                // A placeholder right after a backslash is still a placeholder: opaque.
                if self.position < self.bytes.len() && self.placeholder_at(self.position).is_none()
                {
                    self.position += self.rest().chars().next().map_or(1, char::len_utf8);
                }
                continue;
            }
            if c == quote {
                if self.at(1) == Some(quote) {
                    self.position += 2;
                    continue;
                }
                content_end = self.position;
                self.position += 1;
                break;
            }
            self.position += self.rest().chars().next().map_or(1, char::len_utf8);
        }
        self.tokens.push(Token {
            kind: Kind::Quoted(Quoted {
                role,
                closer: closer.to_owned(),
                backslash_escapes,
                content: content_start..content_end,
            }),
            range: start..self.position,
        });
    }

    fn line_comment(&mut self) {
        let start = self.position;
        let token = self.tokens.len();
        while self.position < self.bytes.len() {
            if let Some(span) = self.placeholder_at(self.position) {
                self.enclosed_placeholder(token, span);
                continue;
            }
            if self.bytes[self.position] == b'\n' {
                break;
            }
            self.position += 1;
        }
        self.push(Kind::Comment, start);
    }

    fn block_comment(&mut self) {
        let start = self.position;
        let token = self.tokens.len();
        let nested = self.dialect == Dialect::Postgres;
        let mut depth = 1_u32;
        self.position += 2;
        while self.position < self.bytes.len() {
            if let Some(span) = self.placeholder_at(self.position) {
                self.enclosed_placeholder(token, span);
                continue;
            }
            if self.looking_at("*/") {
                self.position += 2;
                depth -= 1;
                if depth == 0 {
                    break;
                }
            } else if nested && self.looking_at("/*") {
                self.position += 2;
                depth += 1;
            } else {
                self.position += 1;
            }
        }
        self.push(Kind::Comment, start);
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The tag of a PostgreSQL dollar quote whose first `$` was just read, when `rest` continues
/// one: an empty tag or an identifier that does not start with a digit, then `$`.
fn dollar_tag(rest: &str) -> Option<&str> {
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
    valid.then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens of `text` as `kind:text` lines, whitespace left out.
    fn tokens(text: &str, dialect: Dialect, placeholders: &[Range<usize>]) -> Vec<String> {
        lex(text, dialect, placeholders)
            .tokens
            .into_iter()
            .filter(|token| token.kind != Kind::Space)
            .map(|token| {
                let kind = match token.kind {
                    Kind::Word => "word",
                    Kind::Symbol => "symbol",
                    Kind::Space => "space",
                    Kind::Comment => "comment",
                    Kind::Semicolon => "semicolon",
                    Kind::Marker => "marker",
                    Kind::Placeholder(_) => "placeholder",
                    Kind::Quoted(Quoted {
                        role: Role::String, ..
                    }) => "string",
                    Kind::Quoted(Quoted {
                        role: Role::Identifier,
                        ..
                    }) => "identifier",
                };
                format!("{kind}:{}", &text[token.range])
            })
            .collect()
    }

    #[test]
    fn sqlite_rules() {
        assert_eq!(
            tokens(
                "select 'a''?' \"b?\" `c?` [d?] ?1 :x @y $z -- ?\n/* ? /* */ ?",
                Dialect::Sqlite,
                &[]
            ),
            [
                "word:select",
                "string:'a''?'",
                "identifier:\"b?\"",
                "identifier:`c?`",
                "identifier:[d?]",
                "marker:?1",
                "marker::x",
                "marker:@y",
                "marker:$z",
                "comment:-- ?",
                "comment:/* ? /* */",
                "marker:?",
            ]
        );
    }

    #[test]
    fn postgres_rules() {
        assert_eq!(
            tokens(
                "select E'a\\'?', 'b\\', $1, x$1, $$ $2 $$, $t$ ' $t$, ? , \"c\"\"d\" /* /* */ $3 */ a::int -- $4",
                Dialect::Postgres,
                &[]
            ),
            [
                "word:select",
                "word:E",
                "string:'a\\'?'",
                "symbol:,",
                "string:'b\\'",
                "symbol:,",
                "marker:$1",
                "symbol:,",
                "word:x$1",
                "symbol:,",
                "string:$$ $2 $$",
                "symbol:,",
                "string:$t$ ' $t$",
                "symbol:,",
                "symbol:?",
                "symbol:,",
                "identifier:\"c\"\"d\"",
                "comment:/* /* */ $3 */",
                "word:a",
                "symbol::",
                "symbol::",
                "word:int",
                "comment:-- $4",
            ]
        );
    }

    #[test]
    fn mysql_rules() {
        assert_eq!(
            tokens(
                "select 'a\\'?', \"b\\\"?\", `c?`, 1--1, ? # ?\n-- ?\n/* /* */ ? /*! ? */ --",
                Dialect::Mysql,
                &[]
            ),
            [
                "word:select",
                "string:'a\\'?'",
                "symbol:,",
                "string:\"b\\\"?\"",
                "symbol:,",
                "identifier:`c?`",
                "symbol:,",
                "word:1",
                "symbol:-",
                "symbol:-",
                "word:1",
                "symbol:,",
                "marker:?",
                "comment:# ?",
                "comment:-- ?",
                "comment:/* /* */",
                "marker:?",
                "symbol:/*!",
                "marker:?",
                "symbol:*",
                "symbol:/",
                "comment:--",
            ]
        );
    }

    #[test]
    fn placeholders_are_opaque_everywhere() {
        let text = "a {{x}} '{{y}}' -- {{z}}\n/* {{w}} */";
        let spans = [2..7, 9..14, 19..24, 28..33];
        let lexed = lex(text, Dialect::Postgres, &spans);
        let kinds: Vec<_> = lexed
            .placeholder_tokens
            .iter()
            .map(|&index| &lexed.tokens[index].kind)
            .collect();
        assert!(matches!(kinds[0], Kind::Placeholder(0)));
        assert!(matches!(kinds[1], Kind::Quoted(_)));
        assert!(matches!(kinds[2], Kind::Comment));
        assert!(matches!(kinds[3], Kind::Comment));
        // A placeholder cannot end a quote, whatever its text.
        let placeholder = std::slice::from_ref(&(1..6));
        let lexed = lex("'{{'}}' x", Dialect::Sqlite, placeholder);
        assert_eq!(lexed.tokens[0].range, 0..7);
    }

    #[test]
    fn statements_and_limits() {
        let lexed = lex("select 1; -- done\n;", Dialect::Sqlite, &[]);
        assert_eq!(lexed.second_statement(), None);
        assert_eq!(lexed.body_end(), 8);
        let lexed = lex("select 1; drop table t", Dialect::Sqlite, &[]);
        assert_eq!(lexed.second_statement(), Some(8));
        let text = "select ? from t limit ?, ? offset ?";
        let lexed = lex(text, Dialect::Mysql, &[]);
        let limits: Vec<bool> = lexed
            .tokens
            .iter()
            .enumerate()
            .filter(|(_, token)| token.kind == Kind::Marker)
            .map(|(index, _)| lexed.is_limit_count(text, index))
            .collect();
        assert_eq!(limits, [false, true, true, true]);
    }
}
