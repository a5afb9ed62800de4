//! SQLite: opening the database, describing a query, binding values and streaming rows.
//!
//! SQLite types values, not columns: each value has a storage class (integer, real, text, blob)
//! that may change from row to row. A column's type comes from its declared type (plain columns
//! and CASTs, found by the describe step through a temporary view, which SQLite creates without
//! running the query), else from the values of the first batch.

use std::path::Path;

use diesel::RunQueryDsl;
use diesel::connection::{Connection, DefaultLoadingMode, LoadConnection, SimpleConnection};
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::row::{Field, Row};
use diesel::sql_types::{BigInt, Bool, Double, Nullable, Text};
use diesel::sqlite::{Sqlite, SqliteConnection, SqliteType};
use flyte_sql_config::{SqliteDatabase, SqliteIsolationLevel, SqliteOptions};
use flyte_sql_model::{PrimitiveType, Value};
use flyte_sql_template::Statement;

use crate::datum::Datum;
use crate::error::{DatabaseFailure, Error, ErrorKind, Result};
use crate::stream::{self, Described, Hint, RowSink};
use crate::types::{ColumnType, precision_and_scale};

/// Opens the database of a `sqlite://` URI.
pub(crate) fn connect(options: &SqliteOptions, redacted_uri: &str) -> Result<SqliteConnection> {
    // SQLite would create a missing file and then fail with "no such table"; say what actually
    // happened instead (a `file:` URI with `mode=rwc` still creates one).
    if let SqliteDatabase::File(path) = &options.database
        && !Path::new(path).exists()
        && !options
            .uri_parameters
            .iter()
            .any(|(key, value)| *key == "mode" && value == "rwc")
    {
        return Err(Error::Connect {
            uri: redacted_uri.to_owned(),
            message: format!(
                "no database file at `{path}` (relative paths are resolved against the working directory {})",
                std::env::current_dir()
                    .map(|dir| dir.display().to_string())
                    .unwrap_or_default()
            ),
            transient: false,
        });
    }
    let mut connection =
        SqliteConnection::establish(&options.open_filename()).map_err(|error| {
            let message = match error {
                diesel::ConnectionError::BadConnection(message) => message,
                other => other.to_string(),
            };
            Error::Connect {
                uri: redacted_uri.to_owned(),
                transient: classify(&message).kind() == ErrorKind::System,
                message,
            }
        })?;
    // Reading the header at once (within the busy timeout) makes a locked file or one that is
    // not a database fail here, with SQLite's own message, instead of at the first statement.
    connection
        .batch_execute(&format!(
            "PRAGMA busy_timeout = {}; PRAGMA schema_version;",
            options.busy_timeout.as_millis()
        ))
        .map_err(|error| match database_error("connect", error) {
            Error::Database {
                failure, message, ..
            } => Error::Connect {
                uri: redacted_uri.to_owned(),
                transient: failure.kind() == ErrorKind::System,
                message,
            },
            other => other,
        })?;
    Ok(connection)
}

/// SQLite's fixed messages (`sqlite3_errstr`) of the primary result codes that are not the
/// user's SQL, with what they are; diesel passes on only the message. The table in
/// `docs/faults.md` is this one.
const RESULT_CODES: &[(&str, DatabaseFailure)] = &[
    // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_PROTOCOL: another connection holds a lock.
    ("database is locked", DatabaseFailure::Conflict),
    ("database table is locked", DatabaseFailure::Conflict),
    ("locking protocol", DatabaseFailure::Conflict),
    // SQLITE_INTERRUPT
    ("interrupted", DatabaseFailure::Timeout),
    // SQLITE_IOERR, SQLITE_FULL, SQLITE_NOMEM, SQLITE_NOLFS: the machine, not the task.
    ("disk I/O error", DatabaseFailure::Server),
    ("database or disk is full", DatabaseFailure::Server),
    ("out of memory", DatabaseFailure::Server),
    ("large file support is disabled", DatabaseFailure::Server),
    // SQLITE_NOTADB, SQLITE_CORRUPT, SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_PERM,
    // SQLITE_AUTH: the file or its permissions, which a retry does not change.
    ("file is not a database", DatabaseFailure::Other),
    ("database disk image is malformed", DatabaseFailure::Other),
    ("unable to open database file", DatabaseFailure::Other),
    (
        "attempt to write a readonly database",
        DatabaseFailure::Other,
    ),
    ("access permission denied", DatabaseFailure::Other),
    ("authorization denied", DatabaseFailure::Other),
];

