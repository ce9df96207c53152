//! Cloudflare's rate-limit headers, read into a [`RateLimitObservation`].
//!
//! Cloudflare sends, on every response, the IETF draft's structured-field headers
//! `Ratelimit: "default";r=50;t=30` (remaining quota `r`, seconds until the window resets `t`)
//! and `Ratelimit-Policy: "default";q=1200;w=300` (quota `q` per window of `w` seconds), and
//! on a 429 `Retry-After` (seconds, or an HTTP date). Headers come from the network, so every
//! function here accepts any input without panicking; what it cannot read it leaves out.

use std::time::{Duration, SystemTime};

use openclaw_core::ports::RateLimitObservation;
use openclaw_core::retry::parse_retry_after;

/// `Ratelimit` (looked up in lowercase: header names are case-insensitive).
pub const RATELIMIT: &str = "ratelimit";
/// `Ratelimit-Policy`.
pub const RATELIMIT_POLICY: &str = "ratelimit-policy";
/// `Retry-After`.
pub const RETRY_AFTER: &str = "retry-after";

/// How long a breach of the limit blocks every call, per Cloudflare's documentation. Used as
/// the pause after a 429 that names no `Retry-After`, because waiting less would only earn
/// more 429s.
pub const LOCKOUT: Duration = Duration::from_secs(300);

/// One member of a structured-field list: `"name";key=value;…`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    name: String,
    params: Vec<(String, String)>,
}

impl Member {
    fn number(&self, key: &str) -> Option<u64> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| v.parse::<u64>().ok())
    }
}

/// Splits a structured-field list into members, honouring quoted strings (a comma or
/// semicolon inside quotes does not split). Malformed members are skipped.
fn members(value: &str) -> Vec<Member> {
    split_outside_quotes(value, ',')
        .into_iter()
        .filter_map(|raw| {
            let mut parts = split_outside_quotes(raw, ';').into_iter();
            let name = unquote(parts.next()?.trim());
            if name.is_empty() {
                return None;
            }
            let params = parts
                .filter_map(|p| {
                    let p = p.trim();
                    let (k, v) = p.split_once('=').unwrap_or((p, "?1"));
                    let k = k.trim();
                    (!k.is_empty()).then(|| (k.to_string(), unquote(v.trim())))
                })
                .collect();
            Some(Member { name, params })
        })
        .collect()
}

