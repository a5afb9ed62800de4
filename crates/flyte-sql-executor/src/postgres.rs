//! PostgreSQL: connecting through libpq, describing a query, binding values and streaming rows
//! in libpq's row-by-row mode (so the client never holds the whole result).
//!
//! Values arrive in PostgreSQL's binary format and are decoded by type OID straight into
//! [`Datum`]s.

use std::time::Duration;

use diesel::RunQueryDsl;
use diesel::connection::{Connection, SimpleConnection};
use diesel::deserialize::QueryableByName;
use diesel::pg::{Pg, PgConnection, PgRowByRowLoadingMode};
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::row::{Field, NamedRow, Row};
use diesel::sql_types::{BigInt, Bool, Double, Integer, Interval, Nullable, Text, Timestamptz};
use flyte_sql_config::PostgresOptions;
use flyte_sql_model::{PrimitiveType, Value};
use flyte_sql_template::Statement;

use crate::connection::DEFAULT_CONNECT_TIMEOUT;
use crate::datum::{Datum, MICROS_PER_DAY};
use crate::error::{Error, Result};
use crate::stream::{self, Described, Hint, RowSink};
use crate::types::ColumnType;

/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 1970-01-01 to 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;

/// Connects with libpq and sets the session's statement timeout.
pub(crate) fn connect(options: &PostgresOptions, redacted_uri: &str) -> Result<PgConnection> {
    let mut conninfo = options.conninfo().expose().to_owned();
    if !options
        .parameters
        .iter()
        .any(|(key, _)| *key == "connect_timeout")
    {
        conninfo.push_str(&format!(
            " connect_timeout='{}'",
            DEFAULT_CONNECT_TIMEOUT.as_secs()
        ));
    }
    let mut connection = PgConnection::establish(&conninfo).map_err(|error| {
        let message = error.to_string();
        let lower = message.to_ascii_lowercase();
        // Authentication and unknown databases are configuration mistakes; anything else
        // (refused, unreachable, timed out) may pass.
        let transient = !(lower.contains("authentication")
            || lower.contains("password")
            || lower.contains("does not exist")
            || lower.contains("invalid"));
        Error::Connect {
            uri: redacted_uri.to_owned(),
            message: message.trim().to_owned(),
            transient,
        }
    })?;
    let timeout = options.statement_timeout.unwrap_or(Duration::ZERO);
    connection
        .batch_execute(&format!("SET statement_timeout = {}", timeout.as_millis()))
        .map_err(|error| Error::database("connect", error))?;
    Ok(connection)
}

/// The row type diesel builds for each result row: it pushes the row into the current sink.
struct SinkRow;

impl QueryableByName<Pg> for SinkRow {
    fn build<'a>(row: &impl NamedRow<'a, Pg>) -> diesel::deserialize::Result<Self> {
        stream::with_current(|sink| {
            if sink.needs_names() {
                sink.set_names(stream::field_names(row))?;
            }
            let mut uuid = [0_u8; 36];
            let row_number = sink.row_number();
            for index in 0..row.field_count() {
                let Some(field) = Row::get(row, index) else {
                    continue;
                };
                match field.value() {
                    None => sink.append(index, Datum::Null)?,
                    Some(value) => {
                        let name = field.field_name().unwrap_or("?");
                        let datum = decode(
                            name,
                            row_number,
                            value.get_oid().get(),
                            value.as_bytes(),
                            &mut uuid,
                        )?;
                        sink.append(index, datum)?;
                    }
                }
            }
            sink.end_row()
        })?;
        Ok(SinkRow)
    }
}