/// The failure a SQLite message stands for: a whole-message match of [`RESULT_CODES`], which
/// is a result-code lookup; anything else is the statement's own problem.
pub(crate) fn classify(message: &str) -> DatabaseFailure {
    RESULT_CODES
        .iter()
        .find(|(text, _)| *text == message)
        .map_or(DatabaseFailure::Other, |(_, failure)| *failure)
}

/// A diesel error of a SQLite statement: constraint kinds as diesel tells them, everything else
/// by its result code ([`classify`]).
pub(crate) fn database_error(step: &'static str, error: diesel::result::Error) -> Error {
    use diesel::result::{DatabaseErrorKind as Kind, Error as Diesel};
    let (failure, message) = match &error {
        Diesel::DatabaseError(kind, info) => {
            let message = info.message().to_owned();
            let failure = match kind {
                Kind::ClosedConnection | Kind::UnableToSendCommand => {
                    DatabaseFailure::ConnectionLost
                }
                Kind::UniqueViolation
                | Kind::ForeignKeyViolation
                | Kind::NotNullViolation
                | Kind::CheckViolation
                | Kind::ExclusionViolation
                | Kind::RestrictViolation => DatabaseFailure::Constraint,
                _ => classify(&message),
            };
            (failure, message)
        }
        Diesel::BrokenTransactionManager => (DatabaseFailure::ConnectionLost, error.to_string()),
        other => {
            let message = other.to_string();
            (classify(&message), message)
        }
    };
    Error::Database {
        step,
        failure,
        message,
    }
}

/// Appends one result row to the sink.
fn push_row<'a>(row: &impl Row<'a, Sqlite>, sink: &mut RowSink) -> Result<()> {
    for index in 0..row.field_count() {
        let field = Row::get(row, index).ok_or_else(|| Error::Database {
            step: "query",
            failure: DatabaseFailure::Other,
            message: "a row has fewer fields than announced".to_owned(),
        })?;
        let Some(mut value) = field.value() else {
            sink.append(index, Datum::Null)?;
            continue;
        };
        let datum = match value.value_type() {
            Some(SqliteType::Long) => Datum::Int(value.read_long()),
            Some(SqliteType::Double) => Datum::Float(value.read_double()),
            Some(SqliteType::Binary) => Datum::Bytes(value.read_blob()),
            Some(_) => {
                // diesel replaces bytes that are not UTF-8 with U+FFFD; only then are the
                // stored bytes looked at, to refuse text that is not text. The text is read
                // once: each read validates it again.
                let text = value.read_text();
                if !text.contains(char::REPLACEMENT_CHARACTER) {
                    sink.append(index, Datum::Text(text))?;
                    continue;
                }
                if std::str::from_utf8(value.read_blob()).is_err() {
                    let column = sink.column_name(index);
                    return Err(Error::Conversion {
                        column: column.to_owned(),
                        row: sink.row_number(),
                        problem: format!(
                            "the text is not valid UTF-8: read it as bytes with `CAST({column} AS BLOB)`, or fix the stored value"
                        ),
                    });
                }
                Datum::Text(value.read_text())
            }
            None => Datum::Null,
        };
        sink.append(index, datum)?;
    }
    sink.end_row()
}

