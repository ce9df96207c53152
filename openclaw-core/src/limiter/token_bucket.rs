//! A first-come first-served token bucket on `tokio::time`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::ports::{RateLimitObservation, RateLimiter};

/// How far ahead "forever" is when a provider asks for an absurd pause (the same horizon tokio
/// uses for its own far-future instants).
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// A token bucket: holds up to `capacity` permits and refills `refill_per_second` of them
/// continuously. It starts full.
///
/// - [`acquire`](TokenBucket::acquire) waits, first come first served: a waiter that asks for
///   many permits is never starved by later waiters that ask for few.
/// - Dropping a waiting `acquire` takes nothing.
/// - [`observe`](TokenBucket::observe) corrects the bucket from what the provider said, but
///   only ever downwards, so over any window of length `t` at most `capacity + rate × t`
///   permits are granted whatever the provider reports.
///
/// All time comes from `tokio::time::Instant`, so under `tokio::time::pause` the bucket
/// follows the paused clock. Share it as `Arc<TokenBucket>` (or `Arc<dyn RateLimiter>`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> openclaw_core::Result<()> {
/// use openclaw_core::TokenBucket;
///
/// let bucket = TokenBucket::new(2, 1.0)?;
/// bucket.acquire(2).await?; // the bucket starts full
/// assert!(!bucket.try_acquire(1)); // empty now
/// bucket.acquire(1).await?; // waits one second for the refill
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TokenBucket {
    capacity: u32,
    refill_per_second: f64,
    /// Nanoseconds per permit, rounded up so the bucket never refills faster than asked.
    interval: u64,
    /// `capacity × interval`: how far ahead of now the bucket may be booked.
    tolerance: u64,
    /// What `0` on the atomics below means.
    origin: Instant,
    // # Why one atomic instead of "tokens at a time stamp" under a lock
    // The bucket is kept as a theoretical arrival time (GCRA): the instant, in nanoseconds
    // after `origin`, at which the bucket would be full again if nothing else were taken.
    // Taking `n` permits at `now` moves it to `max(tat, now) + n × interval` and is allowed
    // while that stays within `tolerance` of now — the same accounting as a token bucket of
    // `capacity` refilled at the rate, but one compare-and-swap instead of two locks, so an
    // uncontended grant costs little more than reading the clock. Corrections only ever move
    // it forward (`fetch_max`), which is what keeps "never more than capacity + rate × t".
    tat: AtomicU64,
    /// Nothing is granted before this (nanoseconds after `origin`; 0 = not paused).
    paused_until: AtomicU64,
    /// Callers inside `acquire`'s slow path; the fast path stands back while any are there.
    queued: AtomicUsize,
    // # Why a fair async mutex as the queue
    // tokio's `Mutex` hands the lock to waiters strictly in the order they asked, and a
    // waiter that is dropped leaves the queue. The head of the queue holds the lock while it
    // sleeps until its permits exist, so later waiters (big or small) cannot overtake it.
    // Permits are only taken after the sleep, so a waiter dropped at any point has taken
    // nothing.
    queue: tokio::sync::Mutex<()>,
}

impl TokenBucket {
    /// A bucket holding up to `capacity` permits, refilled at `refill_per_second`.
    ///
    /// `InvalidInput` (field `capacity` or `refill_per_second`) if `capacity` is 0 or the rate
    /// is not a positive finite number.
    pub fn new(capacity: u32, refill_per_second: f64) -> Result<Self> {
        if capacity == 0 {
            return Err(Error::invalid("capacity", "must be at least 1"));
        }
        if !refill_per_second.is_finite() || refill_per_second <= 0.0 {
            return Err(Error::invalid(
                "refill_per_second",
                "must be a positive finite number",
            ));
        }
        Ok(Self::build(capacity, refill_per_second))
    }

    /// Hetzner Cloud's own limit: 3600 requests per project, refilled one per second.
    ///
    /// Hetzner's limit is itself a token bucket with these numbers, so mirroring it exactly
    /// loses nothing; the `RateLimit-Remaining` header (through
    /// [`observe`](TokenBucket::observe)) corrects the bucket when other clients of the same
    /// project spend from it too.
    pub fn hetzner() -> Self {
        Self::build(3600, 1.0)
    }

