//! MySQL and MariaDB: connecting (sessions in UTC), describing a query, binding values and
//! loading rows.
//!
//! diesel's MySQL backend always buffers the whole result on the client
//! (`mysql_stmt_store_result`) before the first row is read, so memory for MySQL results grows
//! with the result size; rows still go into Arrow batches and Parquet row groups as for the other
//! backends. `docs/type-mapping.md` says so; chunk very large extractions by key.

use std::sync::mpsc;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::RunQueryDsl;
use diesel::connection::{Connection, DefaultLoadingMode, SimpleConnection};
use diesel::deserialize::{FromSql, QueryableByName};
use diesel::mysql::data_types::MysqlTime;
use diesel::mysql::{Mysql, MysqlConnection, MysqlType, MysqlValue};
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::row::{Field, NamedRow, Row};
use diesel::sql_types::{BigInt, Bool, Datetime, Double, Nullable, Text};
use flyte_sql_config::{MysqlOptions, MysqlSslMode};
use flyte_sql_model::{PrimitiveType, Value};
use flyte_sql_template::{BindMarker, Statement};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::connection::{DEFAULT_CONNECT_TIMEOUT, duration_seconds};
use crate::datum::{self, Datum, MICROS_PER_SECOND};
use crate::error::{Error, Result};
use crate::stream::{self, Described, Hint, RowSink};
use crate::types::{ColumnType, precision_and_scale};

/// A MySQL connection and what kind of server it talks to.
pub(crate) struct MysqlSession {
    pub(crate) connection: MysqlConnection,
}

/// Connects (within the connect timeout), then puts the session in UTC and applies the
/// statement timeout, `sql_mode` and `init_command`.
pub(crate) fn connect(options: &MysqlOptions, redacted_uri: &str) -> Result<MysqlSession> {
    for (name, value) in [
        ("read_timeout", options.read_timeout),
        ("write_timeout", options.write_timeout),
    ] {
        if value.is_some() {
            tracing::warn!(
                connect_arg = name,
                "diesel's MySQL client cannot set this timeout; it is ignored (the statement timeout still applies)"
            );
        }
    }
    if let Some(charset) = &options.charset
        && !charset.eq_ignore_ascii_case("utf8mb4")
        && !charset.eq_ignore_ascii_case("utf8")
    {
        return Err(Error::ConnectArg {
            name: "charset".to_owned(),
            problem: format!(
                "is `{charset}`, but flyte-sql reads MySQL text as UTF-8: use utf8mb4"
            ),
        });
    }
    let url = connection_url(options);
    let timeout = options.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    // The client library's own connect timeout is not reachable through diesel, so the connect
    // runs on a helper thread and is abandoned when it takes too long.
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(MysqlConnection::establish(&url));
    });
    let mut connection = match receiver.recv_timeout(timeout) {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => {
            let message = error.to_string();
            let lower = message.to_ascii_lowercase();
            let transient =
                !(lower.contains("access denied") || lower.contains("unknown database"));
            return Err(Error::Connect {
                uri: redacted_uri.to_owned(),
                message: message.trim().to_owned(),
                transient,
            });
        }
        Err(_) => {
            return Err(Error::ConnectTimeout {
                uri: redacted_uri.to_owned(),
                timeout,
            });
        }
    };
    let mut setup = "SET time_zone = '+00:00';".to_owned();
    if let Some(timeout) = options.statement_timeout {
        let mariadb = server_version(&mut connection)?.contains("MariaDB");
        setup.push_str(&if mariadb {
            format!(
                "SET SESSION max_statement_time = {};",
                timeout.as_secs_f64()
            )
        } else {
            format!("SET SESSION max_execution_time = {};", timeout.as_millis())
        });
    }
    connection
        .batch_execute(&setup)
        .map_err(|error| Error::database("connect", error))?;
    if let Some(sql_mode) = &options.sql_mode {
        diesel::sql_query("SET SESSION sql_mode = ?")
            .bind::<Text, _>(sql_mode)
            .execute(&mut connection)
            .map_err(|error| Error::database("connect", error))?;
    }
    if let Some(init_command) = &options.init_command {
        // One prepared statement, as the client library runs `init_command`: never a batch.
        diesel::sql_query(init_command)
            .execute(&mut connection)
            .map_err(|error| Error::database("init_command", error))?;
    }
    Ok(MysqlSession { connection })
}