fn boxed_query(statement: &Statement) -> BoxedSqlQuery<'_, Sqlite, SqlQuery> {
    let mut query = diesel::sql_query(statement.body()).into_boxed::<Sqlite>();
    for bind in &statement.binds {
        query = match &bind.value {
            Value::Integer(value) => query.bind::<BigInt, _>(*value),
            Value::Float(value) => query.bind::<Double, _>(*value),
            Value::String(value) => query.bind::<Text, _>(value.as_str()),
            Value::Boolean(value) => query.bind::<Bool, _>(*value),
            // SQLite has no date types: datetimes are ISO text in UTC, which sorts and compares
            // like the text SQLite's own date functions write.
            Value::Datetime(value) => {
                query.bind::<Text, _>(value.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string())
            }
            // Durations are seconds, as a real.
            Value::Duration(value) => {
                query.bind::<Double, _>(crate::connection::duration_seconds(*value))
            }
            Value::Null(PrimitiveType::Integer | PrimitiveType::Boolean) => {
                query.bind::<Nullable<BigInt>, _>(None::<i64>)
            }
            Value::Null(PrimitiveType::Float | PrimitiveType::Duration) => {
                query.bind::<Nullable<Double>, _>(None::<f64>)
            }
            Value::Null(PrimitiveType::String | PrimitiveType::Datetime) => {
                query.bind::<Nullable<Text>, _>(None::<String>)
            }
        };
    }
    query
}

/// The SQL type a bind stands for in the describe step's view.
fn bind_cast(value: &Value) -> &'static str {
    match value.primitive_type() {
        PrimitiveType::Integer => "CAST(NULL AS INTEGER)",
        PrimitiveType::Float => "CAST(NULL AS REAL)",
        PrimitiveType::String => "CAST(NULL AS TEXT)",
        PrimitiveType::Boolean => "CAST(NULL AS BOOLEAN)",
        PrimitiveType::Datetime => "CAST(NULL AS TIMESTAMPTZ)",
        PrimitiveType::Duration => "CAST(NULL AS INTERVAL)",
    }
}

#[derive(diesel::QueryableByName)]
struct ViewColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    r#type: String,
}

/// Names and declared types of the query's columns, without running it: the query becomes a
/// temporary view (binds replaced by typed NULLs at their markers, since a view has no
/// parameters) whose columns `pragma_table_info` lists. The view is created by one prepared
/// statement over a query the template's lexer proved to be one statement, so nothing after it
/// can run. `None` when SQLite cannot make a view of it (not a SELECT, for example); the types
/// then come from the values. A failure of the database itself (a lock held too long) is an
/// error: the query would only wait for it again.
pub(crate) fn describe(
    connection: &mut SqliteConnection,
    statement: &Statement,
) -> Result<Option<Vec<Described>>> {
    let view = format!("flyte_sql_describe_{}", crate::output::random_hex());
    let body = statement.body_with_markers(|_, bind| bind_cast(&bind.value));
    if let Err(error) =
        diesel::sql_query(format!("CREATE TEMP VIEW \"{view}\" AS {body}")).execute(connection)
    {
        let error = database_error("describe", error);
        if error.kind() == ErrorKind::System {
            return Err(error);
        }
        tracing::debug!(%error, "describe step: sqlite cannot make a view of the query; typing by values");
        return Ok(None);
    }
    let columns = diesel::sql_query("SELECT name, type FROM pragma_table_info(?)")
        .bind::<Text, _>(&view)
        .load::<ViewColumn>(connection);
    if let Err(error) = diesel::sql_query(format!("DROP VIEW temp.\"{view}\"")).execute(connection)
    {
        tracing::warn!(%error, "describe step: cannot drop the temporary view");
    }
    let columns = match columns {
        Ok(columns) if !columns.is_empty() => columns,
        Ok(_) => return Ok(None),
        Err(error) => {
            tracing::debug!(%error, "describe step: cannot list the view's columns");
            return Ok(None);
        }
    };
    let names: Vec<&str> = columns.iter().map(|column| column.name.as_str()).collect();
    if let Some(column) = renamed_duplicate(&names) {
        return Err(Error::DuplicateColumn {
            column: column.to_owned(),
        });
    }
    Ok(Some(
        columns
            .into_iter()
            .map(|column| Described {
                hint: hint_for_declared_type(&column.r#type),
                name: column.name,
            })
            .collect(),
    ))
}

/// The repeated name behind a view column SQLite renamed: a view makes `a, a` into `a, a:1`
/// (then `a:2`, ...), where the query itself returns two columns named `a`.
fn renamed_duplicate<'a>(names: &[&'a str]) -> Option<&'a str> {
    names.iter().find_map(|name| {
        let (base, counter) = name.rsplit_once(':')?;
        let renamed = !counter.is_empty()
            && counter.bytes().all(|b| b.is_ascii_digit())
            && names.contains(&base);
        renamed.then_some(base)
    })
}

