//! The one error type of this crate, and how each error is classified for Flyte.

use std::path::PathBuf;
use std::time::Duration;

pub use flyte_sql_config::ErrorKind;

/// Everything that can go wrong while running a task.
///
/// Messages say what was wrong and what to do about it; they never contain secret values, URI
/// passwords or bind values. [`Error::kind`] says who has to fix it and [`Error::recoverable`]
/// whether running the same task again may succeed (Flyte's `RECOVERABLE`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URI names a backend this build was compiled without.
    #[error(
        "the {backend} backend is not compiled into this build: rebuild with the cargo feature `{feature}`"
    )]
    BackendNotEnabled {
        /// The backend the URI names (`sqlite`, `postgres`, `mysql`).
        backend: &'static str,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
    /// The connection configuration (URI or connect args) is invalid for its backend.
    #[error(transparent)]
    Config(#[from] flyte_sql_config::Error),
    /// A connect arg has a value the backend cannot use.
    #[error("connect arg `{name}` {problem}")]
    ConnectArg {
        /// The connect arg's name.
        name: String,
        /// What is wrong with its value.
        problem: String,
    },
    /// The database refused or failed the connection.
    #[error("cannot connect to {uri}: {message}")]
    Connect {
        /// The URI, password redacted.
        uri: String,
        /// The driver's message (it never contains the password).
        message: String,
        /// Whether the failure looks transient (server unreachable) rather than a
        /// configuration mistake (bad credentials, unknown database).
        transient: bool,
    },
    /// Connecting took longer than the connect timeout.
    #[error("connecting to {uri} timed out after {timeout:?}: check that the server is reachable")]
    ConnectTimeout {
        /// The URI, password redacted.
        uri: String,
        /// The connect timeout in force.
        timeout: Duration,
    },
    /// No pooled connection became available in time.
    #[error("no database connection available: {source}")]
    Pool {
        /// The pool's error.
        #[source]
        source: r2d2::Error,
    },
    /// The query template could not be rendered with the given inputs.
    #[error(transparent)]
    Template(#[from] flyte_sql_template::Error),
    /// The database rejected or failed a statement.
    #[error("{step} failed: {message}")]
    Database {
        /// Which statement failed (`query`, `describe`, `commit`, ...).
        step: &'static str,
        /// What kind of failure it was.
        failure: DatabaseFailure,
        /// The database's message.
        message: String,
    },
    /// A result column has a database type flyte-sql cannot map to Arrow.
    #[error(
        "column `{column}` has type `{type_name}`, which flyte-sql cannot map: cast it in the query, for example `CAST({column} AS {suggestion})`"
    )]
    UnsupportedType {
        /// The column name.
        column: String,
        /// The database's name for the type.
        type_name: String,
        /// A type to cast to instead.
        suggestion: &'static str,
    },
    /// A value does not convert to its column's type.
    #[error("column `{column}`, row {row}: {problem}")]
    Conversion {
        /// The column name.
        column: String,
        /// The row number, counting from 1.
        row: u64,
        /// What could not be converted to what, and what to do.
        problem: String,
    },
    /// A declared output column is missing from the result.
    #[error(
        "declared output column `{column}` is not in the result (the query returns {found:?}): fix the query or the declared columns"
    )]
    MissingColumn {
        /// The declared column.
        column: String,
        /// The columns the query returns.
        found: Vec<String>,
    },
    /// The result has a column the output does not declare.
    #[error(
        "the query returns column `{column}`, which is not among the declared output columns {declared:?}: declare it or leave it out of the query"
    )]
    UndeclaredColumn {
        /// The extra column.
        column: String,
        /// The declared columns.
        declared: Vec<String>,
    },
    /// Two result columns have the same name.
    #[error("the query returns two columns named `{column}`: give them distinct names with AS")]
    DuplicateColumn {
        /// The repeated name.
        column: String,
    },
    /// The statement ran longer than the statement timeout.
    #[error("the statement ran longer than the statement timeout of {timeout:?}")]
    StatementTimeout {
        /// The timeout in force.
        timeout: Duration,
    },
    /// Writing the output failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the output's storage failed (a missing bucket, denied access, an object
    /// store that kept failing).
    #[error(transparent)]
    Storage(#[from] flyte_sql_storage::Error),
    /// Encoding Parquet or assembling Arrow batches failed.
    #[error("cannot encode the result as Parquet: {source}")]
    Parquet {
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Assembling an Arrow batch failed.
    #[error("cannot assemble an Arrow batch: {source}")]
    Arrow {
        /// The cause.
        #[source]
        source: arrow_schema::ArrowError,
    },
}

/// What kind of database failure an [`Error::Database`] is, in the spirit of diesel's
/// `DatabaseErrorKind`: enough to decide on a retry without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseFailure {
    /// The connection was lost or could not send the statement.
    ConnectionLost,
    /// A deadlock, a serialization failure or a busy lock: retrying may succeed.
    Conflict,
    /// The statement was cancelled by the statement timeout.
    Timeout,
    /// The database could not run it, through no fault of the statement: it ran out of a
    /// resource (connections, memory, threads, disk), an operator intervened, or it had an
    /// internal or I/O error. Retrying later may succeed.
    Server,
    /// A constraint (unique, foreign key, not null, check) was violated.
    Constraint,
    /// Anything else: bad SQL, missing tables, permissions.
    Other,
}

