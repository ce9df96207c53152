//! `RedisRateLimiter::acquire` (one Lua script call, granted at once) against its baseline
//! measured in the same run: a plain Redis `PING` round trip on a connection of the same
//! kind. The budget is far larger than the benchmark can use, so every call is granted.
//!
//! `cargo bench -p openclaw-bus-redis` against `REDIS_URL` (default the local test server).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use openclaw_bus_redis::{RedisLimiterConfig, RedisRateLimiter};
use openclaw_core::ports::RateLimiter;

fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_string())
}

fn acquire_vs_ping(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("redis_round_trip");

    let mut connection = rt.block_on(async {
        redis::Client::open(redis_url())
            .unwrap()
            .get_connection_manager()
            .await
            .unwrap()
    });
    group.bench_function("ping", |b| {
        b.to_async(&rt).iter(|| {
            let mut connection = connection.clone();
            async move {
                let _: String = redis::cmd("PING")
                    .query_async(&mut connection)
                    .await
                    .unwrap();
            }
        });
    });

    let limiter = RedisRateLimiter::new(RedisLimiterConfig {
        url: redis_url(),
        key: format!("openclaw:bench-{}:limit", std::process::id()),
        capacity: 1_000_000_000,
        refill_per_second: 1e9,
        replicas: 1,
    })
    .unwrap();
    group.bench_function("redis_rate_limiter_acquire", |b| {
        b.to_async(&rt)
            .iter(|| async { limiter.acquire(1).await.unwrap() });
    });
    group.finish();
    assert_eq!(limiter.fallback_grants(), 0, "every grant came from Redis");
    let deleted: i64 = rt.block_on(async {
        redis::cmd("DEL")
            .arg(format!("openclaw:bench-{}:limit", std::process::id()))
            .query_async(&mut connection)
            .await
            .unwrap()
    });
    assert_eq!(deleted, 1, "the benchmark's budget was in Redis");
}

criterion_group!(benches, acquire_vs_ping);
criterion_main!(benches);
