//! The one error type of this crate.

/// Everything that can go wrong while parsing or checking a connection configuration.
///
/// Messages never contain secret values or URI passwords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URI's scheme names a database flyte-sql does not support.
    #[error(
        "unsupported database dialect `{dialect}` in uri `{uri}`: use one of sqlite, postgresql, mysql, mariadb (optionally with a `+driver` suffix)"
    )]
    UnsupportedDialect {
        /// The dialect part of the scheme, without the `+driver` suffix.
        dialect: String,
        /// The URI with any password redacted.
        uri: String,
    },
    /// The URI is not of the SQLAlchemy URL form.
    #[error("invalid database uri `{uri}`: {problem}; expected {expected}")]
    InvalidUri {
        /// The URI with any password redacted.
        uri: String,
        /// What is wrong with it.
        problem: String,
        /// The accepted forms for this dialect.
        expected: &'static str,
    },
}

impl Error {
    /// Who has to fix it: configuration problems are always the user's.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::UnsupportedDialect { .. } | Error::InvalidUri { .. } => ErrorKind::User,
        }
    }
}

/// Who is at fault for an error: the task's author or the system running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input: fixing the task or its inputs fixes it.
    User,
    /// The environment failed: retrying may succeed.
    System,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