fn be_i16(bytes: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn be_i32(bytes: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn be_i64(bytes: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Decodes one binary-format value by its type OID.
fn decode<'v>(
    column: &str,
    row: u64,
    oid: u32,
    bytes: &'v [u8],
    uuid: &'v mut [u8; 36],
) -> Result<Datum<'v>> {
    let malformed = || Error::Conversion {
        column: column.to_owned(),
        row,
        problem: format!("malformed value of type oid {oid} ({} bytes)", bytes.len()),
    };
    let infinite = || {
        Error::Conversion {
        column: column.to_owned(),
        row,
        problem: "infinite dates and timestamps have no Arrow representation: filter them out or cast to text".to_owned(),
    }
    };
    let datum = match oid {
        16 => Datum::Bool(*bytes.first().ok_or_else(malformed)? != 0),
        21 => Datum::Int(i64::from(be_i16(bytes, 0).ok_or_else(malformed)?)),
        23 => Datum::Int(i64::from(be_i32(bytes, 0).ok_or_else(malformed)?)),
        20 => Datum::Int(be_i64(bytes, 0).ok_or_else(malformed)?),
        26 => Datum::UInt(u64::from(be_i32(bytes, 0).ok_or_else(malformed)? as u32)),
        700 => Datum::Float(f64::from(f32::from_bits(
            be_i32(bytes, 0).ok_or_else(malformed)? as u32,
        ))),
        701 => Datum::Float(f64::from_bits(
            be_i64(bytes, 0).ok_or_else(malformed)? as u64
        )),
        1700 => decode_numeric(bytes).ok_or_else(|| Error::Conversion {
            column: column.to_owned(),
            row,
            problem:
                "numeric value does not fit a 128-bit decimal: cast it to double precision or text"
                    .to_owned(),
        })?,
        17 => Datum::Bytes(bytes),
        1082 => {
            let days = be_i32(bytes, 0).ok_or_else(malformed)?;
            if days == i32::MAX || days == i32::MIN {
                return Err(infinite());
            }
            Datum::Date(days + PG_EPOCH_DAYS)
        }
        1083 => Datum::Time(be_i64(bytes, 0).ok_or_else(malformed)?),
        1114 | 1184 => {
            let micros = be_i64(bytes, 0).ok_or_else(malformed)?;
            if micros == i64::MAX || micros == i64::MIN {
                return Err(infinite());
            }
            let micros = micros + PG_EPOCH_MICROS;
            if oid == 1114 {
                Datum::Timestamp(micros)
            } else {
                Datum::TimestampUtc(micros)
            }
        }
        1186 => {
            let micros = be_i64(bytes, 0).ok_or_else(malformed)?;
            let days = i64::from(be_i32(bytes, 8).ok_or_else(malformed)?);
            let months = i64::from(be_i32(bytes, 12).ok_or_else(malformed)?);
            // A month counts as 30 days, as PostgreSQL's own `extract(epoch from interval)`.
            Datum::Duration(micros + (days + 30 * months) * MICROS_PER_DAY)
        }
        2950 => {
            let raw: &[u8; 16] = bytes.try_into().map_err(|_| malformed())?;
            format_uuid(raw, uuid);
            Datum::Text(std::str::from_utf8(uuid).map_err(|_| malformed())?)
        }
        3802 => Datum::Text(
            std::str::from_utf8(bytes.get(1..).ok_or_else(malformed)?).map_err(|_| malformed())?,
        ),
        // Text types, json, and anything else sent as text (enums send their label).
        _ => {
            let text = std::str::from_utf8(bytes).ok().filter(|text| {
                text.bytes()
                    .all(|b| b >= 0x20 || b == b'\t' || b == b'\n' || b == b'\r')
            });
            match text {
                Some(text) => Datum::Text(text),
                None => {
                    return Err(Error::UnsupportedType {
                        column: column.to_owned(),
                        type_name: format!("oid {oid}"),
                        suggestion: "text",
                    });
                }
            }
        }
    };
    Ok(datum)
}

fn format_uuid(raw: &[u8; 16], out: &mut [u8; 36]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut position = 0;
    for (index, byte) in raw.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            out[position] = b'-';
            position += 1;
        }
        out[position] = HEX[usize::from(byte >> 4)];
        out[position + 1] = HEX[usize::from(byte & 0x0f)];
        position += 2;
    }
}

