//! SQLAlchemy-style database URIs: parsing into a typed [`Target`], and redaction.
//!
//! The grammar is SQLAlchemy 2.1's `make_url`
//! (`dialect[+driver]://[user[:password]@][host][:port][/database][?key=value&...]`), read the
//! same way: user, password and database are percent-decoded, the host is not, a bracketed host is
//! an IPv6 address, and query keys and values are form-decoded (`+` is a space). Where SQLAlchemy
//! silently drops text (a query option without `=`, text after a bracketed host) or keeps only
//! the last of repeated query options, parsing fails instead.

use std::fmt;
use std::ops::Range;

use percent_encoding::percent_decode_str;

use crate::error::{Error, Result};
use crate::secret::SecretString;

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

    /// The SQLAlchemy driver names accepted after `+` in the scheme. flyte-sql connects with its
    /// own drivers whichever is named; the name is kept so the URI stays valid for SQLAlchemy.
    pub fn accepted_drivers(self) -> &'static [&'static str] {
        match self {
            Backend::Sqlite => &["pysqlite", "aiosqlite"],
            Backend::Postgres => &["psycopg2", "psycopg", "psycopg2cffi", "pg8000", "asyncpg"],
            Backend::Mysql => &[
                "mysqldb",
                "pymysql",
                "mysqlconnector",
                "mariadbconnector",
                "asyncmy",
                "aiomysql",
                "cymysql",
            ],
        }
    }

    /// The accepted URI forms, as used in error messages.
    pub fn uri_forms(self) -> &'static str {
        match self {
            Backend::Sqlite => SQLITE_FORMS,
            Backend::Postgres => POSTGRES_FORMS,
            Backend::Mysql => MYSQL_FORMS,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const ANY_FORMS: &str = "dialect[+driver]://... with dialect one of sqlite, postgresql, postgres, mysql, mariadb, such as sqlite:///relative/path.db or postgresql://user:password@host:5432/database";
const SQLITE_FORMS: &str = "sqlite:// or sqlite:///:memory: (in memory), sqlite:///relative/path.db or sqlite:////absolute/path.db, each optionally followed by options such as ?mode=ro&timeout=10";
const POSTGRES_FORMS: &str = "postgresql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (postgres:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]";
const MYSQL_FORMS: &str = "mysql[+driver]://[user[:password]@][host][:port][/database][?option=value&...] (mariadb:// works too), with `@`, `:`, `/` and `?` percent-encoded in the user, password and database, and an IPv6 host in brackets such as [::1]";

/// What is wrong with a database URI (the `problem` of [`Error::InvalidUri`]).
///
/// Parts of the URI are never repeated here, except option names that are plain identifiers:
/// a malformed URI may have its password anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriProblem {
    /// There is no `://` after the dialect.
    MissingSchemeSeparator,
    /// The scheme has characters other than ASCII letters, digits, `_` and one `+`.
    InvalidSchemeCharacters,
    /// The scheme ends in `+` with no driver name.
    EmptyDriver,
    /// The driver after `+` is not a SQLAlchemy driver of the dialect.
    UnsupportedDriver {
        /// The driver as written.
        driver: String,
        /// The drivers accepted for the dialect.
        accepted: &'static [&'static str],
    },
    /// A host starting with `[` has no closing `]`.
    UnclosedIpv6Bracket,
    /// The host has an `@`: an unencoded `@` in the user name or password.
    AtSignInHost,
    /// The host has whitespace, a control character or a bracket.
    InvalidHostCharacter,
    /// Something other than `:port`, `/database` or `?query` follows a bracketed host.
    TextAfterHost,
    /// The port is not a number from 1 to 65535.
    InvalidPort,
    /// A query option has no `=value`.
    QueryOptionWithoutValue {
        /// The option's name; `None` when it is not a plain identifier.
        key: Option<String>,
    },
    /// A query option has an empty name.
    EmptyQueryOptionName,
    /// A query option appears more than once.
    RepeatedQueryOption {
        /// The option's name; `None` when it is not a plain identifier.
        key: Option<String>,
    },
    /// A SQLite URI has a user, password, host or port.
    SqliteServerParts,
}

