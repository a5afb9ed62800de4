//! The SQL dialects a statement can be rendered for.

use std::fmt;

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

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
