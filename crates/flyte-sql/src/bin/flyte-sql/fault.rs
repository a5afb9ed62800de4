//! How a failure is classified: whose fault it is, whether a retry may help, and the short code
//! Flyte shows. One classification feeds the exit code of every subcommand and the kind, origin
//! and code of `execute`'s error document.

use flyte_sql_config::ErrorKind;

use crate::UsageError;

/// A classified failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fault {
    /// Who has to fix it.
    pub(crate) kind: ErrorKind,
    /// Whether running the same thing again may succeed (Flyte's `RECOVERABLE`).
    pub(crate) recoverable: bool,
    /// What failed, for the error document's code (`USER:SqlError`, `SYSTEM:ConnectionError`).
    pub(crate) category: &'static str,
}

impl Fault {
    /// A mistake in the task, its inputs or the command line: retrying repeats it.
    const fn user(category: &'static str) -> Fault {
        Fault {
            kind: ErrorKind::User,
            recoverable: false,
            category,
        }
    }

    /// A fault of the system (database down, storage failing): a retry may succeed.
    const fn system(category: &'static str) -> Fault {
        Fault {
            kind: ErrorKind::System,
            recoverable: true,
            category,
        }
    }

    fn of_kind(kind: ErrorKind, category: &'static str) -> Fault {
        match kind {
            ErrorKind::User => Fault::user(category),
            ErrorKind::System => Fault::system(category),
        }
    }

    /// The error document's code: `USER:<category>` or `SYSTEM:<category>`.
    pub(crate) fn code(&self) -> String {
        let origin = match self.kind {
            ErrorKind::User => "USER",
            ErrorKind::System => "SYSTEM",
        };
        format!("{origin}:{}", self.category)
    }
}

/// The failure while loading the task for `execute`: a template that cannot be read or is not a
/// SQL task, or an executor or resolver flyte-sql does not implement. Always the user's
/// (the reference reports the same cases as `USER:RuntimeError`, non-recoverable).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TaskLoadError(pub(crate) String);

/// Classifies an error by the first typed cause in its chain that says what it is.
pub(crate) fn classify(error: &anyhow::Error) -> Fault {
    for cause in error.chain() {
        if cause.is::<UsageError>() {
            return Fault::user("UsageError");
        }
        if cause.is::<crate::terminal::StdoutError>() {
            return Fault::system("OutputError");
        }
        if cause.is::<TaskLoadError>() {
            return Fault::user("TaskLoadError");
        }
        if let Some(error) = cause.downcast_ref::<flyte_sql_executor::Error>() {
            return executor_fault(error);
        }
        if let Some(error) = cause.downcast_ref::<flyte_sql_template::Error>() {
            return Fault::of_kind(error.kind(), "TemplateError");
        }
        if let Some(error) = cause.downcast_ref::<flyte_sql_idl::Error>() {
            return Fault::of_kind(error.kind(), idl_category(error));
        }
        if let Some(error) = cause.downcast_ref::<flyte_sql_model::Error>() {
            return Fault::of_kind(error.kind(), "TaskError");
        }
        if let Some(error) = cause.downcast_ref::<flyte_sql_config::Error>() {
            return Fault::of_kind(error.kind(), "ConfigError");
        }
        if let Some(error) = cause.downcast_ref::<flyte_sql_storage::Error>() {
            return storage_fault(error);
        }
    }
    Fault::system("UnknownError")
}

fn executor_fault(error: &flyte_sql_executor::Error) -> Fault {
    use flyte_sql_executor::{DatabaseFailure, Error};
    let category = match error {
        Error::Database {
            failure: DatabaseFailure::ConnectionLost,
            ..
        } => "ConnectionError",
        Error::Database { .. } | Error::StatementTimeout { .. } => match error.kind() {
            ErrorKind::User => "SqlError",
            ErrorKind::System => "DatabaseError",
        },
        Error::Connect { .. } | Error::ConnectTimeout { .. } | Error::Pool { .. } => {
            "ConnectionError"
        }
        Error::Config(_) | Error::ConnectArg { .. } | Error::BackendNotEnabled { .. } => {
            "ConfigError"
        }
        Error::Template(_) => "TemplateError",
        Error::Storage(error) => return storage_fault(error),
        Error::Io { .. } => "OutputError",
        Error::UnsupportedType { .. }
        | Error::Conversion { .. }
        | Error::MissingColumn { .. }
        | Error::UndeclaredColumn { .. }
        | Error::DuplicateColumn { .. }
        | Error::Parquet { .. }
        | Error::Arrow { .. } => "ResultError",
        _ => "ExecutionError",
    };
    Fault {
        kind: error.kind(),
        recoverable: error.recoverable(),
        category,
    }
}

fn storage_fault(error: &flyte_sql_storage::Error) -> Fault {
    use flyte_sql_storage::Error;
    match error {
        Error::Empty { .. } | Error::UnknownScheme { .. } | Error::InvalidUrl { .. } => {
            Fault::user("UsageError")
        }
        _ => Fault::of_kind(error.kind(), "StorageError"),
    }
}

fn idl_category(error: &flyte_sql_idl::Error) -> &'static str {
    use flyte_sql_idl::Error;
    match error {
        Error::LiteralType { .. }
        | Error::UnknownInput { .. }
        | Error::MissingInput { .. }
        | Error::OutOfRange { .. } => "InputError",
        _ => "TaskTemplateError",
    }
}
