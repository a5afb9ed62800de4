//! MySQL and MariaDB through the pure-Rust `mysql` crate: connecting (sessions in UTC), describing
//! a query from the server's prepared-statement metadata, binding values in the binary protocol,
//! streaming rows from the socket, and classifying failures by the server's error numbers.
//!
//! Every statement is a prepared statement (`COM_STMT_PREPARE`, which the server refuses for more
//! than one statement), so nothing user-written goes through the text protocol, whatever
//! capabilities the driver negotiates. Rows are read as they arrive (`exec_iter`), decoded by
//! the column types of the result and pushed into the sink; memory does not grow with the
//! result.

use std::sync::mpsc;
use std::time::Duration;

use ::mysql::consts::{ColumnFlags, ColumnType as MysqlType};
use ::mysql::prelude::Queryable;
use ::mysql::{
    ClientIdentity, Column, Conn, DriverError, MySqlError, OptsBuilder, Params, SslOpts, TxOpts,
    Value as MysqlValue,
};
use chrono::{Datelike, NaiveDate, Timelike};
use flyte_sql_config::{MysqlOptions, MysqlSslMode};
use flyte_sql_model::{PrimitiveType, Value};
use flyte_sql_template::Statement;

use crate::connection::{DEFAULT_CONNECT_TIMEOUT, duration_seconds};
use crate::datum::{self, Datum, MICROS_PER_SECOND};
use crate::error::{DatabaseFailure, Error, Result};
use crate::stream::{Described, Hint, RowSink};
use crate::types::ColumnType;

/// The character set number of binary strings: a `BLOB` or `VARBINARY` rather than text.
const BINARY_CHARSET: u16 = 63;

/// A MySQL connection.
pub(crate) struct MysqlSession {
    pub(crate) connection: Conn,
    /// A result was abandoned unread (see [`stream`]): the connection must not be reused.
    pub(crate) broken: bool,
}

/// Connects (within the connect timeout), then puts the session in UTC and applies the
/// character set, statement timeout, `sql_mode` and `init_command`, each one prepared statement.
pub(crate) fn connect(options: &MysqlOptions, redacted_uri: &str) -> Result<MysqlSession> {
    // The value is never echoed: it may come from a secret connect arg.
    let set_names = match options.charset.as_deref() {
        None => None,
        Some(charset) if charset.eq_ignore_ascii_case("utf8mb4") => Some("SET NAMES utf8mb4"),
        Some(charset) if charset.eq_ignore_ascii_case("utf8") => Some("SET NAMES utf8"),
        Some(_) => {
            return Err(Error::ConnectArg {
                name: "charset".to_owned(),
                problem: "names a character set other than UTF-8, but flyte-sql reads MySQL text as UTF-8: use utf8mb4".to_owned(),
            });
        }
    };
    let timeout = options.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let mut connection = establish(options, timeout, redacted_uri)?;
    let mut setup = vec!["SET time_zone = '+00:00'".to_owned()];
    setup.extend(set_names.map(str::to_owned));
    if let Some(timeout) = options.statement_timeout {
        let version: Option<String> = connection
            .exec_first("SELECT VERSION()", ())
            .map_err(|error| database_error("connect", &error))?;
        setup.push(if version.unwrap_or_default().contains("MariaDB") {
            format!("SET SESSION max_statement_time = {}", timeout.as_secs_f64())
        } else {
            format!("SET SESSION max_execution_time = {}", timeout.as_millis())
        });
    }
    for statement in &setup {
        connection
            .exec_drop(statement.as_str(), ())
            .map_err(|error| database_error("connect", &error))?;
    }
    if let Some(sql_mode) = &options.sql_mode {
        connection
            .exec_drop(
                "SET SESSION sql_mode = ?",
                Params::Positional(vec![MysqlValue::Bytes(sql_mode.as_bytes().to_vec())]),
            )
            .map_err(|error| database_error("connect", &error))?;
    }
    if let Some(init_command) = &options.init_command {
        // One prepared statement: the server refuses a second one in it.
        connection
            .exec_drop(init_command.as_str(), ())
            .map_err(|error| database_error("init_command", &error))?;
    }
    Ok(MysqlSession {
        connection,
        broken: false,
    })
}

