//! One database value on its way into an Arrow builder, borrowed from the driver's buffer.
//!
//! Each backend decodes its raw values into a [`Datum`] and hands it straight to the column
//! builder, which converts it to the column's type; nothing is copied in between.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::types::ColumnType;

/// Microseconds in a second.
pub(crate) const MICROS_PER_SECOND: i64 = 1_000_000;
/// Microseconds in a day.
pub(crate) const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// A decoded database value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Datum<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// An exact decimal: `unscaled / 10^scale`.
    Decimal {
        unscaled: i128,
        scale: u8,
    },
    Text(&'a str),
    /// Text as the database sent it, not yet checked to be UTF-8. A text column checks a whole
    /// batch of it at once, which is much cheaper than value by value; any other use checks the
    /// value first ([`Datum::checked`]).
    UncheckedText(&'a [u8]),
    Bytes(&'a [u8]),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 1970-01-01 00:00, no time zone.
    Timestamp(i64),
    /// Microseconds since 1970-01-01 00:00 UTC.
    TimestampUtc(i64),
    /// Microseconds.
    Duration(i64),
}

impl Datum<'_> {
    /// The column type this value would have on its own, for columns typed by their values.
    pub(crate) fn natural_type(&self) -> ColumnType {
        match self {
            Datum::Null => ColumnType::Null,
            Datum::Bool(_) => ColumnType::Boolean,
            Datum::Int(_) => ColumnType::Int64,
            Datum::UInt(_) => ColumnType::UInt64,
            Datum::Float(_) => ColumnType::Float64,
            Datum::Decimal { scale, .. } => ColumnType::Decimal {
                precision: 38,
                scale: i8::try_from(*scale).unwrap_or(38),
            },
            Datum::Text(_) | Datum::UncheckedText(_) => ColumnType::Text,
            Datum::Bytes(_) => ColumnType::Binary,
            Datum::Date(_) => ColumnType::Date,
            Datum::Time(_) => ColumnType::Time,
            Datum::Timestamp(_) => ColumnType::Timestamp,
            Datum::TimestampUtc(_) => ColumnType::TimestampUtc,
            Datum::Duration(_) => ColumnType::Duration,
        }
    }

    /// A short description for error messages: the kind of value and, for small values, the
    /// value itself (never more than a few dozen characters).
    pub(crate) fn describe(&self) -> String {
        match self {
            Datum::Null => "null".to_owned(),
            Datum::Bool(value) => format!("boolean {value}"),
            Datum::Int(value) => format!("integer {value}"),
            Datum::UInt(value) => format!("unsigned integer {value}"),
            Datum::Float(value) => format!("float {value}"),
            Datum::Decimal { unscaled, scale } => {
                format!("decimal {}", decimal_to_string(*unscaled, *scale))
            }
            Datum::Text(text) => {
                let shown: String = text.chars().take(40).collect();
                let ellipsis = if shown.len() < text.len() { "..." } else { "" };
                format!("text {shown:?}{ellipsis}")
            }
            Datum::UncheckedText(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => Datum::Text(text).describe(),
                Err(_) => format!("{} bytes of text that is not UTF-8", bytes.len()),
            },
            Datum::Bytes(bytes) => format!("{} bytes", bytes.len()),
            Datum::Date(days) => format!("date {days} days after 1970-01-01"),
            Datum::Time(micros) => format!("time {micros} µs after midnight"),
            Datum::Timestamp(micros) | Datum::TimestampUtc(micros) => {
                format!("timestamp {micros} µs after 1970-01-01")
            }
            Datum::Duration(micros) => format!("duration {micros} µs"),
        }
    }
}

impl<'a> Datum<'a> {
    /// The value with its text checked to be UTF-8: an [`Datum::UncheckedText`] becomes a
    /// [`Datum::Text`], or the error when it is not UTF-8.
    pub(crate) fn checked(self) -> Result<Datum<'a>, NotUtf8> {
        match self {
            Datum::UncheckedText(bytes) => std::str::from_utf8(bytes)
                .map(Datum::Text)
                .map_err(|_| NotUtf8),
            other => Ok(other),
        }
    }
}

