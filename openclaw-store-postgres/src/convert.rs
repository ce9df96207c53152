//! Between domain values and column values: PostgreSQL has no unsigned integers, and a value
//! read back that does not make a domain value is reported, never guessed at.

use openclaw_core::{Error, Result};
use sqlx::postgres::PgRow;
use sqlx::{Decode, Postgres, Row, Type};

use crate::error::corrupt;

/// A `u64` for a `bigint` column.
pub(crate) fn to_i64(value: u64, field: &'static str) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::invalid(field, "too large"))
}

/// A page size for `LIMIT`: anything past `i64::MAX` is no limit anyway.
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A `bigint` column read as `u64`.
pub(crate) fn to_u64(value: i64, column: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| corrupt(format!("{column} is negative: {value}")))
}

/// A `bigint` column read as `u32`.
pub(crate) fn to_u32(value: i64, column: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| corrupt(format!("{column} out of range: {value}")))
}

/// A column of `row`; a value that does not decode is corrupt data.
pub(crate) fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(column)
        .map_err(|e| corrupt(format!("column {column}: {e}")))
}
