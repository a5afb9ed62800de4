//! The column types flyte-sql writes, and how they map to Arrow and from Flyte's declared types.

use std::fmt;
use std::sync::Arc;

use arrow_schema::{DataType, Field, TimeUnit};
use flyte_sql_model::PrimitiveType;

/// The type of one output column, as it is written to Arrow and Parquet.
///
/// Every backend maps its database types onto these (see `docs/type-mapping.md`); declared
/// output columns map through [`ColumnType::from_declared`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColumnType {
    /// Arrow `Boolean`.
    Boolean,
    /// Arrow `Int8`.
    Int8,
    /// Arrow `Int16`.
    Int16,
    /// Arrow `Int32`.
    Int32,
    /// Arrow `Int64`.
    Int64,
    /// Arrow `UInt8`.
    UInt8,
    /// Arrow `UInt16`.
    UInt16,
    /// Arrow `UInt32`.
    UInt32,
    /// Arrow `UInt64`.
    UInt64,
    /// Arrow `Float32`.
    Float32,
    /// Arrow `Float64`.
    Float64,
    /// Arrow `Decimal128(precision, scale)`.
    Decimal {
        /// Total significant digits, 1 to 38.
        precision: u8,
        /// Digits after the decimal point.
        scale: i8,
    },
    /// Arrow `Utf8`.
    Text,
    /// Arrow `Binary`.
    Binary,
    /// Arrow `Date32` (days since the Unix epoch).
    Date,
    /// Arrow `Time64(Microsecond)`.
    Time,
    /// Arrow `Timestamp(Microsecond, None)`: a timestamp without time zone.
    Timestamp,
    /// Arrow `Timestamp(Microsecond, "UTC")`: an instant.
    TimestampUtc,
    /// Arrow `Duration(Microsecond)`.
    Duration,
    /// Arrow `Null`: a column that can only hold nulls.
    Null,
}

impl ColumnType {
    /// The column type a declared Flyte column gets.
    pub fn from_declared(ty: PrimitiveType) -> ColumnType {
        match ty {
            PrimitiveType::Integer => ColumnType::Int64,
            PrimitiveType::Float => ColumnType::Float64,
            PrimitiveType::String => ColumnType::Text,
            PrimitiveType::Boolean => ColumnType::Boolean,
            PrimitiveType::Datetime => ColumnType::TimestampUtc,
            PrimitiveType::Duration => ColumnType::Duration,
        }
    }

    /// The Arrow data type written for this column.
    pub fn arrow_type(self) -> DataType {
        match self {
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::Int8 => DataType::Int8,
            ColumnType::Int16 => DataType::Int16,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::UInt8 => DataType::UInt8,
            ColumnType::UInt16 => DataType::UInt16,
            ColumnType::UInt32 => DataType::UInt32,
            ColumnType::UInt64 => DataType::UInt64,
            ColumnType::Float32 => DataType::Float32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Decimal { precision, scale } => DataType::Decimal128(precision, scale),
            ColumnType::Text => DataType::Utf8,
            ColumnType::Binary => DataType::Binary,
            ColumnType::Date => DataType::Date32,
            ColumnType::Time => DataType::Time64(TimeUnit::Microsecond),
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColumnType::TimestampUtc => {
                DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC")))
            }
            ColumnType::Duration => DataType::Duration(TimeUnit::Microsecond),
            ColumnType::Null => DataType::Null,
        }
    }

    /// A decimal type when Arrow's `Decimal128` can hold it, otherwise `Float64` (documented:
    /// wider decimals lose precision; cast them to text in the query to keep every digit).
    pub(crate) fn decimal_or_float(precision: u32, scale: i32) -> ColumnType {
        match (u8::try_from(precision), i8::try_from(scale)) {
            (Ok(precision @ 1..=38), Ok(scale))
                if scale >= 0 && i32::from(scale) <= i32::from(precision) =>
            {
                ColumnType::Decimal { precision, scale }
            }
            _ => ColumnType::Float64,
        }
    }

