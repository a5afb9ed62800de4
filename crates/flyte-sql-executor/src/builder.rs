//! Arrow column builders that take [`Datum`]s and convert them to their column's type.
//!
//! The conversion table here is the one `docs/type-mapping.md` documents: exact conversions and
//! safe widenings are applied, anything else is an error naming the column and the row.

use std::io::Write as _;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, DurationMicrosecondBuilder,
    Float32Builder, Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder,
    NullBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder, UInt8Builder,
    UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, BinaryArray, RecordBatch, StringArray};
use arrow_schema::{Schema, SchemaRef};

use crate::datum::{
    self, Datum, MICROS_PER_DAY, MICROS_PER_SECOND, NotUtf8, decimal_to_string, float_to_i64,
};
use crate::error::{Error, Result};
use crate::types::{Column, ColumnType};

/// Builds one batch of rows, column by column.
#[derive(Debug)]
pub(crate) struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<Column>,
    builders: Vec<ColumnBuilder>,
    rows_in_batch: usize,
    rows_before_batch: u64,
    capacity: usize,
}

impl BatchBuilder {
    pub(crate) fn new(columns: Vec<Column>, capacity: usize) -> BatchBuilder {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|column| column.ty.field(&column.name))
                .collect::<Vec<_>>(),
        ));
        let builders = columns
            .iter()
            .map(|column| ColumnBuilder::new(column.ty, capacity))
            .collect();
        BatchBuilder {
            schema,
            columns,
            builders,
            rows_in_batch: 0,
            rows_before_batch: 0,
            capacity,
        }
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    pub(crate) fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Appends one value to column `index` of the current row.
    ///
    /// Inlined into each backend's row loop, where the decoder has just chosen the value's
    /// kind: a value of the column's own kind goes straight to its builder without passing
    /// through memory, any other through the conversion table (`append_converted`).
    #[inline(always)]
    pub(crate) fn append(&mut self, index: usize, datum: Datum<'_>) -> Result<()> {
        match (&mut self.builders[index], datum) {
            (builder, Datum::Null) => builder.append_null(),
            (ColumnBuilder::Int64(builder), Datum::Int(value)) => builder.append_value(value),
            (ColumnBuilder::Float64(builder), Datum::Float(value)) => builder.append_value(value),
            (ColumnBuilder::Boolean(builder), Datum::Bool(value)) => builder.append_value(value),
            (ColumnBuilder::Text(builder), Datum::Text(value)) => builder.append_value(value),
            (
                ColumnBuilder::Text(builder) | ColumnBuilder::Binary(builder),
                Datum::UncheckedText(value),
            ) => {
                builder.append_value(value);
            }
            (ColumnBuilder::Timestamp(builder), Datum::Timestamp(value))
            | (ColumnBuilder::TimestampUtc(builder), Datum::TimestampUtc(value)) => {
                builder.append_value(value);
            }
            _ => return self.append_converted(index, datum),
        }
        Ok(())
    }

    /// Appends a value that is not of the column's own kind, converting it.
    #[inline(never)]
    fn append_converted(&mut self, index: usize, datum: Datum<'_>) -> Result<()> {
        let row = self.rows_in_batch;
        let datum = datum
            .checked()
            .map_err(|NotUtf8| self.not_utf8(index, row))?;
        self.builders[index].append(datum).map_err(|problem| {
            let column = &self.columns[index];
            Error::Conversion {
                column: column.name.clone(),
                row: self.rows_before_batch + self.rows_in_batch as u64 + 1,
                problem: format!(
                    "{problem} for a column of type {}: cast the value in the query or declare the column with a matching type",
                    column.ty
                ),
            }
        })
    }

    /// Ends the current row; returns true when the batch is full.
    #[inline]
    pub(crate) fn end_row(&mut self) -> bool {
        self.rows_in_batch += 1;
        self.rows_in_batch >= self.capacity
    }

    pub(crate) fn rows_in_batch(&self) -> usize {
        self.rows_in_batch
    }

    /// Takes the rows built so far as a batch and starts a new one; the error when a text
    /// value in it is not UTF-8.
    pub(crate) fn finish(&mut self) -> Result<RecordBatch> {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.builders.len());
        for index in 0..self.builders.len() {
            let array = self.builders[index]
                .finish()
                .map_err(|row| self.not_utf8(index, row))?;
            arrays.push(array);
        }
        self.rows_before_batch += self.rows_in_batch as u64;
        let rows = self.rows_in_batch;
        self.rows_in_batch = 0;
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(self.schema(), arrays, &options)
            .map_err(|source| Error::Arrow { source })
    }
}

