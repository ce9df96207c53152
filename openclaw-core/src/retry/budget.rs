//! A retry budget per provider, so an outage does not become a retry storm.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;

use crate::error::{Error, Result};

/// Tokens that pay for retries, shared (as `Arc<RetryBudget>`) by every caller of one
/// provider.
///
/// Every first attempt [`deposit`](RetryBudget::deposit)s `ratio` tokens and every retry
/// [`try_withdraw`](RetryBudget::try_withdraw)s one, so retries stay at most about `ratio`
/// of the calls; a floor of `min_per_second` tokens per second keeps a quiet system able to
/// retry. The budget holds at most `max_tokens` and starts full.
///
/// # Why
/// Backoff spreads the retries of one call over time but does not reduce them: when a
/// provider is down, every call still makes all its attempts, multiplying the load exactly
/// when the provider can least take it. With a budget, retries stop once they would exceed
/// the share, and calls fail fast until the provider recovers.
///
/// Time comes from `tokio::time::Instant`.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    min_per_second: f64,
    max_tokens: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    stamp: Instant,
}

impl RetryBudget {
    /// A budget that earns `ratio` tokens per first attempt and `min_per_second` per second,
    /// holding at most `max_tokens`.
    ///
    /// `InvalidInput` (field `ratio`, `min_per_second` or `max_tokens`) unless `ratio` and
    /// `min_per_second` are finite and not negative and `max_tokens` is finite and at least 1
    /// (a retry costs one token).
    pub fn new(ratio: f64, min_per_second: f64, max_tokens: f64) -> Result<Self> {
        if !ratio.is_finite() || ratio < 0.0 {
            return Err(Error::invalid("ratio", "must be a finite number >= 0"));
        }
        if !min_per_second.is_finite() || min_per_second < 0.0 {
            return Err(Error::invalid(
                "min_per_second",
                "must be a finite number >= 0",
            ));
        }
        if !max_tokens.is_finite() || max_tokens < 1.0 {
            return Err(Error::invalid("max_tokens", "must be a finite number >= 1"));
        }
        Ok(RetryBudget {
            ratio,
            min_per_second,
            max_tokens,
            state: Mutex::new(State {
                tokens: max_tokens,
                stamp: Instant::now(),
            }),
        })
    }

    /// Records a first attempt: adds `ratio` tokens.
    pub fn deposit(&self) {
        let now = Instant::now();
        let mut state = self.lock_state();
        let tokens = self.tokens_at(&state, now);
        state.tokens = (tokens + self.ratio).min(self.max_tokens);
        state.stamp = now;
    }

    /// Takes the token for one retry; `false` (taking nothing) when the budget is spent.
    pub fn try_withdraw(&self) -> bool {
        let now = Instant::now();
        let mut state = self.lock_state();
        let tokens = self.tokens_at(&state, now);
        if tokens < 1.0 {
            return false;
        }
        state.tokens = tokens - 1.0;
        state.stamp = now;
        true
    }

    /// Tokens in the budget now.
    pub fn available(&self) -> f64 {
        let state = self.lock_state();
        self.tokens_at(&state, Instant::now())
    }

    fn tokens_at(&self, state: &State, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(state.stamp).as_secs_f64();
        (state.tokens + elapsed * self.min_per_second).min(self.max_tokens)
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // Updates are plain assignments that cannot panic half-way; a poisoned lock still
        // guards consistent numbers.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for RetryBudget {
    /// Retries up to 20 % of first attempts, at least one per second, at most 20 banked.
    fn default() -> Self {
        RetryBudget {
            ratio: 0.2,
            min_per_second: 1.0,
            max_tokens: 20.0,
            state: Mutex::new(State {
                tokens: 20.0,
                stamp: Instant::now(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rejects_nonsense() {
        assert!(RetryBudget::new(-0.1, 1.0, 10.0).is_err());
        assert!(RetryBudget::new(f64::NAN, 1.0, 10.0).is_err());
        assert!(RetryBudget::new(0.2, f64::INFINITY, 10.0).is_err());
        assert!(RetryBudget::new(0.2, 1.0, 0.5).is_err());
        assert!(RetryBudget::new(0.0, 0.0, 1.0).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn deposits_and_time_refill_withdrawals_up_to_the_cap() {
        let budget = RetryBudget::new(0.5, 0.1, 3.0).unwrap();
        assert!(budget.try_withdraw() && budget.try_withdraw() && budget.try_withdraw());
        assert!(!budget.try_withdraw());
        budget.deposit();
        assert!(!budget.try_withdraw(), "half a token pays for nothing");
        budget.deposit();
        assert!(budget.try_withdraw());
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!((budget.available() - 1.0).abs() < 1e-9);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!((budget.available() - 3.0).abs() < 1e-9);
        for _ in 0..100 {
            budget.deposit();
        }
        assert!((budget.available() - 3.0).abs() < 1e-9);
    }
}
