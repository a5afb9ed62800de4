//! Typed, per-backend connection options: the URI, its query options, the connect args and the
//! resolved secret connect args merged into what the executor applies ([`ConnectOptions`]).
//!
//! Later sources win, as in the reference: the URI's parts, then its query options, then
//! `connect_args`, then `secret_connect_args`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::connect_args::{
    ArgValue, Checked, ConnectArgKind, ConnectArgOrigin, UnknownConnectArg, accepted_connect_args,
    accepted_uri_query_options, find_spec,
};
use crate::connection::ConnectionConfig;
use crate::error::{Error, Result};
use crate::secret::SecretString;
use crate::secrets_manager::ResolvedSecrets;
use crate::uri::{Backend, QueryOption, ServerTarget, SqlitePath, Target};

/// The options to connect with, per backend.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectOptions {
    /// For a SQLite URI.
    Sqlite(SqliteOptions),
    /// For a PostgreSQL URI.
    Postgres(PostgresOptions),
    /// For a MySQL or MariaDB URI.
    Mysql(MysqlOptions),
}

/// How to open a SQLite database.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// The database.
    pub database: SqliteDatabase,
    /// SQLite URI parameters (`mode`, `cache`, `immutable`, `nolock`, `psow`, `vfs`) in the order
    /// of the accepted-options table, booleans as `1`/`0`; `read_only = true` adds `mode=ro`.
    pub uri_parameters: Vec<(&'static str, String)>,
    /// How long a statement waits for a lock held by another connection: `timeout` (seconds) or
    /// `busy_timeout` (milliseconds); 5 seconds by default, as Python's sqlite3.
    pub busy_timeout: Duration,
    /// How the query's transaction begins.
    pub isolation_level: SqliteIsolationLevel,
    /// The longest the query may run; `None` for no limit.
    pub statement_timeout: Option<Duration>,
}

impl SqliteOptions {
    /// Whether the database is opened read-only (`mode=ro`).
    pub fn read_only(&self) -> bool {
        self.uri_parameters.contains(&("mode", "ro".to_owned()))
    }

    /// The filename to hand to `sqlite3_open_v2` with `SQLITE_OPEN_URI` set (as diesel does):
    /// `:memory:`, the path as written, or a `file:` URI carrying the URI parameters.
    pub fn open_filename(&self) -> String {
        let parameters = self
            .uri_parameters
            .iter()
            .map(|(key, value)| format!("{key}={}", utf8_percent_encode(value, URI_PARAMETER)))
            .collect::<Vec<_>>()
            .join("&");
        match (&self.database, parameters.is_empty()) {
            (SqliteDatabase::Memory, true) => ":memory:".to_owned(),
            (SqliteDatabase::Memory, false) => format!("file::memory:?{parameters}"),
            // With SQLITE_OPEN_URI a name starting with `file:` would be read as a URI.
            (SqliteDatabase::File(path), true) if path.starts_with("file:") => format!("./{path}"),
            (SqliteDatabase::File(path), true) => path.clone(),
            (SqliteDatabase::File(path), false) => {
                let authority = if path.starts_with('/') { "//" } else { "" };
                format!(
                    "file:{authority}{}?{parameters}",
                    utf8_percent_encode(path, URI_PATH)
                )
            }
            (SqliteDatabase::Uri(uri), true) => uri.clone(),
            (SqliteDatabase::Uri(uri), false) => {
                let separator = if uri.contains('?') { '&' } else { '?' };
                format!("{uri}{separator}{parameters}")
            }
        }
    }
}

/// Characters escaped in the path of a SQLite `file:` URI.
const URI_PATH: &AsciiSet = &CONTROLS.add(b'%').add(b'?').add(b'#');
/// Characters escaped in a SQLite URI parameter value.
const URI_PARAMETER: &AsciiSet = &CONTROLS.add(b' ').add(b'%').add(b'&').add(b'#').add(b'=');

/// The database of a SQLite URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteDatabase {
    /// A private in-memory database.
    Memory,
    /// A file, relative to the working directory or absolute.
    File(String),
    /// A SQLite URI filename such as `file:data.db?mode=ro` (with `uri=true`).
    Uri(String),
}