impl BatchBuilder {
    /// The error for text that is not UTF-8 in column `index`, at row `row` of this batch
    /// (counting from 0).
    fn not_utf8(&self, index: usize, row: usize) -> Error {
        Error::Conversion {
            column: self.columns[index].name.clone(),
            row: self.rows_before_batch + row as u64 + 1,
            problem: NotUtf8::PROBLEM.to_owned(),
        }
    }
}

/// One Arrow builder per column type.
#[derive(Debug)]
enum ColumnBuilder {
    Boolean(BooleanBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    UInt8(UInt8Builder),
    UInt16(UInt16Builder),
    UInt32(UInt32Builder),
    UInt64(UInt64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    /// Text as bytes: the values are checked to be UTF-8 a batch at a time, when it is finished.
    Text(BinaryBuilder),
    Binary(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampUtc(TimestampMicrosecondBuilder),
    Duration(DurationMicrosecondBuilder),
    Null(NullBuilder),
}

/// Why a value does not convert; the caller adds the column and row.
type Problem = String;

fn mismatch(datum: Datum<'_>) -> Problem {
    format!("{} does not convert", datum.describe())
}

fn out_of_range(datum: Datum<'_>) -> Problem {
    format!("{} is out of range", datum.describe())
}

impl ColumnBuilder {
    fn new(ty: ColumnType, capacity: usize) -> ColumnBuilder {
        match ty {
            ColumnType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::with_capacity(capacity)),
            ColumnType::Int8 => ColumnBuilder::Int8(Int8Builder::with_capacity(capacity)),
            ColumnType::Int16 => ColumnBuilder::Int16(Int16Builder::with_capacity(capacity)),
            ColumnType::Int32 => ColumnBuilder::Int32(Int32Builder::with_capacity(capacity)),
            ColumnType::Int64 => ColumnBuilder::Int64(Int64Builder::with_capacity(capacity)),
            ColumnType::UInt8 => ColumnBuilder::UInt8(UInt8Builder::with_capacity(capacity)),
            ColumnType::UInt16 => ColumnBuilder::UInt16(UInt16Builder::with_capacity(capacity)),
            ColumnType::UInt32 => ColumnBuilder::UInt32(UInt32Builder::with_capacity(capacity)),
            ColumnType::UInt64 => ColumnBuilder::UInt64(UInt64Builder::with_capacity(capacity)),
            ColumnType::Float32 => ColumnBuilder::Float32(Float32Builder::with_capacity(capacity)),
            ColumnType::Float64 => ColumnBuilder::Float64(Float64Builder::with_capacity(capacity)),
            ColumnType::Decimal { precision, scale } => ColumnBuilder::Decimal(
                Decimal128Builder::with_capacity(capacity).with_data_type(ty.arrow_type()),
                precision,
                scale,
            ),
            ColumnType::Text => {
                ColumnBuilder::Text(BinaryBuilder::with_capacity(capacity, capacity * 16))
            }
            ColumnType::Binary => {
                ColumnBuilder::Binary(BinaryBuilder::with_capacity(capacity, capacity * 16))
            }
            ColumnType::Date => ColumnBuilder::Date(Date32Builder::with_capacity(capacity)),
            ColumnType::Time => {
                ColumnBuilder::Time(Time64MicrosecondBuilder::with_capacity(capacity))
            }
            ColumnType::Timestamp => {
                ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity))
            }
            ColumnType::TimestampUtc => ColumnBuilder::TimestampUtc(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            ColumnType::Duration => {
                ColumnBuilder::Duration(DurationMicrosecondBuilder::with_capacity(capacity))
            }
            ColumnType::Null => ColumnBuilder::Null(NullBuilder::new()),
        }
    }

    /// The values built so far as an array, or for text the row (in this batch) of the first
    /// value that is not UTF-8.
    fn finish(&mut self) -> Result<ArrayRef, usize> {
        Ok(match self {
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::Int8(b) => Arc::new(b.finish()),
            ColumnBuilder::Int16(b) => Arc::new(b.finish()),
            ColumnBuilder::Int32(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::UInt8(b) => Arc::new(b.finish()),
            ColumnBuilder::UInt16(b) => Arc::new(b.finish()),
            ColumnBuilder::UInt32(b) => Arc::new(b.finish()),
            ColumnBuilder::UInt64(b) => Arc::new(b.finish()),
            ColumnBuilder::Float32(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(b, _, _) => Arc::new(b.finish()),
            ColumnBuilder::Text(b) => Arc::new(checked_text(b.finish())?),
            ColumnBuilder::Binary(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Time(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b) | ColumnBuilder::TimestampUtc(b) => Arc::new(b.finish()),
            ColumnBuilder::Duration(b) => Arc::new(b.finish()),
            ColumnBuilder::Null(b) => Arc::new(b.finish()),
        })
    }

    fn append(&mut self, datum: Datum<'_>) -> Result<(), Problem> {
        if datum == Datum::Null {
            self.append_null();
            return Ok(());
        }
        match self {
            ColumnBuilder::Boolean(b) => b.append_value(to_bool(datum)?),
            ColumnBuilder::Int8(b) => b.append_value(narrow(datum, to_i64(datum)?)?),
            ColumnBuilder::Int16(b) => b.append_value(narrow(datum, to_i64(datum)?)?),
            ColumnBuilder::Int32(b) => b.append_value(narrow(datum, to_i64(datum)?)?),
            ColumnBuilder::Int64(b) => b.append_value(to_i64(datum)?),
            ColumnBuilder::UInt8(b) => b.append_value(narrow(datum, to_u64(datum)?)?),
            ColumnBuilder::UInt16(b) => b.append_value(narrow(datum, to_u64(datum)?)?),
            ColumnBuilder::UInt32(b) => b.append_value(narrow(datum, to_u64(datum)?)?),
            ColumnBuilder::UInt64(b) => b.append_value(to_u64(datum)?),
            #[allow(clippy::cast_possible_truncation)]
            ColumnBuilder::Float32(b) => b.append_value(to_f64(datum)? as f32),
            ColumnBuilder::Float64(b) => b.append_value(to_f64(datum)?),
            ColumnBuilder::Decimal(b, precision, scale) => {
                b.append_value(to_decimal(datum, *precision, *scale)?);
            }
            ColumnBuilder::Text(b) => append_text(b, datum)?,
            ColumnBuilder::Binary(b) => match datum {
                Datum::Bytes(bytes) => b.append_value(bytes),
                Datum::Text(text) => b.append_value(text.as_bytes()),
                other => return Err(mismatch(other)),
            },
            ColumnBuilder::Date(b) => b.append_value(to_date(datum)?),
            ColumnBuilder::Time(b) => b.append_value(to_time(datum)?),
            ColumnBuilder::Timestamp(b) | ColumnBuilder::TimestampUtc(b) => {
                b.append_value(to_timestamp(datum)?);
            }
            ColumnBuilder::Duration(b) => b.append_value(to_duration(datum)?),
            ColumnBuilder::Null(_) => return Err(mismatch(datum)),
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            ColumnBuilder::Boolean(b) => b.append_null(),
            ColumnBuilder::Int8(b) => b.append_null(),
            ColumnBuilder::Int16(b) => b.append_null(),
            ColumnBuilder::Int32(b) => b.append_null(),
            ColumnBuilder::Int64(b) => b.append_null(),
            ColumnBuilder::UInt8(b) => b.append_null(),
            ColumnBuilder::UInt16(b) => b.append_null(),
            ColumnBuilder::UInt32(b) => b.append_null(),
            ColumnBuilder::UInt64(b) => b.append_null(),
            ColumnBuilder::Float32(b) => b.append_null(),
            ColumnBuilder::Float64(b) => b.append_null(),
            ColumnBuilder::Decimal(b, _, _) => b.append_null(),
            ColumnBuilder::Text(b) => b.append_null(),
            ColumnBuilder::Binary(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Time(b) => b.append_null(),
            ColumnBuilder::Timestamp(b) | ColumnBuilder::TimestampUtc(b) => b.append_null(),
            ColumnBuilder::Duration(b) => b.append_null(),
            ColumnBuilder::Null(b) => b.append_null(),
        }
    }
}

/// Text bytes as a string array: one check of the whole batch's bytes (and that each value
/// starts on a character), or the row of the first value that is not UTF-8.
fn checked_text(bytes: BinaryArray) -> Result<StringArray, usize> {
    let fallback = bytes.clone();
    StringArray::try_from_binary(bytes).map_err(|_| {
        fallback
            .iter()
            .position(|value| value.is_some_and(|value| std::str::from_utf8(value).is_err()))
            .unwrap_or(0)
    })
}

fn narrow<T: TryFrom<V>, V>(datum: Datum<'_>, value: V) -> Result<T, Problem> {
    T::try_from(value).map_err(|_| out_of_range(datum))
}

fn to_bool(datum: Datum<'_>) -> Result<bool, Problem> {
    match datum {
        Datum::Bool(value) => Ok(value),
        Datum::Int(0) | Datum::UInt(0) => Ok(false),
        Datum::Int(1) | Datum::UInt(1) => Ok(true),
        Datum::Text(text) => datum::parse_bool_text(text).ok_or_else(|| mismatch(datum)),
        other => Err(mismatch(other)),
    }
}

fn to_i64(datum: Datum<'_>) -> Result<i64, Problem> {
    match datum {
        Datum::Int(value) => Ok(value),
        Datum::UInt(value) => i64::try_from(value).map_err(|_| out_of_range(datum)),
        Datum::Bool(value) => Ok(i64::from(value)),
        Datum::Float(value) => float_to_i64(value).ok_or_else(|| mismatch(datum)),
        Datum::Decimal { unscaled, scale } => {
            let factor = 10_i128.pow(u32::from(scale));
            if unscaled % factor != 0 {
                return Err(mismatch(datum));
            }
            i64::try_from(unscaled / factor).map_err(|_| out_of_range(datum))
        }
        Datum::Text(text) => text.trim().parse().map_err(|_| mismatch(datum)),
        other => Err(mismatch(other)),
    }
}

fn to_u64(datum: Datum<'_>) -> Result<u64, Problem> {
    match datum {
        Datum::UInt(value) => Ok(value),
        Datum::Int(value) => u64::try_from(value).map_err(|_| out_of_range(datum)),
        Datum::Bool(value) => Ok(u64::from(value)),
        other => {
            let value = to_i64(other)?;
            u64::try_from(value).map_err(|_| out_of_range(datum))
        }
    }
}

#[allow(clippy::cast_precision_loss)]
fn to_f64(datum: Datum<'_>) -> Result<f64, Problem> {
    match datum {
        Datum::Float(value) => Ok(value),
        Datum::Int(value) => Ok(value as f64),
        Datum::UInt(value) => Ok(value as f64),
        Datum::Decimal { unscaled, scale } => decimal_to_string(unscaled, scale)
            .parse()
            .map_err(|_| mismatch(datum)),
        Datum::Text(text) => text.trim().parse().map_err(|_| mismatch(datum)),
        other => Err(mismatch(other)),
    }
}

fn to_decimal(datum: Datum<'_>, precision: u8, scale: i8) -> Result<i128, Problem> {
    let target = i32::from(scale);
    let unscaled = match datum {
        Datum::Decimal { unscaled, scale } => datum::rescale(unscaled, i32::from(scale), target),
        Datum::Int(value) => datum::rescale(i128::from(value), 0, target),
        Datum::UInt(value) => datum::rescale(i128::from(value), 0, target),
        Datum::Float(value) if value.is_finite() => {
            // Through the shortest text that round-trips, so that 10.25 stays 10.25.
            datum::parse_decimal(&format!("{value}"))
                .and_then(|(unscaled, scale)| datum::rescale(unscaled, i32::from(scale), target))
        }
        Datum::Text(text) => datum::parse_decimal(text)
            .and_then(|(unscaled, scale)| datum::rescale(unscaled, i32::from(scale), target)),
        other => return Err(mismatch(other)),
    }
    .ok_or_else(|| out_of_range(datum))?;
    let limit = 10_i128.pow(u32::from(precision));
    if unscaled.abs() >= limit {
        return Err(out_of_range(datum));
    }
    Ok(unscaled)
}

fn append_text(builder: &mut BinaryBuilder, datum: Datum<'_>) -> Result<(), Problem> {
    match datum {
        Datum::Text(text) => builder.append_value(text),
        Datum::Bytes(bytes) => {
            let text = std::str::from_utf8(bytes).map_err(|_| {
                format!("{} are not UTF-8 text and do not convert", datum.describe())
            })?;
            builder.append_value(text);
        }
        Datum::Int(value) => builder.append_value(value.to_string()),
        Datum::UInt(value) => builder.append_value(value.to_string()),
        Datum::Float(value) => builder.append_value(format!("{value:?}")),
        Datum::Bool(value) => builder.append_value(if value { "true" } else { "false" }),
        Datum::Decimal { unscaled, scale } => {
            builder.append_value(decimal_to_string(unscaled, scale));
        }
        other => {
            let written = match other {
                Datum::Date(days) => chrono::DateTime::from_timestamp(i64::from(days) * 86_400, 0)
                    .map(|at| write!(builder, "{}", at.format("%Y-%m-%d"))),
                Datum::Timestamp(micros) => chrono::DateTime::from_timestamp_micros(micros)
                    .map(|at| write!(builder, "{}", at.naive_utc().format("%Y-%m-%d %H:%M:%S%.f"))),
                Datum::TimestampUtc(micros) => chrono::DateTime::from_timestamp_micros(micros)
                    .map(|at| write!(builder, "{}", at.format("%Y-%m-%d %H:%M:%S%.f+00:00"))),
                _ => None,
            };
            match written {
                Some(Ok(())) => builder.append_value(""),
                _ => return Err(mismatch(other)),
            }
        }
    }
    Ok(())
}

fn to_date(datum: Datum<'_>) -> Result<i32, Problem> {
    match datum {
        Datum::Date(days) => Ok(days),
        Datum::Timestamp(micros) | Datum::TimestampUtc(micros) if micros % MICROS_PER_DAY == 0 => {
            i32::try_from(micros / MICROS_PER_DAY).map_err(|_| out_of_range(datum))
        }
        Datum::Text(text) => datum::parse_date_text(text).ok_or_else(|| mismatch(datum)),
        other => Err(mismatch(other)),
    }
}

fn to_time(datum: Datum<'_>) -> Result<i64, Problem> {
    match datum {
        Datum::Time(micros) => Ok(micros),
        Datum::Duration(micros) if (0..MICROS_PER_DAY).contains(&micros) => Ok(micros),
        Datum::Text(text) => datum::parse_time_text(text).ok_or_else(|| mismatch(datum)),
        other => Err(mismatch(other)),
    }
}

fn to_timestamp(datum: Datum<'_>) -> Result<i64, Problem> {
    match datum {
        Datum::Timestamp(micros) | Datum::TimestampUtc(micros) => Ok(micros),
        Datum::Date(days) => Ok(i64::from(days) * MICROS_PER_DAY),
        Datum::Text(text) => datum::parse_timestamp_text(text).ok_or_else(|| mismatch(datum)),
        // SQLite's conventions: integers are Unix seconds, reals are Julian day numbers.
        Datum::Int(seconds) => seconds
            .checked_mul(MICROS_PER_SECOND)
            .ok_or_else(|| out_of_range(datum)),
        Datum::Float(julian_day) => {
            datum::julian_day_to_micros(julian_day).ok_or_else(|| out_of_range(datum))
        }
        other => Err(mismatch(other)),
    }
}

#[allow(clippy::cast_precision_loss)]
fn to_duration(datum: Datum<'_>) -> Result<i64, Problem> {
    match datum {
        Datum::Duration(micros) | Datum::Time(micros) => Ok(micros),
        // Numbers are seconds, as flyte-sql binds durations on SQLite and MySQL.
        Datum::Int(seconds) => seconds
            .checked_mul(MICROS_PER_SECOND)
            .ok_or_else(|| out_of_range(datum)),
        Datum::Float(seconds) => float_to_i64((seconds * MICROS_PER_SECOND as f64).round())
            .ok_or_else(|| out_of_range(datum)),
        Datum::Decimal { .. } => {
            let seconds = to_f64(datum)?;
            float_to_i64((seconds * MICROS_PER_SECOND as f64).round())
                .ok_or_else(|| out_of_range(datum))
        }
        Datum::Text(text) => datum::parse_duration_text(text).ok_or_else(|| mismatch(datum)),
        other => Err(mismatch(other)),
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;

    use super::*;

    fn build(ty: ColumnType, values: &[Datum<'_>]) -> Result<ArrayRef> {
        let mut batch = BatchBuilder::new(
            vec![Column {
                name: "c".to_owned(),
                ty,
            }],
            16,
        );
        for value in values {
            batch.append(0, *value)?;
            batch.end_row();
        }
        Ok(Arc::clone(batch.finish()?.column(0)))
    }

    #[test]
    fn safe_widenings_are_applied() {
        let array = build(
            ColumnType::Int64,
            &[
                Datum::Int(1),
                Datum::UInt(2),
                Datum::Bool(true),
                Datum::Float(4.0),
                Datum::Null,
            ],
        )
        .expect("integers widen");
        assert_eq!(array.len(), 5);
        assert_eq!(array.null_count(), 1);
        let floats = build(
            ColumnType::Float64,
            &[
                Datum::Int(1),
                Datum::Decimal {
                    unscaled: 1025,
                    scale: 2,
                },
            ],
        )
        .expect("numbers widen to float");
        let floats = floats
            .as_any()
            .downcast_ref::<arrow_array::Float64Array>()
            .expect("float64");
        assert_eq!(floats.values().to_vec(), [1.0, 10.25]);
    }

    #[test]
    fn unconvertible_values_name_the_column_and_row() {
        let error = build(ColumnType::Int64, &[Datum::Int(1), Datum::Text("abc")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "column `c`, row 2: text \"abc\" does not convert for a column of type int64: cast the value in the query or declare the column with a matching type"
        );
        let error = build(ColumnType::Int8, &[Datum::Int(300)]).unwrap_err();
        assert!(
            error.to_string().contains("integer 300 is out of range"),
            "{error}"
        );
        let error = build(ColumnType::UInt64, &[Datum::Int(-1)]).unwrap_err();
        assert!(error.to_string().contains("out of range"), "{error}");
    }

    /// Text the database sent unchecked is checked a batch at a time: a value that is not UTF-8
    /// is refused with its column and row, also when it is half of a character whose other half
    /// is the next value (the batch's bytes as a whole are UTF-8 then). A bytes column takes it
    /// as it is, and other columns convert it once it is checked.
    #[test]
    fn unchecked_text_is_checked_a_batch_at_a_time() {
        use arrow_array::cast::AsArray;
        let array = build(
            ColumnType::Text,
            &[Datum::UncheckedText(b"caf\xc3\xa9"), Datum::Null],
        )
        .unwrap();
        assert_eq!(array.as_string::<i32>().value(0), "café");
        assert!(array.is_null(1));

        let refused = |ty, values: &[Datum<'_>]| build(ty, values).unwrap_err().to_string();
        let error = refused(
            ColumnType::Text,
            &[Datum::UncheckedText(b"ok"), Datum::UncheckedText(b"f\xffo")],
        );
        assert!(
            error.contains("column `c`, row 2") && error.contains("not valid UTF-8"),
            "{error}"
        );
        let error = refused(
            ColumnType::Text,
            &[
                Datum::UncheckedText(b"caf\xc3"),
                Datum::UncheckedText(b"\xa9"),
            ],
        );
        assert!(error.contains("column `c`, row 1"), "{error}");
        let error = refused(ColumnType::Int64, &[Datum::UncheckedText(b"4\xff")]);
        assert!(
            error.contains("row 1") && error.contains("not valid UTF-8"),
            "{error}"
        );

        let array = build(ColumnType::Binary, &[Datum::UncheckedText(b"f\xffo")]).unwrap();
        assert_eq!(array.as_binary::<i32>().value(0), b"f\xffo");
        let array = build(ColumnType::Int64, &[Datum::UncheckedText(b" 42")]).unwrap();
        assert_eq!(
            array
                .as_primitive::<arrow_array::types::Int64Type>()
                .value(0),
            42
        );

        // Rows count on across batches.
        let mut batch = BatchBuilder::new(
            vec![Column {
                name: "c".to_owned(),
                ty: ColumnType::Text,
            }],
            2,
        );
        for value in [&b"a"[..], b"b", b"c", b"\xc3("] {
            batch.append(0, Datum::UncheckedText(value)).unwrap();
            if batch.end_row() {
                match batch.finish() {
                    Ok(finished) => assert_eq!(finished.num_rows(), 2),
                    Err(error) => {
                        assert!(error.to_string().contains("row 4"), "{error}");
                        return;
                    }
                }
            }
        }
        panic!("the fourth row is not UTF-8");
    }

    #[test]
    fn decimals_keep_precision_and_scale() {
        let array = build(
            ColumnType::Decimal {
                precision: 10,
                scale: 2,
            },
            &[Datum::Float(10.25), Datum::Int(3), Datum::Text("-0.5")],
        )
        .expect("decimals convert");
        let array = array
            .as_any()
            .downcast_ref::<arrow_array::Decimal128Array>()
            .expect("decimal");
        assert_eq!(array.values().to_vec(), [1025, 300, -50]);
        assert_eq!(array.precision(), 10);
        let error = build(
            ColumnType::Decimal {
                precision: 3,
                scale: 2,
            },
            &[Datum::Int(10)],
        )
        .unwrap_err();
        assert!(error.to_string().contains("out of range"), "{error}");
    }
}