/// Opens the connection on a helper thread, abandoned when it takes longer than `timeout`: the
/// driver's own timeout covers the TCP connect but not a server that accepts and then stalls.
fn establish(options: &MysqlOptions, timeout: Duration, redacted_uri: &str) -> Result<Conn> {
    let builder = opts_builder(options, timeout)?;
    let tls = tls_options(options)?;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let result = match tls {
            Tls::Off => Conn::new(builder),
            Tls::On(ssl) => Conn::new(builder.ssl_opts(ssl)),
            // PREFERRED: TLS when the server offers it. The driver finds out before it sends
            // any credentials, so the second attempt costs one more TCP connect.
            Tls::Preferred(ssl) => match Conn::new(builder.clone().ssl_opts(ssl)) {
                Err(::mysql::Error::DriverError(DriverError::TlsNotSupported)) => {
                    Conn::new(builder)
                }
                other => other,
            },
        };
        let _ = sender.send(result);
    });
    match receiver.recv_timeout(timeout) {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(connect_error(redacted_uri, timeout, &error)),
        Err(_) => Err(Error::ConnectTimeout {
            uri: redacted_uri.to_owned(),
            timeout,
        }),
    }
}

fn opts_builder(options: &MysqlOptions, timeout: Duration) -> Result<OptsBuilder> {
    Ok(OptsBuilder::new()
        .ip_or_hostname(Some(options.host.as_deref().unwrap_or("localhost")))
        .tcp_port(options.port.unwrap_or(3306))
        .socket(options.unix_socket.as_deref())
        // As PyMySQL: a TCP connection to the host, never a silent switch to a Unix socket.
        .prefer_socket(false)
        .user(options.user.as_deref())
        .pass(options.password.as_ref().map(|password| password.expose()))
        .db_name(options.database.as_deref())
        .tcp_connect_timeout(Some(timeout))
        .read_timeout(options.read_timeout)
        .write_timeout(options.write_timeout)
        // Each query is prepared by the describe step and executed from this cache.
        .stmt_cache_size(Some(8)))
}

/// How the connection uses TLS.
enum Tls {
    Off,
    On(SslOpts),
    Preferred(SslOpts),
}

/// The TLS settings of `ssl_mode` and the certificate connect args; no mode means PREFERRED, the
/// client library's default.
fn tls_options(options: &MysqlOptions) -> Result<Tls> {
    let identity = match (&options.ssl_cert, &options.ssl_key) {
        (Some(cert), Some(key)) => Some(ClientIdentity::new(
            std::path::PathBuf::from(cert),
            std::path::PathBuf::from(key),
        )),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::ConnectArg {
                name: "ssl_cert".to_owned(),
                problem: "and `ssl_key` go together: give both or neither".to_owned(),
            });
        }
    };
    let ssl = SslOpts::default()
        .with_client_identity(identity)
        .with_root_cert_path(options.ssl_ca.as_deref().map(std::path::PathBuf::from));
    let unverified = ssl
        .clone()
        .with_danger_accept_invalid_certs(true)
        .with_danger_skip_domain_validation(true);
    Ok(match options.ssl_mode {
        Some(MysqlSslMode::Disabled) => Tls::Off,
        None | Some(MysqlSslMode::Preferred) => Tls::Preferred(unverified),
        Some(MysqlSslMode::Required) => Tls::On(unverified),
        Some(MysqlSslMode::VerifyCa) => Tls::On(ssl.with_danger_skip_domain_validation(true)),
        Some(MysqlSslMode::VerifyIdentity) => Tls::On(ssl),
    })
}

