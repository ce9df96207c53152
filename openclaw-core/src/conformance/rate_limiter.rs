//! The [`RateLimiter`] contract as checks, on the wall clock (a limiter kept elsewhere — in
//! Redis — keeps its own time, so a paused tokio clock cannot drive it). Each check takes a
//! factory that makes a fresh limiter of a given capacity and rate; margins are generous, so
//! a slow machine fails none of them while a limiter that breaks the contract fails.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::ports::{RateLimitObservation, RateLimiter};

/// Makes a fresh limiter holding `capacity` permits, refilled at `per_second`, starting full.
pub type LimiterFactory =
    fn(u32, f64) -> Pin<Box<dyn Future<Output = Arc<dyn RateLimiter>> + Send>>;

/// It starts full: `capacity` permits at once, then none.
pub async fn starts_full_then_refuses(make: LimiterFactory) {
    let limiter = make(5, 0.5).await;
    assert!(limiter.try_acquire(5).await.unwrap());
    assert!(!limiter.try_acquire(1).await.unwrap());
    assert!(
        limiter.try_acquire(0).await.unwrap(),
        "nothing is always there"
    );
}

/// More than the capacity can never be granted: `InvalidInput` (from `acquire` and
/// `try_acquire` alike), not a wait forever.
pub async fn more_than_the_capacity_is_invalid(make: LimiterFactory) {
    let limiter = make(3, 1.0).await;
    assert!(matches!(
        limiter.acquire(4).await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        limiter.try_acquire(4).await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(
        limiter.try_acquire(3).await.unwrap(),
        "the refusal took nothing"
    );
}

/// `acquire` waits for the refill, about one interval per permit, and no longer than needed.
pub async fn acquire_waits_for_the_refill(make: LimiterFactory) {
    let limiter = make(2, 10.0).await;
    assert!(limiter.try_acquire(2).await.unwrap());
    let started = Instant::now();
    limiter.acquire(1).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(70),
        "granted after {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(3),
        "granted only after {waited:?}"
    );
}

/// `remaining` lowers the permits available, and never raises them.
pub async fn observations_lower_and_never_raise(make: LimiterFactory) {
    let limiter = make(10, 0.5).await;
    let remaining = |n| RateLimitObservation {
        remaining: Some(n),
        ..RateLimitObservation::default()
    };
    limiter.observe(&remaining(2)).await.unwrap();
    assert!(limiter.try_acquire(2).await.unwrap());
    assert!(!limiter.try_acquire(1).await.unwrap());
    limiter.observe(&remaining(10)).await.unwrap();
    assert!(
        !limiter.try_acquire(1).await.unwrap(),
        "a provider saying more is left never raises the permits"
    );
}

/// A `retry_after` pauses every grant until it has passed.
pub async fn retry_after_pauses_every_grant(make: LimiterFactory) {
    let limiter = make(10, 100.0).await;
    limiter
        .observe(&RateLimitObservation {
            retry_after: Some(Duration::from_millis(400)),
            ..RateLimitObservation::default()
        })
        .await
        .unwrap();
    assert!(!limiter.try_acquire(1).await.unwrap());
    let started = Instant::now();
    limiter.acquire(1).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "granted after {waited:?}"
    );
}

/// Over a window of length `t`, at most `capacity + rate × t` permits, however many callers
/// ask at once.
pub async fn never_more_than_capacity_plus_rate_times_t(make: LimiterFactory) {
    let (capacity, rate) = (5, 40.0);
    let limiter = make(capacity, rate).await;
    let granted = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let window = Duration::from_millis(600);
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let limiter = Arc::clone(&limiter);
            let granted = Arc::clone(&granted);
            tokio::spawn(async move {
                while started.elapsed() < window {
                    if limiter.try_acquire(1).await.unwrap() {
                        granted.fetch_add(1, Ordering::Relaxed);
                    } else {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let granted = f64::from(granted.load(Ordering::Relaxed));
    let bound = f64::from(capacity) + rate * elapsed;
    assert!(
        granted <= bound + 1.0,
        "{granted} granted, at most {bound:.1}"
    );
    assert!(
        granted >= f64::from(capacity),
        "{granted} granted: not even the burst"
    );
}

/// Dropping a waiting `acquire` takes nothing.
pub async fn a_dropped_acquire_takes_nothing(make: LimiterFactory) {
    let limiter = make(1, 4.0).await;
    assert!(limiter.try_acquire(1).await.unwrap());
    let gave_up = tokio::time::timeout(Duration::from_millis(50), limiter.acquire(1)).await;
    assert!(gave_up.is_err(), "no permit yet");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        limiter.try_acquire(1).await.unwrap(),
        "the refilled permit is still there"
    );
}