fn split_outside_quotes(value: &str, separator: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_quotes = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            c if c == separator && !in_quotes => {
                out.push(&value[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

fn unquote(s: &str) -> String {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .replace("\\\"", "\"")
        .replace("\\\\", "\\")
}

/// What the three headers say. `header(name)` returns the value of a header (all its lines
/// joined with `, `), or `None` when it is absent.
pub fn observe_headers<'a>(
    header: impl Fn(&str) -> Option<&'a str>,
    now: SystemTime,
) -> RateLimitObservation {
    let mut observation = RateLimitObservation::default();
    // Several limits may apply at once; the one with the least quota left is the one that
    // will refuse us first.
    let tightest = header(RATELIMIT).and_then(|value| {
        members(value)
            .into_iter()
            .filter(|m| m.number("r").is_some())
            .min_by_key(|m| m.number("r"))
    });
    let policies = header(RATELIMIT_POLICY).map(members).unwrap_or_default();
    if let Some(limit) = &tightest {
        observation.remaining = limit.number("r").map(saturate);
        observation.reset_after = limit.number("t").map(Duration::from_secs);
    }
    let policy = match &tightest {
        Some(limit) => policies
            .iter()
            .find(|p| p.name == limit.name)
            .or(policies.first()),
        None => policies.first(),
    };
    observation.limit = policy.and_then(|p| p.number("q")).map(saturate);
    observation.retry_after = header(RETRY_AFTER).and_then(|v| parse_retry_after(v, now));
    observation
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// How long to stay away after a 429: `Retry-After` when sent, else the reset time of the
/// exhausted limit, else the documented lockout; never less than [`MIN_PAUSE`], because a
/// 429 means "not now" even when its `Retry-After` is a date already past.
pub fn pause_after_429(observation: &RateLimitObservation) -> Duration {
    observation
        .retry_after
        .or(observation.reset_after.filter(|d| !d.is_zero()))
        .unwrap_or(LOCKOUT)
        .max(MIN_PAUSE)
}

/// The shortest pause after a 429.
pub const MIN_PAUSE: Duration = Duration::from_secs(1);

/// Whether a response told us anything worth passing to the limiter.
pub fn is_informative(observation: &RateLimitObservation) -> bool {
    *observation != RateLimitObservation::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observe(pairs: &[(&'static str, &'static str)]) -> RateLimitObservation {
        observe_headers(
            |name| {
                pairs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            },
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )
    }

    #[test]
    fn reads_cloudflares_documented_examples() {
        let o = observe(&[
            ("Ratelimit", "\"default\";r=50;t=30"),
            ("Ratelimit-Policy", "\"default\";q=1200;w=300"),
        ]);
        assert_eq!(o.remaining, Some(50));
        assert_eq!(o.reset_after, Some(Duration::from_secs(30)));
        assert_eq!(o.limit, Some(1200));
        assert_eq!(o.retry_after, None);
    }

    #[test]
    fn the_tightest_of_several_limits_wins_and_finds_its_policy() {
        let o = observe(&[
            ("ratelimit", "\"default\";r=900;t=200, \"burst\";r=3;t=2"),
            (
                "ratelimit-policy",
                "\"default\";q=1200;w=300, \"burst\";q=100;w=60",
            ),
        ]);
        assert_eq!(o.remaining, Some(3));
        assert_eq!(o.reset_after, Some(Duration::from_secs(2)));
        assert_eq!(o.limit, Some(100));
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let o = observe(&[("Retry-After", "120")]);
        assert_eq!(o.retry_after, Some(Duration::from_secs(120)));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        let o = observe_headers(|h| (h == RETRY_AFTER).then_some(later.as_str()), now);
        assert_eq!(o.retry_after, Some(Duration::from_secs(90)));
    }

    #[test]
    fn quoted_separators_do_not_split() {
        let m = members("\"a,b;c\";r=1, tok;r=2;flag");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].name, "a,b;c");
        assert_eq!(m[0].number("r"), Some(1));
        assert_eq!(m[1].name, "tok");
        assert_eq!(m[1].number("r"), Some(2));
    }

    #[test]
    fn garbage_yields_nothing() {
        let o = observe(&[
            ("Ratelimit", ";;,,\"unterminated;r=x"),
            ("Ratelimit-Policy", "q=;w"),
            ("Retry-After", "Tuesday"),
        ]);
        assert_eq!(o, RateLimitObservation::default());
        assert!(!is_informative(&o));
    }

    #[test]
    fn the_pause_after_a_429_prefers_retry_after() {
        let mut o = RateLimitObservation {
            reset_after: Some(Duration::from_secs(40)),
            ..Default::default()
        };
        assert_eq!(pause_after_429(&o), Duration::from_secs(40));
        o.retry_after = Some(Duration::from_secs(7));
        assert_eq!(pause_after_429(&o), Duration::from_secs(7));
        assert_eq!(pause_after_429(&RateLimitObservation::default()), LOCKOUT);
        o.retry_after = Some(Duration::ZERO);
        assert_eq!(pause_after_429(&o), MIN_PAUSE);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_header(
            ratelimit in ".{0,80}",
            policy in ".{0,80}",
            retry in ".{0,40}",
        ) {
            let _ = observe_headers(
                |name| match name {
                    RATELIMIT => Some(ratelimit.as_str()),
                    RATELIMIT_POLICY => Some(policy.as_str()),
                    _ => Some(retry.as_str()),
                },
                SystemTime::now(),
            );
        }

        #[test]
        fn well_formed_headers_round_trip(
            r in 0u64..10_000_000_000,
            t in 0u64..100_000,
            q in 0u64..100_000,
            name in "[a-z][a-z0-9_-]{0,12}",
        ) {
            let ratelimit = format!("\"{name}\";r={r};t={t}");
            let policy = format!("\"{name}\";q={q};w=300");
            let o = observe_headers(
                |h| match h {
                    RATELIMIT => Some(ratelimit.as_str()),
                    RATELIMIT_POLICY => Some(policy.as_str()),
                    _ => None,
                },
                SystemTime::now(),
            );
            proptest::prop_assert_eq!(o.remaining, Some(u32::try_from(r).unwrap_or(u32::MAX)));
            proptest::prop_assert_eq!(o.reset_after, Some(Duration::from_secs(t)));
            proptest::prop_assert_eq!(o.limit, Some(u32::try_from(q).unwrap_or(u32::MAX)));
        }
    }
}