    /// The narrowest type that holds values of both types, used when a column's type comes from
    /// its values (SQLite expressions, or no describe step); `None` when they do not mix.
    pub(crate) fn unify(self, other: ColumnType) -> Option<ColumnType> {
        use ColumnType as T;
        if self == other {
            return Some(self);
        }
        match (self, other) {
            (T::Null, x) | (x, T::Null) => Some(x),
            (T::Int64, T::Float64) | (T::Float64, T::Int64) => Some(T::Float64),
            (T::Decimal { .. }, T::Float64 | T::Int64)
            | (T::Float64 | T::Int64, T::Decimal { .. }) => Some(T::Float64),
            (
                T::Decimal {
                    precision: p1,
                    scale: s1,
                },
                T::Decimal {
                    precision: p2,
                    scale: s2,
                },
            ) => Some(T::Decimal {
                precision: p1.max(p2),
                scale: s1.max(s2),
            }),
            // SQLite expressions that mix text and numbers read as text, as SQLite's own
            // `CAST(x AS TEXT)` would render them.
            (T::Text, T::Int64 | T::Float64) | (T::Int64 | T::Float64, T::Text) => Some(T::Text),
            _ => None,
        }
    }

    /// The Arrow field for a column of this type.
    pub(crate) fn field(self, name: &str) -> Field {
        Field::new(name, self.arrow_type(), true)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            other => f.write_str(match other {
                ColumnType::Boolean => "boolean",
                ColumnType::Int8 => "int8",
                ColumnType::Int16 => "int16",
                ColumnType::Int32 => "int32",
                ColumnType::Int64 => "int64",
                ColumnType::UInt8 => "uint8",
                ColumnType::UInt16 => "uint16",
                ColumnType::UInt32 => "uint32",
                ColumnType::UInt64 => "uint64",
                ColumnType::Float32 => "float32",
                ColumnType::Float64 => "float64",
                ColumnType::Text => "text",
                ColumnType::Binary => "binary",
                ColumnType::Date => "date",
                ColumnType::Time => "time",
                ColumnType::Timestamp => "timestamp",
                ColumnType::TimestampUtc => "timestamp (UTC)",
                ColumnType::Duration => "duration",
                ColumnType::Null => "null",
                ColumnType::Decimal { .. } => "decimal",
            }),
        }
    }
}

/// One column of a result: its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The name as the query returns it (or as declared, for declared columns).
    pub name: String,
    /// The type written to Parquet.
    pub ty: ColumnType,
}

/// `(p, s)` from a declared type name such as `DECIMAL(p, s)`, or `(p, 0)` from `DECIMAL(p)`;
/// `None` without a parenthesized precision.
pub(crate) fn precision_and_scale(declared: &str) -> Option<(u32, i32)> {
    let open = declared.find('(')?;
    let close = declared[open..].find(')')? + open;
    let mut parts = declared[open + 1..close].split(',');
    let precision = parts.next()?.trim().parse().ok()?;
    let scale = match parts.next() {
        Some(scale) => scale.trim().parse().ok()?,
        None => 0,
    };
    Some((precision, scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_to_flyte_compatible_arrow_types() {
        let mapped: Vec<String> = PrimitiveType::ALL
            .into_iter()
            .map(|ty| format!("{ty}: {}", ColumnType::from_declared(ty).arrow_type()))
            .collect();
        assert_eq!(
            mapped,
            [
                "integer: Int64",
                "float: Float64",
                "string: Utf8",
                "boolean: Boolean",
                "datetime: Timestamp(µs, \"UTC\")",
                "duration: Duration(µs)",
            ]
        );
    }

    #[test]
    fn value_inference_widens_numbers_and_rejects_mixed_bytes() {
        use ColumnType as T;
        assert_eq!(T::Int64.unify(T::Float64), Some(T::Float64));
        assert_eq!(T::Null.unify(T::Date), Some(T::Date));
        assert_eq!(T::Int64.unify(T::Text), Some(T::Text));
        assert_eq!(T::Binary.unify(T::Int64), None);
        assert_eq!(
            ColumnType::decimal_or_float(10, 2),
            T::Decimal {
                precision: 10,
                scale: 2
            }
        );
        assert_eq!(ColumnType::decimal_or_float(65, 2), T::Float64);
    }
}