/// How a SQLite transaction begins (Python sqlite3's `isolation_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteIsolationLevel {
    /// No transaction: each statement commits on its own (`isolation_level=None`).
    Autocommit,
    /// `BEGIN DEFERRED` (Python's default, `""`).
    #[default]
    Deferred,
    /// `BEGIN IMMEDIATE`.
    Immediate,
    /// `BEGIN EXCLUSIVE`.
    Exclusive,
}

/// How to connect to PostgreSQL, as libpq keywords.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// libpq `host`; `None` for libpq's default (the local Unix socket).
    pub host: Option<String>,
    /// libpq `port`.
    pub port: Option<u16>,
    /// libpq `user`.
    pub user: Option<String>,
    /// libpq `password`.
    pub password: Option<SecretString>,
    /// libpq `dbname`.
    pub dbname: Option<String>,
    /// Every other libpq keyword given, in the order of the accepted-args table, with its value
    /// as libpq expects it (whole numbers without `.0`, booleans as `1`/`0`).
    pub parameters: Vec<(&'static str, String)>,
    /// The longest the query may run; `None` for no limit. Not a libpq keyword: the executor sets
    /// the session's `statement_timeout`.
    pub statement_timeout: Option<Duration>,
}

impl PostgresOptions {
    /// A libpq connection string (`host='db' port='5432' ...`), every value quoted; secret
    /// because it carries the password.
    pub fn conninfo(&self) -> SecretString {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        pairs.extend(self.host.as_deref().map(|host| ("host", host)));
        let port = self.port.map(|port| port.to_string());
        pairs.extend(port.as_deref().map(|port| ("port", port)));
        pairs.extend(self.user.as_deref().map(|user| ("user", user)));
        pairs.extend(
            self.password
                .as_ref()
                .map(|password| ("password", password.expose())),
        );
        pairs.extend(self.dbname.as_deref().map(|dbname| ("dbname", dbname)));
        pairs.extend(
            self.parameters
                .iter()
                .map(|(key, value)| (*key, value.as_str())),
        );
        let conninfo = pairs
            .iter()
            .map(|(key, value)| {
                format!(
                    "{key}='{}'",
                    value.replace('\\', "\\\\").replace('\'', "\\'")
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        SecretString::new(conninfo)
    }
}

/// How to connect to MySQL or MariaDB.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MysqlOptions {
    /// The server host.
    pub host: Option<String>,
    /// The server port.
    pub port: Option<u16>,
    /// The user.
    pub user: Option<String>,
    /// The password (`password` or `passwd`).
    pub password: Option<SecretString>,
    /// The default database (`database` or `db`).
    pub database: Option<String>,
    /// The Unix socket to connect through instead of TCP.
    pub unix_socket: Option<String>,
    /// MYSQL_OPT_CONNECT_TIMEOUT.
    pub connect_timeout: Option<Duration>,
    /// MYSQL_OPT_READ_TIMEOUT.
    pub read_timeout: Option<Duration>,
    /// MYSQL_OPT_WRITE_TIMEOUT.
    pub write_timeout: Option<Duration>,
    /// The connection character set.
    pub charset: Option<String>,
    /// A statement to run right after connecting.
    pub init_command: Option<String>,
    /// The session's `sql_mode`.
    pub sql_mode: Option<String>,
    /// The TLS mode: `ssl_mode`, or PyMySQL's `ssl_disabled` / `ssl_verify_cert` /
    /// `ssl_verify_identity`; `None` for the client library's default (PREFERRED).
    pub ssl_mode: Option<MysqlSslMode>,
    /// The CA certificate file.
    pub ssl_ca: Option<String>,
    /// The client certificate file.
    pub ssl_cert: Option<String>,
    /// The client key file.
    pub ssl_key: Option<String>,
    /// The longest the query may run; `None` for no limit.
    pub statement_timeout: Option<Duration>,
}

/// MySQL's `ssl_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MysqlSslMode {
    /// No TLS.
    Disabled,
    /// TLS when the server offers it.
    Preferred,
    /// TLS, without verifying the server's certificate.
    Required,
    /// TLS, verifying the server's certificate against the CA.
    VerifyCa,
    /// TLS, verifying the certificate and that it names the host.
    VerifyIdentity,
}

impl ConnectionConfig {
    /// The typed options to connect with: the URI's parts and query options, the connect args
    /// and the resolved secret connect args merged (later ones win, the secrets last, as the
    /// reference), every key and value checked.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownConnectArg`], [`Error::InvalidConnectArg`],
    /// [`Error::ConflictingConnectArgs`], and [`Error::SecretNotResolved`] when `secrets` lacks a
    /// secret connect arg.
    pub fn resolved_options(&self, secrets: &ResolvedSecrets) -> Result<ConnectOptions> {
        options(self, Some(secrets))
    }

