//! The SQL dialects a statement can be rendered for.

use std::fmt;

use flyte_sql_config::Backend;
use flyte_sql_model::SqlTask;

use crate::error::{Error, IdentifierProblem, Result};

/// The SQL dialect a statement is rendered for: it decides the bind parameter markers, how
/// identifiers are quoted and how compatible mode's quoting heuristic reads the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite: `?` markers, `"identifier"`.
    Sqlite,
    /// PostgreSQL: `$1`, `$2`, ... markers, `"identifier"`.
    Postgres,
    /// MySQL and MariaDB: `?` markers, `` `identifier` ``.
    Mysql,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql];

    /// The dialect for `sqlite`, `postgres`, `postgresql`, `mysql` or `mariadb` (ASCII case is
    /// ignored); these are also the URI schemes and the names the command line accepts.
    ///
    /// ```
    /// use flyte_sql_template::Dialect;
    ///
    /// assert_eq!(Dialect::parse("PostgreSQL")?, Dialect::Postgres);
    /// assert_eq!(Dialect::parse("mariadb")?, Dialect::Mysql);
    /// assert!(Dialect::parse("oracle").is_err());
    /// # Ok::<(), flyte_sql_template::Error>(())
    /// ```
    pub fn parse(name: &str) -> Result<Dialect> {
        match name.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Dialect::Sqlite),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "mysql" | "mariadb" => Ok(Dialect::Mysql),
            _ => Err(Error::UnknownDialect {
                name: name.to_owned(),
            }),
        }
    }

    /// The lowercase name: `sqlite`, `postgres` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }

    /// `identifier` quoted for this dialect, so that it is one name whatever it contains:
    /// `"..."` with `"` doubled for SQLite and PostgreSQL, `` `...` `` with `` ` `` doubled for
    /// MySQL. Empty names and names with a NUL character are refused, since no database accepts
    /// them. The name is not case-folded or split at dots: `a.b` is one identifier.
    ///
    /// ```
    /// use flyte_sql_template::Dialect;
    ///
    /// assert_eq!(Dialect::Postgres.quote_identifier("my \"table\"").unwrap(), r#""my ""table""""#);
    /// assert_eq!(Dialect::Mysql.quote_identifier("a`b").unwrap(), "`a``b`");
    /// ```
    pub fn quote_identifier(self, identifier: &str) -> Result<String, IdentifierProblem> {
        if identifier.is_empty() {
            return Err(IdentifierProblem::Empty);
        }
        if identifier.contains('\0') {
            return Err(IdentifierProblem::ContainsNul);
        }
        let quote = match self {
            Dialect::Sqlite | Dialect::Postgres => '"',
            Dialect::Mysql => '`',
        };
        let mut quoted = String::with_capacity(identifier.len() + 2);
        quoted.push(quote);
        for c in identifier.chars() {
            if c == quote {
                quoted.push(quote);
            }
            quoted.push(c);
        }
        quoted.push(quote);
        Ok(quoted)
    }
}

impl From<Backend> for Dialect {
    /// The dialect of a database family.
    fn from(backend: Backend) -> Dialect {
        match backend {
            Backend::Sqlite => Dialect::Sqlite,
            Backend::Postgres => Dialect::Postgres,
            Backend::Mysql => Dialect::Mysql,
        }
    }
}

/// [`check_query`](crate::check_query) for a task, in the dialect of its connection: the
/// definition-time check of its query (one statement; in safe mode every placeholder where a
/// bind or an identifier can go, and no bind markers of the user's own).
///
/// The model cannot call it (it does not know SQL), so the places that define tasks do: the
/// `flyte-sql` binary's task-file loader, and [`render`](crate::render), which makes the same
/// checks before it renders, so a task from any source is checked before it runs.
///
/// ```
/// use flyte_sql_config::ConnectionConfig;
/// use flyte_sql_model::SqlTask;
/// use flyte_sql_template::check_task;
///
/// let connection = ConnectionConfig::new("sqlite:///data.db")?;
/// let task = SqlTask::builder("t", "select 1; delete from t", connection).build()?;
/// assert!(check_task(&task).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_task(task: &SqlTask) -> Result<()> {
    let dialect = Dialect::from(task.connection().uri().backend());
    crate::safe::check_query(task.query(), task.interpolation(), dialect)
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
