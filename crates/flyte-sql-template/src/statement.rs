//! A rendered statement: SQL text, the values bound to its parameters and where its bind markers
//! are.

use std::ops::Range;

use flyte_sql_model::Value;

use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::lexer::{Kind, lex};

/// One SQL statement ready to run: the text, the values of its bind parameters and the position
/// of every bind marker in the text.
///
/// A `Statement` always holds exactly one statement (a trailing `;` and comments aside), and its
/// markers are exactly the parameters the database sees, as the lexer of its [`Dialect`] found
/// them: that is why it cannot be built field by field. It comes from [`render`](crate::render)
/// (a task's template and inputs) or [`Statement::from_sql`] (SQL without parameters).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Statement {
    /// The SQL text, with `$1`, `$2`, ... (PostgreSQL) or `?` (SQLite, MySQL) where safe mode put
    /// values.
    pub sql: String,
    /// The values for the parameters, in parameter order: one per `$n` for PostgreSQL, one per
    /// `?` otherwise. Always empty in compatible mode, which splices values into the text.
    pub binds: Vec<Bind>,
    pub(crate) markers: Vec<BindMarker>,
    pub(crate) body_end: usize,
    /// The bytes of the statement's first word, when it starts with one.
    pub(crate) leading_word: Option<Range<usize>>,
    /// Why the statement must not be sent, when it must not.
    pub(crate) unsendable: Option<Box<Error>>,
}

/// One bind parameter's value.
#[derive(Debug, Clone, PartialEq)]
pub struct Bind {
    /// The input the value comes from.
    pub name: String,
    /// The value; a missing optional value stays a typed [`Value::Null`], so the executor can
    /// bind a NULL of the right type.
    pub value: Value,
}

/// Where one bind marker (`?` or `$n`) sits in a [`Statement`]'s text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMarker {
    /// The marker's bytes in [`Statement::sql`].
    pub range: Range<usize>,
    /// The index in [`Statement::binds`] of the value it stands for.
    pub bind: usize,
    /// Whether the marker is a `LIMIT` or `OFFSET` count, where MySQL accepts only a bare marker
    /// or a literal.
    pub limit_count: bool,
}

impl Statement {
    /// A statement of SQL written without parameters (a one-off query), checked as a task's
    /// query is: it must be one statement, and a bind marker outside quotes and comments is
    /// refused, since nothing would be bound to it.
    ///
    /// ```
    /// use flyte_sql_template::{Dialect, Statement};
    ///
    /// let statement = Statement::from_sql("select 1 as a; -- done", Dialect::Sqlite)?;
    /// assert_eq!(statement.body(), "select 1 as a");
    /// assert!(Statement::from_sql("select 1; drop table t", Dialect::Sqlite).is_err());
    /// assert!(Statement::from_sql("select ?", Dialect::Mysql).is_err());
    /// # Ok::<(), flyte_sql_template::Error>(())
    /// ```
    pub fn from_sql(sql: &str, dialect: Dialect) -> Result<Statement> {
        let lexed = lex(sql, dialect, &[]);
        if let Some(offset) = lexed.second_statement() {
            return Err(Error::MultipleStatements { offset });
        }
        if let Some(marker) = lexed.tokens.iter().find(|token| token.kind == Kind::Marker) {
            return Err(Error::OwnBindMarker {
                marker: sql[marker.range.clone()].to_owned(),
                offset: marker.range.start,
                dialect,
            });
        }
        Ok(Statement {
            sql: sql.to_owned(),
            binds: Vec::new(),
            markers: Vec::new(),
            body_end: lexed.body_end(),
            leading_word: lexed.leading_word(),
            unsendable: None,
        })
    }

    /// Whether the statement may be sent to a database: an error when the database would see a
    /// bind parameter marker that nothing is bound to (compatible mode spliced one in from a
    /// value, as the `:04` of an unquoted datetime is on SQLite). [`render`](crate::render)
    /// still returns such a statement, so a dry run shows what the reference would send; the
    /// executor asks this before it sends anything.
    pub fn ready_to_send(&self) -> Result<()> {
        match &self.unsendable {
            Some(error) => Err((**error).clone()),
            None => Ok(()),
        }
    }

    /// Every bind marker, in the order of the text.
    pub fn markers(&self) -> &[BindMarker] {
        &self.markers
    }

    /// The statement without what follows its last token: trailing whitespace, comments and
    /// `;`. This is the text to send, or to wrap in other SQL.
    pub fn body(&self) -> &str {
        &self.sql[..self.body_end]
    }

    /// The statement's leading keyword as written (`select`, `WITH`, `values`, ...), after any
    /// comments: what kind of statement it is, for an executor that must know whether it may
    /// wrap it (PostgreSQL's `COPY (query)` takes only queries).
    ///
    /// ```
    /// use flyte_sql_template::{Dialect, Statement};
    ///
    /// let statement = Statement::from_sql("/* report */ -- daily\n WITH t AS (select 1) select * from t", Dialect::Postgres)?;
    /// assert_eq!(statement.leading_keyword(), Some("WITH"));
    /// assert_eq!(Statement::from_sql("(select 1)", Dialect::Postgres)?.leading_keyword(), None);
    /// # Ok::<(), flyte_sql_template::Error>(())
    /// ```
    pub fn leading_keyword(&self) -> Option<&str> {
        self.leading_word.clone().map(|range| &self.sql[range])
    }

    /// [`Statement::body`] with each bind marker replaced by `replacement(marker, bind)`: how the
    /// executor gives binds a type or turns them into typed NULLs, by the markers' offsets.
    ///
    /// ```
    /// use flyte_sql_model::{InputValues, Interpolation, Value};
    /// use flyte_sql_template::{Dialect, render};
    ///
    /// let inputs = InputValues::from([("n".to_owned(), Value::Integer(3))]);
    /// let query = "select '?', {{ .inputs.n }} # ?\n limit {{ .inputs.n }};";
    /// let statement = render(query, Interpolation::Safe, Dialect::Mysql, &inputs)?.statement;
    /// let typed = statement.body_with_markers(|marker, _| {
    ///     if marker.limit_count { "?" } else { "CAST(? AS SIGNED)" }
    /// });
    /// assert_eq!(typed, "select '?', CAST(? AS SIGNED) # ?\n limit ?");
    /// # Ok::<(), flyte_sql_template::Error>(())
    /// ```
    pub fn body_with_markers<S: AsRef<str>>(
        &self,
        mut replacement: impl FnMut(&BindMarker, &Bind) -> S,
    ) -> String {
        let body = self.body();
        let mut out = String::with_capacity(body.len() + 16 * self.markers.len());
        let mut copied = 0;
        for marker in &self.markers {
            out.push_str(&body[copied..marker.range.start]);
            match self.binds.get(marker.bind) {
                Some(bind) => out.push_str(replacement(marker, bind).as_ref()),
                None => out.push_str(&body[marker.range.clone()]),
            }
            copied = marker.range.end;
        }
        out.push_str(&body[copied..]);
        out
    }
}