/// A failed connect: transient (the server or network) unless the server refused who we are or
/// what we asked for.
fn connect_error(redacted_uri: &str, timeout: Duration, error: &::mysql::Error) -> Error {
    use ::mysql::Error as E;
    let transient = match error {
        E::MySqlError(error) => !matches!(
            error.code,
            // Access denied (to the server, to the database), unknown database, host not
            // allowed, authentication method unknown or not loaded, password expired.
            1044 | 1045 | 1049 | 1130 | 1251 | 1524 | 1698 | 1862
        ),
        E::DriverError(DriverError::ConnectTimeout) => {
            return Error::ConnectTimeout {
                uri: redacted_uri.to_owned(),
                timeout,
            };
        }
        E::IoError(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            return Error::ConnectTimeout {
                uri: redacted_uri.to_owned(),
                timeout,
            };
        }
        E::DriverError(
            DriverError::TlsNotSupported
            | DriverError::UnknownAuthPlugin(_)
            | DriverError::OldMysqlPasswordDisabled
            | DriverError::CleartextPluginDisabled,
        )
        | E::UrlError(_) => false,
        // A certificate that does not verify, a key file that cannot be read.
        E::TlsError(_) => false,
        // Name resolution, refused or reset connections: whatever the host is called.
        _ => true,
    };
    Error::Connect {
        uri: redacted_uri.to_owned(),
        message: error_message(error),
        transient,
    }
}

/// The message of a driver error, with the server's error number.
fn error_message(error: &::mysql::Error) -> String {
    match error {
        ::mysql::Error::MySqlError(MySqlError { code, message, .. }) => {
            format!("{} (MySQL error {code})", message.trim())
        }
        ::mysql::Error::DriverError(DriverError::Params(_) | DriverError::MixedParams) => format!(
            "{error}: the MySQL driver reads `:name` outside quotes and comments as a named parameter; flyte-sql binds only placeholders, so quote that text or remove it"
        ),
        ::mysql::Error::DriverError(DriverError::CouldNotConnect(Some((_, description, _)))) => {
            // Without the address, which may come from a secret connect arg.
            format!("could not connect: {description}")
        }
        other => other.to_string().trim().to_owned(),
    }
}

/// What kind of failure a server error number is (`docs/faults.md` has the table).
fn failure_of(code: u16) -> DatabaseFailure {
    match code {
        // Lock wait timeout, deadlock.
        1205 | 1213 => DatabaseFailure::Conflict,
        // Query interrupted (KILL QUERY, a statement timeout), MySQL's max_execution_time,
        // MariaDB's max_statement_time.
        1317 | 3024 | 1969 => DatabaseFailure::Timeout,
        // Server shutdown, connection killed, gone away, lost connection, aborted connection,
        // network read/write errors and timeouts.
        1053 | 1927 | 2006 | 2013 | 1152 | 1158 | 1159 | 1160 | 1161 => {
            DatabaseFailure::ConnectionLost
        }
        // Too many connections (per server, per user), out of memory, out of sort memory,
        // out of resources, cannot create a thread, disk full.
        1040 | 1203 | 1037 | 1038 | 1041 | 1135 | 1021 => DatabaseFailure::Server,
        // Duplicate key, foreign key (parent, child, old and new numbers), NOT NULL, CHECK
        // (MySQL, MariaDB).
        1062 | 1451 | 1452 | 1216 | 1217 | 1048 | 3819 | 4025 => DatabaseFailure::Constraint,
        // Syntax, unknown tables and columns, permissions, and everything else the task's SQL
        // decides.
        _ => DatabaseFailure::Other,
    }
}

/// The executor's error for a failed statement: classified by the server's error number, or as
/// a lost connection for the driver's own IO and protocol failures.
pub(crate) fn database_error(step: &'static str, error: &::mysql::Error) -> Error {
    use ::mysql::Error as E;
    let failure = match error {
        E::MySqlError(error) => failure_of(error.code),
        E::DriverError(
            DriverError::Params(_)
            | DriverError::MixedParams
            | DriverError::MismatchedStmtParams(..)
            | DriverError::PacketTooLarge,
        )
        | E::UrlError(_)
        | E::FromValueError(_)
        | E::FromRowError(_) => DatabaseFailure::Other,
        E::IoError(_) | E::CodecError(_) | E::DriverError(_) | E::TlsError(_) => {
            DatabaseFailure::ConnectionLost
        }
    };
    Error::Database {
        step,
        failure,
        message: error_message(error),
    }
}

