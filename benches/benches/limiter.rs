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
}

criterion_group!(benches, uncontended);
criterion_main!(benches);