fn connection_url(options: &MysqlOptions) -> String {
    let encode = |text: &str| utf8_percent_encode(text, NON_ALPHANUMERIC).to_string();
    let mut url = "mysql://".to_owned();
    if let Some(user) = &options.user {
        url.push_str(&encode(user));
        if let Some(password) = &options.password {
            url.push(':');
            url.push_str(&encode(password.expose()));
        }
        url.push('@');
    }
    url.push_str(options.host.as_deref().unwrap_or("localhost"));
    if let Some(port) = options.port {
        url.push_str(&format!(":{port}"));
    }
    url.push('/');
    if let Some(database) = &options.database {
        url.push_str(&encode(database));
    }
    let mut query = Vec::new();
    if let Some(mode) = options.ssl_mode {
        let mode = match mode {
            MysqlSslMode::Disabled => "disabled",
            MysqlSslMode::Preferred => "preferred",
            MysqlSslMode::Required => "required",
            MysqlSslMode::VerifyCa => "verify_ca",
            MysqlSslMode::VerifyIdentity => "verify_identity",
        };
        query.push(format!("ssl_mode={mode}"));
    }
    for (key, value) in [
        ("ssl_ca", &options.ssl_ca),
        ("ssl_cert", &options.ssl_cert),
        ("ssl_key", &options.ssl_key),
        ("unix_socket", &options.unix_socket),
    ] {
        if let Some(value) = value {
            query.push(format!("{key}={}", encode(value)));
        }
    }
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    url
}

#[derive(diesel::QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

fn server_version(connection: &mut MysqlConnection) -> Result<String> {
    diesel::sql_query("SELECT VERSION() AS version")
        .get_result::<Version>(connection)
        .map(|row| row.version)
        .map_err(|error| Error::database("connect", error))
}

/// The row type diesel builds for each result row: it pushes the row into the current sink.
struct SinkRow;

impl QueryableByName<Mysql> for SinkRow {
    fn build<'a>(row: &impl NamedRow<'a, Mysql>) -> diesel::deserialize::Result<Self> {
        stream::with_current(|sink| {
            if sink.needs_names() {
                sink.set_names(stream::field_names(row))?;
            }
            let row_number = sink.row_number();
            for index in 0..row.field_count() {
                let Some(field) = Row::get(row, index) else {
                    continue;
                };
                match field.value() {
                    None => sink.append(index, Datum::Null)?,
                    Some(value) => {
                        let datum = decode(&value).map_err(|problem| Error::Conversion {
                            column: field.field_name().unwrap_or("?").to_owned(),
                            row: row_number,
                            problem,
                        })?;
                        sink.append(index, datum)?;
                    }
                }
            }
            sink.end_row()
        })?;
        Ok(SinkRow)
    }
}

fn ne_bytes<const N: usize>(bytes: &[u8]) -> Result<[u8; N], String> {
    bytes
        .get(..N)
        .and_then(|prefix| prefix.try_into().ok())
        .ok_or_else(|| format!("a {N}-byte value arrived as {} bytes", bytes.len()))
}

fn time_value(value: &MysqlValue<'_>) -> Result<MysqlTime, String> {
    <MysqlTime as FromSql<Datetime, Mysql>>::from_sql(value.clone())
        .map_err(|error| error.to_string())
}

fn naive_datetime(time: &MysqlTime) -> Result<NaiveDateTime, String> {
    let date = NaiveDate::from_ymd_opt(time.year as i32, time.month, time.day)
        .ok_or_else(|| format!("{}-{:02}-{:02} is not a valid date (zero dates have no Arrow value: filter them out)", time.year, time.month, time.day))?;
    let clock =
        NaiveTime::from_hms_micro_opt(time.hour, time.minute, time.second, time.second_part as u32)
            .ok_or_else(|| "invalid time of day".to_owned())?;
    Ok(date.and_time(clock))
}