/// The statement with each bind given its type by a CAST at its marker, except for `LIMIT` and
/// `OFFSET` counts, where MySQL accepts only a bare marker.
///
/// MariaDB describes a bare `?` in a select list as a column of type NULL until the statement
/// runs; the CAST gives the column its type in the prepared statement's metadata, so a result
/// without rows keeps it too, without changing the value.
fn typed_placeholders(statement: &Statement) -> String {
    statement.body_with_markers(|marker, bind| {
        if marker.limit_count {
            return "?";
        }
        match bind.value.primitive_type() {
            PrimitiveType::Integer | PrimitiveType::Boolean => "CAST(? AS SIGNED)",
            PrimitiveType::Float | PrimitiveType::Duration => "CAST(? AS DOUBLE)",
            PrimitiveType::String => "CAST(? AS CHAR)",
            PrimitiveType::Datetime => "CAST(? AS DATETIME(6))",
        }
    })
}

/// The binds as binary-protocol values.
fn params(statement: &Statement) -> Params {
    if statement.binds.is_empty() {
        return Params::Empty;
    }
    Params::Positional(
        statement
            .binds
            .iter()
            .map(|bind| match &bind.value {
                Value::Integer(value) => MysqlValue::Int(*value),
                Value::Float(value) => MysqlValue::Double(*value),
                Value::String(value) => MysqlValue::Bytes(value.as_bytes().to_vec()),
                Value::Boolean(value) => MysqlValue::Int(i64::from(*value)),
                // The session is in UTC.
                Value::Datetime(value) => {
                    let value = value.naive_utc();
                    MysqlValue::Date(
                        u16::try_from(value.year()).unwrap_or(0),
                        value.month() as u8,
                        value.day() as u8,
                        value.hour() as u8,
                        value.minute() as u8,
                        value.second() as u8,
                        value.nanosecond() / 1_000,
                    )
                }
                // Durations are seconds, as a double (MySQL's TIME stops at 838 hours).
                Value::Duration(value) => MysqlValue::Double(duration_seconds(*value)),
                Value::Null(_) => MysqlValue::NULL,
            })
            .collect(),
    )
}

/// Names and types of the query's columns from the server's metadata for the prepared
/// statement: preparing resolves the query without running it or evaluating its select list,
/// and creates nothing. The prepared statement stays in the connection's cache, and the run
/// executes it.
///
/// A statement with binds is typed by its execution's metadata instead (see [`stream`]): MariaDB
/// types `CAST(? AS SIGNED)` as an `int` until the value is bound, a `bigint` after.
/// `None` then, when the server cannot prepare the query (the run reports why), or when it
/// returns no columns.
pub(crate) fn describe(
    session: &mut MysqlSession,
    statement: &Statement,
) -> Option<Vec<Described>> {
    let prepared = match session.connection.prep(typed_placeholders(statement)) {
        Ok(prepared) => prepared,
        Err(error) => {
            tracing::debug!(%error, "describe step: the server cannot prepare the query");
            return None;
        }
    };
    if !statement.binds.is_empty() {
        return None;
    }
    let columns = prepared.columns();
    if columns.is_empty() {
        return None;
    }
    Some(described(&columns))
}

fn described(columns: &[Column]) -> Vec<Described> {
    columns
        .iter()
        .map(|column| Described {
            name: column.name_str().into_owned(),
            hint: hint_for_column(column),
        })
        .collect()
}