impl fmt::Display for UriProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriProblem::MissingSchemeSeparator => f.write_str("no `://` after the dialect"),
            UriProblem::InvalidSchemeCharacters => f.write_str(
                "the scheme may only have ASCII letters, digits and `_`, and one `+` before the driver",
            ),
            UriProblem::EmptyDriver => f.write_str("no driver name after `+`"),
            UriProblem::UnsupportedDriver { driver, accepted } => write!(
                f,
                "unsupported driver `{driver}`: use one of {} or no `+driver` at all",
                accepted.join(", ")
            ),
            UriProblem::UnclosedIpv6Bracket => {
                f.write_str("an IPv6 host opened with `[` is not closed with `]`")
            }
            UriProblem::AtSignInHost => f.write_str(
                "the host has an `@`: percent-encode `@` as %40 in the user name or password",
            ),
            UriProblem::InvalidHostCharacter => {
                f.write_str("the host has whitespace, a control character or a bracket")
            }
            UriProblem::TextAfterHost => f.write_str(
                "unexpected text after the host: only `:port`, `/database` or `?options` may follow it",
            ),
            UriProblem::InvalidPort => f.write_str(
                "the port is not a number from 1 to 65535 (a user and password end with `@` before the host)",
            ),
            UriProblem::QueryOptionWithoutValue { key: Some(key) } => {
                write!(f, "query option `{key}` has no value: write `{key}=value`")
            }
            UriProblem::QueryOptionWithoutValue { key: None } => {
                f.write_str("a query option has no value: write `name=value`")
            }
            UriProblem::EmptyQueryOptionName => {
                f.write_str("a query option has no name before `=`")
            }
            UriProblem::RepeatedQueryOption { key: Some(key) } => {
                write!(f, "query option `{key}` is given more than once: give it once")
            }
            UriProblem::RepeatedQueryOption { key: None } => {
                f.write_str("a query option is given more than once: give it once")
            }
            UriProblem::SqliteServerParts => f.write_str(
                "a sqlite uri has no user, password, host or port (a file path follows three slashes, an absolute one four)",
            ),
        }
    }
}

/// What a URI points at, per backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite database.
    Sqlite(SqliteTarget),
    /// A PostgreSQL server.
    Postgres(ServerTarget),
    /// A MySQL or MariaDB server.
    Mysql(ServerTarget),
}

/// The SQLite database of a URI.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteTarget {
    /// The database file, or memory.
    pub path: SqlitePath,
    /// The query options in the order written, percent-decoded.
    pub query: Vec<QueryOption>,
}

/// Where a SQLite URI's database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlitePath {
    /// In memory: `sqlite://`, `sqlite:///` and `sqlite:///:memory:`.
    Memory,
    /// A file path, percent-decoded: relative (`sqlite:///data/x.db` gives `data/x.db`, resolved
    /// against the working directory) or absolute (`sqlite:////data/x.db` gives `/data/x.db`).
    /// With the `uri=true` option it is a SQLite URI filename such as `file:x.db`.
    File(String),
}

/// The server, credentials and database of a PostgreSQL or MySQL URI. `Debug` shows `***` for
/// the password and for password-like query options.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerTarget {
    /// The host as written (not percent-decoded, as SQLAlchemy), without the brackets of an IPv6
    /// address; `None` when the URI has none.
    pub host: Option<String>,
    /// The port; `None` when the URI has none.
    pub port: Option<u16>,
    /// The user name, percent-decoded; `None` when absent or empty.
    pub user: Option<String>,
    /// The password, percent-decoded; `None` when absent or empty.
    pub password: Option<SecretString>,
    /// The database name, percent-decoded; `None` when absent or empty.
    pub database: Option<String>,
    /// The query options in the order written, percent-decoded.
    pub query: Vec<QueryOption>,
}

/// One `key=value` option of a URI's query string, percent-decoded.
///
/// `Debug` shows `***` for the value of a key that names a password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryOption {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

impl fmt::Debug for QueryOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &dyn fmt::Debug = if is_sensitive_key(&self.key) {
            &"***"
        } else {
            &self.value
        };
        f.debug_struct("QueryOption")
            .field("key", &self.key)
            .field("value", value)
            .finish()
    }
}

/// Whether a connect-arg or query key names a password, whose value must never be shown.
pub fn is_sensitive_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("password") || key.contains("passwd")
}

/// A parsed database URI; it keeps the text as written, and prints itself with the password
/// redacted.
#[derive(Clone)]
pub struct DatabaseUri {
    as_written: String,
    redacted: String,
    backend: Backend,
    dialect: String,
    driver: Option<String>,
    target: Target,
}

