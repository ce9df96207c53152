//! Between domain values and SQLite's column values. Times are stored as UTC RFC 3339 text
//! with exactly nine fractional digits, so text order is time order (`run_at <= ?` compares
//! correctly) and a value reads back to the nanosecond. UUIDs are hyphenated lowercase text,
//! whose order is the UUIDs' byte order.

use chrono::{DateTime, SecondsFormat, Utc};
use openclaw_core::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row, Sqlite, Type};
use uuid::Uuid;

use crate::error::corrupt;

/// A time as stored.
pub(crate) fn ts(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub(crate) fn parse_ts(text: &str, column: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt(format!("column {column}: {text:?}: {e}")))
}

/// A value as stored JSON.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal(format!("serializing: {e}")))
}

/// A `u64` for an `INTEGER` column.
pub(crate) fn to_i64(value: u64, field: &'static str) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::invalid(field, "too large"))
}

/// A page size for `LIMIT`.
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A column of `row`; a value that does not decode is corrupt data.
pub(crate) fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T>
where
    T: Decode<'r, Sqlite> + Type<Sqlite>,
{
    row.try_get(column)
        .map_err(|e| corrupt(format!("column {column}: {e}")))
}

pub(crate) fn get_ts(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>> {
    parse_ts(&get::<String>(row, column)?, column)
}

pub(crate) fn get_opt_ts(row: &SqliteRow, column: &str) -> Result<Option<DateTime<Utc>>> {
    get::<Option<String>>(row, column)?
        .map(|t| parse_ts(&t, column))
        .transpose()
}

pub(crate) fn get_uuid(row: &SqliteRow, column: &str) -> Result<Uuid> {
    let text: String = get(row, column)?;
    Uuid::parse_str(&text).map_err(|e| corrupt(format!("column {column}: {text:?}: {e}")))
}

pub(crate) fn get_opt_uuid(row: &SqliteRow, column: &str) -> Result<Option<Uuid>> {
    get::<Option<String>>(row, column)?
        .map(|text| {
            Uuid::parse_str(&text).map_err(|e| corrupt(format!("column {column}: {text:?}: {e}")))
        })
        .transpose()
}

pub(crate) fn get_json<T: DeserializeOwned>(row: &SqliteRow, column: &str) -> Result<T> {
    let text: String = get(row, column)?;
    serde_json::from_str(&text).map_err(|e| corrupt(format!("column {column}: {e}")))
}

pub(crate) fn get_u64(row: &SqliteRow, column: &str) -> Result<u64> {
    let n: i64 = get(row, column)?;
    u64::try_from(n).map_err(|_| corrupt(format!("column {column} is negative: {n}")))
}

pub(crate) fn get_u32(row: &SqliteRow, column: &str) -> Result<u32> {
    let n: i64 = get(row, column)?;
    u32::try_from(n).map_err(|_| corrupt(format!("column {column} out of range: {n}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_sort_as_text_and_keep_nanoseconds() {
        let a = DateTime::from_timestamp(1_767_225_600, 5).unwrap();
        let b = DateTime::from_timestamp(1_767_225_600, 40).unwrap();
        let c = DateTime::from_timestamp(1_767_225_601, 0).unwrap();
        assert_eq!(ts(a), "2026-01-01T00:00:00.000000005Z");
        assert!(ts(a) < ts(b) && ts(b) < ts(c));
        assert_eq!(parse_ts(&ts(b), "t").unwrap(), b);
    }
}
