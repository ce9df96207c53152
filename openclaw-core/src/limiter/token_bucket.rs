//! A first-come first-served token bucket on `tokio::time`.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::ports::{RateLimitObservation, RateLimiter};

/// The longest single sleep of a waiter. A waiter re-checks after every sleep anyway, so the
/// cap costs nothing and keeps instant arithmetic far away from overflow for tiny rates.
const MAX_SLEEP: Duration = Duration::from_secs(3600);

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
    state: Mutex<State>,
    // # Why a fair async mutex as the queue
    // tokio's `Mutex` hands the lock to waiters strictly in the order they asked, and a
    // waiter that is dropped leaves the queue. The head of the queue holds the lock while it
    // sleeps until its permits exist, so later waiters (big or small) cannot overtake it, and
    // `try_acquire` can see that someone is queued by failing `try_lock`. Permits are only
    // taken after the sleep, so a waiter dropped at any point has taken nothing.
    queue: tokio::sync::Mutex<()>,
}

/// The bucket's accounting, kept lazily: `tokens` is what the bucket held at `stamp`, and the
/// refill since then is computed when needed.
///
/// # Why lazy
/// Storing a refilled value on every check would round away tiny refills over and over on a
/// very slow bucket; computing from the last change keeps the refill exact.
#[derive(Debug)]
struct State {
    tokens: f64,
    stamp: Instant,
    paused_until: Option<Instant>,
}

impl State {
    fn tokens_at(&self, now: Instant, capacity: u32, rate: f64) -> f64 {
        let elapsed = now.saturating_duration_since(self.stamp).as_secs_f64();
        (self.tokens + elapsed * rate).min(f64::from(capacity))
    }

    fn pause_until(&mut self, until: Instant) {
        // A shorter pause never shortens a longer one: the provider's stricter word wins.
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
    }
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
        TokenBucket {
            capacity,
            refill_per_second,
            state: Mutex::new(State {
                tokens: f64::from(capacity),
                stamp: Instant::now(),
                paused_until: None,
            }),
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
        self.lock_state()
            .tokens_at(Instant::now(), self.capacity, self.refill_per_second)
    }

    /// Waits until `n` permits are granted.
    ///
    /// Waiters are served in the order they called, so a large request is never starved by
    /// smaller ones that came later. Cancel-safe: dropping the future before it completes
    /// takes no permit. Asking for more than [`capacity`](TokenBucket::capacity) is
    /// `InvalidInput` (it could never be granted); asking for 0 returns at once.
    pub async fn acquire(&self, n: u32) -> Result<()> {
        self.check_request(n)?;
        if n == 0 {
            return Ok(());
        }
        let _turn = self.queue.lock().await;
        loop {
            match self.take_or_wait(n, Instant::now()) {
                None => return Ok(()),
                // Re-checking after the sleep matters: `observe` may have lowered the tokens
                // or paused grants while this waiter slept.
                Some(ready_at) => tokio::time::sleep_until(ready_at).await,
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
        if n > self.capacity {
            return false;
        }
        let Ok(_turn) = self.queue.try_lock() else {
            return false;
        };
        self.take_or_wait(n, Instant::now()).is_none()
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
        let now = Instant::now();
        let mut state = self.lock_state();
        let mut tokens = state.tokens_at(now, self.capacity, self.refill_per_second);
        if let Some(remaining) = observation.remaining {
            tokens = tokens.min(f64::from(remaining));
        }
        if let Some(retry_after) = observation.retry_after {
            tokens = 0.0;
            state.pause_until(later(now, retry_after));
        }
        if observation.remaining == Some(0) {
            if let Some(reset_after) = observation.reset_after {
                state.pause_until(later(now, reset_after));
            }
        }
        state.tokens = tokens;
        state.stamp = now;
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

    /// Takes `n` permits and returns `None`, or returns when they could next be available.
    /// The caller must hold the queue lock.
    fn take_or_wait(&self, n: u32, now: Instant) -> Option<Instant> {
        let mut state = self.lock_state();
        let tokens = state.tokens_at(now, self.capacity, self.refill_per_second);
        let paused = state.paused_until.filter(|until| *until > now);
        let wanted = f64::from(n);
        if paused.is_none() && tokens >= wanted {
            state.tokens = tokens - wanted;
            state.stamp = now;
            state.paused_until = None;
            return None;
        }
        let refilled_at = later(now, self.time_to_refill(wanted - tokens));
        Some(paused.map_or(refilled_at, |until| until.max(refilled_at)))
    }

    /// How long until `deficit` more tokens exist, rounded up to whole nanoseconds so that a
    /// waiter that sleeps this long finds them (and at least 1 ns, so a waiter never spins
    /// without time passing).
    fn time_to_refill(&self, deficit: f64) -> Duration {
        if deficit <= 0.0 {
            return Duration::ZERO;
        }
        let nanos = (deficit / self.refill_per_second * 1e9).ceil();
        if !nanos.is_finite() || nanos >= MAX_SLEEP.as_nanos() as f64 {
            return MAX_SLEEP;
        }
        // In range by the check above, so the conversion neither truncates nor saturates.
        Duration::from_nanos((nanos as u64).max(1))
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // Every update of the state is a few assignments that cannot panic half-way, so a
        // poisoned lock still guards consistent numbers.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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
    fn refill_time_rounds_up_and_never_spins() {
        let bucket = TokenBucket::new(10, 3.5).unwrap();
        let wait = bucket.time_to_refill(1.0);
        assert!(wait.as_secs_f64() * 3.5 >= 1.0);
        assert_eq!(bucket.time_to_refill(1e-30), Duration::from_nanos(1));
        assert_eq!(bucket.time_to_refill(0.0), Duration::ZERO);
        let slow = TokenBucket::new(1, 1e-300).unwrap();
        assert_eq!(slow.time_to_refill(1.0), MAX_SLEEP);
    }

    #[test]
    fn absurd_pauses_do_not_overflow() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now);
    }
}