impl DatabaseUri {
    /// Parses a SQLAlchemy URL such as `sqlite:///relative.db`, `sqlite:////abs/path.db`,
    /// `sqlite://` (in memory) or `postgresql+psycopg2://user:pass@host:5432/db?sslmode=require`.
    ///
    /// Never panics; every error names the problem and the accepted forms, with the URI redacted.
    pub fn parse(uri: &str) -> Result<DatabaseUri> {
        let invalid = |problem: UriProblem, expected: &'static str| Error::InvalidUri {
            uri: redact_for_error(uri),
            problem,
            expected,
        };
        let Some(separator) = uri.find("://") else {
            return Err(invalid(UriProblem::MissingSchemeSeparator, ANY_FORMS));
        };
        let scheme = &uri[..separator];
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+')
        {
            return Err(invalid(UriProblem::InvalidSchemeCharacters, ANY_FORMS));
        }
        let (dialect, driver) = match scheme.split_once('+') {
            Some((dialect, driver)) => (dialect, Some(driver)),
            None => (scheme, None),
        };
        let backend = match dialect {
            "sqlite" => Backend::Sqlite,
            "postgresql" | "postgres" => Backend::Postgres,
            "mysql" | "mariadb" => Backend::Mysql,
            _ => {
                return Err(Error::UnsupportedDialect {
                    dialect: dialect.to_owned(),
                    uri: redact_for_error(uri),
                });
            }
        };
        let expected = backend.uri_forms();
        match driver {
            Some("") => return Err(invalid(UriProblem::EmptyDriver, expected)),
            Some(driver) if !backend.accepted_drivers().contains(&driver) => {
                return Err(invalid(
                    UriProblem::UnsupportedDriver {
                        driver: driver.to_owned(),
                        accepted: backend.accepted_drivers(),
                    },
                    expected,
                ));
            }
            _ => {}
        }
        let rest_start = separator + "://".len();
        let parts =
            split_after_scheme(&uri[rest_start..]).map_err(|problem| invalid(problem, expected))?;
        let query = parts
            .query
            .as_ref()
            .map(|query| parse_query(query.text(uri, rest_start)))
            .transpose()
            .map_err(|problem| invalid(problem, expected))?
            .unwrap_or_default();
        let user = parts
            .user
            .as_ref()
            .map(|user| decode(user.text(uri, rest_start)));
        let password = parts
            .password
            .as_ref()
            .map(|password| decode(password.text(uri, rest_start)));
        let database = parts
            .database
            .as_ref()
            .map(|database| decode(database.text(uri, rest_start)));
        let target = if backend == Backend::Sqlite {
            if parts.user.is_some() || parts.host.is_some() || parts.port.is_some() {
                return Err(invalid(UriProblem::SqliteServerParts, expected));
            }
            let path = match database.as_deref() {
                None | Some("" | ":memory:") => SqlitePath::Memory,
                Some(path) => SqlitePath::File(path.to_owned()),
            };
            Target::Sqlite(SqliteTarget { path, query })
        } else {
            let port = parts
                .port
                .as_ref()
                .map(|port| parse_port(port.text(uri, rest_start)))
                .transpose()
                .map_err(|problem| invalid(problem, expected))?;
            let server = ServerTarget {
                host: parts
                    .host
                    .as_ref()
                    .map(|host| host.text(uri, rest_start).to_owned()),
                port,
                user: user.filter(|user| !user.is_empty()),
                password: password
                    .filter(|password| !password.is_empty())
                    .map(SecretString::new),
                database: database.filter(|database| !database.is_empty()),
                query,
            };
            if backend == Backend::Postgres {
                Target::Postgres(server)
            } else {
                Target::Mysql(server)
            }
        };
        let mut hidden = Vec::new();
        hidden.extend(parts.password.map(|password| password.offset(rest_start)));
        if let Some(query) = &parts.query {
            hidden.extend(sensitive_query_values(query.offset(rest_start), uri));
        }
        Ok(DatabaseUri {
            as_written: uri.to_owned(),
            redacted: mask(uri, hidden),
            backend,
            dialect: dialect.to_owned(),
            driver: driver.map(str::to_owned),
            target,
        })
    }

    /// The database family.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The dialect as written: `sqlite`, `postgresql`, `postgres`, `mysql` or `mariadb`.
    ///
    /// SQLAlchemy 1.4 and later reject `postgres`, so a task run by the reference's Python image
    /// needs `postgresql`; flyte-sql's own executor takes both.
    pub fn dialect(&self) -> &str {
        &self.dialect
    }

    /// The SQLAlchemy driver after `+` in the scheme, such as `psycopg2`; `None` without one.
    pub fn driver(&self) -> Option<&str> {
        self.driver.as_deref()
    }

    /// What the URI points at: the SQLite file or the server, credentials and database.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The URI exactly as written, password included: only for the TaskTemplate's `custom` struct,
    /// which must carry it unchanged, and for connecting.
    pub fn as_written(&self) -> &str {
        &self.as_written
    }

    /// The URI as written, with `***` in place of the password and of the value of any query
    /// option whose name mentions a password; `Display` and `Debug` show this.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

