//! Safe mode: placeholders become typed bind parameters, where the lexer says a value can go.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::ops::Range;

use flyte_sql_model::{Filter, InputValues, Interpolation, Placeholder, Value, scan_placeholders};

use crate::dialect::Dialect;
use crate::error::{Error, IdentifierProblem, PlaceholderContext, Result};
use crate::lexer::{Kind, Lexed, Role, lex};
use crate::statement::{Bind, BindMarker, Statement};

/// Renders `query` in safe mode for `dialect`: each `{{ .inputs.NAME }}` becomes a bind
/// parameter and each `{{ .inputs.NAME | identifier }}` a quoted identifier (syntax in
/// [`flyte_sql_model::scan_placeholders`]).
///
/// Where a placeholder may stand is decided by the dialect's lexer ([`check_query`] lists the
/// rules): in code, or as a whole quoted string (`'{{ .inputs.n }}'`, and `"{{ .inputs.n }}"` on
/// MySQL, where `"` quotes strings), which becomes the bind with its quotes dropped, so that
/// queries written for the reference's splicing work unchanged.
///
/// PostgreSQL gets `$1`, `$2`, ... numbered by first appearance, and a repeated placeholder of
/// the same input reuses its number; SQLite and MySQL get one `?` and one bind per occurrence.
/// A marker gets a space on a side where it would otherwise run into a word, a quote or another
/// marker (`x{{ .inputs.n }}` becomes `x $1`, never the identifier `x$1`). The SQL text therefore
/// depends only on the query, the dialect and the identifier values, never on a bound value.
/// Other text is copied unchanged, and the statement records where each marker is
/// ([`Statement::markers`]).
///
/// Errors, in this order: the first malformed placeholder ([`Error::MalformedPlaceholder`]); the
/// checks of [`check_query`]; the first placeholder without a value ([`Error::MissingInput`]) or
/// whose value cannot be an identifier ([`Error::InvalidIdentifier`]); values no placeholder
/// uses ([`Error::UnusedInputs`]).
///
/// ```
/// use flyte_sql_model::{InputValues, Value};
/// use flyte_sql_template::{Dialect, render_safe};
///
/// let inputs = InputValues::from([
///     ("table".to_owned(), Value::String("tracks".to_owned())),
///     ("n".to_owned(), Value::Integer(5)),
///     ("who".to_owned(), Value::String("O'Brien".to_owned())),
/// ]);
/// let query = "select * from {{ .inputs.table | identifier }} \
///              where composer = '{{ .inputs.who }}' limit {{ .inputs.n }}";
/// let statement = render_safe(query, Dialect::Mysql, &inputs)?;
/// assert_eq!(statement.sql, "select * from `tracks` where composer = ? limit ?");
/// assert_eq!(statement.binds[0].value, Value::String("O'Brien".to_owned()));
/// assert!(statement.markers()[1].limit_count);
/// # Ok::<(), flyte_sql_template::Error>(())
/// ```
pub fn render_safe(query: &str, dialect: Dialect, inputs: &InputValues) -> Result<Statement> {
    let checked = check_safe(query, dialect)?;
    let mut sql = String::with_capacity(query.len());
    let mut binds: Vec<Bind> = Vec::new();
    let mut markers: Vec<BindMarker> = Vec::new();
    let mut used = BTreeSet::new();
    let mut copied_up_to = 0;
    for (placeholder, place) in checked.placeholders.iter().zip(&checked.places) {
        let name = &placeholder.name;
        let Some(value) = inputs.get(name) else {
            return Err(Error::MissingInput {
                name: name.clone(),
                placeholder: query[placeholder.span.clone()].to_owned(),
                offset: placeholder.span.start,
            });
        };
        used.insert(name.as_str());
        sql.push_str(&query[copied_up_to..place.replaced.start]);
        copied_up_to = place.replaced.end;
        if placeholder.filter == Some(Filter::Identifier) {
            let quoted =
                identifier(value, dialect).map_err(|problem| Error::InvalidIdentifier {
                    name: name.clone(),
                    problem,
                })?;
            sql.push_str(&quoted);
            continue;
        }
        let bind = match binds.iter().position(|bind| &bind.name == name) {
            Some(index) if dialect == Dialect::Postgres => index,
            _ => {
                binds.push(Bind {
                    name: name.clone(),
                    value: value.clone(),
                });
                binds.len() - 1
            }
        };
        if sql.chars().next_back().is_some_and(sticks_to_marker) {
            sql.push(' ');
        }
        let start = sql.len();
        match dialect {
            Dialect::Postgres => {
                let _ = write!(sql, "${}", bind + 1);
            }
            Dialect::Sqlite | Dialect::Mysql => sql.push('?'),
        }
        markers.push(BindMarker {
            range: start..sql.len(),
            bind,
            limit_count: place.limit_count,
        });
        if query[copied_up_to..]
            .chars()
            .next()
            .is_some_and(sticks_to_marker)
        {
            sql.push(' ');
        }
    }
    sql.push_str(&query[copied_up_to..]);
    let unused: Vec<String> = inputs
        .keys()
        .filter(|name| !used.contains(name.as_str()))
        .cloned()
        .collect();
    if !unused.is_empty() {
        return Err(Error::UnusedInputs { names: unused });
    }
    // The markers were placed by the lexer's reading of the template; the database reads the
    // rendered text. Both readings must agree, or the binds would go to the wrong markers.
    let rendered = lex(&sql, dialect, &[]);
    let found: Vec<Range<usize>> = rendered
        .tokens
        .iter()
        .filter(|token| token.kind == Kind::Marker)
        .map(|token| token.range.clone())
        .collect();
    if found.len() != markers.len()
        || found
            .iter()
            .zip(&markers)
            .any(|(found, marker)| *found != marker.range)
        || rendered.second_statement().is_some()
    {
        return Err(Error::MarkersMoved {
            expected: markers.len(),
            found: found.len(),
        });
    }
    Ok(Statement {
        body_end: rendered.body_end(),
        leading_word: rendered.leading_word(),
        sql,
        binds,
        markers,
        unsendable: None,
    })
}

