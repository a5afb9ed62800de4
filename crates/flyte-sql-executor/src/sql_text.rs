//! Small lexical helpers for the describe step: finding bind placeholders outside quotes and
//! comments, and trimming a statement's trailing semicolons.

/// Replaces each bind placeholder (`?` for SQLite and MySQL, `$N` for PostgreSQL) that is not
/// inside a string literal, quoted identifier or comment with `replacement(n)`, where `n` counts
/// from 0 (for `$N`, `n = N - 1`).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn replace_placeholders(
    sql: &str,
    dollar_numbered: bool,
    replacement: impl Fn(usize) -> String,
) -> String {
    replace_placeholders_in_context(sql, dollar_numbered, |n, _| replacement(n))
}

/// The statement as the body of a describe view: trailing semicolons trimmed and each bind
/// replaced by a typed NULL (`cast(value)`), because a view cannot hold parameters.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn view_body(
    statement: &flyte_sql_template::Statement,
    dollar_numbered: bool,
    cast: fn(&flyte_sql_model::Value) -> &'static str,
) -> String {
    replace_placeholders(trim_statement(&statement.sql), dollar_numbered, |n| {
        statement
            .binds
            .get(n)
            .map_or("NULL", |bind| cast(&bind.value))
            .to_owned()
    })
}

/// As [`replace_placeholders`], with the statement text before the placeholder passed along.
pub(crate) fn replace_placeholders_in_context(
    sql: &str,
    dollar_numbered: bool,
    replacement: impl Fn(usize, &str) -> String,
) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 32);
    let mut index = 0;
    let mut next_question = 0;
    let mut copied_to = 0;
    while index < bytes.len() {
        match bytes[index] {
            quote @ (b'\'' | b'"' | b'`') => {
                index += 1;
                while index < bytes.len() {
                    if bytes[index] == b'\\' && quote == b'\'' && !dollar_numbered {
                        index += 2;
                        continue;
                    }
                    if bytes[index] == quote {
                        if bytes.get(index + 1) == Some(&quote) {
                            index += 2;
                            continue;
                        }
                        break;
                    }
                    index += 1;
                }
                index += 1;
            }
            b'-' if bytes.get(index + 1) == Some(&b'-') => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
            }
            b'/' if bytes.get(index + 1) == Some(&b'*') => {
                index += 2;
                while index + 1 < bytes.len() && !(bytes[index] == b'*' && bytes[index + 1] == b'/')
                {
                    index += 1;
                }
                index += 2;
            }
            b'?' if !dollar_numbered => {
                out.push_str(&sql[copied_to..index]);
                out.push_str(&replacement(next_question, &sql[..index]));
                next_question += 1;
                index += 1;
                copied_to = index;
            }
            b'$' if dollar_numbered => {
                let digits = bytes[index + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let follows_word = index > 0
                    && (bytes[index - 1].is_ascii_alphanumeric() || bytes[index - 1] == b'_');
                if digits > 0 && !follows_word {
                    let number: usize = sql[index + 1..index + 1 + digits].parse().unwrap_or(0);
                    out.push_str(&sql[copied_to..index]);
                    out.push_str(&replacement(number.saturating_sub(1), &sql[..index]));
                    index += 1 + digits;
                    copied_to = index;
                } else if let Some(end) = dollar_quote_end(sql, index) {
                    index = end;
                } else {
                    index += 1;
                }
            }
            _ => index += 1,
        }
    }
    out.push_str(&sql[copied_to.min(sql.len())..]);
    out
}

/// For a PostgreSQL dollar-quoted string starting at `start` (`$tag$ ... $tag$`), the index
/// just past its end.
fn dollar_quote_end(sql: &str, start: usize) -> Option<usize> {
    let rest = &sql[start + 1..];
    let tag_length = rest.find('$')?;
    let tag = &rest[..tag_length];
    if !tag.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let delimiter = format!("${tag}$");
    let body_start = start + delimiter.len();
    let body_end = sql[body_start..].find(&delimiter)?;
    Some(body_start + body_end + delimiter.len())
}

#[cfg(feature = "mysql")]
/// Whether a placeholder preceded by `before` is a `LIMIT` or `OFFSET` count, where MySQL
/// accepts only a bare placeholder or a literal.
pub(crate) fn is_limit_position(before: &str) -> bool {
    let trimmed = before.trim_end().to_ascii_lowercase();
    if trimmed.ends_with("limit") || trimmed.ends_with("offset") {
        return true;
    }
    // `LIMIT ?, ?`: the second count follows a comma after the first.
    trimmed
        .strip_suffix(',')
        .map(|rest| rest.trim_end())
        .and_then(|rest| rest.strip_suffix('?'))
        .is_some_and(|rest| rest.trim_end().ends_with("limit"))
}

/// The statement without trailing whitespace and semicolons, so that it can be wrapped.
pub(crate) fn trim_statement(sql: &str) -> &str {
    sql.trim_end_matches(|c: char| c.is_whitespace() || c == ';')
}

/// `(p, s)` from `DECIMAL(p, s)` or `(p)` from `DECIMAL(p)`.
pub(crate) fn precision_and_scale(declared: &str) -> Option<(u32, i32)> {
    let open = declared.find('(')?;
    let close = declared[open..].find(')')? + open;
    let mut parts = declared[open + 1..close].split(',');
    let precision = parts.next()?.trim().parse().ok()?;
    let scale = match parts.next() {
        Some(scale) => scale.trim().parse().ok()?,
        None => 0,
    };
    Some((precision, scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[test]
    fn placeholders_in_literals_and_comments_stay() {
        let replaced = replace_placeholders(
            "select ?, '?', \"?\" -- ?\n, /* ? */ ? from t",
            false,
            |n| format!("<{n}>"),
        );
        assert_eq!(
            replaced,
            "select <0>, '?', \"?\" -- ?\n, /* ? */ <1> from t"
        );
        let replaced = replace_placeholders("select $1, '$2', $$ $1 $$, x$1, $2", true, |n| {
            format!("<{n}>")
        });
        assert_eq!(replaced, "select <0>, '$2', $$ $1 $$, x$1, <1>");
        assert_eq!(trim_statement("select 1 ;\n"), "select 1");
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn limit_counts_are_recognised() {
        assert!(is_limit_position("select x from t LIMIT "));
        assert!(is_limit_position("select x from t limit ?, "));
        assert!(is_limit_position("select x from t limit 5 offset"));
        assert!(!is_limit_position("select x from t where a = "));
    }
}
