//! The one error type of this crate, classified for Flyte.

use flyte_sql_config::ErrorKind;

/// Everything that can go wrong reading or writing a [`Location`](crate::Location).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is empty.
    #[error("{what} is empty: give a local path, a file:// URL or an object-store URL")]
    Empty {
        /// What the path is for (`--inputs`, ...).
        what: &'static str,
    },
    /// The URL's scheme names no storage flyte-sql knows.
    #[error(
        "{what} `{text}` has the scheme `{scheme}://`, which names no storage flyte-sql knows: give a local path or a file://, s3://, gs:// or abfs:// URL"
    )]
    UnknownScheme {
        /// What the path is for.
        what: &'static str,
        /// The text as given.
        text: String,
        /// The URL scheme.
        scheme: String,
    },
    /// The URL is not a valid location of its kind.
    #[error("{what} `{text}` is not a valid {kind} location: {problem}")]
    InvalidUrl {
        /// What the path is for.
        what: &'static str,
        /// The text as given.
        text: String,
        /// `file`, `s3`, `gs` or `azure`.
        kind: &'static str,
        /// What is wrong and how to write it.
        problem: String,
    },
    /// The object store could not be configured from the environment (credentials, region...).
    #[error("cannot use {uri}: {source}")]
    Configure {
        /// The location.
        uri: String,
        /// The cause.
        #[source]
        source: object_store::Error,
    },
    /// A local file operation failed.
    #[error("cannot {action} {path}")]
    Local {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An object-store request failed (after the store's own retries, for transient faults).
    #[error("cannot {action} {uri}")]
    Remote {
        /// What was being done.
        action: &'static str,
        /// The location.
        uri: String,
        /// The cause.
        #[source]
        source: object_store::Error,
    },
}

impl Error {
    /// Who has to fix it. Bad paths, missing buckets and denied access are the user's (a retry
    /// fails the same way); everything else (5xx answers, throttling and timeouts that outlived the
    /// retries, a full disk) is the system's.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Empty { .. }
            | Error::UnknownScheme { .. }
            | Error::InvalidUrl { .. }
            | Error::Configure { .. } => ErrorKind::User,
            Error::Local { source, .. } => match source.kind() {
                std::io::ErrorKind::PermissionDenied
                | std::io::ErrorKind::NotADirectory
                | std::io::ErrorKind::IsADirectory
                | std::io::ErrorKind::NotFound => ErrorKind::User,
                _ => ErrorKind::System,
            },
            Error::Remote { source, .. } => remote_kind(source),
        }
    }

    /// Whether trying again may succeed (Flyte's `RECOVERABLE`): the system's faults.
    pub fn recoverable(&self) -> bool {
        self.kind() == ErrorKind::System
    }
}

fn remote_kind(error: &object_store::Error) -> ErrorKind {
    use object_store::Error as Store;
    match error {
        Store::NotFound { .. }
        | Store::PermissionDenied { .. }
        | Store::Unauthenticated { .. }
        | Store::InvalidPath { .. }
        | Store::NotSupported { .. }
        | Store::UnknownConfigurationKey { .. } => ErrorKind::User,
        _ => ErrorKind::System,
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
