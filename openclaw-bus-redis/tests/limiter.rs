//! `RedisRateLimiter` against a real Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`;
//! `scripts/test` starts one): core's rate limiter conformance suite, one budget shared by
//! several limiters as several replicas would hold it, and the fallback when Redis is away.
//! A Redis that cannot be reached fails these tests; they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openclaw_bus_redis::{RedisLimiterConfig, RedisRateLimiter};
use openclaw_core::ports::{RateLimitObservation, RateLimiter};

mod common;
use common::limiter;

/// A key no other test (or run) uses.
fn fresh_key() -> String {
    format!("openclaw:{}:limit", common::unique("test"))
}

fn redis_limiter(
    capacity: u32,
    per_second: f64,
) -> Pin<Box<dyn Future<Output = Arc<dyn RateLimiter>> + Send>> {
    Box::pin(async move {
        let made: Arc<dyn RateLimiter> = Arc::new(limiter(&fresh_key(), capacity, per_second, 1));
        made
    })
}

openclaw_core::rate_limiter_conformance_tests!(redis_limiter);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_budget_and_one_replicas_observation() {
    let key = fresh_key();
    let a = limiter(&key, 5, 0.5, 3);
    let b = limiter(&key, 5, 0.5, 3);
    assert!(a.try_acquire(3).await.unwrap());
    assert!(b.try_acquire(2).await.unwrap());
    assert!(!a.try_acquire(1).await.unwrap(), "the budget is one");
    assert!(!b.try_acquire(1).await.unwrap());
    assert_eq!(
        a.fallback_grants() + b.fallback_grants(),
        0,
        "Redis answered"
    );

    // A 429 seen by one replica holds back the other.
    let key = fresh_key();
    let a = limiter(&key, 10, 100.0, 2);
    let b = limiter(&key, 10, 100.0, 2);
    a.observe(&RateLimitObservation {
        retry_after: Some(Duration::from_millis(500)),
        ..RateLimitObservation::default()
    })
    .await
    .unwrap();
    assert!(!b.try_acquire(1).await.unwrap());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(b.try_acquire(1).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_each_replica_takes_its_share_and_says_so() {
    // Nothing listens on port 1.
    let away = RedisRateLimiter::new(RedisLimiterConfig {
        url: "redis://127.0.0.1:1".to_string(),
        key: fresh_key(),
        capacity: 9,
        refill_per_second: 0.3,
        replicas: 3,
    })
    .unwrap();
    // A provisioning does not fail: its share (9 / 3 = 3 at once) is granted locally.
    for _ in 0..3 {
        assert!(away.try_acquire(1).await.unwrap());
    }
    assert!(
        !away.try_acquire(1).await.unwrap(),
        "no more than its share"
    );
    assert_eq!(away.fallback_grants(), 3);
    assert!(away.in_fallback());
    away.acquire(0).await.unwrap();
}

#[test]
fn bad_configuration_is_refused_and_debug_hides_the_url() {
    let config = |url: &str, capacity, rate, replicas| RedisLimiterConfig {
        url: url.to_string(),
        key: "k".to_string(),
        capacity,
        refill_per_second: rate,
        replicas,
    };
    for bad in [
        config("redis://127.0.0.1:6379", 0, 1.0, 1),
        config("redis://127.0.0.1:6379", 1, 0.0, 1),
        config("redis://127.0.0.1:6379", 1, f64::NAN, 1),
        config("redis://127.0.0.1:6379", 1, 1.0, 0),
        config("not a url", 1, 1.0, 1),
    ] {
        assert!(matches!(
            RedisRateLimiter::new(bad),
            Err(openclaw_core::Error::InvalidInput { .. })
        ));
    }
    let with_password =
        RedisRateLimiter::new(config("redis://:hunter2@127.0.0.1:6379", 1, 1.0, 1)).unwrap();
    assert!(!format!("{with_password:?}").contains("hunter2"));
}