/// Text that is not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotUtf8;

impl NotUtf8 {
    /// What the error message says.
    pub(crate) const PROBLEM: &'static str = "the text is not valid UTF-8: convert it to UTF-8 in the query, or declare the column as bytes";
}

/// A [`Datum`] that owns its text and bytes, for the rows buffered while a column's type is
/// being inferred from its values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OwnedDatum {
    Copy(Datum<'static>),
    Text(String),
    UncheckedText(Vec<u8>),
    Bytes(Vec<u8>),
}

impl OwnedDatum {
    pub(crate) fn from_datum(datum: Datum<'_>) -> OwnedDatum {
        match datum {
            Datum::Text(text) => OwnedDatum::Text(text.to_owned()),
            Datum::UncheckedText(bytes) => OwnedDatum::UncheckedText(bytes.to_vec()),
            Datum::Bytes(bytes) => OwnedDatum::Bytes(bytes.to_vec()),
            Datum::Null => OwnedDatum::Copy(Datum::Null),
            Datum::Bool(v) => OwnedDatum::Copy(Datum::Bool(v)),
            Datum::Int(v) => OwnedDatum::Copy(Datum::Int(v)),
            Datum::UInt(v) => OwnedDatum::Copy(Datum::UInt(v)),
            Datum::Float(v) => OwnedDatum::Copy(Datum::Float(v)),
            Datum::Decimal { unscaled, scale } => {
                OwnedDatum::Copy(Datum::Decimal { unscaled, scale })
            }
            Datum::Date(v) => OwnedDatum::Copy(Datum::Date(v)),
            Datum::Time(v) => OwnedDatum::Copy(Datum::Time(v)),
            Datum::Timestamp(v) => OwnedDatum::Copy(Datum::Timestamp(v)),
            Datum::TimestampUtc(v) => OwnedDatum::Copy(Datum::TimestampUtc(v)),
            Datum::Duration(v) => OwnedDatum::Copy(Datum::Duration(v)),
        }
    }

    pub(crate) fn as_datum(&self) -> Datum<'_> {
        match self {
            OwnedDatum::Copy(datum) => *datum,
            OwnedDatum::Text(text) => Datum::Text(text),
            OwnedDatum::UncheckedText(bytes) => Datum::UncheckedText(bytes),
            OwnedDatum::Bytes(bytes) => Datum::Bytes(bytes),
        }
    }
}

/// Renders `unscaled / 10^scale` exactly.
pub(crate) fn decimal_to_string(unscaled: i128, scale: u8) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    let scale = usize::from(scale);
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    format!("{sign}{whole}.{fraction}")
}

/// Parses a decimal literal (`-12.50`, `3`, `1e3` is rejected) into `(unscaled, scale)`.
pub(crate) fn parse_decimal(text: &str) -> Option<(i128, u8)> {
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = u8::try_from(fraction.len()).ok()?;
    let mut unscaled: i128 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        unscaled = unscaled
            .checked_mul(10)?
            .checked_add(i128::from(b - b'0'))?;
    }
    Some((if negative { -unscaled } else { unscaled }, scale))
}

/// Rescales `unscaled / 10^from` to `to` digits after the point, rounding half away from zero;
/// `None` on overflow.
pub(crate) fn rescale(unscaled: i128, from: i32, to: i32) -> Option<i128> {
    if to >= from {
        let factor = 10_i128.checked_pow(u32::try_from(to - from).ok()?)?;
        unscaled.checked_mul(factor)
    } else {
        let factor = 10_i128.checked_pow(u32::try_from(from - to).ok()?)?;
        let quotient = unscaled / factor;
        let remainder = unscaled % factor;
        if remainder.abs() * 2 >= factor {
            Some(quotient + unscaled.signum())
        } else {
            Some(quotient)
        }
    }
}

const UNIX_EPOCH_JULIAN_DAY: f64 = 2_440_587.5;