    /// Checks every key and value of the URI's query options, the connect args and the names of
    /// the secret connect args, as [`ConnectionConfig::resolved_options`] does, without the
    /// secrets' values: the executor calls it before resolving secrets.
    pub fn check_connect_args(&self) -> Result<()> {
        options(self, None).map(drop)
    }

    /// Every key of the URI's query options, the connect args and the secret connect args that
    /// the backend does not understand, for warnings when a task is defined or serialized.
    pub fn connect_arg_warnings(&self) -> Vec<UnknownConnectArg> {
        let backend = self.uri().backend();
        keys(self)
            .filter(|(origin, key)| find_spec(backend, *origin, key).is_none())
            .map(|(origin, key)| UnknownConnectArg::new(key, backend, origin))
            .collect()
    }
}

/// Every key of a configuration with where it was written, in precedence order.
fn keys(config: &ConnectionConfig) -> impl Iterator<Item = (ConnectArgOrigin, &str)> {
    query_of(config.uri().target())
        .iter()
        .map(|option| (ConnectArgOrigin::UriQuery, option.key.as_str()))
        .chain(
            config
                .connect_args()
                .keys()
                .map(|key| (ConnectArgOrigin::ConnectArgs, key.as_str())),
        )
        .chain(
            config
                .secret_connect_args()
                .into_iter()
                .flat_map(|secrets| secrets.keys())
                .map(|key| (ConnectArgOrigin::SecretConnectArgs, key.as_str())),
        )
}

fn query_of(target: &Target) -> &[QueryOption] {
    match target {
        Target::Sqlite(sqlite) => &sqlite.query,
        Target::Postgres(server) | Target::Mysql(server) => &server.query,
    }
}

/// Merges and checks everything; `secrets` is `None` to check without secret values.
fn options(config: &ConnectionConfig, secrets: Option<&ResolvedSecrets>) -> Result<ConnectOptions> {
    let backend = config.uri().backend();
    let mut args = Args {
        backend,
        present: BTreeSet::new(),
        values: BTreeMap::new(),
    };
    let mut given = BTreeMap::new();
    for (origin, key) in keys(config) {
        let spec = find_spec(backend, origin, key)
            .ok_or_else(|| Error::from(UnknownConnectArg::new(key, backend, origin)))?;
        let value = match origin {
            ConnectArgOrigin::UriQuery => query_of(config.uri().target())
                .iter()
                .find(|option| option.key == key)
                .map(|option| ArgValue::Text(&option.value)),
            ConnectArgOrigin::ConnectArgs => config.connect_args().get(key).map(ArgValue::Json),
            ConnectArgOrigin::SecretConnectArgs => match secrets {
                Some(secrets) => Some(ArgValue::Text(
                    secrets
                        .get(key)
                        .ok_or_else(|| Error::SecretNotResolved {
                            connect_arg: key.to_owned(),
                        })?
                        .expose(),
                )),
                None => None,
            },
        };
        args.present.insert(spec.name);
        // A later source overrides an earlier one before anything is checked, so a value that
        // is overridden (by a secret whose value is unknown at check time, say) is never used.
        given.insert(spec.name, (spec.kind, origin, value));
    }
    for (key, (kind, origin, value)) in given {
        if let Some(value) = value {
            let checked = kind.check(value).ok_or(Error::InvalidConnectArg {
                key,
                backend,
                origin,
                expected: kind,
            })?;
            args.values.insert(key, (kind, checked));
        }
    }
    match config.uri().target() {
        Target::Sqlite(sqlite) => sqlite_options(&sqlite.path, args).map(ConnectOptions::Sqlite),
        Target::Postgres(server) => postgres_options(server, args).map(ConnectOptions::Postgres),
        Target::Mysql(server) => mysql_options(server, args).map(ConnectOptions::Mysql),
    }
}

/// The checked values by key, with which keys were given at all (a secret checked without its
/// value is given but has no value).
struct Args {
    backend: Backend,
    present: BTreeSet<&'static str>,
    values: BTreeMap<&'static str, (ConnectArgKind, Checked)>,
}

impl Args {
    fn take(&mut self, key: &str) -> Option<Checked> {
        self.values.remove(key).map(|(_, checked)| checked)
    }

