//! [`RedisRateLimiter`]: one provider budget for every replica, kept in Redis.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use openclaw_core::ports::{RateLimitObservation, RateLimiter};
use openclaw_core::{Error, Result, TokenBucket};

use crate::connection::{RedisLink, REDIS_TIMEOUT, RETRY_REDIS_AFTER};
use crate::scripts;

/// How a [`RedisRateLimiter`] is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisLimiterConfig {
    /// `redis://host:port[/db]`.
    pub url: String,
    /// The budget's key in Redis, one per provider and deployment
    /// (`openclaw:<deployment>:limit:hetzner`).
    pub key: String,
    /// Permits the budget holds (the burst).
    pub capacity: u32,
    /// Permits added per second.
    pub refill_per_second: f64,
    /// How many replicas share the budget: without Redis each takes `1/replicas` of it.
    pub replicas: u32,
}

/// A [`RateLimiter`] whose budget lives in Redis and is shared by every process that names
/// the same key.
///
/// - Grants follow GCRA in one Lua script on Redis's clock (`TIME`), so over any window `t`
///   all replicas together get at most `capacity + rate × t`.
/// - [`acquire`](RateLimiter::acquire) waits first come first served among this process's
///   callers (a fair queue, as [`TokenBucket`]'s); a dropped waiter takes nothing.
/// - [`observe`](RateLimiter::observe) lowers the shared budget the way it lowers a
///   `TokenBucket`: one replica seeing `RateLimit-Remaining: 0` or a `Retry-After` holds back
///   every replica.
/// - When Redis does not answer within 500 ms, grants come from a local bucket at
///   `1/replicas` of the rate (logged, counted in [`fallback_grants`](Self::fallback_grants));
///   Redis is asked again a second later, so the limiter comes back by itself.
pub struct RedisRateLimiter {
    key: String,
    capacity: u32,
    refill_per_second: f64,
    replicas: u32,
    /// Microseconds per permit, rounded up so the budget never refills faster than asked.
    interval_us: u64,
    /// `capacity × interval_us`.
    tolerance_us: u64,
    /// The connection and its failure memory, shared with the limiters made by
    /// [`for_key`](Self::for_key): Redis failing for one is failing for all.
    link: Arc<RedisLink>,
    take: redis::Script,
    observe: redis::Script,
    fallback: TokenBucket,
    fallback_grants: AtomicU64,
    /// Callers waiting in `acquire`; `try_acquire` never overtakes them.
    queued: AtomicUsize,
    queue: tokio::sync::Mutex<()>,
}

