//! The token bucket against its contract, on tokio's paused clock.

// Test helpers outside `#[test]` functions may fail loudly too; clippy only exempts the
// test functions themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_core::ports::{RateLimitObservation, RateLimiter};
use openclaw_core::{Error, TokenBucket};
use proptest::prelude::*;
use tokio::time::{sleep, timeout, Instant};

const MS: Duration = Duration::from_millis(1);

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// An empty bucket: `capacity` permits taken at once.
async fn drained(capacity: u32, rate: f64) -> Arc<TokenBucket> {
    let bucket = Arc::new(TokenBucket::new(capacity, rate).unwrap());
    bucket.acquire(capacity).await.unwrap();
    bucket
}

/// Spawns `acquire(n)` and returns when it was granted (as time since `start`).
fn spawn_acquire(
    bucket: &Arc<TokenBucket>,
    n: u32,
    start: Instant,
) -> tokio::task::JoinHandle<Duration> {
    let bucket = Arc::clone(bucket);
    tokio::spawn(async move {
        bucket.acquire(n).await.unwrap();
        start.elapsed()
    })
}

#[tokio::test(start_paused = true)]
async fn acquire_waits_exactly_as_long_as_the_refill_needs() {
    let start = Instant::now();
    let bucket = drained(10, 2.0).await;
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "a full bucket grants at once"
    );
    bucket.acquire(3).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(1500));
    // Half a token left over from nothing: 1 more needs exactly 0.5 s.
    bucket.acquire(1).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(2000));
    assert!(close(bucket.available(), 0.0));
}

