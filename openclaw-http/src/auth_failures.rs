//! Failed authentications per client address. A client that keeps sending bearer tokens that
//! name no key (or the wrong secret) runs out of its budget, and is then answered 429 before
//! its token is looked up at all — so guessing keys costs the store nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use openclaw_core::TokenBucket;
use tokio::time::Instant;

use crate::rate_limit::RateLimitConfig;

/// Budgets of failed authentications, by client address.
#[derive(Debug)]
pub struct AuthFailures {
    config: RateLimitConfig,
    clients: Mutex<HashMap<IpAddr, Client>>,
}

#[derive(Debug)]
struct Client {
    bucket: Arc<TokenBucket>,
    blocked_until: Option<Instant>,
}

/// Clients remembered at most; past that the oldest state is dropped wholesale (a flood
/// from many addresses then starts over, it never grows the map without bound).
const MAX_CLIENTS: usize = 100_000;

impl AuthFailures {
    /// `config.burst` failures per client, refilled at `config.per_second`.
    pub fn new(config: RateLimitConfig) -> Self {
        AuthFailures {
            config,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while `client` is over its budget: answer 429 without a look-up.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        let clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        match clients.get(&client).and_then(|c| c.blocked_until) {
            Some(until) if until > Instant::now() => Err(until - Instant::now()),
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication of `client`.
    pub fn record(&self, client: IpAddr) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(&client) {
            clients.clear();
        }
        let config = self.config;
        let entry = clients.entry(client).or_insert_with(|| Client {
            bucket: Arc::new(
                TokenBucket::new(config.burst, config.per_second)
                    .unwrap_or_else(|_| TokenBucket::hetzner()),
            ),
            blocked_until: None,
        });
        if !entry.bucket.try_acquire(1) {
            entry.blocked_until =
                Some(Instant::now() + Duration::from_secs_f64(1.0 / config.per_second));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_client_past_its_failures_waits_and_others_do_not() {
        let failures = AuthFailures::new(RateLimitConfig {
            burst: 3,
            per_second: 1.0,
        });
        let bad: IpAddr = "198.51.100.7".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let good: IpAddr = "198.51.100.8".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        for _ in 0..3 {
            assert!(failures.check(bad).is_ok());
            failures.record(bad);
        }
        assert!(
            failures.check(bad).is_ok(),
            "three failures are within the burst"
        );
        failures.record(bad);
        assert!(failures.check(bad).is_err(), "the fourth blocks");
        assert!(failures.check(good).is_ok());
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(failures.check(bad).is_ok(), "the budget refills");
    }
}