/// Parses the text forms SQLite and the reference's splicing give timestamps:
/// `YYYY-MM-DD[ T]HH:MM[:SS[.fff]]` with an optional `Z` or `±HH[:MM]` offset, or a bare date.
/// Returns microseconds since the epoch in UTC (text without an offset is taken as UTC).
///
/// The canonical forms (four-digit year, two-digit fields, up to nine fraction digits) are read
/// by a fixed-format scanner: it is on the hot path of every timestamp stored as text, where
/// chrono's format machinery cost a third of an extraction. Anything else (one-digit fields,
/// leap seconds, spaces inside) goes to [`parse_timestamp_text_chrono`], which decides; the
/// scanner only ever accepts what chrono accepts, with the same result (see the tests).
pub(crate) fn parse_timestamp_text(text: &str) -> Option<i64> {
    let text = text.trim();
    scan_timestamp(text.as_bytes()).or_else(|| parse_timestamp_text_chrono(text))
}

/// The chrono reading of [`parse_timestamp_text`], for the forms the scanner leaves to it.
fn parse_timestamp_text_chrono(text: &str) -> Option<i64> {
    let normalized;
    let text = match text.strip_suffix(['Z', 'z']) {
        Some(rest) => {
            normalized = format!("{rest}+00:00");
            normalized.as_str()
        }
        None => text,
    };
    for format in [
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M%#z",
        "%Y-%m-%dT%H:%M%#z",
    ] {
        if let Ok(parsed) = DateTime::parse_from_str(text, format) {
            return Some(parsed.timestamp_micros());
        }
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(parsed) = NaiveDateTime::parse_from_str(text, format) {
            return Some(parsed.and_utc().timestamp_micros());
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_time(NaiveTime::MIN).and_utc().timestamp_micros())
}

/// `n` ASCII digits at the start of `bytes` as a number.
fn digits(bytes: &[u8], n: usize) -> Option<u32> {
    let field = bytes.get(..n)?;
    field.iter().try_fold(0_u32, |value, &b| {
        b.is_ascii_digit().then(|| value * 10 + u32::from(b - b'0'))
    })
}

/// Days since 1970-01-01 of a canonical `YYYY-MM-DD`, or `None` when it is not one or not a
/// real date.
fn scan_date(bytes: &[u8]) -> Option<i64> {
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = digits(bytes, 4)?;
    let month = digits(&bytes[5..], 2)?;
    let day = digits(&bytes[8..], 2)?;
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > month_days {
        return None;
    }
    Some(days_from_civil(
        i64::from(year),
        i64::from(month),
        i64::from(day),
    ))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Microseconds since midnight of a canonical `HH:MM[:SS[.f{1,9}]]` at the start of `bytes`,
/// and the rest; `None` when it is not one (leap seconds and longer fractions included).
fn scan_clock(bytes: &[u8]) -> Option<(i64, &[u8])> {
    if bytes.get(2) != Some(&b':') {
        return None;
    }
    let hour = digits(bytes, 2)?;
    let minute = digits(&bytes[3..], 2)?;
    let mut rest = &bytes[5..];
    let mut second = 0;
    let mut micros = 0;
    if let Some(after) = rest.strip_prefix(b":") {
        second = digits(after, 2)?;
        rest = &after[2..];
        if let Some(after) = rest.strip_prefix(b".") {
            let count = after.iter().take_while(|b| b.is_ascii_digit()).count();
            if count == 0 || count > 9 {
                return None;
            }
            let fraction = digits(after, count)?;
            // Truncated to microseconds, as chrono's `timestamp_micros` does.
            micros = if count <= 6 {
                fraction * 10_u32.pow(6 - count as u32)
            } else {
                fraction / 10_u32.pow(count as u32 - 6)
            };
            rest = &after[count..];
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let seconds = (i64::from(hour) * 60 + i64::from(minute)) * 60 + i64::from(second);
    Some((seconds * MICROS_PER_SECOND + i64::from(micros), rest))
}

/// The offset east of UTC in seconds of a whole canonical `Z`, `±HH`, `±HHMM` or `±HH:MM`.
fn scan_offset(bytes: &[u8]) -> Option<i64> {
    let sign = match bytes {
        [b'Z' | b'z'] => return Some(0),
        [b'+', ..] => 1,
        [b'-', ..] => -1,
        _ => return None,
    };
    let hours = digits(&bytes[1..], 2)?;
    let minutes = match &bytes[3..] {
        [] => 0,
        [b':', rest @ ..] | rest if rest.len() == 2 => digits(rest, 2)?,
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (i64::from(hours) * 3600 + i64::from(minutes) * 60))
}

/// The fixed-format reading of the canonical timestamp forms; `None` leaves the text to chrono.
fn scan_timestamp(bytes: &[u8]) -> Option<i64> {
    let days = scan_date(bytes)?;
    let day_micros = days * MICROS_PER_DAY;
    match bytes.get(10) {
        None => return Some(day_micros),
        Some(b' ' | b'T') => {}
        Some(_) => return None,
    }
    let (clock, rest) = scan_clock(&bytes[11..])?;
    let offset = if rest.is_empty() {
        0
    } else {
        scan_offset(rest)?
    };
    Some(day_micros + clock - offset * MICROS_PER_SECOND)
}

/// A SQLite Julian day number as microseconds since the Unix epoch.
pub(crate) fn julian_day_to_micros(julian_day: f64) -> Option<i64> {
    let micros = ((julian_day - UNIX_EPOCH_JULIAN_DAY) * MICROS_PER_DAY as f64).round();
    float_to_i64(micros)
}

/// Parses `YYYY-MM-DD` into days since the epoch.
pub(crate) fn parse_date_text(text: &str) -> Option<i32> {
    let text = text.trim();
    if text.len() == 10
        && let Some(days) = scan_date(text.as_bytes())
    {
        return i32::try_from(days).ok();
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    days_since_epoch(date)
}

/// Days since 1970-01-01.
pub(crate) fn days_since_epoch(date: NaiveDate) -> Option<i32> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from(date.signed_duration_since(epoch).num_days()).ok()
}

/// Parses `HH:MM[:SS[.ffffff]]` into microseconds since midnight.
pub(crate) fn parse_time_text(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some((micros, [])) = scan_clock(text.as_bytes()) {
        return Some(micros);
    }
    parse_time_text_chrono(text)
}

/// The chrono reading of [`parse_time_text`], for the forms the scanner leaves to it.
fn parse_time_text_chrono(text: &str) -> Option<i64> {
    let time = NaiveTime::parse_from_str(text, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
        .ok()?;
    Some(
        i64::from(time.num_seconds_from_midnight()) * MICROS_PER_SECOND
            + i64::from(time.nanosecond() / 1_000),
    )
}

/// Parses a duration written as Python's `str(timedelta)` (`1 day, 2:03:04.500000`,
/// `-1 day, 23:59:59`), as proto3 JSON (`93784.5s`), or as `[-]HH:MM:SS[.ffffff]`;
/// returns microseconds.
pub(crate) fn parse_duration_text(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(seconds) = text.strip_suffix('s')
        && let Ok(seconds) = seconds.parse::<f64>()
    {
        return float_to_i64((seconds * MICROS_PER_SECOND as f64).round());
    }
    let (days, clock) = match text.split_once(", ") {
        Some((days, clock)) => {
            let count = days
                .strip_suffix(" days")
                .or_else(|| days.strip_suffix(" day"))?;
            (count.trim().parse::<i64>().ok()?, clock)
        }
        None => (0, text),
    };
    let (negative, clock) = match clock.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, clock),
    };
    let mut parts = clock.split(':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    let seconds = parts.next()?;
    if parts.next().is_some() || !(0..60).contains(&minutes) {
        return None;
    }
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let whole: i64 = whole.parse().ok()?;
    if !(0..60).contains(&whole)
        || fraction.len() > 6
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let fraction_micros: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<6}").parse().ok()?
    };
    let clock_micros = ((hours * 60 + minutes) * 60 + whole) * MICROS_PER_SECOND + fraction_micros;
    let clock_micros = if negative {
        -clock_micros
    } else {
        clock_micros
    };
    days.checked_mul(MICROS_PER_DAY)?.checked_add(clock_micros)
}

/// Parses the boolean spellings databases and Python write: `true`/`false`, `t`/`f`,
/// `yes`/`no`, `1`/`0` (any case).
pub(crate) fn parse_bool_text(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// A float that holds an exact integer within `i64`'s range, as that integer.
pub(crate) fn float_to_i64(value: f64) -> Option<i64> {
    // 2^63 as f64 is exact; anything at or above it does not fit.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value) {
        #[allow(clippy::cast_possible_truncation)]
        Some(value as i64)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_trip_through_text() {
        assert_eq!(parse_decimal("-12.50"), Some((-1250, 2)));
        assert_eq!(parse_decimal("3"), Some((3, 0)));
        assert_eq!(parse_decimal(".5"), Some((5, 1)));
        assert_eq!(parse_decimal("1e3"), None);
        assert_eq!(decimal_to_string(-1250, 2), "-12.50");
        assert_eq!(decimal_to_string(5, 3), "0.005");
        assert_eq!(rescale(1025, 2, 1), Some(103));
        assert_eq!(rescale(-1025, 2, 1), Some(-103));
        assert_eq!(rescale(3, 0, 2), Some(300));
    }

    #[test]
    fn timestamps_parse_in_the_forms_sqlite_and_python_write() {
        let base = 1_704_164_645_000_000; // 2024-01-02 03:04:05 UTC
        assert_eq!(parse_timestamp_text("2024-01-02 03:04:05"), Some(base));
        assert_eq!(parse_timestamp_text("2024-01-02T03:04:05Z"), Some(base));
        assert_eq!(
            parse_timestamp_text("2024-01-02 03:04:05.123456+00:00"),
            Some(base + 123_456)
        );
        assert_eq!(parse_timestamp_text("2024-01-02 04:04:05+01"), Some(base));
        assert_eq!(
            parse_timestamp_text("2024-01-02"),
            Some(base - 11_045_000_000)
        );
        assert_eq!(parse_timestamp_text("yesterday"), None);
        assert_eq!(julian_day_to_micros(2_440_587.5), Some(0));
    }

    /// A small deterministic generator (xorshift), so that failures reproduce.
    struct Generator(u64);

    impl Generator {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
            choices[self.below(choices.len() as u64) as usize]
        }

        /// A number in `0..limit`, usually zero-padded to `width` digits, sometimes not.
        fn field(&mut self, limit: u64, width: usize) -> String {
            let value = self.below(limit);
            match self.below(10) {
                0 => value.to_string(),
                1 => format!("{value:0>width$}", width = width + 1),
                _ => format!("{value:0>width$}"),
            }
        }

        /// A two-digit field below `limit`, one time in five below `wide` instead.
        fn sometimes_out_of_range(&mut self, limit: u64, wide: u64) -> String {
            let limit = if self.below(5) == 0 { wide } else { limit };
            self.field(limit, 2)
        }

        fn timestamp_text(&mut self) -> String {
            let year = match self.below(8) {
                0 => self.field(100_000, 4),
                1 => format!("-{}", self.field(10_000, 4)),
                2 => format!("+{}", self.field(10_000, 4)),
                _ => format!("{:04}", 1900 + self.below(300)),
            };
            let month = if self.below(4) == 0 {
                self.field(14, 2)
            } else {
                format!("{:02}", 1 + self.below(12))
            };
            let day = if self.below(4) == 0 {
                self.field(33, 2)
            } else {
                format!("{:02}", 1 + self.below(31))
            };
            let mut text = format!("{year}-{month}-{day}");
            if self.below(6) != 0 {
                text.push_str(self.pick(&[" ", "T", " ", "T", "t", "  ", "_", ""]));
                let hour = self.sometimes_out_of_range(24, 26);
                let minute = self.sometimes_out_of_range(60, 62);
                text.push_str(&format!("{hour}:{minute}"));
                if self.below(5) != 0 {
                    let second = self.sometimes_out_of_range(60, 62);
                    text.push_str(&format!(":{second}"));
                    if self.below(2) == 0 {
                        let count = self.below(13) as usize;
                        let fraction: String = (0..count)
                            .map(|_| char::from(b'0' + self.below(10) as u8))
                            .collect();
                        text.push('.');
                        text.push_str(&fraction);
                    }
                }
                if self.below(2) == 0 {
                    let sign = self.pick(&["+", "-", "+", " +"]);
                    let hours = self.sometimes_out_of_range(24, 26);
                    let minutes = self.sometimes_out_of_range(60, 62);
                    let offset = match self.below(6) {
                        0 => "Z".to_owned(),
                        1 => "z".to_owned(),
                        2 => format!("{sign}{hours}"),
                        3 => format!("{sign}{hours}{minutes}"),
                        4 => format!("{sign}{hours}:"),
                        _ => format!("{sign}{hours}:{minutes}"),
                    };
                    text.push_str(&offset);
                }
            }
            match self.below(12) {
                0 => format!(" {text}"),
                1 => format!("{text} "),
                2 => format!("{text}x"),
                3 if !text.is_empty() => text[..self.below(text.len() as u64) as usize].to_owned(),
                _ => text,
            }
        }
    }

    /// The fixed-format scanner against chrono, which decided alone before it: the same result
    /// (or rejection) for every generated input, canonical or not.
    #[test]
    fn the_timestamp_scanner_agrees_with_chrono() {
        let mut generator = Generator(0x5eed_1234_abcd_0001);
        let mut scanned = 0;
        for _ in 0..100_000 {
            let text = generator.timestamp_text();
            let trimmed = text.trim();
            if scan_timestamp(trimmed.as_bytes()).is_some() {
                scanned += 1;
            }
            assert_eq!(
                parse_timestamp_text(&text),
                parse_timestamp_text_chrono(trimmed),
                "{text:?}"
            );
            assert_eq!(
                parse_date_text(&text),
                NaiveDate::parse_from_str(trimmed, "%Y-%m-%d")
                    .ok()
                    .and_then(days_since_epoch),
                "{text:?}"
            );
            if let Some((_, clock)) = text.split_once([' ', 'T']) {
                assert_eq!(
                    parse_time_text(clock),
                    parse_time_text_chrono(clock.trim()),
                    "{clock:?}"
                );
            }
        }
        // The generator must exercise the scanner, not only the fallback.
        assert!(scanned > 15_000, "{scanned}");
    }

    /// Every day of years 0 to 2400 and every second of a day, in the canonical forms.
    #[test]
    fn the_scanner_agrees_with_chrono_on_every_date_and_second() {
        let mut date = NaiveDate::from_ymd_opt(0, 1, 1).expect("a date");
        let end = NaiveDate::from_ymd_opt(2400, 12, 31).expect("a date");
        while date <= end {
            let text = date.format("%Y-%m-%d").to_string();
            assert_eq!(parse_date_text(&text), days_since_epoch(date), "{text}");
            let text = format!("{text}T23:59:59.999999-01:30");
            assert_eq!(
                scan_timestamp(text.as_bytes()),
                parse_timestamp_text_chrono(&text),
                "{text}"
            );
            date = date.succ_opt().expect("a next day");
        }
        for second in 0..86_400 {
            let text = format!(
                "{:02}:{:02}:{:02}",
                second / 3600,
                second / 60 % 60,
                second % 60
            );
            assert_eq!(
                scan_clock(text.as_bytes()),
                Some((second * MICROS_PER_SECOND, &b""[..]))
            );
            assert_eq!(
                parse_time_text(&text),
                parse_time_text_chrono(&text),
                "{text}"
            );
        }
    }

    #[test]
    fn durations_parse_in_python_proto_and_clock_forms() {
        assert_eq!(
            parse_duration_text("1 day, 2:03:04.500000"),
            Some(93_784_500_000)
        );
        assert_eq!(parse_duration_text("-1 day, 23:59:59"), Some(-1_000_000));
        assert_eq!(parse_duration_text("93784.5s"), Some(93_784_500_000));
        assert_eq!(parse_duration_text("26:03:04"), Some(93_784_000_000));
        assert_eq!(parse_duration_text("2 weeks"), None);
        assert_eq!(parse_time_text("23:59:59.5"), Some(86_399_500_000));
        assert_eq!(parse_date_text("1970-01-02"), Some(1));
        assert_eq!(parse_bool_text("True"), Some(true));
    }
}