/// The column type for a column of the server's result metadata.
pub(crate) fn hint_for_column(column: &Column) -> Hint {
    let unsigned = column.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = column.character_set() == BINARY_CHARSET;
    let ty = match column.column_type() {
        MysqlType::MYSQL_TYPE_TINY if unsigned => ColumnType::UInt8,
        MysqlType::MYSQL_TYPE_TINY => ColumnType::Int8,
        MysqlType::MYSQL_TYPE_SHORT if unsigned => ColumnType::UInt16,
        MysqlType::MYSQL_TYPE_SHORT | MysqlType::MYSQL_TYPE_YEAR => ColumnType::Int16,
        MysqlType::MYSQL_TYPE_INT24 | MysqlType::MYSQL_TYPE_LONG if unsigned => ColumnType::UInt32,
        MysqlType::MYSQL_TYPE_INT24 | MysqlType::MYSQL_TYPE_LONG => ColumnType::Int32,
        MysqlType::MYSQL_TYPE_LONGLONG if unsigned => ColumnType::UInt64,
        MysqlType::MYSQL_TYPE_LONGLONG => ColumnType::Int64,
        MysqlType::MYSQL_TYPE_BIT => ColumnType::UInt64,
        MysqlType::MYSQL_TYPE_FLOAT => ColumnType::Float32,
        MysqlType::MYSQL_TYPE_DOUBLE => ColumnType::Float64,
        MysqlType::MYSQL_TYPE_DECIMAL | MysqlType::MYSQL_TYPE_NEWDECIMAL => {
            let (precision, scale) = decimal_precision_and_scale(column);
            ColumnType::decimal_or_float(precision, scale)
        }
        MysqlType::MYSQL_TYPE_DATE | MysqlType::MYSQL_TYPE_NEWDATE => ColumnType::Date,
        MysqlType::MYSQL_TYPE_TIME | MysqlType::MYSQL_TYPE_TIME2 => ColumnType::Time,
        MysqlType::MYSQL_TYPE_DATETIME | MysqlType::MYSQL_TYPE_DATETIME2 => ColumnType::Timestamp,
        // The session time zone is UTC, so TIMESTAMP values arrive in UTC.
        MysqlType::MYSQL_TYPE_TIMESTAMP | MysqlType::MYSQL_TYPE_TIMESTAMP2 => {
            ColumnType::TimestampUtc
        }
        MysqlType::MYSQL_TYPE_JSON | MysqlType::MYSQL_TYPE_ENUM | MysqlType::MYSQL_TYPE_SET => {
            ColumnType::Text
        }
        MysqlType::MYSQL_TYPE_VARCHAR
        | MysqlType::MYSQL_TYPE_VAR_STRING
        | MysqlType::MYSQL_TYPE_STRING
        | MysqlType::MYSQL_TYPE_TINY_BLOB
        | MysqlType::MYSQL_TYPE_MEDIUM_BLOB
        | MysqlType::MYSQL_TYPE_LONG_BLOB
        | MysqlType::MYSQL_TYPE_BLOB => {
            if binary {
                ColumnType::Binary
            } else {
                ColumnType::Text
            }
        }
        // A NULL literal, or an expression the server types only when it runs: from the values.
        MysqlType::MYSQL_TYPE_NULL => return Hint::Likely(ColumnType::Text),
        other => {
            return Hint::Unsupported {
                type_name: type_name(other).to_owned(),
                suggestion: "CHAR",
            };
        }
    };
    Hint::Known(ty)
}

/// A DECIMAL column's precision and scale from its display length, which counts a sign (unless
/// unsigned) and a decimal point (when there is a scale).
fn decimal_precision_and_scale(column: &Column) -> (u32, i32) {
    let scale = u32::from(column.decimals());
    let sign = u32::from(!column.flags().contains(ColumnFlags::UNSIGNED_FLAG));
    let point = u32::from(scale > 0);
    let precision = column.column_length().saturating_sub(sign + point).max(1);
    (precision, scale as i32)
}

fn type_name(ty: MysqlType) -> &'static str {
    match ty {
        MysqlType::MYSQL_TYPE_GEOMETRY => "geometry",
        MysqlType::MYSQL_TYPE_VECTOR => "vector",
        _ => "unknown",
    }
}

/// How the values of one result column are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decode {
    Text,
    Binary,
    Decimal,
    Bit,
    Date,
    Timestamp,
    TimestampUtc,
    /// Numbers and times: the binary protocol types them.
    Typed,
}

