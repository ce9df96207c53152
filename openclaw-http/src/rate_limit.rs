//! The API's own rate limit: one token bucket per API key, so one busy client cannot starve
//! the others (or the workers, which share the store).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use openclaw_core::TokenBucket;
use serde::{Deserialize, Serialize};

/// A bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests that may come at once.
    pub burst: u32,
    /// Requests refilled per second.
    pub per_second: f64,
}

impl RateLimitConfig {
    /// Checks the numbers; the error names `field`.
    pub fn validate(&self, field: &str) -> openclaw_core::Result<()> {
        if self.burst == 0 {
            return Err(openclaw_core::Error::invalid(
                format!("{field}.burst"),
                "must be at least 1",
            ));
        }
        if !self.per_second.is_finite() || self.per_second <= 0.0 {
            return Err(openclaw_core::Error::invalid(
                format!("{field}.per_second"),
                "must be a positive number",
            ));
        }
        Ok(())
    }
}

/// One bucket per key id, made on the key's first request.
#[derive(Debug)]
pub struct ApiRateLimits {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<String, Arc<TokenBucket>>>,
}

impl ApiRateLimits {
    /// Limits of `config` for every key.
    pub fn new(config: RateLimitConfig) -> Self {
        ApiRateLimits {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket, or says how long until one is there.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let bucket = {
            let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
            match buckets.get(key) {
                Some(bucket) => bucket.clone(),
                None => {
                    let bucket = Arc::new(
                        TokenBucket::new(self.config.burst, self.config.per_second)
                            // The config was validated; a bad one limits nothing rather
                            // than refusing every request.
                            .unwrap_or_else(|_| TokenBucket::hetzner()),
                    );
                    buckets.insert(key.to_string(), bucket.clone());
                    bucket
                }
            }
        };
        if bucket.try_acquire(1) {
            Ok(())
        } else {
            // The bucket refills continuously: one request is back after 1/rate seconds.
            Err(Duration::from_secs_f64(1.0 / self.config.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_key_has_its_own_bucket() {
        let limits = ApiRateLimits::new(RateLimitConfig {
            burst: 2,
            per_second: 0.5,
        });
        assert!(limits.check("a").is_ok());
        assert!(limits.check("a").is_ok());
        assert_eq!(limits.check("a"), Err(Duration::from_secs(2)));
        assert!(limits.check("b").is_ok());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(limits.check("a").is_ok());
    }

    #[test]
    fn bad_numbers_name_the_field() {
        let bad = RateLimitConfig {
            burst: 0,
            per_second: 1.0,
        };
        assert!(bad.validate("api.rate_limit").is_err());
    }
}
