//! Connection configuration for flyte-sql: SQLAlchemy-style database URIs, connect args and
//! references to Flyte secrets, parsed, checked and redacted.
//!
//! This is the leaf crate of the workspace: the model, idl and executor crates build on it, and it
//! depends on none of them. [`DatabaseUri`] parses a URI into a typed [`Target`] and prints itself
//! with the password redacted; [`ConnectionConfig`] (the reference's `SQLAlchemyConfig`) adds the
//! connect args and the secret connect args, checks them against what each backend understands
//! ([`accepted_connect_args`]) and merges everything into typed [`ConnectOptions`] for the
//! executor; [`SecretRef`] names a Flyte secret and [`resolve_secret`] finds its value exactly as
//! flytekit does, through a [`SecretSource`]. Secret values live in [`SecretString`], which prints
//! `***`, and [`Redactor`] removes every secret value of a run from text that leaves the process. The crate never connects, reads files or looks at the environment.
//!
//! # Example
//!
//! ```
//! use flyte_sql_config::{Backend, ConnectionConfig, DatabaseUri, Target};
//!
//! let uri = DatabaseUri::parse("postgresql+psycopg2://app:s3cret@db.internal:5432/analytics")?;
//! assert_eq!(uri.backend(), Backend::Postgres);
//! assert_eq!(uri.driver(), Some("psycopg2"));
//! let Target::Postgres(server) = uri.target() else { panic!("a postgres uri") };
//! assert_eq!(server.host.as_deref(), Some("db.internal"));
//! assert_eq!(server.port, Some(5432));
//! assert_eq!(server.password.as_ref().map(|password| password.expose()), Some("s3cret"));
//! assert_eq!(uri.to_string(), "postgresql+psycopg2://app:***@db.internal:5432/analytics");
//!
//! let config = ConnectionConfig::new("sqlite:///chinook.db")?.with_connect_args(
//!     serde_json::json!({"timeout": 5, "sslmode": "require"}).as_object().unwrap().clone(),
//! );
//! let warnings = config.connect_arg_warnings();
//! assert_eq!(warnings.len(), 1);
//! assert_eq!(warnings[0].key, "sslmode");
//! assert!(config.check_connect_args().is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Connect args
//!
//! Keys are the Python drivers' keyword arguments, so the reference's tasks keep working; the
//! executor applies them as listed (the rustdoc of [`ConnectArgSpec::applies_as`] in
//! [`accepted_connect_args`] has each one's details). The URI's query options are read the same
//! way. A key a backend does not list is a warning when the task is defined
//! ([`ConnectionConfig::connect_arg_warnings`]) and an error when it runs
//! ([`ConnectionConfig::check_connect_args`]).
//!
//! | backend | keys | applied as |
//! |---|---|---|
//! | postgres | `host`, `hostaddr`, `port`, `dbname`, `user`, `password`, `passfile`, `connect_timeout`, `client_encoding`, `options`, `application_name`, `fallback_application_name`, `keepalives`, `keepalives_idle`, `keepalives_interval`, `keepalives_count`, `tcp_user_timeout`, `sslmode`, `sslcompression`, `sslcert`, `sslkey`, `sslrootcert`, `sslcrl`, `sslcrldir`, `sslsni`, `ssl_min_protocol_version`, `ssl_max_protocol_version`, `requirepeer`, `gssencmode`, `channel_binding`, `krbsrvname`, `service`, `target_session_attrs` | the libpq keyword of the same name ([`PostgresOptions`]) |
//! | mysql | `host`, `port`, `user`, `password` (or `passwd`), `database` (or `db`), `unix_socket`, `charset`, `init_command`, `sql_mode` | the connection's target and session ([`MysqlOptions`]) |
//! | mysql | `connect_timeout`, `read_timeout`, `write_timeout` | MYSQL_OPT_CONNECT_TIMEOUT, MYSQL_OPT_READ_TIMEOUT, MYSQL_OPT_WRITE_TIMEOUT (seconds) |
//! | mysql | `ssl_mode`, `ssl_ca`, `ssl_cert`, `ssl_key`; PyMySQL's `ssl_disabled`, `ssl_verify_cert`, `ssl_verify_identity` | MYSQL_OPT_SSL_MODE and the certificate files |
//! | sqlite | `timeout` (seconds), `busy_timeout` (milliseconds) | the busy timeout, 5 seconds by default as Python's sqlite3 |
//! | sqlite | `isolation_level` | `BEGIN DEFERRED` (default), `IMMEDIATE`, `EXCLUSIVE`, or autocommit (null) |
//! | sqlite | `uri`, `read_only` | the path is a SQLite URI filename; open read-only (`mode=ro`) |
//! | sqlite | `check_same_thread`, `detect_types`, `cached_statements` | accepted and ignored |
//! | sqlite, URI query only | `mode`, `cache`, `immutable`, `nolock`, `psow`, `vfs` | the SQLite URI parameter of the same name ([`SqliteOptions::open_filename`]) |
//! | all | `statement_timeout` | flyte-sql's limit on how long the query runs: seconds, or a string with a unit such as `"500ms"` or `"5min"` |
//!
//! Numbers may be written as numbers, doubles with an integral value (`10.0`, which is what a
//! Flyte round trip turns `10` into) or numeric strings; later sources override earlier ones:
//! the URI, its query options, `connect_args`, then the resolved `secret_connect_args`.
//!
//! # Crate features
//!
//! None.
//!
//! # Stability
//!
//! Not for direct use; the `flyte-sql` crate is the stable entry point, and this crate's API may
//! change with any release.

#![warn(missing_docs)]

mod connect_args;
mod connection;
mod error;
mod options;
mod redact;
mod secret;
mod secrets_manager;
mod uri;

pub use connect_args::{
    ConnectArgKind, ConnectArgOrigin, ConnectArgSpec, UnknownConnectArg, accepted_connect_args,
    accepted_uri_query_options,
};
pub use connection::ConnectionConfig;
pub use error::{Error, ErrorKind, Result};
pub use options::{
    ConnectOptions, MysqlOptions, MysqlSslMode, PostgresOptions, SqliteDatabase,
    SqliteIsolationLevel, SqliteOptions,
};
pub use redact::{REDACTED, Redactor};
pub use secret::{MountRequirement, SecretRef, SecretString};
pub use secrets_manager::{
    MemorySecretSource, ResolvedSecrets, SecretSource, SecretsSettings, resolve_secret,
    resolve_secret_connect_args,
};
pub use uri::{
    Backend, DatabaseUri, QueryOption, ServerTarget, SqlitePath, SqliteTarget, Target, UriProblem,
    is_sensitive_key,
};
