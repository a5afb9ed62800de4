//! The one error type of this crate.
//!
//! No message contains a secret value or a URI password: URIs appear redacted (see
//! [`crate::DatabaseUri::redacted`]), and connect-arg values are described, never repeated.

use crate::connect_args::{ConnectArgKind, ConnectArgOrigin};
use crate::uri::{Backend, UriProblem};

/// Everything that can go wrong while parsing or checking a connection configuration, or while
/// resolving its secrets.
///
/// Messages never contain secret values or URI passwords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`crate::DatabaseUri::parse`]: the URI's scheme names a database flyte-sql does not
    /// support.
    #[error(
        "unsupported database dialect `{dialect}` in uri `{uri}`: use one of sqlite, postgresql, postgres, mysql, mariadb (optionally with a `+driver` suffix)"
    )]
    UnsupportedDialect {
        /// The dialect part of the scheme, without the `+driver` suffix.
        dialect: String,
        /// The URI with any password redacted.
        uri: String,
    },
    /// [`crate::DatabaseUri::parse`]: the URI is not of the SQLAlchemy URL form.
    #[error("invalid database uri `{uri}`: {problem}; expected {expected}")]
    InvalidUri {
        /// The URI with any password (and anything that might be one) redacted.
        uri: String,
        /// What is wrong with it.
        problem: UriProblem,
        /// The accepted forms for this dialect.
        expected: &'static str,
    },
    /// [`crate::ConnectionConfig::check_connect_args`] and
    /// [`crate::ConnectionConfig::resolved_options`]: a connect arg (or URI query option) that
    /// the backend does not understand.
    #[error(
        "unknown connect arg `{key}` in {origin} for {backend}{}; accepted: {}",
        suggestion.map(|name| format!(" (did you mean `{name}`?)")).unwrap_or_default(),
        accepted.join(", ")
    )]
    UnknownConnectArg {
        /// The key as written.
        key: String,
        /// The backend of the task's URI.
        backend: Backend,
        /// Where the key was written.
        origin: ConnectArgOrigin,
        /// Every key the backend accepts there.
        accepted: Vec<&'static str>,
        /// The accepted key closest to the one written, if one is close.
        suggestion: Option<&'static str>,
    },
    /// [`crate::ConnectionConfig::check_connect_args`] and
    /// [`crate::ConnectionConfig::resolved_options`]: a known connect arg has a value of the
    /// wrong type or out of range.
    #[error("connect arg `{key}` in {origin} for {backend} must be {expected}")]
    InvalidConnectArg {
        /// The key.
        key: &'static str,
        /// The backend of the task's URI.
        backend: Backend,
        /// Where the value was written.
        origin: ConnectArgOrigin,
        /// What the value must be.
        expected: ConnectArgKind,
    },
    /// [`crate::ConnectionConfig::check_connect_args`] and
    /// [`crate::ConnectionConfig::resolved_options`]: two connect args set the same thing in
    /// contradicting or redundant ways (`timeout` and `busy_timeout` for SQLite, for example).
    #[error(
        "connect args `{first}` and `{second}` both set {setting} for {backend}: give only one"
    )]
    ConflictingConnectArgs {
        /// The first key.
        first: &'static str,
        /// The second key.
        second: &'static str,
        /// What both of them set.
        setting: &'static str,
        /// The backend of the task's URI.
        backend: Backend,
    },
    /// [`crate::resolve_secret`]: the secret reference has an empty group, which flytekit
    /// rejects too.
    #[error(
        "a secret{} has an empty group: name the secret's group",
        for_connect_arg(connect_arg)
    )]
    EmptySecretGroup {
        /// The secret connect arg the secret is for, when known.
        connect_arg: Option<String>,
    },
    /// [`crate::resolve_secret`]: neither the environment variable nor the file of the secret
    /// exists.
    #[error(
        "secret group `{group}` key `{}`{} not found: looked for env var `{env_var}` and file `{file_path}`; request the secret in the task (secret_connect_args are requested for you, other secrets go in secret_requests) and make sure it exists in Flyte's secret store, or for a local run set that env var or create that file",
        key.as_deref().unwrap_or(""),
        for_connect_arg(connect_arg)
    )]
    SecretNotFound {
        /// The secret's group.
        group: String,
        /// The secret's key; `None` for a group-only secret.
        key: Option<String>,
        /// The environment variable looked at.
        env_var: String,
        /// The file looked at.
        file_path: String,
        /// The secret connect arg the secret is for, when known.
        connect_arg: Option<String>,
    },
    /// [`crate::resolve_secret`]: the secret's file exists but reading it failed.
    #[error(
        "cannot read secret file `{file_path}`{}: {source}; check the secret mount",
        for_connect_arg(connect_arg)
    )]
    SecretUnreadable {
        /// The file.
        file_path: String,
        /// The secret connect arg the secret is for, when known.
        connect_arg: Option<String>,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// [`crate::ConnectionConfig::resolved_options`]: a secret connect arg has no value in the
    /// [`crate::ResolvedSecrets`] given, which were resolved for another configuration.
    #[error(
        "secret connect arg `{connect_arg}` was not resolved: resolve the secrets of this connection with resolve_secret_connect_args before asking for its options"
    )]
    SecretNotResolved {
        /// The secret connect arg.
        connect_arg: String,
    },
}

impl Error {
    /// Who has to fix it: configuration problems and missing secrets are the user's; a secret
    /// file that cannot be read, or secrets resolved for another configuration, are the system's.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::UnsupportedDialect { .. }
            | Error::InvalidUri { .. }
            | Error::UnknownConnectArg { .. }
            | Error::InvalidConnectArg { .. }
            | Error::ConflictingConnectArgs { .. }
            | Error::EmptySecretGroup { .. }
            | Error::SecretNotFound { .. } => ErrorKind::User,
            Error::SecretUnreadable { .. } | Error::SecretNotResolved { .. } => ErrorKind::System,
        }
    }

    /// Records which secret connect arg a secret error is about.
    pub(crate) fn for_secret_connect_arg(mut self, name: &str) -> Error {
        match &mut self {
            Error::EmptySecretGroup { connect_arg }
            | Error::SecretNotFound { connect_arg, .. }
            | Error::SecretUnreadable { connect_arg, .. } => *connect_arg = Some(name.to_owned()),
            _ => {}
        }
        self
    }
}

fn for_connect_arg(connect_arg: &Option<String>) -> String {
    match connect_arg {
        Some(name) => format!(" (for secret connect arg `{name}`)"),
        None => String::new(),
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
