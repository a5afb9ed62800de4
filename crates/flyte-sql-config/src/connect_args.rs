//! The connect args each backend understands ([`accepted_connect_args`]), what each one is applied
//! as, and how values are checked.
//!
//! Names are the keyword arguments of the Python drivers the reference hands them to (libpq
//! keywords through psycopg2, PyMySQL's and mysqlclient's `connect()` arguments, Python
//! `sqlite3.connect()` arguments), so a reference task keeps working, plus a few flyte-sql ones
//! (`statement_timeout` everywhere, `busy_timeout` and `read_only` for SQLite). Values are
//! accepted in every form a Flyte round trip can produce: a whole number may arrive as `10.0`
//! (Flyte's Struct only has doubles) or as the string `"10"` (URI query options and secrets are
//! strings).

use std::fmt;
use std::time::Duration;

use crate::options::SqliteIsolationLevel;
use crate::uri::Backend;

/// One connect arg a backend understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectArgSpec {
    /// The key, as written in `connect_args`, `secret_connect_args` or the URI query.
    pub name: &'static str,
    /// What its value must be.
    pub kind: ConnectArgKind,
    /// What the executor does with it.
    pub applies_as: &'static str,
}

/// What a connect arg's value must be.
///
/// Every kind that takes a number also takes a numeric string, and every whole-number kind takes
/// a double with an integral value such as `10.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectArgKind {
    /// A string.
    Text,
    /// A boolean: `true`/`false`, `1`/`0`, or a string such as `"true"`, `"no"`, `"on"`, `"0"`.
    Boolean,
    /// A non-negative whole number.
    WholeNumber,
    /// A port number from 1 to 65535.
    Port,
    /// A non-negative whole number of seconds.
    WholeSeconds,
    /// A non-negative number of seconds, fractions allowed.
    Seconds,
    /// A non-negative whole number of milliseconds.
    Milliseconds,
    /// A non-negative number of seconds, or a string with a unit: `"500ms"`, `"30s"`, `"5min"`,
    /// `"1h"`. Zero means no limit.
    Duration,
    /// One of the given strings, in any letter case.
    OneOf(&'static [&'static str]),
    /// Python sqlite3's `isolation_level`: `null` (autocommit) or `""`, `"DEFERRED"`,
    /// `"IMMEDIATE"`, `"EXCLUSIVE"` in any letter case.
    SqliteIsolationLevel,
    /// Anything: accepted for compatibility with the reference and ignored.
    Ignored,
}

impl fmt::Display for ConnectArgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectArgKind::Text => f.write_str("a string"),
            ConnectArgKind::Boolean => f.write_str(
                "a boolean: true or false, 1 or 0, or a string such as \"true\" or \"no\"",
            ),
            ConnectArgKind::WholeNumber => {
                f.write_str("a non-negative whole number such as 3, 3.0 or \"3\"")
            }
            ConnectArgKind::Port => f.write_str("a port number from 1 to 65535"),
            ConnectArgKind::WholeSeconds => {
                f.write_str("a non-negative whole number of seconds such as 10, 10.0 or \"10\"")
            }
            ConnectArgKind::Seconds => {
                f.write_str("a non-negative number of seconds such as 5, 2.5 or \"2.5\"")
            }
            ConnectArgKind::Milliseconds => {
                f.write_str("a non-negative whole number of milliseconds such as 5000 or \"5000\"")
            }
            ConnectArgKind::Duration => f.write_str(
                "a duration: a non-negative number of seconds such as 30 or 2.5, or a string with a unit such as \"500ms\", \"30s\", \"5min\" or \"1h\"",
            ),
            ConnectArgKind::OneOf(values) => write!(f, "one of {}", values.join(", ")),
            ConnectArgKind::SqliteIsolationLevel => f.write_str(
                "null (autocommit) or one of \"\", \"DEFERRED\", \"IMMEDIATE\", \"EXCLUSIVE\"",
            ),
            ConnectArgKind::Ignored => f.write_str("anything (the value is ignored)"),
        }
    }
}

/// Where a connect arg was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectArgOrigin {
    /// A `?key=value` option of the URI.
    UriQuery,
    /// The plain `connect_args`.
    ConnectArgs,
    /// The `secret_connect_args`.
    SecretConnectArgs,
}