/// Checks, when a task is defined, that its query can be rendered for `dialect` without knowing
/// any value: the same checks [`render`](crate::render) makes before it renders.
///
/// In both modes the query must be one statement (a trailing `;` and comments are fine):
/// [`Error::MultipleStatements`]; and no bind marker of the dialect's own (`?`, `$1`, `:name`,
/// ...) may appear outside quotes and comments ([`Error::OwnBindMarker`]): in safe mode it would
/// collide with the markers safe mode places, in compatible mode nothing is bound to it. In safe
/// mode, also:
///
/// - every placeholder is well formed ([`Error::MalformedPlaceholder`]);
/// - a value placeholder stands in code or is a whole quoted string (`'{{ .inputs.n }}'`);
///   inside a longer string, a comment, a quoted identifier or a dollar-quoted string it is
///   refused ([`Error::MisplacedPlaceholder`], whose message shows the fix);
/// - an `| identifier` placeholder stands in code, since it brings its own quotes.
///
/// ```
/// use flyte_sql_model::Interpolation;
/// use flyte_sql_template::{Dialect, check_query};
///
/// let safe = Interpolation::Safe;
/// assert!(check_query("select * from t where a = '{{ .inputs.a }}'", safe, Dialect::Postgres).is_ok());
/// let error = check_query("select 'id-{{ .inputs.a }}'", safe, Dialect::Postgres).unwrap_err();
/// assert!(error.to_string().contains("'id-' || {{ .inputs.a }}"));
/// assert!(check_query("select 1; select 2", Interpolation::Compat, Dialect::Sqlite).is_err());
/// ```
pub fn check_query(query: &str, interpolation: Interpolation, dialect: Dialect) -> Result<()> {
    match interpolation {
        Interpolation::Safe => check_safe(query, dialect).map(drop),
        Interpolation::Compat => crate::compat::check_compat(query, dialect).map(drop),
    }
}

/// A query that passed safe mode's checks: its placeholders and where each one goes.
struct Checked {
    placeholders: Vec<Placeholder>,
    places: Vec<Place>,
}

/// Where a placeholder's output goes.
struct Place {
    /// The text it replaces: the placeholder, or the quoted string it fills.
    replaced: Range<usize>,
    /// Whether it is a `LIMIT`/`OFFSET` count.
    limit_count: bool,
}

fn check_safe(query: &str, dialect: Dialect) -> Result<Checked> {
    let scan = scan_placeholders(query, Interpolation::Safe);
    if let Some(malformed) = scan.malformed.into_iter().next() {
        return Err(Error::MalformedPlaceholder {
            text: query[malformed.span.clone()].to_owned(),
            offset: malformed.span.start,
            problem: malformed.problem,
        });
    }
    let spans: Vec<Range<usize>> = scan
        .placeholders
        .iter()
        .map(|placeholder| placeholder.span.clone())
        .collect();
    let lexed = lex(query, dialect, &spans);
    let mut places = Vec::with_capacity(spans.len());
    for (placeholder, &token) in scan.placeholders.iter().zip(&lexed.placeholder_tokens) {
        places.push(place(query, dialect, &lexed, placeholder, token)?);
    }
    if let Some(marker) = lexed.tokens.iter().find(|token| token.kind == Kind::Marker) {
        return Err(Error::OwnBindMarker {
            marker: query[marker.range.clone()].to_owned(),
            offset: marker.range.start,
            dialect,
        });
    }
    if let Some(offset) = lexed.second_statement() {
        return Err(Error::MultipleStatements { offset });
    }
    Ok(Checked {
        placeholders: scan.placeholders,
        places,
    })
}