/// Decodes PostgreSQL's binary NUMERIC (base-10000 digits) into an exact decimal; NaN and the
/// infinities become floats. `None` when it does not fit 128 bits.
fn decode_numeric(bytes: &[u8]) -> Option<Datum<'static>> {
    let count = usize::try_from(be_i16(bytes, 0)?).ok()?;
    let weight = i32::from(be_i16(bytes, 2)?);
    let sign = be_i16(bytes, 4)? as u16;
    let display_scale = i32::from(be_i16(bytes, 6)?);
    match sign {
        0xC000 => return Some(Datum::Float(f64::NAN)),
        0xD000 => return Some(Datum::Float(f64::INFINITY)),
        0xF000 => return Some(Datum::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    let mut unscaled: i128 = 0;
    for index in 0..count {
        let digit = be_i16(bytes, 8 + 2 * index)?;
        unscaled = unscaled
            .checked_mul(10_000)?
            .checked_add(i128::from(digit))?;
    }
    // The digits so far are worth 10000^(weight - count + 1); bring them to the display scale.
    let exponent = 4 * (weight - i32::try_from(count).ok()? + 1) + display_scale;
    let unscaled = if exponent >= 0 {
        unscaled.checked_mul(10_i128.checked_pow(u32::try_from(exponent).ok()?)?)?
    } else {
        unscaled / 10_i128.checked_pow(u32::try_from(-exponent).ok()?)?
    };
    let unscaled = if sign == 0x4000 { -unscaled } else { unscaled };
    Some(Datum::Decimal {
        unscaled,
        scale: u8::try_from(display_scale)
            .ok()
            .filter(|scale| *scale <= 38)?,
    })
}

fn boxed_query(statement: &Statement) -> BoxedSqlQuery<'_, Pg, SqlQuery> {
    let mut query = diesel::sql_query(statement.body()).into_boxed::<Pg>();
    for bind in &statement.binds {
        query = match &bind.value {
            Value::Integer(value) => query.bind::<BigInt, _>(*value),
            Value::Float(value) => query.bind::<Double, _>(*value),
            Value::String(value) => query.bind::<Text, _>(value.as_str()),
            Value::Boolean(value) => query.bind::<Bool, _>(*value),
            Value::Datetime(value) => query.bind::<Timestamptz, _>(*value),
            Value::Duration(value) => query.bind::<Interval, _>(*value),
            Value::Null(PrimitiveType::Integer) => query.bind::<Nullable<BigInt>, _>(None::<i64>),
            Value::Null(PrimitiveType::Float) => query.bind::<Nullable<Double>, _>(None::<f64>),
            Value::Null(PrimitiveType::String) => query.bind::<Nullable<Text>, _>(None::<String>),
            Value::Null(PrimitiveType::Boolean) => query.bind::<Nullable<Bool>, _>(None::<bool>),
            Value::Null(PrimitiveType::Datetime) => {
                query.bind::<Nullable<Timestamptz>, _>(None::<chrono::DateTime<chrono::Utc>>)
            }
            Value::Null(PrimitiveType::Duration) => {
                query.bind::<Nullable<Interval>, _>(None::<chrono::TimeDelta>)
            }
        };
    }
    query
}

fn bind_cast(value: &Value) -> &'static str {
    match value.primitive_type() {
        PrimitiveType::Integer => "CAST(NULL AS bigint)",
        PrimitiveType::Float => "CAST(NULL AS double precision)",
        PrimitiveType::String => "CAST(NULL AS text)",
        PrimitiveType::Boolean => "CAST(NULL AS boolean)",
        PrimitiveType::Datetime => "CAST(NULL AS timestamptz)",
        PrimitiveType::Duration => "CAST(NULL AS interval)",
    }
}

#[derive(diesel::QueryableByName)]
struct ViewColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    oid: i64,
    #[diesel(sql_type = Integer)]
    typmod: i32,
    #[diesel(sql_type = Text)]
    type_name: String,
    #[diesel(sql_type = Text)]
    typtype: String,
}

#[derive(diesel::QueryableByName)]
struct Recovery {
    #[diesel(sql_type = Bool)]
    in_recovery: bool,
}

/// Names and types of the query's columns without running it: the query becomes a temporary
/// view (binds replaced by typed NULLs at their markers) and `pg_attribute` lists its columns
/// with their type modifiers (numeric precision and scale).
///
/// Creating a view plans the query but runs nothing. It is one prepared statement over a query
/// the template's lexer proved to be one statement, inside a transaction that is always rolled
/// back, begun `READ WRITE` so that a session with `default_transaction_read_only = on` can
/// still create the (temporary, rolled back) view. A hot standby cannot create temporary objects
/// at all (nor begin a read-write transaction), so a server in recovery is not described.
/// `None` when PostgreSQL cannot make a view of the query; the types then come from the values.
pub(crate) fn describe(
    connection: &mut PgConnection,
    statement: &Statement,
) -> Option<Vec<Described>> {
    match diesel::sql_query("SELECT pg_is_in_recovery() AS in_recovery")
        .get_result::<Recovery>(connection)
    {
        Ok(Recovery { in_recovery: false }) => {}
        Ok(Recovery { in_recovery: true }) => {
            tracing::debug!(
                "describe step: the server is a standby in recovery, where no temporary view can be made; typing by values"
            );
            return None;
        }
        Err(error) => {
            tracing::debug!(%error, "describe step: cannot ask whether the server is in recovery; typing by values");
            return None;
        }
    }
    let view = format!("flyte_sql_describe_{}", crate::output::random_hex());
    let body = statement.body_with_markers(|_, bind| bind_cast(&bind.value));
    let mut columns = None;
    let outcome = connection
        .build_transaction()
        .read_write()
        .run(|connection| {
            diesel::sql_query(format!("CREATE TEMP VIEW \"{view}\" AS {body}"))
                .execute(connection)?;
            columns = Some(view_columns(connection, &view));
            // Nothing of the describe step may outlive it.
            Err::<(), _>(diesel::result::Error::RollbackTransaction)
        });
    match (outcome, columns) {
        (Err(diesel::result::Error::RollbackTransaction), Some(Ok(columns))) => Some(
            columns
                .into_iter()
                .map(|column| Described {
                    hint: hint_for_type(&column),
                    name: column.name,
                })
                .collect(),
        ),
        (_, Some(Err(error))) => {
            tracing::debug!(%error, "describe step: cannot list the view's columns");
            None
        }
        (outcome, _) => {
            tracing::debug!(
                ?outcome,
                "describe step: postgres cannot make a view of the query; typing by values"
            );
            None
        }
    }
}

