//! Uncontended permits: openclaw's `TokenBucket` against governor's direct limiter, measured in
//! the same run. Both are given far more capacity than the benchmark can use, so every call
//! takes the grant-at-once path.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::num::NonZeroU32;

use criterion::{criterion_group, criterion_main, Criterion};
use governor::{Quota, RateLimiter};
use openclaw_core::limiter::TokenBucket;

fn uncontended(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("uncontended_acquire");

    let rate = NonZeroU32::new(u32::MAX).unwrap();
    let governor = RateLimiter::direct(Quota::per_second(rate));
    group.bench_function("governor_direct_until_ready", |b| {
        b.to_async(&rt)
            .iter(|| async { governor.until_ready().await });
    });
    group.bench_function("governor_direct_check", |b| {
        b.iter(|| governor.check().is_ok());
    });

    let bucket = TokenBucket::new(u32::MAX, 1e12).unwrap();
    group.bench_function("token_bucket_acquire", |b| {
        b.to_async(&rt)
            .iter(|| async { bucket.acquire(1).await.unwrap() });
    });
    group.bench_function("token_bucket_try_acquire", |b| {
        b.iter(|| bucket.try_acquire(1));
    });
    group.finish();

    // What one grant cannot avoid: reading a monotonic clock. governor reads the TSC through
    // quanta; the token bucket reads tokio's clock (std's `Instant`), so that it follows
    // tokio's paused clock in tests.
    let mut clocks = c.benchmark_group("clock_read");
    clocks.bench_function("tokio_instant_now", |b| b.iter(tokio::time::Instant::now));
    let quanta = quanta::Clock::new();
    clocks.bench_function("quanta_now", |b| b.iter(|| quanta.now()));
    clocks.finish();
}

criterion_group!(benches, uncontended);
criterion_main!(benches);