    /// Cloudflare: 100 permits, refilled 3.5 per second.
    ///
    /// Cloudflare allows 1200 requests per 5 minutes and blocks *every* call for 5 minutes
    /// once that is exceeded, so this bucket stays strictly below it rather than mirroring it:
    /// over any 5-minute window it grants at most 100 + 3.5 × 300 = 1150 permits, which
    /// leaves 50 requests for anything else using the same token (a person with `curl`, a
    /// second deployment). The steady rate (3.5/s, 1050 per 5 minutes) is 12.5 % below
    /// Cloudflare's, and a burst of 100 covers many DNS steps at once.
    pub fn cloudflare() -> Self {
        Self::build(100, 3.5)
    }

    fn build(capacity: u32, refill_per_second: f64) -> Self {
        let interval = (1e9 / refill_per_second).ceil();
        // A rate so slow that one permit takes longer than the clock can count is "never".
        let interval = if interval >= NEVER as f64 {
            NEVER
        } else {
            (interval as u64).max(1)
        };
        TokenBucket {
            capacity,
            refill_per_second,
            interval,
            tolerance: interval.saturating_mul(u64::from(capacity)),
            origin: Instant::now(),
            // Full: the bucket was "full again" at the origin.
            tat: AtomicU64::new(0),
            paused_until: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            queue: tokio::sync::Mutex::new(()),
        }
    }

    /// The most permits the bucket holds.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Permits added per second.
    pub fn refill_per_second(&self) -> f64 {
        self.refill_per_second
    }

    /// Permits in the bucket now, after refill. Grants may still be paused by
    /// [`observe`](TokenBucket::observe), and queued waiters come first.
    pub fn available(&self) -> f64 {
        let now = self.now();
        let booked = self.tat.load(Ordering::Acquire).saturating_sub(now);
        let free = self.tolerance.saturating_sub(booked);
        (free as f64 / self.interval as f64).min(f64::from(self.capacity))
    }

    /// Waits until `n` permits are granted.
    ///
    /// Waiters are served in the order they called, so a large request is never starved by
    /// smaller ones that came later. Cancel-safe: dropping the future before it completes
    /// takes no permit. Asking for more than [`capacity`](TokenBucket::capacity) is
    /// `InvalidInput` (it could never be granted); asking for 0 returns at once.
    pub async fn acquire(&self, n: u32) -> Result<()> {
        self.check_request(n)?;
        if n == 0 || self.try_acquire(n) {
            return Ok(());
        }
        let _queued = Queued::enter(&self.queued);
        let _turn = self.queue.lock().await;
        loop {
            match self.take_or_wait(n, self.now()) {
                None => return Ok(()),
                // Re-checking after the sleep matters: `observe` may have lowered the tokens
                // or paused grants while this waiter slept.
                Some(ready_at) => tokio::time::sleep_until(self.instant(ready_at)).await,
            }
        }
    }

    /// Takes `n` permits if they are available now and nobody is queued.
    ///
    /// Never overtakes a waiter already queued in [`acquire`](TokenBucket::acquire); takes
    /// nothing when it returns `false`. More than the capacity is simply `false`.
    pub fn try_acquire(&self, n: u32) -> bool {
        if n == 0 {
            return true;
        }
        if n > self.capacity || self.queued.load(Ordering::Acquire) > 0 {
            return false;
        }
        self.take_or_wait(n, self.now()).is_none()
    }

    /// Corrects the bucket from what the provider reported; it only ever lowers what will be
    /// granted.
    ///
    /// - `remaining`: the bucket keeps `min(tokens, remaining)`; it never raises its tokens
    ///   (the provider may count requests this bucket did not grant, never fewer).
    /// - `retry_after` (a 429): the provider counts us as empty, so the bucket empties, and
    ///   nothing is granted until `now + retry_after`.
    /// - `remaining == Some(0)` with `reset_after`: nothing is granted until
    ///   `now + reset_after`. That is right for a windowed limit (Cloudflare's `t=`). For a
    ///   provider that refills continuously, such as Hetzner, whose `RateLimit-Reset` is when
    ///   the budget is *fully* refilled, the adapter should pass the time until the next
    ///   request is allowed instead, or leave `reset_after` out.
    /// - `limit` is ignored: the configured rate is the ceiling.
    ///
    /// A pause never shortens an earlier, longer one.
    pub fn observe(&self, observation: &RateLimitObservation) {
        let now = self.now();
        let mut booked_until = None;
        if let Some(remaining) = observation.remaining {
            // At most `remaining` permits free: booked up to (capacity - remaining) × interval.
            let missing = u64::from(self.capacity.saturating_sub(remaining));
            booked_until = Some(now.saturating_add(missing.saturating_mul(self.interval)));
        }
        if let Some(retry_after) = observation.retry_after {
            booked_until = Some(now.saturating_add(self.tolerance));
            self.pause_until(now.saturating_add(nanos(retry_after)));
        }
        if observation.remaining == Some(0) {
            if let Some(reset_after) = observation.reset_after {
                self.pause_until(now.saturating_add(nanos(reset_after)));
            }
        }
        if let Some(until) = booked_until {
            self.tat.fetch_max(until, Ordering::AcqRel);
        }
    }