impl fmt::Display for ConnectArgOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectArgOrigin::UriQuery => "the uri query",
            ConnectArgOrigin::ConnectArgs => "connect_args",
            ConnectArgOrigin::SecretConnectArgs => "secret_connect_args",
        })
    }
}

/// A key the backend does not understand, for a warning when a task is defined (see
/// [`crate::ConnectionConfig::connect_arg_warnings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownConnectArg {
    /// The key as written.
    pub key: String,
    /// The backend of the task's URI.
    pub backend: Backend,
    /// Where the key was written.
    pub origin: ConnectArgOrigin,
    /// Every key the backend accepts there.
    pub accepted: Vec<&'static str>,
    /// The accepted key closest to the one written, if one is close.
    pub suggestion: Option<&'static str>,
}

impl UnknownConnectArg {
    pub(crate) fn new(key: &str, backend: Backend, origin: ConnectArgOrigin) -> UnknownConnectArg {
        let accepted: Vec<&'static str> = accepted_for(backend, origin)
            .iter()
            .map(|spec| spec.name)
            .collect();
        UnknownConnectArg {
            key: key.to_owned(),
            backend,
            origin,
            suggestion: closest(key, &accepted),
            accepted,
        }
    }
}

impl fmt::Display for UnknownConnectArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&crate::Error::from(self.clone()), f)
    }
}

impl From<UnknownConnectArg> for crate::Error {
    fn from(unknown: UnknownConnectArg) -> crate::Error {
        crate::Error::UnknownConnectArg {
            key: unknown.key,
            backend: unknown.backend,
            origin: unknown.origin,
            accepted: unknown.accepted,
            suggestion: unknown.suggestion,
        }
    }
}

/// The connect args a backend understands in `connect_args` and `secret_connect_args`.
///
/// A key that is not listed is an error at run time ([`crate::ConnectionConfig::check_connect_args`])
/// and a warning when the task is defined ([`crate::ConnectionConfig::connect_arg_warnings`]).
/// The typed result is [`crate::ConnectOptions`].
pub fn accepted_connect_args(backend: Backend) -> &'static [ConnectArgSpec] {
    match backend {
        Backend::Sqlite => &SQLITE[..SQLITE_CONNECT_ARGS],
        Backend::Postgres => POSTGRES,
        Backend::Mysql => MYSQL,
    }
}

/// The options a backend understands in the URI's query string: the connect args, and for SQLite
/// also the SQLite URI parameters (`mode`, `cache`, `immutable`, `nolock`, `psow`, `vfs`).
pub fn accepted_uri_query_options(backend: Backend) -> &'static [ConnectArgSpec] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
        Backend::Mysql => MYSQL,
    }
}

pub(crate) fn accepted_for(
    backend: Backend,
    origin: ConnectArgOrigin,
) -> &'static [ConnectArgSpec] {
    match origin {
        ConnectArgOrigin::UriQuery => accepted_uri_query_options(backend),
        ConnectArgOrigin::ConnectArgs | ConnectArgOrigin::SecretConnectArgs => {
            accepted_connect_args(backend)
        }
    }
}

pub(crate) fn find_spec(
    backend: Backend,
    origin: ConnectArgOrigin,
    key: &str,
) -> Option<&'static ConnectArgSpec> {
    accepted_for(backend, origin)
        .iter()
        .find(|spec| spec.name == key)
}

const fn spec(
    name: &'static str,
    kind: ConnectArgKind,
    applies_as: &'static str,
) -> ConnectArgSpec {
    ConnectArgSpec {
        name,
        kind,
        applies_as,
    }
}

const STATEMENT_TIMEOUT: &str = "flyte-sql: the longest a query may run before the executor cancels it; unset or zero means no limit";

use ConnectArgKind::{
    Boolean, Ignored, Milliseconds, OneOf, Port, Seconds, Text, WholeNumber, WholeSeconds,
};