    fn text(&mut self, key: &str) -> Option<String> {
        match self.take(key) {
            Some(Checked::Text(text)) => Some(text),
            _ => None,
        }
    }

    fn flag(&mut self, key: &str) -> Option<bool> {
        match self.take(key) {
            Some(Checked::Bool(flag)) => Some(flag),
            _ => None,
        }
    }

    fn port(&mut self, key: &str) -> Option<u16> {
        match self.take(key) {
            Some(Checked::Number(port)) => u16::try_from(port).ok(),
            _ => None,
        }
    }

    fn duration(&mut self, key: &str) -> Option<Duration> {
        match self.take(key) {
            Some(Checked::Duration(duration)) => Some(duration),
            _ => None,
        }
    }

    fn statement_timeout(&mut self) -> Option<Duration> {
        self.duration("statement_timeout")
            .filter(|timeout| !timeout.is_zero())
    }

    /// Fails when both keys are given.
    fn exclusive(
        &self,
        first: &'static str,
        second: &'static str,
        setting: &'static str,
    ) -> Result<()> {
        if self.present.contains(first) && self.present.contains(second) {
            return Err(Error::ConflictingConnectArgs {
                first,
                second,
                setting,
                backend: self.backend,
            });
        }
        Ok(())
    }

    /// The value of `key` or of its alias `alias`, which may not both be given.
    fn text_or_alias(
        &mut self,
        key: &'static str,
        alias: &'static str,
        setting: &'static str,
    ) -> Result<Option<String>> {
        self.exclusive(key, alias, setting)?;
        Ok(self.text(key).or_else(|| self.text(alias)))
    }

