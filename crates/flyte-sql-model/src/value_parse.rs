//! Parsing values from text (the command line) and from proto3 JSON (conformance files,
//! `--inputs-json`).

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::{Error, Result};
use crate::types::{PrimitiveType, Value};

const EXPECTED_INTEGER: &str =
    "a whole number between -9223372036854775808 and 9223372036854775807";
const EXPECTED_FLOAT: &str = "a number such as 2.5, 1e-7, NaN, Infinity or -Infinity";
const EXPECTED_BOOLEAN: &str = "true or false";
const EXPECTED_DATETIME: &str = "an RFC 3339 timestamp such as 2024-01-02T03:04:05Z";
const EXPECTED_DURATION: &str =
    "a duration such as 93784.5s, -0.25s, 10m or 1h30m (units d, h, m, s, ms, us, ns)";
const EXPECTED_STRING: &str = "a JSON string";

impl Value {
    /// Parses the textual form of a proto3 JSON value: `5`, `2.5`, `NaN`, `true`,
    /// `2024-01-02T03:04:05Z`, `93784.5s`; any text is a valid string.
    pub fn parse_text(ty: PrimitiveType, text: &str) -> Result<Value> {
        let invalid = |expected| Error::InvalidValue {
            ty,
            text: text.to_owned(),
            expected,
        };
        match ty {
            PrimitiveType::Integer => text
                .trim()
                .parse::<i64>()
                .map(Value::Integer)
                .map_err(|_| invalid(EXPECTED_INTEGER)),
            PrimitiveType::Float => parse_float(text.trim())
                .map(Value::Float)
                .ok_or_else(|| invalid(EXPECTED_FLOAT)),
            PrimitiveType::String => Ok(Value::String(text.to_owned())),
            PrimitiveType::Boolean => match text.trim() {
                "true" => Ok(Value::Boolean(true)),
                "false" => Ok(Value::Boolean(false)),
                _ => Err(invalid(EXPECTED_BOOLEAN)),
            },
            PrimitiveType::Datetime => DateTime::parse_from_rfc3339(text.trim())
                .map(|datetime| Value::Datetime(datetime.with_timezone(&Utc)))
                .map_err(|_| invalid(EXPECTED_DATETIME)),
            PrimitiveType::Duration => match parse_duration(text.trim()) {
                Some(duration) if duration_in_proto_range(duration) => {
                    Ok(Value::Duration(duration))
                }
                Some(_) => Err(invalid(EXPECTED_DURATION_IN_RANGE)),
                None => Err(invalid(EXPECTED_DURATION)),
            },
        }
    }

    /// Parses a proto3 JSON value of the given type: numbers or numeric strings for integers and
    /// floats (`"NaN"`, `"Infinity"`, `"-Infinity"`), booleans, strings, RFC 3339 strings for
    /// datetimes and `"<seconds>s"` strings for durations; `null` is a typed null.
    pub fn from_proto_json(ty: PrimitiveType, json: &serde_json::Value) -> Result<Value> {
        let invalid = |expected| Error::InvalidValue {
            ty,
            text: json.to_string(),
            expected,
        };
        match (ty, json) {
            (_, serde_json::Value::Null) => Ok(Value::Null(ty)),
            (PrimitiveType::Integer, serde_json::Value::Number(number)) => number
                .as_i64()
                .map(Value::Integer)
                .ok_or_else(|| invalid(EXPECTED_INTEGER)),
            (PrimitiveType::Float, serde_json::Value::Number(number)) => number
                .as_f64()
                .map(Value::Float)
                .ok_or_else(|| invalid(EXPECTED_FLOAT)),
            (PrimitiveType::Boolean, serde_json::Value::Bool(boolean)) => {
                Ok(Value::Boolean(*boolean))
            }
            (PrimitiveType::String, serde_json::Value::String(text)) => {
                Ok(Value::String(text.clone()))
            }
            (
                PrimitiveType::Integer
                | PrimitiveType::Float
                | PrimitiveType::Datetime
                | PrimitiveType::Duration,
                serde_json::Value::String(text),
            ) => Value::parse_text(ty, text).map_err(|error| match error {
                // The range, not the form, was wrong: say so.
                Error::InvalidValue {
                    expected: EXPECTED_DURATION_IN_RANGE,
                    ..
                } => invalid(EXPECTED_DURATION_IN_RANGE),
                _ => invalid(expected_for(ty)),
            }),
            _ => Err(invalid(expected_for(ty))),
        }
    }
}

