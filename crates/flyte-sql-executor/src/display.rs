//! Text renderings of result values, for previews.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, DurationMicrosecondType, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, Time64MicrosecondType, TimestampMicrosecondType, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};

use crate::datum::{MICROS_PER_SECOND, decimal_to_string};

/// Every value of `batch` as text, row by row: nulls as `NULL`, timestamps in ISO form, binary
/// as hex, durations in seconds.
pub fn batch_to_text(batch: &RecordBatch) -> Vec<Vec<String>> {
    (0..batch.num_rows())
        .map(|row| {
            batch
                .columns()
                .iter()
                .map(|column| value_to_text(column.as_ref(), row))
                .collect()
        })
        .collect()
}

fn value_to_text(array: &dyn Array, row: usize) -> String {
    if array.is_null(row) {
        return "NULL".to_owned();
    }
    match array.data_type() {
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).to_string(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).to_string(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::Float32 => array.as_primitive::<Float32Type>().value(row).to_string(),
        DataType::Float64 => array.as_primitive::<Float64Type>().value(row).to_string(),
        DataType::Decimal128(_, scale) => {
            let unscaled = array.as_primitive::<Decimal128Type>().value(row);
            decimal_to_string(unscaled, u8::try_from(*scale).unwrap_or(0))
        }
        DataType::Utf8 => array.as_string::<i32>().value(row).to_owned(),
        DataType::Binary => array
            .as_binary::<i32>()
            .value(row)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>(),
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(row);
            chrono::DateTime::from_timestamp(i64::from(days) * 86_400, 0)
                .map_or_else(|| days.to_string(), |at| at.format("%Y-%m-%d").to_string())
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            let micros = array.as_primitive::<Time64MicrosecondType>().value(row);
            chrono::DateTime::from_timestamp_micros(micros).map_or_else(
                || micros.to_string(),
                |at| at.format("%H:%M:%S%.f").to_string(),
            )
        }
        DataType::Timestamp(TimeUnit::Microsecond, zone) => {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            let suffix = if zone.is_some() { "Z" } else { "" };
            chrono::DateTime::from_timestamp_micros(micros).map_or_else(
                || micros.to_string(),
                |at| format!("{}{suffix}", at.naive_utc().format("%Y-%m-%d %H:%M:%S%.f")),
            )
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            let micros = array.as_primitive::<DurationMicrosecondType>().value(row);
            #[allow(clippy::cast_precision_loss)]
            let seconds = micros as f64 / MICROS_PER_SECOND as f64;
            format!("{seconds}s")
        }
        other => format!("<{other}>"),
    }
}
