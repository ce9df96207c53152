//! Domain values as SQLite stores them. Times are UTC RFC 3339 text with exactly nine
//! fractional digits, so text order is time order (`run_at <= ?` compares correctly) and a
//! value reads back to the nanosecond. UUIDs are hyphenated lowercase text, whose order is
//! the UUIDs' byte order. JSON is text.

use chrono::{DateTime, SecondsFormat, Utc};
use openclaw_core::{Error, Result};
use openclaw_store_sql::corrupt;
use serde::Serialize;

/// A time as stored.
pub(crate) fn ts(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// A stored time, read back.
pub(crate) fn parse_ts(text: &str, column: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt(format!("column {column}: {text:?}: {e}")))
}

/// A value as stored JSON.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal(format!("serializing: {e}")))
}

/// `now + lease_for`: when a lease taken or extended now runs out.
pub(crate) fn lease_end(now: DateTime<Utc>, lease_for: chrono::Duration) -> Result<DateTime<Utc>> {
    now.checked_add_signed(lease_for)
        .filter(|end| *end > now)
        .ok_or_else(|| Error::invalid("lease_for", "must be positive and not too long"))
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

    #[test]
    fn leases_end_after_they_start() {
        let now = Utc::now();
        assert!(lease_end(now, chrono::Duration::seconds(1)).is_ok());
        assert!(lease_end(now, chrono::Duration::zero()).is_err());
        assert!(lease_end(now, chrono::Duration::MAX).is_err());
    }
}
