//! Reading Hetzner's rate-limit headers.
//!
//! Hetzner limits a project with a token bucket (3600 requests, refilled one per second) and
//! reports it on every response: `RateLimit-Limit` (the bucket's size), `RateLimit-Remaining`
//! (requests left) and `RateLimit-Reset` (the UNIX time at which the bucket is full again).

use std::time::Duration;

use openclaw_core::ports::RateLimitObservation;
use openclaw_core::retry::parse_retry_after;
use reqwest::header::HeaderMap;

/// `RateLimit-Limit`.
pub const HEADER_LIMIT: &str = "ratelimit-limit";
/// `RateLimit-Remaining`.
pub const HEADER_REMAINING: &str = "ratelimit-remaining";
/// `RateLimit-Reset` (UNIX seconds).
pub const HEADER_RESET: &str = "ratelimit-reset";
/// `X-Correlation-Id`: Hetzner's id of the request, for support.
pub const HEADER_CORRELATION_ID: &str = "x-correlation-id";

/// What the headers of one response say, for the limiter.
///
/// `reset_after` is *not* the time until `RateLimit-Reset`: Hetzner refills continuously, so
/// waiting for the full reset after running dry would waste up to an hour. It is the time
/// until the next request is allowed, `(reset − now) / (limit − remaining)` (the refill
/// interval of one permit), and only when `remaining` is 0; that is what
/// [`TokenBucket::observe`](openclaw_core::TokenBucket::observe) expects of a continuously
/// refilled provider. `retry_after` is set on a 429 (from `Retry-After` if Hetzner ever sends
/// one, else that same interval).
///
/// Missing or malformed headers leave their field `None`; nothing here fails.
pub fn observe_headers(headers: &HeaderMap, status: u16, now_unix: i64) -> RateLimitObservation {
    let number = |name: &str| -> Option<i64> {
        headers.get(name)?.to_str().ok()?.trim().parse::<i64>().ok()
    };
    let limit = number(HEADER_LIMIT).and_then(|v| u32::try_from(v).ok());
    let remaining = number(HEADER_REMAINING).and_then(|v| u32::try_from(v).ok());
    let reset = number(HEADER_RESET);
    let next_permit = match (limit, remaining, reset) {
        (Some(limit), Some(remaining), Some(reset)) if remaining < limit => {
            let until_full = reset.saturating_sub(now_unix).max(0) as f64;
            Some(Duration::from_secs_f64(
                until_full / f64::from(limit - remaining),
            ))
        }
        _ => None,
    };
    let retry_after = if status == 429 {
        let header = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, unix_time(now_unix)));
        // Hetzner refills one request per second; a reset in the current second rounds to
        // zero, and retrying at once would only be refused again.
        Some(
            header
                .or(next_permit)
                .filter(|d| !d.is_zero())
                .unwrap_or(Duration::from_secs(1)),
        )
    } else {
        None
    };
    RateLimitObservation {
        limit,
        remaining,
        reset_after: next_permit.filter(|_| remaining == Some(0)),
        retry_after,
    }
}

/// `now_unix` as a `SystemTime`, so an HTTP-date `Retry-After` is read against the same
/// (injectable) clock as `RateLimit-Reset`.
fn unix_time(now_unix: i64) -> std::time::SystemTime {
    let since_epoch = Duration::from_secs(u64::try_from(now_unix).unwrap_or(0));
    std::time::UNIX_EPOCH + since_epoch
}

/// Whether an observation carries anything worth telling the limiter.
pub(crate) fn is_empty(observation: &RateLimitObservation) -> bool {
    *observation == RateLimitObservation::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn remaining_is_passed_on_without_a_pause_while_requests_are_left() {
        let h = headers(&[
            ("RateLimit-Limit", "3600"),
            ("RateLimit-Remaining", "3590"),
            ("RateLimit-Reset", "1010"),
        ]);
        let o = observe_headers(&h, 200, 1000);
        assert_eq!(o.limit, Some(3600));
        assert_eq!(o.remaining, Some(3590));
        assert_eq!(o.reset_after, None);
        assert_eq!(o.retry_after, None);
    }

    #[test]
    fn an_empty_bucket_waits_one_refill_interval_not_the_full_reset() {
        let h = headers(&[
            ("ratelimit-limit", "3600"),
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "4600"),
        ]);
        let o = observe_headers(&h, 429, 1000);
        assert_eq!(o.reset_after, Some(Duration::from_secs(1)));
        assert_eq!(o.retry_after, Some(Duration::from_secs(1)));
    }

    #[test]
    fn retry_after_wins_and_garbage_is_ignored() {
        let h = headers(&[
            ("ratelimit-limit", "ten"),
            ("ratelimit-remaining", "-3"),
            ("retry-after", "7"),
        ]);
        let o = observe_headers(&h, 429, 1000);
        assert_eq!(o.limit, None);
        assert_eq!(o.remaining, None);
        assert_eq!(o.retry_after, Some(Duration::from_secs(7)));
        assert!(is_empty(&observe_headers(&HeaderMap::new(), 200, 0)));
        // An HTTP-date is read against the same clock as RateLimit-Reset.
        let dated = headers(&[("retry-after", "Thu, 01 Jan 1970 00:01:00 GMT")]);
        let o = observe_headers(&dated, 429, 30);
        assert_eq!(o.retry_after, Some(Duration::from_secs(30)));
    }

    #[test]
    fn a_429_without_headers_still_waits() {
        let o = observe_headers(&HeaderMap::new(), 429, 0);
        assert_eq!(o.retry_after, Some(Duration::from_secs(1)));
    }
}