/// Decodes one value by the type the server sent.
fn decode<'v>(value: &MysqlValue<'v>) -> Result<Datum<'v>, String> {
    let bytes = value.as_bytes();
    let datum = match value.value_type() {
        MysqlType::Tiny => Datum::Int(i64::from(i8::from_ne_bytes(ne_bytes(bytes)?))),
        MysqlType::UnsignedTiny => Datum::UInt(u64::from(u8::from_ne_bytes(ne_bytes(bytes)?))),
        MysqlType::Short => Datum::Int(i64::from(i16::from_ne_bytes(ne_bytes(bytes)?))),
        MysqlType::UnsignedShort => Datum::UInt(u64::from(u16::from_ne_bytes(ne_bytes(bytes)?))),
        MysqlType::Long => Datum::Int(i64::from(i32::from_ne_bytes(ne_bytes(bytes)?))),
        MysqlType::UnsignedLong => Datum::UInt(u64::from(u32::from_ne_bytes(ne_bytes(bytes)?))),
        MysqlType::LongLong => Datum::Int(i64::from_ne_bytes(ne_bytes(bytes)?)),
        MysqlType::UnsignedLongLong => Datum::UInt(u64::from_ne_bytes(ne_bytes(bytes)?)),
        MysqlType::Float => Datum::Float(f64::from(f32::from_ne_bytes(ne_bytes(bytes)?))),
        MysqlType::Double => Datum::Float(f64::from_ne_bytes(ne_bytes(bytes)?)),
        MysqlType::Numeric => {
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
        MysqlType::Date => {
            let time = time_value(value)?;
            let date = naive_datetime(&time)?.date();
            Datum::Date(datum::days_since_epoch(date).ok_or("date out of range")?)
        }
        MysqlType::Time => {
            let time = time_value(value)?;
            let micros = ((i64::from(time.day) * 24 + i64::from(time.hour)) * 3600
                + i64::from(time.minute) * 60
                + i64::from(time.second))
                * MICROS_PER_SECOND
                + time.second_part as i64;
            Datum::Duration(if time.neg { -micros } else { micros })
        }
        MysqlType::DateTime => Datum::Timestamp(
            naive_datetime(&time_value(value)?)?
                .and_utc()
                .timestamp_micros(),
        ),
        // The session time zone is UTC, so TIMESTAMP values arrive in UTC.
        MysqlType::Timestamp => Datum::TimestampUtc(
            naive_datetime(&time_value(value)?)?
                .and_utc()
                .timestamp_micros(),
        ),
        MysqlType::Bit => {
            if bytes.len() > 8 {
                return Err("bit values wider than 64 bits have no Arrow value".to_owned());
            }
            Datum::UInt(
                bytes
                    .iter()
                    .fold(0_u64, |value, byte| (value << 8) | u64::from(*byte)),
            )
        }
        MysqlType::String | MysqlType::Enum | MysqlType::Set => match std::str::from_utf8(bytes) {
            Ok(text) => Datum::Text(text),
            Err(_) => Datum::Bytes(bytes),
        },
        MysqlType::Blob => Datum::Bytes(bytes),
        other => {
            return Err(format!(
                "values of MySQL type {other:?} cannot be read: cast them to text"
            ));
        }
    };
    Ok(datum)
}

/// The statement with each bind given its type by a CAST at its marker, except for `LIMIT` and
/// `OFFSET` counts, where MySQL accepts only a bare marker.
///
/// MariaDB reports the type of a bare `?` in a select list as NULL until the statement runs, and
/// diesel (2.3) panics on that type while preparing; a CAST gives the column its type up front
/// without changing the value.
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

