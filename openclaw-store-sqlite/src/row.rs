//! Reading SQLite rows for the shared row mapping: times, UUIDs and JSON are text here
//! (see `convert.rs`), so each is parsed, and a value that does not parse is corrupt data.

use chrono::{DateTime, Utc};
use openclaw_core::Result;
use openclaw_store_sql::{corrupt, Columns, Listing, Param};
use serde::de::DeserializeOwned;
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Decode, Row, Sqlite, Type};
use uuid::Uuid;

use crate::convert::parse_ts;

/// A row, read through [`Columns`].
pub(crate) struct SqliteColumns<'r>(pub(crate) &'r SqliteRow);

/// A column of `row`; a value that does not decode is corrupt data.
pub(crate) fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T>
where
    T: Decode<'r, Sqlite> + Type<Sqlite>,
{
    row.try_get(column)
        .map_err(|e| corrupt(format!("column {column}: {e}")))
}

/// The statement of `listing` with its values bound (ids as the text they are stored as).
pub(crate) fn bound(listing: &Listing) -> Query<'_, Sqlite, SqliteArguments<'_>> {
    listing
        .params
        .iter()
        .fold(sqlx::query(&listing.sql), |query, param| match param {
            Param::Text(text) => query.bind(text.as_str()),
            Param::Id(id) => query.bind(id.to_string()),
            Param::Int(n) => query.bind(*n),
        })
}

fn parse_uuid(text: &str, column: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| corrupt(format!("column {column}: {text:?}: {e}")))
}

fn parse_json<T: DeserializeOwned>(text: &str, column: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("column {column}: {e}")))
}

impl Columns for SqliteColumns<'_> {
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
        parse_uuid(&self.text(column)?, column)
    }

    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>> {
        self.opt_text(column)?
            .map(|t| parse_uuid(&t, column))
            .transpose()
    }

    fn time(&self, column: &str) -> Result<DateTime<Utc>> {
        parse_ts(&self.text(column)?, column)
    }

    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        self.opt_text(column)?
            .map(|t| parse_ts(&t, column))
            .transpose()
    }

    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<T> {
        parse_json(&self.text(column)?, column)
    }

    fn opt_json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>> {
        self.opt_text(column)?
            .map(|t| parse_json(&t, column))
            .transpose()
    }
}
