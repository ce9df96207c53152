//! Reading PostgreSQL rows for the shared row mapping, and the few values PostgreSQL types
//! its own way (intervals).

use chrono::{DateTime, Utc};
use openclaw_core::{Error, Result};
use openclaw_store_sql::{corrupt, Columns, Listing, Param};
use serde::de::DeserializeOwned;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{Decode, Postgres, Row, Type};
use uuid::Uuid;

/// A row, read through [`Columns`].
pub(crate) struct PgColumns<'r>(pub(crate) &'r PgRow);

/// A column of `row`; a value that does not decode is corrupt data.
pub(crate) fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(column)
        .map_err(|e| corrupt(format!("column {column}: {e}")))
}

impl Columns for PgColumns<'_> {
    fn text(&self, column: &str) -> Result<String> {
        get(self.0, column)
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        get(self.0, column)
    }

    fn int(&self, column: &str) -> Result<i64> {
        get(self.0, column)
    }

    fn uuid(&self, column: &str) -> Result<Uuid> {
        get(self.0, column)
    }

    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>> {
        get(self.0, column)
    }

    fn time(&self, column: &str) -> Result<DateTime<Utc>> {
        get(self.0, column)
    }

    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        get(self.0, column)
    }

    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<T> {
        get::<Json<T>>(self.0, column).map(|Json(value)| value)
    }

    fn opt_json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>> {
        get::<Option<Json<T>>>(self.0, column).map(|value| value.map(|Json(v)| v))
    }
}

/// The statement of `listing` with its values bound.
pub(crate) fn bound(listing: &Listing) -> Query<'_, Postgres, PgArguments> {
    listing
        .params
        .iter()
        .fold(sqlx::query(&listing.sql), |query, param| match param {
            Param::Text(text) => query.bind(text.as_str()),
            Param::Id(id) => query.bind(*id),
            Param::Int(n) => query.bind(*n),
        })
}

/// A lease length as an `interval`: whole microseconds (PostgreSQL's precision, and what
/// sqlx can encode).
pub(crate) fn interval(lease_for: chrono::Duration) -> Result<chrono::Duration> {
    lease_for
        .num_microseconds()
        .filter(|us| *us > 0)
        .map(chrono::Duration::microseconds)
        .ok_or_else(|| Error::invalid("lease_for", "must be positive and at most 292,000 years"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_whole_positive_microseconds() {
        let d = chrono::Duration::nanoseconds(1_000_001_500);
        assert_eq!(
            interval(d).unwrap(),
            chrono::Duration::microseconds(1_000_001)
        );
        assert!(interval(chrono::Duration::zero()).is_err());
        assert!(interval(chrono::Duration::MAX).is_err());
    }
}