#[tokio::test(start_paused = true)]
async fn a_big_waiter_queued_first_is_served_before_a_later_small_one() {
    let start = Instant::now();
    let bucket = drained(10, 1.0).await;
    let big = spawn_acquire(&bucket, 8, start);
    sleep(MS).await;
    let small = spawn_acquire(&bucket, 1, start);
    // Unfair: the small one would go at 1 s, and keep the big one waiting.
    assert_eq!(big.await.unwrap(), Duration::from_secs(8));
    assert_eq!(small.await.unwrap(), Duration::from_secs(9));
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_arrival_order() {
    let start = Instant::now();
    let bucket = drained(5, 1.0).await;
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for (i, n) in [3u32, 1, 5, 1, 2].into_iter().enumerate() {
        let (bucket, order) = (Arc::clone(&bucket), Arc::clone(&order));
        handles.push(tokio::spawn(async move {
            bucket.acquire(n).await.unwrap();
            order.lock().unwrap().push(i);
        }));
        sleep(MS).await;
    }
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    assert_eq!(start.elapsed(), Duration::from_secs(12));
}

#[tokio::test(start_paused = true)]
async fn try_acquire_never_overtakes_a_queued_waiter() {
    let start = Instant::now();
    let bucket = drained(10, 1.0).await;
    let waiter = spawn_acquire(&bucket, 5, start);
    sleep(Duration::from_secs(3)).await;
    assert!(
        bucket.available() >= 2.9,
        "tokens exist, but they are the waiter's"
    );
    assert!(!bucket.try_acquire(1));
    assert!(
        close(bucket.available(), 3.0),
        "a refused try takes nothing"
    );
    assert_eq!(waiter.await.unwrap(), Duration::from_secs(5));
    sleep(Duration::from_secs(1)).await;
    assert!(bucket.try_acquire(1), "nobody queued and a token there");
    assert!(!bucket.try_acquire(1));
}

#[tokio::test(start_paused = true)]
async fn try_acquire_takes_all_or_nothing() {
    let bucket = TokenBucket::new(4, 1.0).unwrap();
    assert!(bucket.try_acquire(3));
    assert!(!bucket.try_acquire(2));
    assert!(close(bucket.available(), 1.0));
    assert!(
        !bucket.try_acquire(5),
        "more than the capacity is never available"
    );
    assert!(bucket.try_acquire(0));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_takes_nothing() {
    let start = Instant::now();
    let bucket = drained(10, 1.0).await;
    assert!(timeout(Duration::from_secs(3), bucket.acquire(5))
        .await
        .is_err());
    assert!(
        close(bucket.available(), 3.0),
        "the timed-out waiter took nothing"
    );
    bucket.acquire(5).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_waiter_dropped_at_the_head_of_the_queue_lets_the_next_one_go() {
    let start = Instant::now();
    let bucket = drained(10, 1.0).await;
    let head = spawn_acquire(&bucket, 10, start);
    sleep(MS).await;
    let next = spawn_acquire(&bucket, 2, start);
    tokio::time::sleep_until(start + Duration::from_secs(1)).await;
    head.abort();
    assert!(head.await.unwrap_err().is_cancelled());
    assert_eq!(next.await.unwrap(), Duration::from_secs(2));
    assert!(close(bucket.available(), 0.0));
}

#[tokio::test(start_paused = true)]
async fn observe_lowers_the_tokens_and_never_raises_them() {
    let bucket = TokenBucket::new(10, 1.0).unwrap();
    bucket.observe(&RateLimitObservation {
        remaining: Some(3),
        ..Default::default()
    });
    assert!(close(bucket.available(), 3.0));
    bucket.observe(&RateLimitObservation {
        limit: Some(1000),
        remaining: Some(900),
        ..Default::default()
    });
    assert!(close(bucket.available(), 3.0));
    assert!(!bucket.try_acquire(4));
    assert!(bucket.try_acquire(3));
}

#[tokio::test(start_paused = true)]
async fn retry_after_pauses_every_grant() {
    let start = Instant::now();
    let bucket = Arc::new(TokenBucket::new(10, 1.0).unwrap());
    bucket.observe(&RateLimitObservation {
        retry_after: Some(Duration::from_secs(5)),
        ..Default::default()
    });
    assert!(!bucket.try_acquire(1));
    sleep(Duration::from_millis(4900)).await;
    assert!(bucket.available() > 4.0, "tokens refill during the pause");
    assert!(!bucket.try_acquire(1), "but none is granted before it ends");
    let waiter = spawn_acquire(&bucket, 1, start);
    assert_eq!(waiter.await.unwrap(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_429_empties_the_bucket() {
    let bucket = TokenBucket::new(10, 1.0).unwrap();
    bucket.observe(&RateLimitObservation {
        retry_after: Some(Duration::from_secs(2)),
        ..Default::default()
    });
    sleep(Duration::from_secs(2)).await;
    // The provider counted us as empty: only what refilled since is granted, not a full
    // bucket's burst.
    assert!(close(bucket.available(), 2.0));
    assert!(bucket.try_acquire(2));
    assert!(!bucket.try_acquire(1));
}

#[tokio::test(start_paused = true)]
async fn a_shorter_pause_does_not_cut_a_longer_one() {
    let start = Instant::now();
    let bucket = TokenBucket::new(10, 100.0).unwrap();
    for secs in [10, 1] {
        bucket.observe(&RateLimitObservation {
            retry_after: Some(Duration::from_secs(secs)),
            ..Default::default()
        });
    }
    bucket.acquire(1).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn nothing_remaining_with_a_reset_time_pauses_until_then() {
    let start = Instant::now();
    let bucket = TokenBucket::new(10, 100.0).unwrap();
    bucket.observe(&RateLimitObservation {
        remaining: Some(0),
        reset_after: Some(Duration::from_secs(30)),
        ..Default::default()
    });
    bucket.acquire(1).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    // A reset time with requests remaining is no reason to pause.
    bucket.observe(&RateLimitObservation {
        remaining: Some(5),
        reset_after: Some(Duration::from_secs(30)),
        ..Default::default()
    });
    assert!(bucket.try_acquire(1));
}

#[tokio::test(start_paused = true)]
async fn an_observation_while_waiting_delays_the_waiter() {
    let start = Instant::now();
    let bucket = drained(10, 1.0).await;
    let waiter = spawn_acquire(&bucket, 2, start);
    sleep(Duration::from_secs(1)).await;
    bucket.observe(&RateLimitObservation {
        remaining: Some(0),
        ..Default::default()
    });
    // It had 1 token at 1 s; the provider said 0, so it needs 2 more from then.
    assert_eq!(waiter.await.unwrap(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn more_than_the_capacity_is_invalid_input() {
    let bucket = TokenBucket::new(5, 1.0).unwrap();
    let err = bucket.acquire(6).await.unwrap_err();
    assert!(matches!(&err, Error::InvalidInput { field, .. } if field == "permits"));
    let limiter: Arc<dyn RateLimiter> = Arc::new(bucket);
    assert!(matches!(
        limiter.try_acquire(6).await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(limiter.try_acquire(5).await.unwrap());
    limiter.acquire(0).await.unwrap();
}

#[test]
fn construction_is_validated() {
    let field = |r: openclaw_core::Result<TokenBucket>| match r {
        Err(Error::InvalidInput { field, .. }) => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    };
    assert_eq!(field(TokenBucket::new(0, 1.0)), "capacity");
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(field(TokenBucket::new(1, rate)), "refill_per_second");
    }
}

#[tokio::test(start_paused = true)]
async fn provider_presets_stay_within_the_providers_limits() {
    let hetzner = TokenBucket::hetzner();
    assert_eq!(
        (hetzner.capacity(), hetzner.refill_per_second()),
        (3600, 1.0)
    );
    let cloudflare = TokenBucket::cloudflare();
    // Cloudflare: 1200 per 5 minutes, and exceeding it locks us out for 5 minutes. The most
    // the bucket can grant in any 5-minute window must stay below that.
    let worst_window = f64::from(cloudflare.capacity()) + cloudflare.refill_per_second() * 300.0;
    assert!(worst_window < 1200.0, "{worst_window}");
    assert!(close(
        cloudflare.available(),
        f64::from(cloudflare.capacity())
    ));
}

#[tokio::test(start_paused = true)]
async fn works_as_the_rate_limiter_port() {
    let start = Instant::now();
    let limiter: Arc<dyn RateLimiter> = Arc::new(TokenBucket::new(2, 1.0).unwrap());
    limiter.acquire(2).await.unwrap();
    assert!(!limiter.try_acquire(1).await.unwrap());
    limiter
        .observe(&RateLimitObservation {
            retry_after: Some(Duration::from_secs(4)),
            ..Default::default()
        })
        .await
        .unwrap();
    limiter.acquire(1).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(4));
}

/// One step of the property test: wait, then do something to the bucket.
#[derive(Debug, Clone)]
enum Step {
    Acquire(u32),
    /// An acquire given up after a while (dropped mid-wait).
    AcquireFor(u32, u64),
    TryAcquire(u32),
    Observe(RateLimitObservation),
}

fn step() -> impl Strategy<Value = Step> {
    let observation = (
        proptest::option::of(0u32..30),
        proptest::option::of(0u64..5_000),
        proptest::option::of(0u64..5_000),
    )
        .prop_map(|(remaining, retry_ms, reset_ms)| RateLimitObservation {
            limit: None,
            remaining,
            reset_after: reset_ms.map(Duration::from_millis),
            retry_after: retry_ms.map(Duration::from_millis),
        });
    prop_oneof![
        3 => (1u32..=20).prop_map(Step::Acquire),
        2 => ((1u32..=20), 0u64..3_000).prop_map(|(n, ms)| Step::AcquireFor(n, ms)),
        3 => (1u32..=20).prop_map(Step::TryAcquire),
        1 => observation.prop_map(Step::Observe),
    ]
}

/// Runs the steps on a paused clock and returns every grant as (time since start, permits).
fn run_steps(capacity: u32, rate: f64, steps: Vec<(u64, Step)>) -> Vec<(Duration, u32)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let start = Instant::now();
        let bucket = Arc::new(TokenBucket::new(capacity, rate).unwrap());
        let grants = Arc::new(Mutex::new(Vec::new()));
        let record = {
            let grants = Arc::clone(&grants);
            move |n: u32| grants.lock().unwrap().push((start.elapsed(), n))
        };
        let mut tasks = Vec::new();
        for (wait_ms, step) in steps {
            sleep(Duration::from_millis(wait_ms)).await;
            match step {
                Step::Acquire(n) => {
                    let (bucket, record) = (Arc::clone(&bucket), record.clone());
                    let n = n.min(capacity);
                    tasks.push(tokio::spawn(async move {
                        bucket.acquire(n).await.unwrap();
                        record(n);
                    }));
                }
                Step::AcquireFor(n, ms) => {
                    let (bucket, record) = (Arc::clone(&bucket), record.clone());
                    let n = n.min(capacity);
                    tasks.push(tokio::spawn(async move {
                        let wait = Duration::from_millis(ms);
                        if timeout(wait, bucket.acquire(n)).await.is_ok() {
                            record(n);
                        }
                    }));
                }
                Step::TryAcquire(n) => {
                    if bucket.try_acquire(n) {
                        record(n);
                    }
                }
                Step::Observe(observation) => bucket.observe(&observation),
            }
        }
        // Every waiter must be served eventually (a limiter that grants nothing would pass
        // the rate check below).
        let all = futures_util::future::join_all(tasks);
        timeout(Duration::from_secs(86_400), all)
            .await
            .expect("every waiter is served")
            .into_iter()
            .for_each(|joined| joined.unwrap());
        let grants = grants.lock().unwrap().clone();
        grants
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_grants_more_than_capacity_plus_rate_times_elapsed(
        capacity in 1u32..=20,
        rate in 0.1f64..20.0,
        steps in proptest::collection::vec((0u64..2_000, step()), 1..40),
    ) {
        let grants = run_steps(capacity, rate, steps);
        for i in 0..grants.len() {
            let mut granted = 0u64;
            for j in i..grants.len() {
                granted += u64::from(grants[j].1);
                let elapsed = (grants[j].0 - grants[i].0).as_secs_f64();
                let allowed = f64::from(capacity) + rate * elapsed;
                prop_assert!(
                    granted as f64 <= allowed + 1e-6,
                    "granted {} in {:?} (from grant {} to {}), allowed {}",
                    granted, grants[j].0 - grants[i].0, i, j, allowed
                );
            }
        }
    }
}
