//! `RedisRateLimiter` when Redis drops its connections (`CLIENT KILL`): it reconnects by
//! itself and the shared budget is used again. A test binary of its own, so that killing
//! every client connection cannot disturb the other tests (cargo runs test binaries one at a
//! time). Needs a Redis at `REDIS_URL`; never skips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use openclaw_bus_redis::{RedisLimiterConfig, RedisRateLimiter};
use openclaw_core::ports::RateLimiter;

fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_string())
}

fn limiter(key: &str, capacity: u32, per_second: f64, replicas: u32) -> RedisRateLimiter {
    RedisRateLimiter::new(RedisLimiterConfig {
        url: redis_url(),
        key: key.to_string(),
        capacity,
        refill_per_second: per_second,
        replicas,
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_comes_back_without_a_fallback() {
    let key = format!("openclaw:test-kill-{}:limit", std::process::id());
    let shared = limiter(&key, 100, 100.0, 2);
    assert!(shared.try_acquire(1).await.unwrap());
    // Kill every normal client connection, ours included.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let _: redis::Value = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query_async(&mut admin)
        .await
        .unwrap();
    let mut granted = 0;
    for _ in 0..20 {
        if shared.try_acquire(1).await.unwrap() {
            granted += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(granted >= 10, "{granted} granted after the kill");
    // Whatever the reconnect cost, the budget in Redis is used again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = shared.fallback_grants();
    assert!(shared.try_acquire(1).await.unwrap());
    assert_eq!(shared.fallback_grants(), before, "granted by Redis again");
    assert!(!shared.in_fallback());
}