/// Where the placeholder held by token `index` may go, or why it may not.
fn place(
    query: &str,
    dialect: Dialect,
    lexed: &Lexed,
    placeholder: &Placeholder,
    index: usize,
) -> Result<Place> {
    let token = &lexed.tokens[index];
    let identifier = placeholder.filter == Some(Filter::Identifier);
    let context = match &token.kind {
        Kind::Placeholder(_) => {
            return Ok(Place {
                replaced: placeholder.span.clone(),
                limit_count: lexed.is_limit_count(query, index),
            });
        }
        Kind::Quoted(quoted) if quoted.role == Role::String => {
            let prefixed = index
                .checked_sub(1)
                .map(|previous| &lexed.tokens[previous])
                .is_some_and(|previous| {
                    previous.kind == Kind::Word && previous.range.end == token.range.start
                });
            let terminated = token.range.end == quoted.content.end + quoted.closer.len();
            let whole =
                quoted.content == placeholder.span && quoted.closer.len() == 1 && terminated;
            if whole && !prefixed && !identifier {
                return Ok(Place {
                    replaced: token.range.clone(),
                    limit_count: lexed.is_limit_count(query, index),
                });
            }
            if quoted.closer.len() > 1 {
                PlaceholderContext::DollarQuoted
            } else if whole && !prefixed {
                PlaceholderContext::QuotedString
            } else {
                PlaceholderContext::Literal
            }
        }
        Kind::Quoted(_) => PlaceholderContext::QuotedIdentifier,
        _ => PlaceholderContext::Comment,
    };
    Err(Error::MisplacedPlaceholder {
        placeholder: query[placeholder.span.clone()].to_owned(),
        offset: placeholder.span.start,
        context,
        fix: fix(query, dialect, placeholder, &token.range, context),
    })
}

/// What to write instead of a misplaced placeholder.
fn fix(
    query: &str,
    dialect: Dialect,
    placeholder: &Placeholder,
    token: &Range<usize>,
    context: PlaceholderContext,
) -> String {
    let text = &query[placeholder.span.clone()];
    let identifier = format!("{{{{ .inputs.{} | identifier }}}}", placeholder.name);
    match context {
        PlaceholderContext::Comment => {
            "move it out of the comment, or delete it from the comment".to_owned()
        }
        PlaceholderContext::QuotedString | PlaceholderContext::QuotedIdentifier => {
            format!("for a name write {identifier} without quotes around it; it is quoted for you")
        }
        PlaceholderContext::DollarQuoted => format!(
            "a dollar-quoted body cannot take binds: pass the value as an argument of the function it defines, or for a name use {identifier}"
        ),
        PlaceholderContext::Literal => {
            let quote = &query[token.start..=token.start];
            let before = &query[token.start..placeholder.span.start];
            let after = &query[placeholder.span.end..token.end];
            let pieces: Vec<String> = [
                (before.len() > quote.len()).then(|| format!("{before}{quote}")),
                Some(text.to_owned()),
                (after.len() > quote.len()).then(|| format!("{quote}{after}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            let joined = match dialect {
                Dialect::Mysql => format!("CONCAT({})", pieces.join(", ")),
                Dialect::Sqlite | Dialect::Postgres => pieces.join(" || "),
            };
            format!("bind outside the literal: {joined} (or {identifier} for a name)")
        }
    }
}

/// Whether a marker written next to `c` would merge with it into another token.
fn sticks_to_marker(c: char) -> bool {
    c.is_alphanumeric()
        || !c.is_ascii()
        || matches!(
            c,
            '_' | '$' | '?' | ':' | '@' | '\'' | '"' | '`' | '[' | ']' | '\\' | '#'
        )
}

fn identifier(value: &Value, dialect: Dialect) -> Result<String, IdentifierProblem> {
    match value {
        Value::String(name) => dialect.quote_identifier(name),
        Value::Null(_) => Err(IdentifierProblem::Null),
        other => Err(IdentifierProblem::NotAString {
            ty: other.primitive_type(),
        }),
    }
}
