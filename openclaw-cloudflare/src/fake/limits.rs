//! The fake's rate limit: a fixed window of requests per token, and a block of every request
//! of the token after a breach, as Cloudflare blocks for five minutes.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::state::{codes, Reply};
use super::RateLimitSettings;

#[derive(Debug)]
struct Window {
    start: Instant,
    used: u32,
    blocked_until: Option<Instant>,
}

/// The windows of every token seen.
#[derive(Debug, Default)]
pub(crate) struct Windows(HashMap<String, Window>);

impl Windows {
    /// Counts one request against the token's window. Past the limit the token is blocked
    /// for the whole block time, as Cloudflare blocks for five minutes; requests during the
    /// block are refused and do not count.
    pub(crate) fn spend(
        &mut self,
        token: &str,
        now: Instant,
        limits: RateLimitSettings,
    ) -> Result<Vec<(String, String)>, Reply> {
        let window = self.0.entry(token.to_string()).or_insert(Window {
            start: now,
            used: 0,
            blocked_until: None,
        });
        let policy = format!(
            "\"default\";q={};w={}",
            limits.limit,
            ceil_secs(limits.window)
        );
        let refuse = |retry: u64| {
            let mut reply = Reply::error(
                429,
                codes::RATE_LIMITED,
                "Please wait and consider throttling your request speed",
            );
            reply.headers = vec![
                ("retry-after".into(), retry.to_string()),
                ("ratelimit".into(), format!("\"default\";r=0;t={retry}")),
                ("ratelimit-policy".into(), policy.clone()),
            ];
            reply
        };
        if let Some(until) = window.blocked_until {
            if now < until {
                return Err(refuse(ceil_secs(until - now).max(1)));
            }
            window.blocked_until = None;
            window.start = now;
            window.used = 0;
        }
        if now.duration_since(window.start) >= limits.window {
            window.start = now;
            window.used = 0;
        }
        if window.used >= limits.limit {
            window.blocked_until = Some(now + limits.block);
            return Err(refuse(ceil_secs(limits.block).max(1)));
        }
        window.used += 1;
        let reset = ceil_secs(
            limits
                .window
                .saturating_sub(now.duration_since(window.start)),
        );
        Ok(vec![
            (
                "ratelimit".into(),
                format!("\"default\";r={};t={reset}", limits.limit - window.used),
            ),
            ("ratelimit-policy".into(), policy),
        ])
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breach_blocks_for_the_block_time() {
        let limits = RateLimitSettings {
            limit: 2,
            window: Duration::from_secs(10),
            block: Duration::from_secs(60),
        };
        let mut w = Windows::default();
        let t0 = Instant::now();
        let spend = |w: &mut Windows, token: &str, at: Duration| {
            w.spend(token, t0 + at, limits)
                .map(|_| ())
                .map_err(|r| r.status)
        };
        assert!(spend(&mut w, "tok", Duration::ZERO).is_ok());
        assert!(spend(&mut w, "tok", Duration::ZERO).is_ok());
        assert_eq!(spend(&mut w, "tok", Duration::ZERO), Err(429));
        // Still blocked after the window, until the block has passed.
        assert!(spend(&mut w, "tok", Duration::from_secs(30)).is_err());
        assert!(spend(&mut w, "tok", Duration::from_secs(61)).is_ok());
        assert!(
            spend(&mut w, "other", Duration::ZERO).is_ok(),
            "limits are per token"
        );
    }

    #[test]
    fn headers_count_down_and_name_the_policy() {
        let limits = RateLimitSettings::default();
        let mut w = Windows::default();
        let headers = w.spend("tok", Instant::now(), limits).unwrap();
        assert_eq!(
            headers[0],
            (
                "ratelimit".to_string(),
                "\"default\";r=1199;t=300".to_string()
            )
        );
        assert_eq!(
            headers[1],
            (
                "ratelimit-policy".to_string(),
                "\"default\";q=1200;w=300".to_string()
            )
        );
    }
}
