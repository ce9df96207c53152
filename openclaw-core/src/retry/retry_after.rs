//! The `Retry-After` header (RFC 9110, section 10.2.3).

use std::time::{Duration, SystemTime};

/// Parses a `Retry-After` header value: delta-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, relative to `now`).
///
/// A date in the past is [`Duration::ZERO`]; anything else (empty, negative, fractional,
/// garbage) is `None`, so the caller falls back to its own backoff.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use openclaw_core::retry::parse_retry_after;
///
/// assert_eq!(parse_retry_after("30", SystemTime::now()), Some(Duration::from_secs(30)));
/// assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits to fit is garbage too: no provider means "wait for ever".
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}
