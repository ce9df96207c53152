//! What the Redis test binaries share: where Redis is, and names no other test or run uses.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use openclaw_bus_redis::{RedisLimiterConfig, RedisRateLimiter};

/// `REDIS_URL`, or the local Redis `scripts/test` starts.
pub(crate) fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_string())
}

/// `<prefix>-<pid>-<nanos>-<n>`: a name no other test (or run) uses, for a key or deployment.
pub(crate) fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A limiter on the budget `key` of the Redis at [`redis_url`].
pub(crate) fn limiter(
    key: &str,
    capacity: u32,
    per_second: f64,
    replicas: u32,
) -> RedisRateLimiter {
    RedisRateLimiter::new(RedisLimiterConfig {
        url: redis_url(),
        key: key.to_string(),
        capacity,
        refill_per_second: per_second,
        replicas,
    })
    .unwrap()
}
