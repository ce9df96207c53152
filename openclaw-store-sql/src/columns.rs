//! [`Columns`]: how a store reads one column of a result row as a plain value. It is the
//! only thing the row mapping needs from a database, so each store implements it once (on
//! a wrapper of its row type) and shares every `*_from` function of this crate.

use chrono::{DateTime, Utc};
use openclaw_core::Result;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// One result row, read column by column. A value that does not decode as asked is corrupt
/// data (see [`corrupt`](crate::corrupt)), never a guess.
pub trait Columns {
    /// A text column.
    fn text(&self, column: &str) -> Result<String>;
    /// A nullable text column.
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    /// An integer column.
    fn int(&self, column: &str) -> Result<i64>;
    /// A UUID column.
    fn uuid(&self, column: &str) -> Result<Uuid>;
    /// A nullable UUID column.
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>>;
    /// A point in time.
    fn time(&self, column: &str) -> Result<DateTime<Utc>>;
    /// A nullable point in time.
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>>;
    /// A JSON column, deserialized.
    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<T>;
    /// A nullable JSON column, deserialized.
    fn opt_json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>>;
}