    /// Every remaining value among `keys`, rendered as text in table order.
    fn rendered(
        &mut self,
        keys: impl Iterator<Item = &'static str>,
    ) -> Vec<(&'static str, String)> {
        keys.filter_map(|key| {
            let (kind, checked) = self.values.remove(key)?;
            let text = match checked {
                Checked::Text(text) => text,
                Checked::Bool(flag) => if flag { "1" } else { "0" }.to_owned(),
                Checked::Number(number) => number.to_string(),
                Checked::Duration(duration) if kind == ConnectArgKind::Milliseconds => {
                    duration.as_millis().to_string()
                }
                Checked::Duration(duration) => duration.as_secs().to_string(),
                Checked::Isolation(_) | Checked::Ignored => return None,
            };
            Some((key, text))
        })
        .collect()
    }
}

fn sqlite_options(path: &SqlitePath, mut args: Args) -> Result<SqliteOptions> {
    args.exclusive("timeout", "busy_timeout", "the busy timeout")?;
    let busy_timeout = args
        .duration("timeout")
        .or_else(|| args.duration("busy_timeout"))
        .unwrap_or(Duration::from_secs(5));
    let isolation_level = match args.take("isolation_level") {
        Some(Checked::Isolation(level)) => level,
        _ => SqliteIsolationLevel::default(),
    };
    let uri = args.flag("uri").unwrap_or(false);
    let read_only = args.flag("read_only");
    let statement_timeout = args.statement_timeout();
    // The SQLite URI parameters are the query options that are not connect args.
    let uri_only = &accepted_uri_query_options(Backend::Sqlite)
        [accepted_connect_args(Backend::Sqlite).len()..];
    let mut uri_parameters = args.rendered(uri_only.iter().map(|spec| spec.name));
    let mode = uri_parameters
        .iter()
        .find(|(key, _)| *key == "mode")
        .map(|(_, mode)| mode.as_str());
    match (read_only, mode) {
        (Some(true), None) => uri_parameters.insert(0, ("mode", "ro".to_owned())),
        (Some(true), Some(mode)) if mode != "ro" => return Err(read_only_conflict()),
        (Some(false), Some("ro")) => return Err(read_only_conflict()),
        _ => {}
    }
    let database = match path {
        SqlitePath::Memory => SqliteDatabase::Memory,
        SqlitePath::File(path) if uri => SqliteDatabase::Uri(path.clone()),
        SqlitePath::File(path) => SqliteDatabase::File(path.clone()),
    };
    Ok(SqliteOptions {
        database,
        uri_parameters,
        busy_timeout,
        isolation_level,
        statement_timeout,
    })
}

fn read_only_conflict() -> Error {
    Error::ConflictingConnectArgs {
        first: "read_only",
        second: "mode",
        setting: "the open mode",
        backend: Backend::Sqlite,
    }
}

fn postgres_options(server: &ServerTarget, mut args: Args) -> Result<PostgresOptions> {
    let host = args.text("host").or_else(|| server.host.clone());
    let port = args.port("port").or(server.port);
    let user = args.text("user").or_else(|| server.user.clone());
    let password = args
        .text("password")
        .map(SecretString::new)
        .or_else(|| server.password.clone());
    let dbname = args.text("dbname").or_else(|| server.database.clone());
    let statement_timeout = args.statement_timeout();
    let parameters = args.rendered(
        accepted_connect_args(Backend::Postgres)
            .iter()
            .map(|spec| spec.name),
    );
    Ok(PostgresOptions {
        host,
        port,
        user,
        password,
        dbname,
        parameters,
        statement_timeout,
    })
}

fn mysql_options(server: &ServerTarget, mut args: Args) -> Result<MysqlOptions> {
    let password = args
        .text_or_alias("password", "passwd", "the password")?
        .map(SecretString::new)
        .or_else(|| server.password.clone());
    let database = args
        .text_or_alias("database", "db", "the database")?
        .or_else(|| server.database.clone());
    for flag in ["ssl_disabled", "ssl_verify_cert", "ssl_verify_identity"] {
        args.exclusive("ssl_mode", flag, "the TLS mode")?;
    }
    let ssl_mode = match args.text("ssl_mode") {
        Some(mode) => ssl_mode_named(&mode),
        None => {
            let disabled = args.flag("ssl_disabled") == Some(true);
            let verify_identity = args.flag("ssl_verify_identity") == Some(true);
            let verify_cert = args.flag("ssl_verify_cert") == Some(true);
            if disabled && (verify_identity || verify_cert) {
                let second = if verify_identity {
                    "ssl_verify_identity"
                } else {
                    "ssl_verify_cert"
                };
                return Err(Error::ConflictingConnectArgs {
                    first: "ssl_disabled",
                    second,
                    setting: "the TLS mode",
                    backend: Backend::Mysql,
                });
            }
            if disabled {
                Some(MysqlSslMode::Disabled)
            } else if verify_identity {
                Some(MysqlSslMode::VerifyIdentity)
            } else if verify_cert {
                Some(MysqlSslMode::VerifyCa)
            } else {
                None
            }
        }
    };
    Ok(MysqlOptions {
        host: args.text("host").or_else(|| server.host.clone()),
        port: args.port("port").or(server.port),
        user: args.text("user").or_else(|| server.user.clone()),
        password,
        database,
        unix_socket: args.text("unix_socket"),
        connect_timeout: args.duration("connect_timeout"),
        read_timeout: args.duration("read_timeout"),
        write_timeout: args.duration("write_timeout"),
        charset: args.text("charset"),
        init_command: args.text("init_command"),
        sql_mode: args.text("sql_mode"),
        ssl_mode,
        ssl_ca: args.text("ssl_ca"),
        ssl_cert: args.text("ssl_cert"),
        ssl_key: args.text("ssl_key"),
        statement_timeout: args.statement_timeout(),
    })
}

/// The mode for a canonical `ssl_mode` value of the accepted-args table.
fn ssl_mode_named(mode: &str) -> Option<MysqlSslMode> {
    match mode {
        "DISABLED" => Some(MysqlSslMode::Disabled),
        "PREFERRED" => Some(MysqlSslMode::Preferred),
        "REQUIRED" => Some(MysqlSslMode::Required),
        "VERIFY_CA" => Some(MysqlSslMode::VerifyCa),
        "VERIFY_IDENTITY" => Some(MysqlSslMode::VerifyIdentity),
        _ => None,
    }
}