fn boxed_query(statement: &Statement) -> BoxedSqlQuery<'static, Mysql, SqlQuery> {
    let mut query = diesel::sql_query(typed_placeholders(statement)).into_boxed::<Mysql>();
    for bind in &statement.binds {
        query = match bind.value.clone() {
            Value::Integer(value) => query.bind::<BigInt, _>(value),
            Value::Float(value) => query.bind::<Double, _>(value),
            Value::String(value) => query.bind::<Text, _>(value),
            Value::Boolean(value) => query.bind::<Bool, _>(value),
            // The session is in UTC.
            Value::Datetime(value) => query.bind::<Datetime, _>(value.naive_utc()),
            // Durations are seconds, as a double (MySQL's TIME stops at 838 hours).
            Value::Duration(value) => query.bind::<Double, _>(duration_seconds(value)),
            Value::Null(PrimitiveType::Integer) => query.bind::<Nullable<BigInt>, _>(None::<i64>),
            Value::Null(PrimitiveType::Float | PrimitiveType::Duration) => {
                query.bind::<Nullable<Double>, _>(None::<f64>)
            }
            Value::Null(PrimitiveType::String) => query.bind::<Nullable<Text>, _>(None::<String>),
            Value::Null(PrimitiveType::Boolean) => query.bind::<Nullable<Bool>, _>(None::<bool>),
            Value::Null(PrimitiveType::Datetime) => {
                query.bind::<Nullable<Datetime>, _>(None::<NaiveDateTime>)
            }
        };
    }
    query
}

#[derive(diesel::QueryableByName)]
struct ViewColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    column_type: String,
}

/// What stands for a bind in the describe view, which has no parameters: a constant of the type
/// the CAST around the live bind gives (`CAST(NULL AS SIGNED)` would be an `int(2)`, the live
/// `CAST(? AS SIGNED)` a `bigint`), and `0` for a `LIMIT`/`OFFSET` count.
fn bind_stand_in(marker: &BindMarker, value: &Value) -> &'static str {
    if marker.limit_count {
        return "0";
    }
    match value.primitive_type() {
        PrimitiveType::Integer | PrimitiveType::Boolean => "CAST(9223372036854775807 AS SIGNED)",
        PrimitiveType::Float | PrimitiveType::Duration => "CAST(NULL AS DOUBLE)",
        PrimitiveType::String => "CAST(NULL AS CHAR)",
        PrimitiveType::Datetime => "CAST(NULL AS DATETIME(6))",
    }
}

/// Names and types of the query's columns without running it or evaluating its select list: the
/// query becomes a view (binds replaced by typed constants at their markers) whose columns
/// `information_schema.COLUMNS` lists, and the view is dropped again.
///
/// MySQL has no temporary views, and every technique that makes a temporary table from the
/// query (`CREATE TEMPORARY TABLE ... SELECT ... LIMIT 0`, over a derived table or not)
/// evaluates the select list on MariaDB: `nextval()` advances, `sleep()` sleeps, stored
/// functions run. Creating a view only resolves the query. The view lives in the connection's
/// database for the few milliseconds of the describe step, under a random name, created by one
/// prepared statement over a query the template's lexer proved to be one statement.
/// `None` when MySQL cannot make a view of it (no current database, no `CREATE VIEW` privilege,
/// a query a view cannot hold); the types then come from the values.
pub(crate) fn describe(
    session: &mut MysqlSession,
    statement: &Statement,
) -> Option<Vec<Described>> {
    let view = format!("flyte_sql_describe_{}", crate::output::random_hex());
    let body = statement.body_with_markers(|marker, bind| bind_stand_in(marker, &bind.value));
    if let Err(error) = diesel::sql_query(format!("CREATE VIEW `{view}` AS {body}"))
        .execute(&mut session.connection)
    {
        tracing::debug!(%error, "describe step: mysql cannot make a view of the query; typing by values");
        return None;
    }
    let columns = diesel::sql_query(
        "SELECT COLUMN_NAME AS name, COLUMN_TYPE AS column_type FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
    )
    .bind::<Text, _>(&view)
    .load::<ViewColumn>(&mut session.connection);
    if let Err(error) =
        diesel::sql_query(format!("DROP VIEW `{view}`")).execute(&mut session.connection)
    {
        tracing::warn!(%error, view, "describe step: cannot drop the describe view; drop it by hand");
    }
    match columns {
        Ok(columns) if !columns.is_empty() => Some(
            columns
                .into_iter()
                .map(|column| Described {
                    hint: hint_for_column_type(&column.column_type),
                    name: column.name,
                })
                .collect(),
        ),
        Ok(_) => None,
        Err(error) => {
            tracing::debug!(%error, "describe step: cannot list the table's columns");
            None
        }
    }
}