impl Error {
    /// Who has to fix it: the task's author (bad SQL, bad inputs, types) or the system
    /// (connections, disks, timeouts).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BackendNotEnabled { .. }
            | Error::ConnectArg { .. }
            | Error::UnsupportedType { .. }
            | Error::Conversion { .. }
            | Error::MissingColumn { .. }
            | Error::UndeclaredColumn { .. }
            | Error::DuplicateColumn { .. } => ErrorKind::User,
            Error::Config(error) => error.kind(),
            Error::Storage(error) => error.kind(),
            Error::Template(error) => error.kind(),
            Error::Connect { transient, .. } => {
                if *transient {
                    ErrorKind::System
                } else {
                    ErrorKind::User
                }
            }
            Error::Database { failure, .. } => failure.kind(),
            Error::ConnectTimeout { .. }
            | Error::Pool { .. }
            | Error::StatementTimeout { .. }
            | Error::Io { .. }
            | Error::Parquet { .. }
            | Error::Arrow { .. } => ErrorKind::System,
        }
    }

    /// Whether running the task again may succeed: true for transient faults (dropped
    /// connections, deadlocks, timeouts, unreachable servers, IO), false for mistakes that a retry
    /// would repeat (bad SQL, bad inputs, unconvertible values, bad credentials).
    pub fn recoverable(&self) -> bool {
        self.kind() == ErrorKind::System
    }
}

impl DatabaseFailure {
    /// Who has to fix it: the system for lost connections, conflicts, timeouts and server faults
    /// (a retry may succeed), the task's author for the rest.
    pub fn kind(self) -> ErrorKind {
        match self {
            DatabaseFailure::ConnectionLost
            | DatabaseFailure::Conflict
            | DatabaseFailure::Timeout
            | DatabaseFailure::Server => ErrorKind::System,
            DatabaseFailure::Constraint | DatabaseFailure::Other => ErrorKind::User,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_sql_is_a_user_error_and_not_recoverable() {
        let error = Error::Database {
            step: "query",
            failure: DatabaseFailure::Other,
            message: "no such table: tracks".to_owned(),
        };
        assert_eq!(error.kind(), ErrorKind::User);
        assert!(!error.recoverable());
        let lost = Error::Database {
            step: "query",
            failure: DatabaseFailure::ConnectionLost,
            message: "server closed the connection unexpectedly".to_owned(),
        };
        assert_eq!(lost.kind(), ErrorKind::System);
        assert!(lost.recoverable());
    }
}