fn decode_of(column: &Column) -> Decode {
    match column.column_type() {
        MysqlType::MYSQL_TYPE_DECIMAL | MysqlType::MYSQL_TYPE_NEWDECIMAL => Decode::Decimal,
        MysqlType::MYSQL_TYPE_BIT => Decode::Bit,
        MysqlType::MYSQL_TYPE_DATE | MysqlType::MYSQL_TYPE_NEWDATE => Decode::Date,
        MysqlType::MYSQL_TYPE_DATETIME | MysqlType::MYSQL_TYPE_DATETIME2 => Decode::Timestamp,
        MysqlType::MYSQL_TYPE_TIMESTAMP | MysqlType::MYSQL_TYPE_TIMESTAMP2 => Decode::TimestampUtc,
        MysqlType::MYSQL_TYPE_VARCHAR
        | MysqlType::MYSQL_TYPE_VAR_STRING
        | MysqlType::MYSQL_TYPE_STRING
        | MysqlType::MYSQL_TYPE_TINY_BLOB
        | MysqlType::MYSQL_TYPE_MEDIUM_BLOB
        | MysqlType::MYSQL_TYPE_LONG_BLOB
        | MysqlType::MYSQL_TYPE_BLOB
        | MysqlType::MYSQL_TYPE_GEOMETRY
            if column.character_set() == BINARY_CHARSET =>
        {
            Decode::Binary
        }
        MysqlType::MYSQL_TYPE_GEOMETRY => Decode::Binary,
        MysqlType::MYSQL_TYPE_TINY
        | MysqlType::MYSQL_TYPE_SHORT
        | MysqlType::MYSQL_TYPE_INT24
        | MysqlType::MYSQL_TYPE_LONG
        | MysqlType::MYSQL_TYPE_LONGLONG
        | MysqlType::MYSQL_TYPE_YEAR
        | MysqlType::MYSQL_TYPE_FLOAT
        | MysqlType::MYSQL_TYPE_DOUBLE
        | MysqlType::MYSQL_TYPE_TIME
        | MysqlType::MYSQL_TYPE_TIME2 => Decode::Typed,
        _ => Decode::Text,
    }
}

/// One value as the binary protocol delivered it, borrowed from the row.
fn decode(decode: Decode, value: &MysqlValue) -> Result<Datum<'_>, String> {
    Ok(match value {
        MysqlValue::NULL => Datum::Null,
        MysqlValue::Int(value) => Datum::Int(*value),
        MysqlValue::UInt(value) => Datum::UInt(*value),
        MysqlValue::Float(value) => Datum::Float(f64::from(*value)),
        MysqlValue::Double(value) => Datum::Float(*value),
        MysqlValue::Date(year, month, day, hour, minute, second, micros) => {
            let date = NaiveDate::from_ymd_opt(i32::from(*year), u32::from(*month), u32::from(*day))
                .ok_or_else(|| {
                    format!("{year}-{month:02}-{day:02} is not a valid date (zero dates have no Arrow value: filter them out)")
                })?;
            let clock = chrono::NaiveTime::from_hms_micro_opt(
                u32::from(*hour),
                u32::from(*minute),
                u32::from(*second),
                *micros,
            )
            .ok_or_else(|| "invalid time of day".to_owned())?;
            let micros = date.and_time(clock).and_utc().timestamp_micros();
            match decode {
                Decode::Date => {
                    Datum::Date(datum::days_since_epoch(date).ok_or("date out of range")?)
                }
                Decode::TimestampUtc => Datum::TimestampUtc(micros),
                _ => Datum::Timestamp(micros),
            }
        }
        MysqlValue::Time(negative, days, hours, minutes, seconds, micros) => {
            let micros = ((i64::from(*days) * 24 + i64::from(*hours)) * 3600
                + i64::from(*minutes) * 60
                + i64::from(*seconds))
                * MICROS_PER_SECOND
                + i64::from(*micros);
            Datum::Duration(if *negative { -micros } else { micros })
        }
        MysqlValue::Bytes(bytes) => match decode {
            Decode::Decimal => {
                let text = std::str::from_utf8(bytes).map_err(|error| error.to_string())?;
                match datum::parse_decimal(text) {
                    Some((unscaled, scale)) => Datum::Decimal { unscaled, scale },
                    None => {
                        return Err(format!(
                            "decimal {text} does not fit 128 bits: cast it to double"
                        ));
                    }
                }
            }
            Decode::Bit => {
                if bytes.len() > 8 {
                    return Err("bit values wider than 64 bits have no Arrow value".to_owned());
                }
                Datum::UInt(
                    bytes
                        .iter()
                        .fold(0_u64, |value, byte| (value << 8) | u64::from(*byte)),
                )
            }
            Decode::Binary => Datum::Bytes(bytes),
            // Checked to be UTF-8 by a text column's builder, a batch at a time; a bytes column
            // takes it as it is.
            _ => Datum::UncheckedText(bytes),
        },
    })
}

