//! Running an operation under a retry policy and a retry budget.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{RetryBudget, RetryDecision, RetryPolicy};
use crate::error::{Error, ErrorClass, Result};

/// Runs operations under a [`RetryPolicy`], a shared [`RetryBudget`] and a seeded RNG.
///
/// Clones share the budget and the random source. Waits use `tokio::time::sleep`, so tests
/// on tokio's paused clock run instantly and see exactly the waits.
///
/// When it gives up after at least one retry, the result is
/// [`Error::RetriesExhausted`] carrying the last error; an error that ends the very first
/// attempt (a permanent one, or any error when the budget is spent) is returned unchanged.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::sync::Arc;
/// use openclaw_core::{Error, Retrier, RetryBudget, RetryPolicy};
///
/// let retrier = Retrier::new("hetzner", RetryPolicy::default(), Arc::new(RetryBudget::default()))
///     .with_seed(7);
/// let mut calls = 0;
/// let result = retrier
///     .run("get_server", || {
///         calls += 1;
///         let outcome = if calls < 3 { Err(Error::unavailable("hetzner", "502")) } else { Ok(calls) };
///         async move { outcome }
///     })
///     .await;
/// assert_eq!(result.unwrap(), 3);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Retrier {
    provider: Arc<str>,
    policy: RetryPolicy,
    budget: Arc<RetryBudget>,
    rng: Arc<Mutex<StdRng>>,
}

/// What the retry loop has spent so far.
#[derive(Debug, Clone, Copy, Default)]
struct Spent {
    /// Calls that failed (creates, and look-ups that returned an error).
    attempts: u32,
    slept: Duration,
}

impl Retrier {
    /// A retrier for `provider` (named in log lines), with an RNG seeded from the OS.
    pub fn new(provider: &str, policy: RetryPolicy, budget: Arc<RetryBudget>) -> Self {
        Retrier {
            provider: Arc::from(provider),
            policy,
            budget,
            rng: Arc::new(Mutex::new(StdRng::from_os_rng())),
        }
    }

    /// The same retrier with its jitter drawn from an RNG seeded with `seed`, so the waits are
    /// the same on every run.
    #[must_use]
    pub fn with_seed(self, seed: u64) -> Self {
        Retrier {
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(seed))),
            ..self
        }
    }

    /// The policy it follows.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Runs an idempotent operation until it succeeds or the policy, the deadline or the
    /// budget says stop.
    ///
    /// An [`Ambiguous`](ErrorClass::Ambiguous) error is retried like a retryable one: the
    /// operation is idempotent, so repeating it is safe whether or not the first call took
    /// effect.
    pub async fn run<T, F, Fut>(&self, operation: &str, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.budget.deposit();
        let mut spent = Spent::default();
        loop {
            let error = match op().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            spent.attempts += 1;
            match self.next_step(operation, &error, spent) {
                Step::Wait { after, .. } => self.sleep(&mut spent, after).await,
                Step::Stop => return Err(exhausted(spent, error)),
            }
        }
    }

    /// Runs a create: like [`run`](Retrier::run), but after an
    /// [`Ambiguous`](ErrorClass::Ambiguous) error (the create may or may not have happened) it
    /// never creates again blindly. It waits the backoff, then calls `lookup`: `Some(found)`
    /// is the result, without another create; `None` means the create did not happen, and it
    /// creates again at once.
    ///
    /// # Why wait before the look-up rather than after it
    /// A create whose response was lost may still be in flight at the provider. Waiting
    /// first gives it time to become visible, and creating right after a `None` leaves the
    /// shortest window for it to appear unseen.
    ///
    /// A look-up that fails counts as a failed attempt under the same rules (a permanent
    /// look-up error gives up); until a look-up answers, the next call is a look-up again.
    pub async fn run_with_lookup<T, F, Fut, L, LFut>(
        &self,
        operation: &str,
        mut op: F,
        mut lookup: L,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
        L: FnMut() -> LFut,
        LFut: Future<Output = Result<Option<T>>>,
    {
        self.budget.deposit();
        let mut spent = Spent::default();
        let mut must_look_up = false;
        loop {
            let error = if must_look_up {
                match lookup().await {
                    Ok(Some(found)) => {
                        tracing::debug!(
                            provider = %self.provider,
                            operation,
                            attempt = spent.attempts,
                            "found what the ambiguous call created"
                        );
                        return Ok(found);
                    }
                    Ok(None) => {
                        must_look_up = false;
                        continue;
                    }
                    Err(error) => error,
                }
            } else {
                match op().await {
                    Ok(value) => return Ok(value),
                    Err(error) => error,
                }
            };
            spent.attempts += 1;
            match self.next_step(operation, &error, spent) {
                Step::Wait { after, look_up } => {
                    // Once a call may have taken effect, only a look-up can clear that up:
                    // a failed look-up (whatever its class) leads to another look-up.
                    must_look_up |= look_up;
                    self.sleep(&mut spent, after).await;
                }
                Step::Stop => return Err(exhausted(spent, error)),
            }
        }
    }

    /// Decides what follows a failed attempt and pays for a retry from the budget.
    fn next_step(&self, operation: &str, error: &Error, spent: Spent) -> Step {
        let decision = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            self.policy
                .decide(error, spent.attempts, spent.slept, &mut *rng)
        };
        let (after, look_up) = match decision {
            RetryDecision::Retry { after } => (after, false),
            RetryDecision::LookUpThenRetry { after } => (after, true),
            RetryDecision::GiveUp => {
                self.log_give_up(operation, error, spent, "the policy says stop");
                return Step::Stop;
            }
        };
        if !self.budget.try_withdraw() {
            self.log_give_up(operation, error, spent, "the retry budget is spent");
            return Step::Stop;
        }
        tracing::debug!(
            provider = %self.provider,
            operation,
            attempt = spent.attempts,
            delay_ms = millis(after),
            look_up,
            error = %error,
            "retrying"
        );
        Step::Wait { after, look_up }
    }

    async fn sleep(&self, spent: &mut Spent, after: Duration) {
        tokio::time::sleep(after).await;
        spent.slept = spent.slept.saturating_add(after);
    }

    fn log_give_up(&self, operation: &str, error: &Error, spent: Spent, why: &str) {
        if spent.attempts <= 1 && error.class() == ErrorClass::Permanent {
            // Not a retry problem: the caller decides what a permanent error means.
            tracing::debug!(
                provider = %self.provider,
                operation,
                attempt = spent.attempts,
                error = %error,
                "permanent error, not retried"
            );
        } else {
            tracing::warn!(
                provider = %self.provider,
                operation,
                attempt = spent.attempts,
                slept_ms = millis(spent.slept),
                error = %error,
                "giving up: {why}"
            );
        }
    }
}

/// What the loop does next.
enum Step {
    Wait { after: Duration, look_up: bool },
    Stop,
}

fn exhausted(spent: Spent, last: Error) -> Error {
    if spent.attempts <= 1 {
        last
    } else {
        Error::RetriesExhausted {
            attempts: spent.attempts,
            last: Box::new(last),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