impl Value {
    /// The proto3 JSON form of the value, as [`Value::from_proto_json`] reads it back: numbers,
    /// `"NaN"`/`"Infinity"`/`"-Infinity"`, booleans, strings, RFC 3339 UTC timestamps, durations
    /// as `"<seconds>s"` with 0, 3, 6 or 9 fraction digits, and `null`.
    pub fn to_proto_json(&self) -> serde_json::Value {
        match self {
            Value::Integer(number) => serde_json::Value::from(*number),
            Value::Float(number) if number.is_nan() => serde_json::Value::from("NaN"),
            Value::Float(number) if number.is_infinite() => {
                serde_json::Value::from(if *number > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                })
            }
            Value::Float(number) => serde_json::Value::from(*number),
            Value::String(text) => serde_json::Value::from(text.as_str()),
            Value::Boolean(boolean) => serde_json::Value::from(*boolean),
            Value::Datetime(datetime) => serde_json::Value::from(
                datetime.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ),
            Value::Duration(duration) => serde_json::Value::from(format_proto_duration(*duration)),
            Value::Null(_) => serde_json::Value::Null,
        }
    }
}

/// `-0.250s`, `93784.500s`, `5s`: proto3 JSON's duration form.
fn format_proto_duration(duration: TimeDelta) -> String {
    let total_nanos =
        i128::from(duration.num_seconds()) * 1_000_000_000 + i128::from(duration.subsec_nanos());
    let sign = if total_nanos < 0 { "-" } else { "" };
    let magnitude = total_nanos.unsigned_abs();
    let seconds = magnitude / 1_000_000_000;
    let nanos = magnitude % 1_000_000_000;
    if nanos == 0 {
        format!("{sign}{seconds}s")
    } else if nanos % 1_000_000 == 0 {
        format!("{sign}{seconds}.{:03}s", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!("{sign}{seconds}.{:06}s", nanos / 1_000)
    } else {
        format!("{sign}{seconds}.{nanos:09}s")
    }
}

fn expected_for(ty: PrimitiveType) -> &'static str {
    match ty {
        PrimitiveType::Integer => EXPECTED_INTEGER,
        PrimitiveType::Float => EXPECTED_FLOAT,
        PrimitiveType::String => EXPECTED_STRING,
        PrimitiveType::Boolean => EXPECTED_BOOLEAN,
        PrimitiveType::Datetime => EXPECTED_DATETIME,
        PrimitiveType::Duration => EXPECTED_DURATION,
    }
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" | "nan" => Some(f64::NAN),
        "Infinity" | "inf" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        // Rust also accepts "infinity" and "NaN" spellings we do not document; only digits pass.
        _ if text.chars().any(|c| c.is_ascii_digit())
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) =>
        {
            text.parse().ok()
        }
        _ => None,
    }
}

/// Parses `93784.5s`, `-0.25s`, `10m`, `1h30m`, `1d2h`, `250ms`: an optional sign, then one or more
/// `<number><unit>` parts (units d, h, m, s, ms, us, ns; only the last part may have a fraction
/// worth keeping below a nanosecond, which is dropped).
/// The largest duration protobuf's `google.protobuf.Duration` holds, in seconds either way
/// (10,000 years): Flyte's decoders (protobuf's JSON, Python's) refuse anything beyond.
pub const MAX_PROTO_DURATION_SECONDS: i64 = 315_576_000_000;

const EXPECTED_DURATION_IN_RANGE: &str =
    "a duration within protobuf's range of ±315576000000 s (10,000 years)";

/// Whether `duration` fits a protobuf `Duration`.
pub fn duration_in_proto_range(duration: TimeDelta) -> bool {
    duration.num_seconds().abs() <= MAX_PROTO_DURATION_SECONDS
}