/// Loads the result of `statement` into `sink`, row by row as the server sends them.
pub(crate) fn stream(
    session: &mut MysqlSession,
    statement: &Statement,
    mut sink: RowSink,
    on_row: &mut dyn FnMut(u64),
) -> (RowSink, Result<()>) {
    let result = load(session, statement, &mut sink, on_row);
    (sink, result)
}

fn load(
    session: &mut MysqlSession,
    statement: &Statement,
    sink: &mut RowSink,
    on_row: &mut dyn FnMut(u64),
) -> Result<()> {
    let mut result = session
        .connection
        .exec_iter(typed_placeholders(statement), params(statement))
        .map_err(|error| database_error("query", &error))?;
    let columns: Vec<(String, Decode)> = result
        .columns()
        .as_ref()
        .iter()
        .map(|column| (column.name_str().into_owned(), decode_of(column)))
        .collect();
    // Not described (binds): the execution's metadata types the columns before any row.
    let planned = if sink.needs_names() {
        sink.set_described(described(result.columns().as_ref()))
    } else {
        Ok(())
    };
    let mut count = 0;
    let pushed = planned.and_then(|()| {
        loop {
            let row = match result.next() {
                None => break Ok(()),
                Some(Ok(row)) => row,
                Some(Err(error)) => break Err(database_error("query", &error)),
            };
            if let Err(error) = push_row(sink, &columns, &row) {
                break Err(error);
            }
            count += 1;
            on_row(count);
        }
    });
    if pushed.is_err() {
        // Dropping an unfinished result reads the rest of it from the server, however long;
        // the connection is discarded instead (the leak is the result's column list). After a
        // driver error the result is already over, and the connection possibly too.
        std::mem::forget(result);
        session.broken = true;
    }
    pushed
}

fn push_row(sink: &mut RowSink, columns: &[(String, Decode)], row: &::mysql::Row) -> Result<()> {
    let row_number = sink.row_number();
    for (index, (name, how)) in columns.iter().enumerate() {
        let datum = match row.as_ref(index) {
            None => Datum::Null,
            Some(value) => decode(*how, value).map_err(|problem| Error::Conversion {
                column: name.clone(),
                row: row_number,
                problem,
            })?,
        };
        sink.append(index, datum)?;
    }
    sink.end_row()
}

