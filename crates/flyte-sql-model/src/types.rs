//! Flyte's simple literal types and the values they hold.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};

/// A Flyte simple type usable as a task input or an output column.
///
/// These are the six types the reference plugin maps between Python and SQL; their flyteidl
/// numbers differ between `SimpleType` (inputs) and `SchemaColumnType` (columns), which is the idl
/// crate's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrimitiveType {
    /// A 64-bit signed integer.
    Integer,
    /// A 64-bit float.
    Float,
    /// A UTF-8 string.
    String,
    /// A boolean.
    Boolean,
    /// A point in time, UTC, nanosecond precision on the wire.
    Datetime,
    /// A signed length of time, nanosecond precision on the wire.
    Duration,
}

impl PrimitiveType {
    /// Every type, in flyteidl order.
    pub const ALL: [PrimitiveType; 6] = [
        PrimitiveType::Integer,
        PrimitiveType::Float,
        PrimitiveType::String,
        PrimitiveType::Boolean,
        PrimitiveType::Datetime,
        PrimitiveType::Duration,
    ];

    /// The lowercase name used in task files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PrimitiveType::Integer => "integer",
            PrimitiveType::Float => "float",
            PrimitiveType::String => "string",
            PrimitiveType::Boolean => "boolean",
            PrimitiveType::Datetime => "datetime",
            PrimitiveType::Duration => "duration",
        }
    }

    /// The type for a name as [`PrimitiveType::name`] writes it, or as flyteidl spells the enum
    /// (`INTEGER`); `None` for anything else.
    pub fn from_name(name: &str) -> Option<PrimitiveType> {
        PrimitiveType::ALL
            .into_iter()
            .find(|ty| ty.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for PrimitiveType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value of a [`PrimitiveType`], or a typed null for an optional input without a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer.
    Integer(i64),
    /// A float (NaN and infinities allowed, as in Flyte).
    Float(f64),
    /// A string.
    String(String),
    /// A boolean.
    Boolean(bool),
    /// A UTC timestamp.
    Datetime(DateTime<Utc>),
    /// A duration.
    Duration(TimeDelta),
    /// No value, for an optional input of the given type.
    Null(PrimitiveType),
}

impl Value {
    /// The type of this value (for a null, the type it stands in for).
    pub fn primitive_type(&self) -> PrimitiveType {
        match self {
            Value::Integer(_) => PrimitiveType::Integer,
            Value::Float(_) => PrimitiveType::Float,
            Value::String(_) => PrimitiveType::String,
            Value::Boolean(_) => PrimitiveType::Boolean,
            Value::Datetime(_) => PrimitiveType::Datetime,
            Value::Duration(_) => PrimitiveType::Duration,
            Value::Null(ty) => *ty,
        }
    }
}

/// Input values by input name, as a task execution receives them.
pub type InputValues = std::collections::BTreeMap<String, Value>;