impl fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: only the key and the figures.
        f.debug_struct("RedisRateLimiter")
            .field("key", &self.key)
            .field("capacity", &self.capacity)
            .field("interval_us", &self.interval_us)
            .field("fallback_grants", &self.fallback_grants())
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// A limiter on the budget `config.key`. Connects lazily: Redis need not be up yet
    /// (grants come from the local bucket until it is). `InvalidInput` for a capacity of 0,
    /// a rate that is not positive and finite, 0 replicas, or a URL the client refuses.
    pub fn new(config: RedisLimiterConfig) -> Result<Self> {
        if config.replicas == 0 {
            return Err(Error::invalid("replicas", "must be at least 1"));
        }
        redis::Client::open(config.url.as_str())
            .map_err(|e| Error::invalid("redis_url", format!("is not a Redis URL: {e}")))?;
        let share = f64::from(config.replicas);
        let fallback = TokenBucket::new(
            (config.capacity / config.replicas).max(1),
            config.refill_per_second / share,
        )?;
        // Validates capacity and rate the same way the local bucket does.
        TokenBucket::new(config.capacity, config.refill_per_second)?;
        let interval_us = (1e6 / config.refill_per_second).ceil();
        let interval_us = if interval_us.is_finite() && interval_us >= 1.0 {
            format!("{interval_us:.0}")
                .parse::<u64>()
                .unwrap_or(u64::MAX / 4)
        } else {
            1
        };
        Ok(RedisRateLimiter {
            link: Arc::new(RedisLink::new(
                config.url,
                "rate limits fall back to this replica's share",
                "rate limits are shared again",
            )),
            key: config.key,
            capacity: config.capacity,
            refill_per_second: config.refill_per_second,
            replicas: config.replicas,
            interval_us,
            tolerance_us: interval_us.saturating_mul(u64::from(config.capacity)),
            take: scripts::take(),
            observe: scripts::observe(),
            fallback,
            fallback_grants: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            queue: tokio::sync::Mutex::new(()),
        })
    }

    /// A limiter with the same figures on the budget `key`, sharing this one's connection
    /// (one budget per API key, say, without a connection each).
    pub fn for_key(&self, key: impl Into<String>) -> Self {
        let share = f64::from(self.replicas);
        let fallback = TokenBucket::new(
            (self.capacity / self.replicas).max(1),
            self.refill_per_second / share,
        )
        // The same figures were accepted by `new`.
        .unwrap_or_else(|_| TokenBucket::hetzner());
        RedisRateLimiter {
            key: key.into(),
            capacity: self.capacity,
            refill_per_second: self.refill_per_second,
            replicas: self.replicas,
            interval_us: self.interval_us,
            tolerance_us: self.tolerance_us,
            link: Arc::clone(&self.link),
            take: scripts::take(),
            observe: scripts::observe(),
            fallback,
            fallback_grants: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            queue: tokio::sync::Mutex::new(()),
        }
    }

    /// The budget's key in Redis.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Grants made by the local bucket while Redis did not answer.
    pub fn fallback_grants(&self) -> u64 {
        self.fallback_grants.load(Ordering::Relaxed)
    }

    /// Whether the limiter is using its local bucket now (Redis failed within the last
    /// second).
    pub fn in_fallback(&self) -> bool {
        self.link.is_down()
    }

    fn check_request(&self, n: u32) -> Result<()> {
        if n > self.capacity {
            return Err(Error::invalid(
                "permits",
                format!(
                    "asked for {n} permits but the budget holds at most {}",
                    self.capacity
                ),
            ));
        }
        Ok(())
    }

    /// Runs the take script: `Some(None)` granted, `Some(Some(wait))` not yet, `None` when
    /// Redis did not answer.
    async fn take_in_redis(&self, n: u32) -> Option<Option<Duration>> {
        let mut connection = self.link.connection().await?;
        let answer = tokio::time::timeout(
            REDIS_TIMEOUT,
            self.take
                .key(&self.key)
                .arg(n)
                .arg(self.interval_us)
                .arg(self.tolerance_us)
                .invoke_async::<Vec<String>>(&mut connection),
        )
        .await;
        match answer {
            Ok(Ok(figures)) => {
                self.link.answered();
                match figures.as_slice() {
                    [granted, _] if granted == "1" => Some(None),
                    [_, wait] => {
                        let wait = wait.parse::<u64>().unwrap_or(1).max(1);
                        Some(Some(Duration::from_micros(wait)))
                    }
                    _ => {
                        self.link
                            .failed("the take script answered in an unknown shape");
                        None
                    }
                }
            }
            Ok(Err(e)) => {
                self.link.failed(&e.to_string());
                None
            }
            Err(_) => {
                self.link.failed("the take script timed out");
                None
            }
        }
    }

    fn fallback_granted(&self) {
        self.fallback_grants.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts a waiter in `acquire` for as long as it waits.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Queued(counter)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A duration as whole microseconds for a script argument (-1 for none).
fn micros(value: Option<Duration>) -> i64 {
    value.map_or(-1, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 4))
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn acquire(&self, permits: u32) -> Result<()> {
        self.check_request(permits)?;
        if permits == 0 {
            return Ok(());
        }
        // Nobody waiting here: one round trip, no queue.
        if self.queued.load(Ordering::Acquire) == 0 {
            match self.take_in_redis(permits).await {
                Some(None) => return Ok(()),
                Some(Some(_)) => {}
                None => {
                    if self.fallback.try_acquire(permits) {
                        self.fallback_granted();
                        return Ok(());
                    }
                }
            }
        }
        let _queued = Queued::enter(&self.queued);
        let _turn = self.queue.lock().await;
        loop {
            match self.take_in_redis(permits).await {
                Some(None) => return Ok(()),
                Some(Some(wait)) => tokio::time::sleep(wait).await,
                None => {
                    // Redis is away: this replica's share, until Redis answers again.
                    if self.fallback.try_acquire(permits) {
                        self.fallback_granted();
                        return Ok(());
                    }
                    tokio::time::sleep(RETRY_REDIS_AFTER.min(Duration::from_millis(50))).await;
                }
            }
        }
    }

    async fn try_acquire(&self, permits: u32) -> Result<bool> {
        self.check_request(permits)?;
        if permits == 0 {
            return Ok(true);
        }
        if self.queued.load(Ordering::Acquire) > 0 {
            return Ok(false);
        }
        match self.take_in_redis(permits).await {
            Some(granted) => Ok(granted.is_none()),
            None => {
                let granted = self.fallback.try_acquire(permits);
                if granted {
                    self.fallback_granted();
                }
                Ok(granted)
            }
        }
    }

    async fn observe(&self, observation: &RateLimitObservation) -> Result<()> {
        // The local share follows too, so a fallback starts from what the provider said.
        self.fallback.observe(observation);
        let Some(mut connection) = self.link.connection().await else {
            return Ok(());
        };
        let remaining = observation.remaining.map_or(-1, i64::from);
        let answer = tokio::time::timeout(
            REDIS_TIMEOUT,
            self.observe
                .key(&self.key)
                .arg(remaining)
                .arg(micros(observation.retry_after))
                .arg(micros(observation.reset_after))
                .arg(self.interval_us)
                .arg(self.tolerance_us)
                .arg(self.capacity)
                .invoke_async::<String>(&mut connection),
        )
        .await;
        match answer {
            Ok(Ok(_)) => self.link.answered(),
            Ok(Err(e)) => self.link.failed(&e.to_string()),
            Err(_) => self.link.failed("the observe script timed out"),
        }
        Ok(())
    }
}