/// The column type for a MySQL column type as `SHOW COLUMNS` writes it (`int(11) unsigned`,
/// `decimal(10,2)`, ...).
pub(crate) fn hint_for_column_type(column_type: &str) -> Hint {
    let lower = column_type.trim().to_ascii_lowercase();
    let base = lower.split(['(', ' ']).next().unwrap_or_default();
    let unsigned = lower.contains("unsigned");
    let ty = match (base, unsigned) {
        ("tinyint", false) => ColumnType::Int8,
        ("tinyint", true) => ColumnType::UInt8,
        ("smallint", false) | ("year", _) => ColumnType::Int16,
        ("smallint", true) => ColumnType::UInt16,
        ("mediumint" | "int" | "integer", false) => ColumnType::Int32,
        ("mediumint" | "int" | "integer", true) => ColumnType::UInt32,
        ("bigint", false) => ColumnType::Int64,
        ("bigint", true) | ("bit", _) => ColumnType::UInt64,
        ("float", _) => ColumnType::Float32,
        ("double" | "real", _) => ColumnType::Float64,
        ("decimal" | "numeric" | "dec" | "fixed", _) => match precision_and_scale(&lower) {
            Some((precision, scale)) => ColumnType::decimal_or_float(precision, scale),
            None => ColumnType::decimal_or_float(10, 0),
        },
        (
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
            | "json" | "uuid",
            _,
        ) => ColumnType::Text,
        ("binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob", _) => {
            ColumnType::Binary
        }
        ("date", _) => ColumnType::Date,
        ("time", _) => ColumnType::Time,
        ("datetime", _) => ColumnType::Timestamp,
        ("timestamp", _) => ColumnType::TimestampUtc,
        ("null", _) => ColumnType::Text,
        _ => {
            return Hint::Unsupported {
                type_name: column_type.to_owned(),
                suggestion: "CHAR",
            };
        }
    };
    Hint::Known(ty)
}

/// Loads the result of `statement` into `sink`. The client buffers the whole result first (see
/// the module docs).
pub(crate) fn stream(
    session: &mut MysqlSession,
    statement: &Statement,
    sink: RowSink,
    on_row: &mut dyn FnMut(u64),
) -> (RowSink, Result<()>) {
    stream::with_sink(sink, || {
        let rows = boxed_query(statement)
            .load_iter::<SinkRow, DefaultLoadingMode>(&mut session.connection)
            .map_err(|error| Error::database("query", error))?;
        let mut count = 0;
        for row in rows {
            row.map_err(|error| stream::unbox_error("query", error))?;
            count += 1;
            on_row(count);
        }
        Ok(())
    })
}

/// Runs a statement without output in a transaction; returns the rows it changed.
pub(crate) fn execute(session: &mut MysqlSession, statement: &Statement) -> Result<u64> {
    let affected = session
        .connection
        .transaction(|connection| boxed_query(statement).execute(connection))
        .map_err(|error| Error::database("statement", error))?;
    Ok(affected as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_types_map_with_signedness_and_precision() {
        let cases = [
            ("int(11)", "Known(Int32)"),
            ("int(10) unsigned", "Known(UInt32)"),
            ("bigint(20) unsigned", "Known(UInt64)"),
            ("tinyint(1)", "Known(Int8)"),
            (
                "decimal(10,2)",
                "Known(Decimal { precision: 10, scale: 2 })",
            ),
            ("decimal(65,2)", "Known(Float64)"),
            ("longtext", "Known(Text)"),
            ("datetime(6)", "Known(Timestamp)"),
            ("timestamp", "Known(TimestampUtc)"),
            ("varbinary(16)", "Known(Binary)"),
        ];
        for (column_type, expected) in cases {
            assert_eq!(
                format!("{:?}", hint_for_column_type(column_type)),
                expected,
                "{column_type}"
            );
        }
        assert!(matches!(
            hint_for_column_type("geometry"),
            Hint::Unsupported { .. }
        ));
    }
}