static POSTGRES: &[ConnectArgSpec] = &[
    spec(
        "host",
        Text,
        "libpq `host` (host name, IP address or Unix-socket directory); overrides the URI's host",
    ),
    spec(
        "hostaddr",
        Text,
        "libpq `hostaddr`: a numeric IP address, skipping name lookup",
    ),
    spec("port", Port, "libpq `port`; overrides the URI's port"),
    spec(
        "dbname",
        Text,
        "libpq `dbname`; overrides the URI's database",
    ),
    spec("user", Text, "libpq `user`; overrides the URI's user"),
    spec(
        "password",
        Text,
        "libpq `password`; overrides the URI's password (best given in secret_connect_args)",
    ),
    spec(
        "passfile",
        Text,
        "libpq `passfile`: the path of a password file",
    ),
    spec(
        "connect_timeout",
        WholeSeconds,
        "libpq `connect_timeout`: seconds to wait for the connection",
    ),
    spec("client_encoding", Text, "libpq `client_encoding`"),
    spec(
        "options",
        Text,
        "libpq `options`: server options such as `-c search_path=app`",
    ),
    spec("application_name", Text, "libpq `application_name`"),
    spec(
        "fallback_application_name",
        Text,
        "libpq `fallback_application_name`",
    ),
    spec("keepalives", Boolean, "libpq `keepalives` (sent as 1 or 0)"),
    spec("keepalives_idle", WholeSeconds, "libpq `keepalives_idle`"),
    spec(
        "keepalives_interval",
        WholeSeconds,
        "libpq `keepalives_interval`",
    ),
    spec("keepalives_count", WholeNumber, "libpq `keepalives_count`"),
    spec("tcp_user_timeout", Milliseconds, "libpq `tcp_user_timeout`"),
    spec(
        "sslmode",
        OneOf(&[
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ]),
        "libpq `sslmode`",
    ),
    spec(
        "sslcompression",
        Boolean,
        "libpq `sslcompression` (sent as 1 or 0)",
    ),
    spec(
        "sslcert",
        Text,
        "libpq `sslcert`: the client certificate file",
    ),
    spec("sslkey", Text, "libpq `sslkey`: the client key file"),
    spec(
        "sslrootcert",
        Text,
        "libpq `sslrootcert`: the CA certificate file",
    ),
    spec(
        "sslcrl",
        Text,
        "libpq `sslcrl`: the certificate revocation list file",
    ),
    spec(
        "sslcrldir",
        Text,
        "libpq `sslcrldir`: the certificate revocation list directory",
    ),
    spec("sslsni", Boolean, "libpq `sslsni` (sent as 1 or 0)"),
    spec(
        "ssl_min_protocol_version",
        OneOf(&["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]),
        "libpq `ssl_min_protocol_version`",
    ),
    spec(
        "ssl_max_protocol_version",
        OneOf(&["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]),
        "libpq `ssl_max_protocol_version`",
    ),
    spec(
        "requirepeer",
        Text,
        "libpq `requirepeer`: the operating-system user the Unix-socket server must run as",
    ),
    spec(
        "gssencmode",
        OneOf(&["disable", "prefer", "require"]),
        "libpq `gssencmode`",
    ),
    spec(
        "channel_binding",
        OneOf(&["disable", "prefer", "require"]),
        "libpq `channel_binding`",
    ),
    spec("krbsrvname", Text, "libpq `krbsrvname`"),
    spec(
        "service",
        Text,
        "libpq `service`: a service name from pg_service.conf",
    ),
    spec(
        "target_session_attrs",
        OneOf(&[
            "any",
            "read-write",
            "read-only",
            "primary",
            "standby",
            "prefer-standby",
        ]),
        "libpq `target_session_attrs`",
    ),
    spec(
        "statement_timeout",
        ConnectArgKind::Duration,
        STATEMENT_TIMEOUT,
    ),
];

static MYSQL: &[ConnectArgSpec] = &[
    spec("host", Text, "the server host; overrides the URI's host"),
    spec("port", Port, "the server port; overrides the URI's port"),
    spec("user", Text, "the user; overrides the URI's user"),
    spec(
        "password",
        Text,
        "the password; overrides the URI's password (best given in secret_connect_args)",
    ),
    spec(
        "passwd",
        Text,
        "the same as `password` (mysqlclient's older name)",
    ),
    spec(
        "database",
        Text,
        "the default database; overrides the URI's database",
    ),
    spec(
        "db",
        Text,
        "the same as `database` (mysqlclient's older name)",
    ),
    spec(
        "unix_socket",
        Text,
        "the Unix socket to connect through instead of TCP",
    ),
    spec(
        "connect_timeout",
        WholeSeconds,
        "MYSQL_OPT_CONNECT_TIMEOUT: seconds to wait for the connection",
    ),
    spec(
        "read_timeout",
        WholeSeconds,
        "MYSQL_OPT_READ_TIMEOUT: seconds to wait for each read from the server",
    ),
    spec(
        "write_timeout",
        WholeSeconds,
        "MYSQL_OPT_WRITE_TIMEOUT: seconds to wait for each write to the server",
    ),
    spec(
        "charset",
        Text,
        "the connection character set (`SET NAMES`), such as utf8mb4",
    ),
    spec(
        "init_command",
        Text,
        "a statement run right after connecting",
    ),
    spec("sql_mode", Text, "the session's `sql_mode`"),
    spec(
        "ssl_mode",
        OneOf(&[
            "DISABLED",
            "PREFERRED",
            "REQUIRED",
            "VERIFY_CA",
            "VERIFY_IDENTITY",
        ]),
        "MYSQL_OPT_SSL_MODE",
    ),
    spec("ssl_ca", Text, "the CA certificate file"),
    spec("ssl_cert", Text, "the client certificate file"),
    spec("ssl_key", Text, "the client key file"),
    spec(
        "ssl_disabled",
        Boolean,
        "PyMySQL's spelling of ssl_mode DISABLED (when true)",
    ),
    spec(
        "ssl_verify_cert",
        Boolean,
        "PyMySQL's spelling of ssl_mode VERIFY_CA (when true)",
    ),
    spec(
        "ssl_verify_identity",
        Boolean,
        "PyMySQL's spelling of ssl_mode VERIFY_IDENTITY (when true)",
    ),
    spec(
        "statement_timeout",
        ConnectArgKind::Duration,
        STATEMENT_TIMEOUT,
    ),
];

/// How many entries of [`SQLITE`] are connect args; the rest are SQLite URI parameters, which
/// only the URI's query string takes.
const SQLITE_CONNECT_ARGS: usize = 9;

static SQLITE: &[ConnectArgSpec] = &[
    spec(
        "timeout",
        Seconds,
        "the busy timeout in seconds, as Python sqlite3's `timeout` (default 5)",
    ),
    spec(
        "busy_timeout",
        Milliseconds,
        "the busy timeout in milliseconds (`PRAGMA busy_timeout`)",
    ),
    spec(
        "isolation_level",
        ConnectArgKind::SqliteIsolationLevel,
        "how the query's transaction begins: `BEGIN DEFERRED` (the default, as \"\"), `BEGIN IMMEDIATE`, `BEGIN EXCLUSIVE`, or none (null, autocommit)",
    ),
    spec(
        "uri",
        Boolean,
        "when true, the URI's path is a SQLite URI filename such as `file:data.db?mode=ro`",
    ),
    spec(
        "read_only",
        Boolean,
        "when true, the database is opened read-only (SQLite URI parameter `mode=ro`)",
    ),
    spec(
        "check_same_thread",
        Ignored,
        "accepted for compatibility and ignored: each run uses its connection from one thread",
    ),
    spec(
        "detect_types",
        Ignored,
        "accepted for compatibility and ignored: result types come from the declared columns and SQLite's storage classes",
    ),
    spec(
        "cached_statements",
        Ignored,
        "accepted for compatibility and ignored: each run prepares one statement",
    ),
    spec(
        "statement_timeout",
        ConnectArgKind::Duration,
        STATEMENT_TIMEOUT,
    ),
    spec(
        "mode",
        OneOf(&["ro", "rw", "rwc", "memory"]),
        "SQLite URI parameter `mode` (URI query only)",
    ),
    spec(
        "cache",
        OneOf(&["shared", "private"]),
        "SQLite URI parameter `cache` (URI query only)",
    ),
    spec(
        "immutable",
        Boolean,
        "SQLite URI parameter `immutable` (URI query only)",
    ),
    spec(
        "nolock",
        Boolean,
        "SQLite URI parameter `nolock` (URI query only)",
    ),
    spec(
        "psow",
        Boolean,
        "SQLite URI parameter `psow` (URI query only)",
    ),
    spec("vfs", Text, "SQLite URI parameter `vfs` (URI query only)"),
];

/// A connect-arg value before checking: JSON from `connect_args`, or text from the URI query or a
/// resolved secret.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ArgValue<'a> {
    Json(&'a serde_json::Value),
    Text(&'a str),
}

/// A checked connect-arg value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Checked {
    Text(String),
    Bool(bool),
    Number(u64),
    Duration(Duration),
    Isolation(SqliteIsolationLevel),
    Ignored,
}

impl ConnectArgKind {
    /// Checks a value; `None` when it is not of this kind.
    pub(crate) fn check(self, value: ArgValue<'_>) -> Option<Checked> {
        match self {
            ConnectArgKind::Text => text(value).map(|text| Checked::Text(text.to_owned())),
            ConnectArgKind::Boolean => boolean(value).map(Checked::Bool),
            ConnectArgKind::WholeNumber => whole_number(value).map(Checked::Number),
            ConnectArgKind::Port => whole_number(value)
                .filter(|port| (1..=65535).contains(port))
                .map(Checked::Number),
            ConnectArgKind::WholeSeconds => {
                whole_number(value).map(|seconds| Checked::Duration(Duration::from_secs(seconds)))
            }
            ConnectArgKind::Seconds => number(value)
                .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
                .map(Checked::Duration),
            ConnectArgKind::Milliseconds => {
                whole_number(value).map(|millis| Checked::Duration(Duration::from_millis(millis)))
            }
            ConnectArgKind::Duration => duration(value).map(Checked::Duration),
            ConnectArgKind::OneOf(values) => text(value).and_then(|text| {
                values
                    .iter()
                    .find(|candidate| candidate.eq_ignore_ascii_case(text))
                    .map(|canonical| Checked::Text((*canonical).to_owned()))
            }),
            ConnectArgKind::SqliteIsolationLevel => isolation_level(value).map(Checked::Isolation),
            ConnectArgKind::Ignored => Some(Checked::Ignored),
        }
    }
}

fn text(value: ArgValue<'_>) -> Option<&str> {
    match value {
        ArgValue::Json(serde_json::Value::String(text)) => Some(text),
        ArgValue::Text(text) => Some(text),
        ArgValue::Json(_) => None,
    }
}

fn boolean(value: ArgValue<'_>) -> Option<bool> {
    match value {
        ArgValue::Json(serde_json::Value::Bool(flag)) => Some(*flag),
        ArgValue::Json(serde_json::Value::Number(number)) => match number.as_f64() {
            Some(0.0) => Some(false),
            Some(1.0) => Some(true),
            _ => None,
        },
        ArgValue::Json(_) => text(value).and_then(boolean_text),
        ArgValue::Text(text) => boolean_text(text),
    }
}

/// SQLAlchemy's `asbool` spellings.
fn boolean_text(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" | "t" | "1" => Some(true),
        "false" | "no" | "off" | "n" | "f" | "0" => Some(false),
        _ => None,
    }
}

/// A finite, non-negative number, from a JSON number or a numeric string.
fn number(value: ArgValue<'_>) -> Option<f64> {
    let number = match value {
        ArgValue::Json(serde_json::Value::Number(number)) => number.as_f64(),
        _ => text(value).and_then(|text| text.trim().parse::<f64>().ok()),
    };
    number.filter(|number| number.is_finite() && *number >= 0.0)
}

/// A non-negative whole number: a JSON integer, a double with an integral value (`10.0`), or a
/// string of either.
fn whole_number(value: ArgValue<'_>) -> Option<u64> {
    let exact = match value {
        ArgValue::Json(serde_json::Value::Number(number)) => number.as_u64(),
        _ => text(value).and_then(|text| text.trim().parse::<u64>().ok()),
    };
    exact.or_else(|| {
        // Doubles are exact integers only up to 2^53; beyond, a whole number cannot be trusted.
        number(value)
            .filter(|number| number.fract() == 0.0 && *number <= 9_007_199_254_740_992.0)
            .map(|number| number as u64)
    })
}

fn duration(value: ArgValue<'_>) -> Option<Duration> {
    let seconds = match number(value) {
        Some(seconds) => Some(seconds),
        None => {
            let text = text(value)?.trim();
            let split = text.find(|c: char| c.is_ascii_alphabetic())?;
            let amount = text[..split].trim().parse::<f64>().ok()?;
            let scale = match &text[split..] {
                "ms" => 0.001,
                "s" => 1.0,
                "min" => 60.0,
                "h" => 3600.0,
                _ => return None,
            };
            Some(amount * scale).filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        }
    };
    seconds.and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
}

fn isolation_level(value: ArgValue<'_>) -> Option<SqliteIsolationLevel> {
    if let ArgValue::Json(serde_json::Value::Null) = value {
        return Some(SqliteIsolationLevel::Autocommit);
    }
    match text(value)?.to_ascii_uppercase().as_str() {
        "" | "DEFERRED" => Some(SqliteIsolationLevel::Deferred),
        "IMMEDIATE" => Some(SqliteIsolationLevel::Immediate),
        "EXCLUSIVE" => Some(SqliteIsolationLevel::Exclusive),
        _ => None,
    }
}

/// The accepted name closest to `key`: the same name in another letter case, or one at most two
/// edits away (one for short names).
fn closest(key: &str, accepted: &[&'static str]) -> Option<&'static str> {
    if let Some(same) = accepted.iter().find(|name| name.eq_ignore_ascii_case(key)) {
        return Some(same);
    }
    let limit = if key.chars().count() <= 4 { 1 } else { 2 };
    accepted
        .iter()
        .map(|name| (edit_distance(key, name), *name))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

/// The Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_connect_args_are_the_first_entries_of_the_sqlite_table() {
        let connect_args: Vec<_> = accepted_connect_args(Backend::Sqlite)
            .iter()
            .map(|spec| spec.name)
            .collect();
        assert_eq!(
            connect_args,
            [
                "timeout",
                "busy_timeout",
                "isolation_level",
                "uri",
                "read_only",
                "check_same_thread",
                "detect_types",
                "cached_statements",
                "statement_timeout"
            ]
        );
    }

    #[test]
    fn the_crate_docs_list_every_accepted_key() {
        let crate_docs = include_str!("lib.rs");
        for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
            for spec in accepted_uri_query_options(backend) {
                let listed = format!("`{}`", spec.name);
                assert!(crate_docs.contains(&listed), "{backend}: {listed}");
            }
        }
    }

    #[test]
    fn names_are_unique_per_backend() {
        for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
            let specs = accepted_uri_query_options(backend);
            for (index, spec) in specs.iter().enumerate() {
                assert!(
                    specs[index + 1..]
                        .iter()
                        .all(|other| other.name != spec.name),
                    "{backend}: {} twice",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn kinds_accept_what_a_flyte_round_trip_produces() {
        let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        let check = |kind: ConnectArgKind, value: &str| kind.check(ArgValue::Json(&json(value)));
        assert_eq!(
            check(WholeSeconds, "10"),
            Some(Checked::Duration(Duration::from_secs(10)))
        );
        assert_eq!(
            check(WholeSeconds, "10.0"),
            Some(Checked::Duration(Duration::from_secs(10)))
        );
        assert_eq!(
            check(WholeSeconds, "\"10\""),
            Some(Checked::Duration(Duration::from_secs(10)))
        );
        assert_eq!(
            check(WholeSeconds, "\" 10.0 \""),
            Some(Checked::Duration(Duration::from_secs(10)))
        );
        assert_eq!(check(WholeSeconds, "10.5"), None);
        assert_eq!(check(WholeSeconds, "-1"), None);
        assert_eq!(check(WholeSeconds, "true"), None);
        assert_eq!(check(WholeSeconds, "\"ten\""), None);
        assert_eq!(
            check(WholeNumber, "9007199254740993"),
            Some(Checked::Number(9_007_199_254_740_993))
        );
        assert_eq!(check(WholeNumber, "1e300"), None);
        assert_eq!(
            check(Seconds, "2.5"),
            Some(Checked::Duration(Duration::from_millis(2500)))
        );
        assert_eq!(check(Seconds, "\"NaN\""), None);
        assert_eq!(check(Seconds, "\"inf\""), None);
        assert_eq!(check(Seconds, "1e300"), None);
        assert_eq!(
            check(Milliseconds, "5000.0"),
            Some(Checked::Duration(Duration::from_secs(5)))
        );
        assert_eq!(check(Port, "5432.0"), Some(Checked::Number(5432)));
        assert_eq!(check(Port, "0"), None);
        assert_eq!(check(Port, "65536"), None);
        assert_eq!(check(Boolean, "1.0"), Some(Checked::Bool(true)));
        assert_eq!(check(Boolean, "0"), Some(Checked::Bool(false)));
        assert_eq!(check(Boolean, "2"), None);
        assert_eq!(check(Boolean, "\"Yes\""), Some(Checked::Bool(true)));
        assert_eq!(check(Boolean, "\"off\""), Some(Checked::Bool(false)));
        assert_eq!(check(Boolean, "\"maybe\""), None);
        assert_eq!(check(Text, "5"), None);
        assert_eq!(check(Text, "\"x\""), Some(Checked::Text("x".to_owned())));
        let sslmode = OneOf(&["disable", "require"]);
        assert_eq!(
            check(sslmode, "\"REQUIRE\""),
            Some(Checked::Text("require".to_owned()))
        );
        assert_eq!(check(sslmode, "\"required\""), None);
        assert_eq!(check(Ignored, "{\"a\": [1]}"), Some(Checked::Ignored));
    }

    #[test]
    fn durations_take_seconds_or_a_unit() {
        let check = |value: &str| ConnectArgKind::Duration.check(ArgValue::Text(value));
        assert_eq!(
            check("30"),
            Some(Checked::Duration(Duration::from_secs(30)))
        );
        assert_eq!(
            check("2.5"),
            Some(Checked::Duration(Duration::from_millis(2500)))
        );
        assert_eq!(
            check("500ms"),
            Some(Checked::Duration(Duration::from_millis(500)))
        );
        assert_eq!(
            check(" 30 s "),
            Some(Checked::Duration(Duration::from_secs(30)))
        );
        assert_eq!(
            check("5min"),
            Some(Checked::Duration(Duration::from_secs(300)))
        );
        assert_eq!(
            check("1h"),
            Some(Checked::Duration(Duration::from_secs(3600)))
        );
        assert_eq!(check("0"), Some(Checked::Duration(Duration::ZERO)));
        assert_eq!(check("5 minutes"), None);
        assert_eq!(check("-1s"), None);
        assert_eq!(check("ms"), None);
        assert_eq!(check(""), None);
    }

    #[test]
    fn isolation_levels_follow_python_sqlite3() {
        let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        let check =
            |value: &str| ConnectArgKind::SqliteIsolationLevel.check(ArgValue::Json(&json(value)));
        assert_eq!(
            check("null"),
            Some(Checked::Isolation(SqliteIsolationLevel::Autocommit))
        );
        assert_eq!(
            check("\"\""),
            Some(Checked::Isolation(SqliteIsolationLevel::Deferred))
        );
        assert_eq!(
            check("\"immediate\""),
            Some(Checked::Isolation(SqliteIsolationLevel::Immediate))
        );
        assert_eq!(
            check("\"EXCLUSIVE\""),
            Some(Checked::Isolation(SqliteIsolationLevel::Exclusive))
        );
        assert_eq!(check("\"SERIALIZABLE\""), None);
        assert_eq!(check("0"), None);
    }

    #[test]
    fn suggestions_find_near_names() {
        let accepted = ["sslmode", "connect_timeout", "host", "port"];
        assert_eq!(closest("sslmod", &accepted), Some("sslmode"));
        assert_eq!(closest("SSLMODE", &accepted), Some("sslmode"));
        assert_eq!(
            closest("connect_timout", &accepted),
            Some("connect_timeout")
        );
        assert_eq!(closest("hots", &accepted), None);
        assert_eq!(closest("prt", &accepted), Some("port"));
        assert_eq!(closest("ratio", &accepted), None);
        assert_eq!(edit_distance("straße", "strasse"), 2);
    }
}