impl PartialEq for DatabaseUri {
    fn eq(&self, other: &DatabaseUri) -> bool {
        // Everything else is derived from the text.
        self.as_written == other.as_written
    }
}

impl Eq for DatabaseUri {}

impl fmt::Display for DatabaseUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for DatabaseUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUri").field(&self.redacted).finish()
    }
}

/// A byte range of the text after `://`.
#[derive(Debug, Clone)]
struct Span(Range<usize>);

impl Span {
    fn text<'a>(&self, uri: &'a str, rest_start: usize) -> &'a str {
        &uri[self.offset(rest_start)]
    }

    fn offset(&self, rest_start: usize) -> Range<usize> {
        self.0.start + rest_start..self.0.end + rest_start
    }
}

/// The parts of what follows `://`, as byte ranges, before any decoding.
#[derive(Debug, Default)]
struct RawParts {
    user: Option<Span>,
    password: Option<Span>,
    host: Option<Span>,
    port: Option<Span>,
    database: Option<Span>,
    query: Option<Span>,
}

/// Splits what follows `://` the way SQLAlchemy's URL regular expression does, failing where
/// that expression would silently drop text.
fn split_after_scheme(rest: &str) -> std::result::Result<RawParts, UriProblem> {
    let mut parts = RawParts::default();
    // User info: the user name runs to the first `:` or `/`. A `:` there followed by an `@`
    // anywhere later starts a password that ends at the first `@`; otherwise the last `@` before
    // that `:` or `/` ends a user name without password.
    let run_end = rest.find([':', '/']).unwrap_or(rest.len());
    let mut position = 0;
    if rest[run_end..].starts_with(':')
        && let Some(at) = rest[run_end + 1..].find('@')
    {
        let at = run_end + 1 + at;
        parts.user = Some(Span(0..run_end));
        parts.password = Some(Span(run_end + 1..at));
        position = at + 1;
    } else if let Some(at) = rest[..run_end].rfind('@') {
        parts.user = Some(Span(0..at));
        position = at + 1;
    }

    let after_user = &rest[position..];
    if after_user.starts_with('[') {
        let segment_end = after_user.find(['/', '?']).unwrap_or(after_user.len());
        let close = after_user[..segment_end]
            .rfind(']')
            .ok_or(UriProblem::UnclosedIpv6Bracket)?;
        check_host(&after_user[1..close])?;
        parts.host = Some(Span(position + 1..position + close));
        position += close + 1;
    } else {
        let host_end = after_user.find(['/', ':', '?']).unwrap_or(after_user.len());
        if host_end > 0 {
            check_host(&after_user[..host_end])?;
            parts.host = Some(Span(position..position + host_end));
        }
        position += host_end;
    }

    if rest[position..].starts_with(':') {
        let port_start = position + 1;
        let port_end = rest[port_start..]
            .find(['/', '?'])
            .map_or(rest.len(), |end| port_start + end);
        parts.port = Some(Span(port_start..port_end));
        position = port_end;
    }

    if rest[position..].starts_with('/') {
        let database_start = position + 1;
        let database_end = rest[database_start..]
            .find('?')
            .map_or(rest.len(), |end| database_start + end);
        parts.database = Some(Span(database_start..database_end));
        position = database_end;
    }

    if rest[position..].starts_with('?') {
        parts.query = Some(Span(position + 1..rest.len()));
        position = rest.len();
    }

    if position != rest.len() {
        return Err(UriProblem::TextAfterHost);
    }
    Ok(parts)
}

fn check_host(host: &str) -> std::result::Result<(), UriProblem> {
    if host.contains('@') {
        return Err(UriProblem::AtSignInHost);
    }
    if host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '[' || c == ']')
    {
        return Err(UriProblem::InvalidHostCharacter);
    }
    Ok(())
}

fn parse_port(port: &str) -> std::result::Result<u16, UriProblem> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UriProblem::InvalidPort);
    }
    port.parse::<u16>()
        .ok()
        .filter(|&port| port != 0)
        .ok_or(UriProblem::InvalidPort)
}

