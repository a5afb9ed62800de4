//! Connections: one enum over the compiled-in backends and an r2d2 manager that dispatches on
//! the URI's backend.
//!
//! diesel's `MultiConnection` derive would try each backend in turn and swallow the errors (a bad
//! PostgreSQL URL silently becoming a SQLite file); this manager picks the backend from the URI
//! and reports that backend's error.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use flyte_sql_config::{ConnectOptions, DatabaseUri};

use crate::error::{Error, Result};

/// The connect timeout when the connection options set none.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to one of the compiled-in backends.
pub(crate) enum AnyConnection {
    #[cfg(feature = "sqlite")]
    Sqlite(diesel::sqlite::SqliteConnection),
    /// Boxed: rust-postgres's client (with its runtime) is several times larger than the
    /// others.
    #[cfg(feature = "postgres")]
    Postgres(Box<crate::postgres::PgClient>),
    #[cfg(feature = "mysql")]
    Mysql(crate::mysql::MysqlSession),
}

impl AnyConnection {
    fn ping(&mut self) -> Result<()> {
        match self {
            // A SQLite connection is an open file: nothing to lose. A statement would only take
            // a lock, and a lock held elsewhere is the query's to wait for and report.
            #[cfg(feature = "sqlite")]
            AnyConnection::Sqlite(_) => Ok(()),
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(client) => crate::postgres::ping(client),
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql(session) => session
                .connection
                .ping()
                .map_err(|error| crate::mysql::database_error("connection check", &error)),
        }
    }

    /// Whether the connection is known to be unusable without asking the server.
    fn is_broken(&self) -> bool {
        match self {
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(client) => client.is_closed(),
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql(session) => session.broken,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// Everything needed to open a connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnectSettings {
    /// The URI with its password redacted, for messages.
    pub(crate) redacted_uri: String,
    /// The typed options, secrets merged in.
    pub(crate) options: ConnectOptions,
}

impl ConnectSettings {
    pub(crate) fn new(uri: &DatabaseUri, options: ConnectOptions) -> ConnectSettings {
        ConnectSettings {
            redacted_uri: uri.redacted().to_owned(),
            options,
        }
    }

    /// The statement timeout the options set.
    pub(crate) fn statement_timeout(&self) -> Option<Duration> {
        match &self.options {
            ConnectOptions::Sqlite(options) => options.statement_timeout,
            ConnectOptions::Postgres(options) => options.statement_timeout,
            ConnectOptions::Mysql(options) => options.statement_timeout,
        }
    }

    /// Opens a new connection of the URI's backend.
    pub(crate) fn establish(&self) -> Result<AnyConnection> {
        match &self.options {
            #[cfg(feature = "sqlite")]
            ConnectOptions::Sqlite(options) => {
                crate::sqlite::connect(options, &self.redacted_uri).map(AnyConnection::Sqlite)
            }
            #[cfg(feature = "postgres")]
            ConnectOptions::Postgres(options) => {
                crate::postgres::connect(options, &self.redacted_uri).map(AnyConnection::Postgres)
            }
            #[cfg(feature = "mysql")]
            ConnectOptions::Mysql(options) => {
                crate::mysql::connect(options, &self.redacted_uri).map(AnyConnection::Mysql)
            }
            #[allow(unreachable_patterns)]
            other => Err(not_enabled(other)),
        }
    }
}

fn not_enabled(options: &ConnectOptions) -> Error {
    let (backend, feature) = match options {
        ConnectOptions::Sqlite(_) => ("sqlite", "sqlite"),
        ConnectOptions::Postgres(_) => ("postgres", "postgres"),
        ConnectOptions::Mysql(_) => ("mysql", "mysql"),
    };
    Error::BackendNotEnabled { backend, feature }
}

/// The last error of a [`ConnectionManager`], kept for the pool's caller: r2d2 keeps only an
/// error's message, and reports a timeout of its own instead of it.
pub(crate) type LastError = Arc<Mutex<Option<Error>>>;

/// The r2d2 manager: opens connections of the URI's backend.
///
/// The executor opens its first connection itself, to report a failure at once and with its
/// cause (r2d2 would retry until its timeout and keep only the message), and parks it here for
/// the pool's first `connect`. Later failures are kept in [`LastError`], which the executor
/// reports instead of the pool's timeout.
pub(crate) struct ConnectionManager {
    settings: ConnectSettings,
    warm: Mutex<Option<AnyConnection>>,
    last_error: LastError,
}

impl ConnectionManager {
    pub(crate) fn new(settings: ConnectSettings, first: AnyConnection) -> ConnectionManager {
        ConnectionManager {
            settings,
            warm: Mutex::new(Some(first)),
            last_error: LastError::default(),
        }
    }

    /// Where this manager keeps its last connect or check error.
    pub(crate) fn last_error(&self) -> LastError {
        Arc::clone(&self.last_error)
    }

    /// Keeps `error` as the last error and gives r2d2 a copy of its message (r2d2 keeps only
    /// that).
    fn keep(&self, error: Error) -> Error {
        let copy = Error::Connect {
            uri: self.settings.redacted_uri.clone(),
            message: error.to_string(),
            transient: error.recoverable(),
        };
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error);
        }
        copy
    }
}

impl std::fmt::Debug for ConnectionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionManager")
            .field("uri", &self.settings.redacted_uri)
            .finish_non_exhaustive()
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = Error;

    fn connect(&self) -> Result<AnyConnection> {
        let warm = self
            .warm
            .lock()
            .map(|mut warm| warm.take())
            .unwrap_or_default();
        match warm {
            Some(connection) => Ok(connection),
            None => self.settings.establish().map_err(|error| self.keep(error)),
        }
    }

    fn is_valid(&self, connection: &mut AnyConnection) -> Result<()> {
        connection.ping().map_err(|error| self.keep(error))
    }

    fn has_broken(&self, connection: &mut AnyConnection) -> bool {
        // Otherwise no cheap local check; `is_valid` runs on checkout.
        connection.is_broken()
    }
}

/// A duration as seconds, the way durations are bound on SQLite and MySQL.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn duration_seconds(duration: TimeDelta) -> f64 {
    let micros = duration.num_microseconds().unwrap_or_else(|| {
        if duration < TimeDelta::zero() {
            i64::MIN
        } else {
            i64::MAX
        }
    });
    micros as f64 / 1_000_000.0
}