/// The column type for a declared SQLite type, following SQLite's affinity rules and the type
/// names other databases use (see `docs/type-mapping.md`).
pub(crate) fn hint_for_declared_type(declared: &str) -> Hint {
    let upper = declared.trim().to_ascii_uppercase();
    let has = |needle: &str| upper.contains(needle);
    let ty = if upper.is_empty() {
        return Hint::FromValues;
    } else if upper == "BLOB" {
        // SQLite (3.4x and later) reports BLOB for view columns over columns without a declared
        // type, too: the values decide, blob when there are none.
        return Hint::Likely(ColumnType::Binary);
    } else if has("BOOL") {
        ColumnType::Boolean
    } else if upper.starts_with("TIMESTAMPTZ") || has("WITH TIME ZONE") {
        ColumnType::TimestampUtc
    } else if has("DATETIME") || has("TIMESTAMP") {
        ColumnType::Timestamp
    } else if has("DATE") {
        ColumnType::Date
    } else if has("INTERVAL") {
        ColumnType::Duration
    } else if has("TIME") {
        ColumnType::Time
    } else if has("INT") {
        ColumnType::Int64
    } else if has("CHAR") || has("CLOB") || has("TEXT") || has("UUID") || has("JSON") {
        ColumnType::Text
    } else if has("BLOB") || has("BINARY") || has("BYTEA") {
        ColumnType::Binary
    } else if has("REAL") || has("FLOA") || has("DOUB") {
        ColumnType::Float64
    } else if has("DEC") || has("NUMERIC") {
        return match precision_and_scale(&upper) {
            Some((precision, scale)) => Hint::Known(ColumnType::decimal_or_float(precision, scale)),
            None => Hint::FromValues,
        };
    } else {
        return Hint::FromValues;
    };
    Hint::Known(ty)
}

/// Streams the result of `statement` into `sink`; returns the sink and the rows loaded.
pub(crate) fn stream(
    connection: &mut SqliteConnection,
    statement: &Statement,
    mut sink: RowSink,
    on_row: &mut dyn FnMut(u64),
) -> (RowSink, Result<()>) {
    let loaded = load_into(connection, statement, &mut sink, on_row);
    (sink, loaded)
}

fn load_into(
    connection: &mut SqliteConnection,
    statement: &Statement,
    sink: &mut RowSink,
    on_row: &mut dyn FnMut(u64),
) -> Result<()> {
    // diesel's row cursor, without a row type: each row goes straight into the sink.
    let rows = LoadConnection::<DefaultLoadingMode>::load(connection, boxed_query(statement))
        .map_err(|error| database_error("query", error))?;
    // diesel's SQLite iterator is not fused: polled again after `None`, it restarts the
    // query. `fuse` makes the end final (regression test: `sqlite_iterator_is_fused`).
    let mut count = 0;
    for row in rows.fuse() {
        let row = row.map_err(|error| database_error("query", error))?;
        if sink.needs_names() {
            sink.set_names(stream::field_names(&row))?;
        }
        push_row(&row, sink)?;
        count += 1;
        on_row(count);
    }
    Ok(())
}

