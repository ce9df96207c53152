//! The API's own rate limit: one token bucket per API key, so one busy client cannot starve
//! the others (or the workers, which share the store).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use openclaw_core::ports::RateLimiter;
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

/// One budget per key id, made on the key's first request: this process's own token bucket,
/// or, with Redis, a budget every replica shares (`openclaw:<deployment>:limit:api:<key id>`).
pub struct ApiRateLimits {
    config: RateLimitConfig,
    /// With Redis: the limiter each key's budget is made from (sharing its connection).
    shared: Option<openclaw_bus_redis::RedisRateLimiter>,
    buckets: Mutex<HashMap<String, Arc<dyn RateLimiter>>>,
}

impl std::fmt::Debug for ApiRateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRateLimits")
            .field("config", &self.config)
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl ApiRateLimits {
    /// Limits of `config` for every key, kept in this process.
    pub fn new(config: RateLimitConfig) -> Self {
        ApiRateLimits {
            config,
            shared: None,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Limits of `config` for every key, shared by every replica through the Redis at `url`
    /// (each replica falls back to `1/replicas` of a key's budget while Redis is away).
    pub fn in_redis(
        config: RateLimitConfig,
        url: &str,
        deployment: &str,
        replicas: u32,
    ) -> openclaw_core::Result<Self> {
        let template =
            openclaw_bus_redis::RedisRateLimiter::new(openclaw_bus_redis::RedisLimiterConfig {
                url: url.to_string(),
                key: openclaw_bus_redis::RedisKeys::for_deployment(deployment).limit("api"),
                capacity: config.burst,
                refill_per_second: config.per_second,
                replicas,
            })?;
        Ok(ApiRateLimits {
            config,
            shared: Some(template),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    fn limiter(&self, key: &str) -> Arc<dyn RateLimiter> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(limiter) = buckets.get(key) {
            return limiter.clone();
        }
        let limiter: Arc<dyn RateLimiter> = match &self.shared {
            Some(template) => Arc::new(template.for_key(format!("{}:{key}", template.key()))),
            None => Arc::new(
                TokenBucket::new(self.config.burst, self.config.per_second)
                    // The config was validated; a bad one limits nothing rather than
                    // refusing every request.
                    .unwrap_or_else(|_| TokenBucket::hetzner()),
            ),
        };
        buckets.insert(key.to_string(), limiter.clone());
        limiter
    }

    /// Takes one request from `key`'s budget, or says how long until one is there.
    pub async fn check(&self, key: &str) -> Result<(), Duration> {
        // A limiter that cannot answer (it never fails for one permit) lets the request by.
        if self.limiter(key).try_acquire(1).await.unwrap_or(true) {
            Ok(())
        } else {
            // The budget refills continuously: one request is back after 1/rate seconds.
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
        assert!(limits.check("a").await.is_ok());
        assert!(limits.check("a").await.is_ok());
        assert_eq!(limits.check("a").await, Err(Duration::from_secs(2)));
        assert!(limits.check("b").await.is_ok());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(limits.check("a").await.is_ok());
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