fn view_columns(connection: &mut PgConnection, view: &str) -> diesel::QueryResult<Vec<ViewColumn>> {
    diesel::sql_query(
        "SELECT a.attname::text AS name, \
                (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END)::int8 AS oid, \
                a.atttypmod AS typmod, format_type(a.atttypid, a.atttypmod) AS type_name, \
                t.typtype::text AS typtype \
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
         WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
    )
    .bind::<Text, _>(format!("pg_temp.\"{view}\""))
    .load::<ViewColumn>(connection)
}

fn hint_for_type(column: &ViewColumn) -> Hint {
    let ty = match column.oid {
        16 => ColumnType::Boolean,
        21 => ColumnType::Int16,
        23 => ColumnType::Int32,
        20 => ColumnType::Int64,
        26 => ColumnType::UInt32,
        700 => ColumnType::Float32,
        701 => ColumnType::Float64,
        1700 if column.typmod >= 4 => {
            let modifier = column.typmod - 4;
            ColumnType::decimal_or_float(((modifier >> 16) & 0xffff) as u32, modifier & 0xffff)
        }
        1700 => ColumnType::Float64,
        25 | 1043 | 1042 | 19 | 18 | 114 | 3802 | 2950 | 142 => ColumnType::Text,
        17 => ColumnType::Binary,
        1082 => ColumnType::Date,
        1083 => ColumnType::Time,
        1114 => ColumnType::Timestamp,
        1184 => ColumnType::TimestampUtc,
        1186 => ColumnType::Duration,
        _ if column.typtype == "e" => ColumnType::Text,
        _ => {
            return Hint::Unsupported {
                type_name: column.type_name.clone(),
                suggestion: "text",
            };
        }
    };
    Hint::Known(ty)
}

/// Streams the result of `statement` into `sink` in row-by-row mode.
pub(crate) fn stream(
    connection: &mut PgConnection,
    statement: &Statement,
    sink: RowSink,
    on_row: &mut dyn FnMut(u64),
) -> (RowSink, Result<()>) {
    stream::with_sink(sink, || {
        let rows = boxed_query(statement)
            .load_iter::<SinkRow, PgRowByRowLoadingMode>(connection)
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
pub(crate) fn execute(connection: &mut PgConnection, statement: &Statement) -> Result<u64> {
    let affected = connection
        .transaction(|connection| boxed_query(statement).execute(connection))
        .map_err(|error| Error::database("statement", error))?;
    Ok(affected as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(weight: i16, sign: u16, scale: i16, digits: &[i16]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend((digits.len() as i16).to_be_bytes());
        bytes.extend(weight.to_be_bytes());
        bytes.extend(sign.to_be_bytes());
        bytes.extend(scale.to_be_bytes());
        for digit in digits {
            bytes.extend(digit.to_be_bytes());
        }
        bytes
    }

    #[test]
    fn numeric_binary_decodes_exactly() {
        // 10.25 = 10 * 10000^0 + 2500 * 10000^-1
        assert_eq!(
            decode_numeric(&numeric(0, 0, 2, &[10, 2500])),
            Some(Datum::Decimal {
                unscaled: 1025,
                scale: 2
            })
        );
        // -123456789 = 1 * 10000^2 + 2345 * 10000 + 6789
        assert_eq!(
            decode_numeric(&numeric(2, 0x4000, 0, &[1, 2345, 6789])),
            Some(Datum::Decimal {
                unscaled: -123_456_789,
                scale: 0
            })
        );
        // 30000 = 3 * 10000^1, one digit.
        assert_eq!(
            decode_numeric(&numeric(1, 0, 0, &[3])),
            Some(Datum::Decimal {
                unscaled: 30_000,
                scale: 0
            })
        );
        assert!(
            matches!(decode_numeric(&numeric(0, 0xC000, 0, &[])), Some(Datum::Float(value)) if value.is_nan())
        );
    }

    #[test]
    fn uuids_format_in_canonical_form() {
        let mut out = [0_u8; 36];
        format_uuid(
            &[
                0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0, 1, 2, 3, 4, 5, 6, 7,
            ],
            &mut out,
        );
        assert_eq!(
            std::str::from_utf8(&out),
            Ok("12345678-9abc-def0-0001-020304050607")
        );
    }
}