/// Runs a statement without output in a transaction; returns the rows it changed.
pub(crate) fn execute(session: &mut MysqlSession, statement: &Statement) -> Result<u64> {
    let mut transaction = session
        .connection
        .start_transaction(TxOpts::default())
        .map_err(|error| database_error("statement", &error))?;
    let affected = {
        let mut result = transaction
            .exec_iter(typed_placeholders(statement), params(statement))
            .map_err(|error| database_error("statement", &error))?;
        let affected = result.affected_rows();
        // A statement that returns rows: read them, for an error among them.
        for row in result.by_ref() {
            row.map_err(|error| database_error("statement", &error))?;
        }
        affected
    };
    // Dropped without a commit, the transaction rolls back.
    transaction
        .commit()
        .map_err(|error| database_error("commit", &error))?;
    Ok(affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(
        ty: MysqlType,
        flags: ColumnFlags,
        length: u32,
        decimals: u8,
        charset: u16,
    ) -> Column {
        Column::new(ty)
            .with_flags(flags)
            .with_column_length(length)
            .with_decimals(decimals)
            .with_character_set(charset)
    }

    #[test]
    fn column_metadata_maps_with_signedness_precision_and_charset() {
        let none = ColumnFlags::empty();
        let unsigned = ColumnFlags::UNSIGNED_FLAG;
        let cases = [
            (
                column(MysqlType::MYSQL_TYPE_LONG, none, 11, 0, 63),
                "Known(Int32)",
            ),
            (
                column(MysqlType::MYSQL_TYPE_LONG, unsigned, 10, 0, 63),
                "Known(UInt32)",
            ),
            (
                column(MysqlType::MYSQL_TYPE_LONGLONG, unsigned, 20, 0, 63),
                "Known(UInt64)",
            ),
            (
                column(MysqlType::MYSQL_TYPE_TINY, none, 1, 0, 63),
                "Known(Int8)",
            ),
            (
                column(MysqlType::MYSQL_TYPE_YEAR, unsigned, 4, 0, 63),
                "Known(Int16)",
            ),
            (
                column(MysqlType::MYSQL_TYPE_BIT, unsigned, 8, 0, 63),
                "Known(UInt64)",
            ),
            // DECIMAL(10,2): ten digits, a sign and a point.
            (
                column(MysqlType::MYSQL_TYPE_NEWDECIMAL, none, 12, 2, 63),
                "Known(Decimal { precision: 10, scale: 2 })",
            ),
            (
                column(MysqlType::MYSQL_TYPE_NEWDECIMAL, unsigned, 11, 2, 63),
                "Known(Decimal { precision: 10, scale: 2 })",
            ),
            (
                column(MysqlType::MYSQL_TYPE_NEWDECIMAL, none, 9, 0, 63),
                "Known(Decimal { precision: 8, scale: 0 })",
            ),
            (
                column(MysqlType::MYSQL_TYPE_NEWDECIMAL, none, 67, 2, 63),
                "Known(Float64)",
            ),
            (
                column(MysqlType::MYSQL_TYPE_BLOB, none, 65535, 0, 45),
                "Known(Text)",
            ),
            (
                column(MysqlType::MYSQL_TYPE_BLOB, none, 65535, 0, 63),
                "Known(Binary)",
            ),
            (
                column(MysqlType::MYSQL_TYPE_VAR_STRING, none, 16, 0, 63),
                "Known(Binary)",
            ),
            (
                column(
                    MysqlType::MYSQL_TYPE_STRING,
                    ColumnFlags::ENUM_FLAG,
                    4,
                    0,
                    45,
                ),
                "Known(Text)",
            ),
            (
                column(MysqlType::MYSQL_TYPE_DATETIME, none, 26, 6, 63),
                "Known(Timestamp)",
            ),
            (
                column(MysqlType::MYSQL_TYPE_TIMESTAMP, none, 19, 0, 63),
                "Known(TimestampUtc)",
            ),
            (
                column(MysqlType::MYSQL_TYPE_TIME, none, 17, 6, 63),
                "Known(Time)",
            ),
            (
                column(MysqlType::MYSQL_TYPE_NULL, none, 0, 0, 63),
                "Likely(Text)",
            ),
        ];
        for (column, expected) in cases {
            assert_eq!(
                format!("{:?}", hint_for_column(&column)),
                expected,
                "{column:?}"
            );
        }
        assert!(matches!(
            hint_for_column(&column(MysqlType::MYSQL_TYPE_GEOMETRY, none, 0, 0, 63)),
            Hint::Unsupported { .. }
        ));
    }

    #[test]
    fn error_numbers_classify() {
        let cases = [
            (1205, DatabaseFailure::Conflict),
            (1213, DatabaseFailure::Conflict),
            (1927, DatabaseFailure::ConnectionLost),
            (2013, DatabaseFailure::ConnectionLost),
            (1969, DatabaseFailure::Timeout),
            (3024, DatabaseFailure::Timeout),
            (1040, DatabaseFailure::Server),
            (1062, DatabaseFailure::Constraint),
            (4025, DatabaseFailure::Constraint),
            (1064, DatabaseFailure::Other),
            (1146, DatabaseFailure::Other),
        ];
        for (code, expected) in cases {
            let error = ::mysql::Error::MySqlError(MySqlError {
                state: "HY000".to_owned(),
                message: "m".to_owned(),
                code,
            });
            let Error::Database {
                failure, message, ..
            } = database_error("query", &error)
            else {
                panic!("a database error");
            };
            assert_eq!(failure, expected, "{code}");
            assert_eq!(message, format!("m (MySQL error {code})"));
        }
        let io = ::mysql::Error::IoError(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        assert!(matches!(
            database_error("query", &io),
            Error::Database {
                failure: DatabaseFailure::ConnectionLost,
                ..
            }
        ));
    }
}