    fn pause_until(&self, until: u64) {
        // A shorter pause never shortens a longer one: the provider's stricter word wins.
        self.paused_until.fetch_max(until, Ordering::AcqRel);
    }

    fn check_request(&self, n: u32) -> Result<()> {
        if n > self.capacity {
            return Err(Error::invalid(
                "permits",
                format!(
                    "asked for {n} permits but the bucket holds at most {}",
                    self.capacity
                ),
            ));
        }
        Ok(())
    }

    /// Takes `n` permits and returns `None`, or returns when (nanoseconds after `origin`) they
    /// could next be available.
    fn take_or_wait(&self, n: u32, now: u64) -> Option<u64> {
        let paused = self.paused_until.load(Ordering::Acquire);
        let cost = u64::from(n).saturating_mul(self.interval);
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let next = tat.max(now).saturating_add(cost);
            // Allowed while the bucket is booked no further than `tolerance` ahead of now.
            let ready_at = next.saturating_sub(self.tolerance);
            if paused > now || ready_at > now {
                return Some(ready_at.max(paused).max(now.saturating_add(1)));
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return None,
                Err(current) => tat = current,
            }
        }
    }

    fn now(&self) -> u64 {
        nanos(self.origin.elapsed())
    }

    fn instant(&self, at: u64) -> Instant {
        later(self.origin, Duration::from_nanos(at))
    }
}

/// "Never" on the bucket's clock: far beyond any real pause (about 292 years), and small
/// enough that adding an interval to it cannot overflow.
const NEVER: u64 = u64::MAX / 2;

fn nanos(d: Duration) -> u64 {
    // Whole seconds and the rest in u64, rather than `as_nanos` through u128: this runs on
    // every grant.
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
        .min(NEVER)
}

/// Counts a caller in `acquire`'s slow path for as long as it is there (also when its future
/// is dropped while it waits).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Queued(count)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn later(now: Instant, after: Duration) -> Instant {
    now.checked_add(after)
        .unwrap_or_else(|| now + FAR_FUTURE.min(after))
}

#[async_trait]
impl RateLimiter for TokenBucket {
    async fn acquire(&self, permits: u32) -> Result<()> {
        TokenBucket::acquire(self, permits).await
    }

    /// Like [`TokenBucket::try_acquire`], but more permits than the capacity is
    /// `InvalidInput`, as the port's contract asks.
    async fn try_acquire(&self, permits: u32) -> Result<bool> {
        self.check_request(permits)?;
        Ok(TokenBucket::try_acquire(self, permits))
    }

    async fn observe(&self, observation: &RateLimitObservation) -> Result<()> {
        TokenBucket::observe(self, observation);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_rounds_up_so_the_rate_is_never_exceeded() {
        let bucket = TokenBucket::new(10, 3.5).unwrap();
        assert_eq!(bucket.interval, 285_714_286);
        assert!(1e9 / bucket.interval as f64 <= 3.5);
        assert_eq!(TokenBucket::new(1, 1e12).unwrap().interval, 1);
        let slow = TokenBucket::new(1, 1e-300).unwrap();
        assert_eq!(slow.interval, NEVER);
        assert_eq!(slow.tolerance, NEVER);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_never_spins_without_time_passing() {
        let bucket = TokenBucket::new(1, 1.0).unwrap();
        assert!(bucket.try_acquire(1));
        let now = bucket.now();
        let ready = bucket.take_or_wait(1, now).unwrap();
        assert!(ready > now);
    }

    #[test]
    fn absurd_pauses_do_not_overflow() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now);
        assert_eq!(nanos(Duration::MAX), NEVER);
    }
}