/// Runs a statement without output in a transaction; returns the rows it changed.
pub(crate) fn execute(
    connection: &mut SqliteConnection,
    statement: &Statement,
    isolation_level: SqliteIsolationLevel,
) -> Result<u64> {
    let run = |connection: &mut SqliteConnection| boxed_query(statement).execute(connection);
    let affected = match isolation_level {
        SqliteIsolationLevel::Autocommit => run(connection),
        SqliteIsolationLevel::Deferred => connection.transaction(run),
        SqliteIsolationLevel::Immediate => connection.immediate_transaction(run),
        SqliteIsolationLevel::Exclusive => connection.exclusive_transaction(run),
    }
    .map_err(|error| database_error("statement", error))?;
    Ok(affected as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_follow_affinity_and_common_names() {
        let cases = [
            ("bigint", "Known(Int64)"),
            ("BOOLEAN", "Known(Boolean)"),
            ("timestamp", "Known(Timestamp)"),
            ("TIMESTAMP WITH TIME ZONE", "Known(TimestampUtc)"),
            ("date", "Known(Date)"),
            ("interval", "Known(Duration)"),
            ("time", "Known(Time)"),
            ("varchar(10)", "Known(Text)"),
            (
                "numeric(10,2)",
                "Known(Decimal { precision: 10, scale: 2 })",
            ),
            ("numeric", "FromValues"),
            ("", "FromValues"),
            ("blob", "Likely(Binary)"),
            ("varbinary(8)", "Known(Binary)"),
            ("double precision", "Known(Float64)"),
        ];
        for (declared, expected) in cases {
            assert_eq!(
                format!("{:?}", hint_for_declared_type(declared)),
                expected,
                "{declared}"
            );
        }
    }

    #[test]
    fn result_code_messages_classify_whole() {
        let cases = [
            (
                "database is locked",
                DatabaseFailure::Conflict,
                ErrorKind::System,
            ),
            (
                "database table is locked",
                DatabaseFailure::Conflict,
                ErrorKind::System,
            ),
            ("disk I/O error", DatabaseFailure::Server, ErrorKind::System),
            (
                "database or disk is full",
                DatabaseFailure::Server,
                ErrorKind::System,
            ),
            ("interrupted", DatabaseFailure::Timeout, ErrorKind::System),
            (
                "file is not a database",
                DatabaseFailure::Other,
                ErrorKind::User,
            ),
            (
                "unable to open database file",
                DatabaseFailure::Other,
                ErrorKind::User,
            ),
            (
                "attempt to write a readonly database",
                DatabaseFailure::Other,
                ErrorKind::User,
            ),
            // A table named like a result code is still the query's problem.
            (
                "no such table: database is locked",
                DatabaseFailure::Other,
                ErrorKind::User,
            ),
        ];
        for (message, failure, kind) in cases {
            assert_eq!(classify(message), failure, "{message}");
            assert_eq!(failure.kind(), kind, "{message}");
        }
    }

    #[test]
    fn renamed_view_columns_are_duplicates() {
        assert_eq!(renamed_duplicate(&["a", "a:1"]), Some("a"));
        assert_eq!(renamed_duplicate(&["a", "b", "a:1", "a:2"]), Some("a"));
        assert_eq!(renamed_duplicate(&["a", "b:1"]), None);
        assert_eq!(renamed_duplicate(&["a", "a:x"]), None);
        assert_eq!(renamed_duplicate(&["a", "a:"]), None);
    }

    /// diesel's SQLite row iterator restarts the query when polled after its end; ours must not.
    #[test]
    fn sqlite_iterator_is_fused() {
        let mut connection = SqliteConnection::establish(":memory:").expect("memory db");
        let statement = Statement::from_sql(
            "select 1 as x union all select 2",
            flyte_sql_template::Dialect::Sqlite,
        )
        .expect("one statement");
        let mut rows = boxed_query(&statement)
            .load_iter::<ViewlessCount, DefaultLoadingMode>(&mut connection)
            .expect("query")
            .fuse();
        assert!(rows.next().is_some());
        assert!(rows.next().is_some());
        assert!(rows.next().is_none());
        assert!(rows.next().is_none(), "a fused iterator stays at its end");
        drop(rows);

        // FIXME(diesel 2.3): the bare iterator restarts the query when polled after its end,
        // which is why `stream` fuses it. When this assertion fails, diesel has fixed it.
        let mut bare = boxed_query(&statement)
            .load_iter::<ViewlessCount, DefaultLoadingMode>(&mut connection)
            .expect("query");
        assert_eq!(
            bare.by_ref()
                .take(3)
                .filter_map(Result::ok)
                .map(|row| row.x)
                .sum::<i64>(),
            3
        );
        assert!(
            bare.next().is_some(),
            "diesel's iterator restarts after its end"
        );
    }

    #[derive(diesel::QueryableByName)]
    struct ViewlessCount {
        #[diesel(sql_type = BigInt)]
        x: i64,
    }
}