/// Percent-decodes a user name, password or database name (no `+` handling, as Python's
/// `unquote`); invalid UTF-8 becomes U+FFFD and malformed escapes stay as written.
fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// Form-decodes a query key or value, as Python's `parse_qsl`.
fn decode_form(text: &str) -> String {
    decode(&text.replace('+', " "))
}

fn parse_query(query: &str) -> std::result::Result<Vec<QueryOption>, UriProblem> {
    let mut options: Vec<QueryOption> = Vec::new();
    for piece in query.split('&').filter(|piece| !piece.is_empty()) {
        let Some((key, value)) = piece.split_once('=') else {
            return Err(UriProblem::QueryOptionWithoutValue {
                key: plain_identifier(&decode_form(piece)),
            });
        };
        let key = decode_form(key);
        if key.is_empty() {
            return Err(UriProblem::EmptyQueryOptionName);
        }
        if options.iter().any(|option| option.key == key) {
            return Err(UriProblem::RepeatedQueryOption {
                key: plain_identifier(&key),
            });
        }
        options.push(QueryOption {
            key,
            value: decode_form(value),
        });
    }
    Ok(options)
}

/// The name, when it is safe to repeat in a message: a short run of ASCII letters, digits, `_`,
/// `-` and `.`.
fn plain_identifier(name: &str) -> Option<String> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    plain.then(|| name.to_owned())
}

/// The ranges of the values of sensitive options in a query string at `query` in `uri`.
fn sensitive_query_values(query: Range<usize>, uri: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut piece_start = query.start;
    for piece in uri[query.clone()].split('&') {
        if let Some((key, value)) = piece.split_once('=')
            && is_sensitive_key(&decode_form(key))
        {
            let value_start = piece_start + key.len() + 1;
            ranges.push(value_start..value_start + value.len());
        }
        piece_start += piece.len() + 1;
    }
    ranges
}

/// Replaces each range of `text` by `***`; ranges may overlap and come in any order.
fn mask(text: &str, mut ranges: Vec<Range<usize>>) -> String {
    ranges.sort_by_key(|range| range.start);
    let mut out = String::with_capacity(text.len());
    let mut position = 0;
    for range in ranges {
        if range.end < position {
            continue;
        }
        if range.start >= position {
            out.push_str(&text[position..range.start]);
            out.push_str("***");
        }
        position = range.end;
    }
    out.push_str(&text[position..]);
    out
}

/// Redacts text that failed to parse, erring on the side of hiding too much: a malformed URI may
/// have its password anywhere.
///
/// Hidden are: a scheme with characters a scheme cannot have (it may hold user info); after the
/// scheme, everything from the first `:` to the last `@`; without `@`, whatever follows the first
/// `:` up to `/` or `?` unless it is a port number; and everything after `password=` or `passwd=`
/// (in any case) up to the next `&`.
pub(crate) fn redact_for_error(text: &str) -> String {
    let mut ranges = Vec::new();
    let mut rest_start = 0;
    if let Some(separator) = text.find("://") {
        let scheme = &text[..separator];
        if !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+')
        {
            ranges.push(0..separator);
        }
        rest_start = separator + 3;
    }
    let rest = &text[rest_start..];
    match (rest.find(':'), rest.rfind('@')) {
        (Some(colon), Some(at)) if colon < at => {
            ranges.push(rest_start + colon + 1..rest_start + at);
        }
        (Some(colon), None) => {
            // In a bracketed IPv6 host the port's `:` is the first one after the `]`.
            let colon = match rest.find(']') {
                Some(close) if rest.starts_with('[') => match rest[close..].find(':') {
                    Some(port_colon) => close + port_colon,
                    None => rest.len(),
                },
                _ => colon,
            };
            let after = rest.get(colon + 1..).unwrap_or("");
            let end = after.find(['/', '?']).unwrap_or(after.len());
            if !after[..end].bytes().all(|b| b.is_ascii_digit()) {
                ranges.push(rest_start + colon + 1..rest_start + colon + 1 + end);
            }
        }
        _ => {}
    }
    let lower = text.to_ascii_lowercase();
    for needle in ["password=", "passwd="] {
        for (found, _) in lower.match_indices(needle) {
            let start = found + needle.len();
            let end = text[start..]
                .find('&')
                .map_or(text.len(), |end| start + end);
            ranges.push(start..end);
        }
    }
    mask(text, ranges)
}