pub(crate) fn parse_duration(text: &str) -> Option<TimeDelta> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total_nanos: i128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after_number) = rest.split_at(number_len);
        let unit_len = after_number
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_len);
        let unit_nanos: i128 = match unit {
            "d" => 86_400_000_000_000,
            "h" => 3_600_000_000_000,
            "m" => 60_000_000_000,
            "s" => 1_000_000_000,
            "ms" => 1_000_000,
            "us" | "µs" => 1_000,
            "ns" => 1,
            _ => return None,
        };
        total_nanos += decimal_times(number, unit_nanos)?;
        rest = after_unit;
    }
    if negative {
        total_nanos = -total_nanos;
    }
    let seconds = i64::try_from(total_nanos.div_euclid(1_000_000_000)).ok()?;
    let nanos = u32::try_from(total_nanos.rem_euclid(1_000_000_000)).ok()?;
    TimeDelta::new(seconds, nanos)
}

/// `number` (digits with at most one `.`) times `unit_nanos`, exactly, truncating below 1 ns.
fn decimal_times(number: &str, unit_nanos: i128) -> Option<i128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole
        .chars()
        .chain(fraction.chars())
        .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut value = whole.checked_mul(unit_nanos)?;
    let mut scale = unit_nanos;
    for digit in fraction.chars().take(18) {
        scale /= 10;
        value += i128::from(digit.to_digit(10)?) * scale;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(ty: PrimitiveType, text: &str, expected: expect_test::Expect) {
        let actual = match Value::parse_text(ty, text) {
            Ok(value) => format!("{value:?}"),
            Err(error) => format!("error: {error}"),
        };
        expected.assert_eq(&actual);
    }

    #[test]
    fn integers() {
        check_text(
            PrimitiveType::Integer,
            "5",
            expect_test::expect!["Integer(5)"],
        );
        check_text(
            PrimitiveType::Integer,
            "9223372036854775807",
            expect_test::expect!["Integer(9223372036854775807)"],
        );
        check_text(
            PrimitiveType::Integer,
            "9223372036854775808",
            expect_test::expect![
                "error: invalid integer value `9223372036854775808`: expected a whole number between -9223372036854775808 and 9223372036854775807"
            ],
        );
        check_text(
            PrimitiveType::Integer,
            "2.5",
            expect_test::expect![
                "error: invalid integer value `2.5`: expected a whole number between -9223372036854775808 and 9223372036854775807"
            ],
        );
    }

    #[test]
    fn floats() {
        check_text(
            PrimitiveType::Float,
            "2.5",
            expect_test::expect!["Float(2.5)"],
        );
        check_text(
            PrimitiveType::Float,
            "1e-7",
            expect_test::expect!["Float(1e-7)"],
        );
        check_text(
            PrimitiveType::Float,
            "NaN",
            expect_test::expect!["Float(NaN)"],
        );
        check_text(
            PrimitiveType::Float,
            "-Infinity",
            expect_test::expect!["Float(-inf)"],
        );
        check_text(
            PrimitiveType::Float,
            "infinity",
            expect_test::expect![
                "error: invalid float value `infinity`: expected a number such as 2.5, 1e-7, NaN, Infinity or -Infinity"
            ],
        );
    }

    #[test]
    fn booleans_strings_datetimes() {
        check_text(
            PrimitiveType::Boolean,
            "true",
            expect_test::expect!["Boolean(true)"],
        );
        check_text(
            PrimitiveType::Boolean,
            "True",
            expect_test::expect!["error: invalid boolean value `True`: expected true or false"],
        );
        check_text(
            PrimitiveType::String,
            " a b ",
            expect_test::expect![[r#"String(" a b ")"#]],
        );
        check_text(
            PrimitiveType::Datetime,
            "2024-01-02T03:04:05.123456789+02:00",
            expect_test::expect!["Datetime(2024-01-02T01:04:05.123456789Z)"],
        );
        check_text(
            PrimitiveType::Datetime,
            "2024-01-02",
            expect_test::expect![
                "error: invalid datetime value `2024-01-02`: expected an RFC 3339 timestamp such as 2024-01-02T03:04:05Z"
            ],
        );
    }

    #[test]
    fn durations() {
        check_text(
            PrimitiveType::Duration,
            "93784.5s",
            expect_test::expect!["Duration(TimeDelta { secs: 93784, nanos: 500000000 })"],
        );
        check_text(
            PrimitiveType::Duration,
            "-0.250s",
            expect_test::expect!["Duration(TimeDelta { secs: -1, nanos: 750000000 })"],
        );
        check_text(
            PrimitiveType::Duration,
            "0.000000001s",
            expect_test::expect!["Duration(TimeDelta { secs: 0, nanos: 1 })"],
        );
        check_text(
            PrimitiveType::Duration,
            "1h30m",
            expect_test::expect!["Duration(TimeDelta { secs: 5400, nanos: 0 })"],
        );
        check_text(
            PrimitiveType::Duration,
            "10m",
            expect_test::expect!["Duration(TimeDelta { secs: 600, nanos: 0 })"],
        );
        check_text(
            PrimitiveType::Duration,
            "10",
            expect_test::expect![
                "error: invalid duration value `10`: expected a duration such as 93784.5s, -0.25s, 10m or 1h30m (units d, h, m, s, ms, us, ns)"
            ],
        );
        check_text(
            PrimitiveType::Duration,
            "1.2.3s",
            expect_test::expect![
                "error: invalid duration value `1.2.3s`: expected a duration such as 93784.5s, -0.25s, 10m or 1h30m (units d, h, m, s, ms, us, ns)"
            ],
        );
    }

    #[test]
    fn proto_json_round_trips() {
        for (ty, text) in [
            (PrimitiveType::Integer, "-7"),
            (PrimitiveType::Float, "NaN"),
            (PrimitiveType::Float, "-Infinity"),
            (PrimitiveType::Float, "2.5"),
            (PrimitiveType::Boolean, "false"),
            (PrimitiveType::String, "O'Brien"),
            (PrimitiveType::Datetime, "2024-01-02T03:04:05.123456789Z"),
            (PrimitiveType::Duration, "-0.250s"),
            (PrimitiveType::Duration, "93784.5s"),
            (PrimitiveType::Duration, "0.000001s"),
        ] {
            let value = Value::parse_text(ty, text).unwrap();
            let json = value.to_proto_json();
            let back = Value::from_proto_json(ty, &json).unwrap();
            // NaN is not equal to itself; compare its rendering instead.
            assert_eq!(
                format!("{back:?}"),
                format!("{value:?}"),
                "{text} -> {json}"
            );
        }
        let rendered: Vec<String> = ["-0.250s", "93784.5s", "5s", "0.000000001s"]
            .into_iter()
            .map(|text| {
                Value::parse_text(PrimitiveType::Duration, text)
                    .unwrap()
                    .to_proto_json()
                    .to_string()
            })
            .collect();
        assert_eq!(
            rendered,
            [
                r#""-0.250s""#,
                r#""93784.500s""#,
                r#""5s""#,
                r#""0.000000001s""#
            ]
        );
    }

    #[test]
    fn proto_json() {
        let check = |ty, json: &str, expected: expect_test::Expect| {
            let json: serde_json::Value = serde_json::from_str(json).unwrap();
            let actual = match Value::from_proto_json(ty, &json) {
                Ok(value) => format!("{value:?}"),
                Err(error) => format!("error: {error}"),
            };
            expected.assert_eq(&actual);
        };
        check(
            PrimitiveType::Integer,
            "9223372036854775807",
            expect_test::expect!["Integer(9223372036854775807)"],
        );
        check(
            PrimitiveType::Integer,
            r#""-7""#,
            expect_test::expect!["Integer(-7)"],
        );
        check(
            PrimitiveType::Float,
            r#""Infinity""#,
            expect_test::expect!["Float(inf)"],
        );
        check(
            PrimitiveType::Float,
            "3.0",
            expect_test::expect!["Float(3.0)"],
        );
        check(
            PrimitiveType::String,
            r#""O'Brien""#,
            expect_test::expect![[r#"String("O'Brien")"#]],
        );
        check(
            PrimitiveType::Duration,
            r#""259200s""#,
            expect_test::expect!["Duration(TimeDelta { secs: 259200, nanos: 0 })"],
        );
        check(
            PrimitiveType::Boolean,
            "null",
            expect_test::expect!["Null(Boolean)"],
        );
        check(
            PrimitiveType::Boolean,
            r#""true""#,
            expect_test::expect![[
                r#"error: invalid boolean value `"true"`: expected true or false"#
            ]],
        );
        check(
            PrimitiveType::String,
            "5",
            expect_test::expect!["error: invalid string value `5`: expected a JSON string"],
        );
    }
}
