//! Fault injection shared by the in-memory providers: scripted failures, lost responses,
//! latency and seeded random faults, so tests can reproduce what real providers do to us.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::{Error, Result};

/// One injected fault.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The call fails with this error before it has any effect.
    Fail(Error),
    /// The call has its effect, then returns [`Error::Ambiguous`] as if the response had been
    /// lost on the way back (a timeout after the request was sent).
    LoseResponse,
}

/// Faults drawn at random on every operation, from a seeded generator so a failing run can
/// be replayed exactly.
#[derive(Debug, Clone)]
pub struct RandomFaults {
    /// Seed of the generator.
    pub seed: u64,
    /// Probability (0–1) that a call fails before any effect.
    pub failure_rate: f64,
    /// Probability (0–1) that a call that did not fail loses its response.
    pub lost_response_rate: f64,
    /// The errors failures pick from, uniformly. When empty, failures are
    /// [`Error::Unavailable`].
    pub errors: Vec<Error>,
}

/// Decides, per call, whether an in-memory provider fails, loses its response, or is slow.
///
/// Scripted faults ([`fail_next`](Self::fail_next), [`lose_next_responses`](Self::lose_next_responses))
/// are consumed first, in order, per operation; random faults apply only to calls no script
/// covers. Every call is counted, failed ones included.
#[derive(Debug, Default)]
pub struct FaultInjector {
    state: Mutex<FaultState>,
}

#[derive(Debug, Default)]
struct FaultState {
    scripted: HashMap<String, VecDeque<Fault>>,
    random: Option<(RandomFaults, StdRng)>,
    latency: Duration,
    calls: HashMap<String, u64>,
    total_calls: u64,
}

impl FaultInjector {
    /// A fault injector that injects nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next `n` calls of `op` fail with `error`, before any effect.
    pub fn fail_next(&self, op: &str, n: usize, error: Error) {
        self.script(op, std::iter::repeat_n(Fault::Fail(error), n));
    }

    /// Makes the next `n` calls of `op` take effect and then return [`Error::Ambiguous`].
    pub fn lose_next_responses(&self, op: &str, n: usize) {
        self.script(op, std::iter::repeat_n(Fault::LoseResponse, n));
    }

    /// Appends `faults` to the script of `op`: the next calls of `op` get them, in order.
    pub fn script(&self, op: &str, faults: impl IntoIterator<Item = Fault>) {
        self.lock()
            .scripted
            .entry(op.to_string())
            .or_default()
            .extend(faults);
    }

    /// Delays every call by `latency` (on tokio's clock, so paused-clock tests stay fast).
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Turns seeded random faults on (or off with `None`). Setting them again restarts the
    /// generator from the seed.
    pub fn set_random(&self, random: Option<RandomFaults>) {
        self.lock().random = random.map(|r| {
            let rng = StdRng::seed_from_u64(r.seed);
            (r, rng)
        });
    }

    /// Removes scripted faults, random faults and latency. Call counters are kept.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.scripted.clear();
        state.random = None;
        state.latency = Duration::ZERO;
    }

    /// How many calls of `op` were made, failed ones included.
    pub fn calls(&self, op: &str) -> u64 {
        self.lock().calls.get(op).copied().unwrap_or(0)
    }

    /// How many calls were made, all operations together.
    pub fn total_calls(&self) -> u64 {
        self.lock().total_calls
    }

    /// Called by an adapter at the start of `op`: waits out the latency, then decides.
    /// `Err(e)`: fail now, without effect. `Ok(true)`: do the effect, then answer with
    /// [`Error::Ambiguous`]. `Ok(false)`: behave normally.
    ///
    /// The decision is made after the latency so that a call cancelled while it waits (a
    /// worker dropped mid-step) neither takes effect nor uses up a scripted fault.
    pub async fn before(&self, op: &'static str) -> Result<bool> {
        let latency = {
            let mut state = self.lock();
            *state.calls.entry(op.to_string()).or_default() += 1;
            state.total_calls += 1;
            state.latency
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match self.lock().next_fault(op) {
            None => Ok(false),
            Some(Fault::LoseResponse) => Ok(true),
            Some(Fault::Fail(error)) => Err(error),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        // A panic while holding this lock cannot leave the state half-written (every update
        // is a single assignment), so a poisoned lock is still good to use.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FaultState {
    fn next_fault(&mut self, op: &str) -> Option<Fault> {
        if let Some(fault) = self.scripted.get_mut(op).and_then(VecDeque::pop_front) {
            return Some(fault);
        }
        let (random, rng) = self.random.as_mut()?;
        let draw: f64 = rng.random();
        if draw < random.failure_rate {
            let error = if random.errors.is_empty() {
                Error::unavailable("memory", format!("injected failure of {op}"))
            } else {
                random.errors[rng.random_range(0..random.errors.len())].clone()
            };
            Some(Fault::Fail(error))
        } else if draw < random.failure_rate + random.lost_response_rate {
            Some(Fault::LoseResponse)
        } else {
            None
        }
    }
}

/// The error an adapter returns when [`FaultInjector::before`] said to lose the response.
pub(crate) fn lost_response(op: &str) -> Error {
    Error::ambiguous(op, "response lost (injected fault)")
}

/// Turns the outcome of an effect into what the caller sees: the outcome itself, or
/// [`Error::Ambiguous`] when the response is to be lost.
pub(crate) fn respond<T>(op: &str, lose: bool, outcome: Result<T>) -> Result<T> {
    if lose {
        Err(lost_response(op))
    } else {
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;

    fn random(seed: u64) -> RandomFaults {
        RandomFaults {
            seed,
            failure_rate: 0.3,
            lost_response_rate: 0.2,
            errors: vec![
                Error::unavailable("hetzner", "502"),
                Error::RateLimited {
                    provider: "hetzner".into(),
                    retry_after: None,
                },
            ],
        }
    }

    async fn outcomes(faults: &FaultInjector, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(match faults.before("create_server").await {
                Ok(lose) => format!("ok lose={lose}"),
                Err(e) => e.code().to_string(),
            });
        }
        out
    }

    #[tokio::test]
    async fn nothing_is_injected_by_default() {
        let faults = FaultInjector::new();
        assert!(!faults.before("get_server").await.unwrap());
        assert_eq!(faults.calls("get_server"), 1);
        assert_eq!(faults.calls("create_server"), 0);
    }

    #[tokio::test]
    async fn scripted_faults_come_in_order_per_operation() {
        let faults = FaultInjector::new();
        faults.fail_next("create_server", 2, Error::unavailable("hetzner", "503"));
        faults.lose_next_responses("create_server", 1);
        faults.lose_next_responses("delete_server", 1);
        assert_eq!(
            outcomes(&faults, 4).await,
            [
                "unavailable",
                "unavailable",
                "ok lose=true",
                "ok lose=false"
            ]
        );
        assert!(faults.before("delete_server").await.unwrap());
        assert!(!faults.before("delete_server").await.unwrap());
        assert_eq!(faults.calls("create_server"), 4);
        assert_eq!(faults.calls("delete_server"), 2);
        assert_eq!(faults.total_calls(), 6);
    }

    #[tokio::test]
    async fn scripted_faults_take_precedence_over_random_ones() {
        let faults = FaultInjector::new();
        faults.set_random(Some(RandomFaults {
            failure_rate: 1.0,
            ..random(1)
        }));
        faults.lose_next_responses("create_server", 1);
        assert!(faults.before("create_server").await.unwrap());
        assert!(faults.before("create_server").await.is_err());
    }

    #[tokio::test]
    async fn seeded_randomness_is_reproducible() {
        let a = FaultInjector::new();
        a.set_random(Some(random(42)));
        let b = FaultInjector::new();
        b.set_random(Some(random(42)));
        let first = outcomes(&a, 200).await;
        assert_eq!(first, outcomes(&b, 200).await);
        // Every kind of outcome shows up at these rates.
        for kind in [
            "ok lose=true",
            "ok lose=false",
            "unavailable",
            "rate_limited",
        ] {
            assert!(first.iter().any(|o| o == kind), "{kind} never drawn");
        }
        let c = FaultInjector::new();
        c.set_random(Some(random(43)));
        assert_ne!(first, outcomes(&c, 200).await);
        // Setting the same faults again replays the same sequence.
        a.set_random(Some(random(42)));
        assert_eq!(first, outcomes(&a, 200).await);
    }

    #[tokio::test]
    async fn random_failures_without_errors_are_unavailable() {
        let faults = FaultInjector::new();
        faults.set_random(Some(RandomFaults {
            seed: 7,
            failure_rate: 1.0,
            lost_response_rate: 0.0,
            errors: Vec::new(),
        }));
        let err = faults.before("power_on").await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::Retryable);
    }

    #[tokio::test(start_paused = true)]
    async fn latency_delays_every_call_and_clear_removes_it() {
        let faults = FaultInjector::new();
        faults.set_latency(Duration::from_millis(250));
        faults.fail_next("list_owned", 1, Error::unavailable("x", "y"));
        let start = tokio::time::Instant::now();
        assert!(faults.before("list_owned").await.is_err());
        assert_eq!(start.elapsed(), Duration::from_millis(250));
        faults.clear();
        let start = tokio::time::Instant::now();
        assert!(!faults.before("list_owned").await.unwrap());
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(faults.calls("list_owned"), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_cancelled_during_latency_keeps_its_scripted_fault_for_the_next() {
        let faults = FaultInjector::new();
        faults.set_latency(Duration::from_secs(1));
        faults.lose_next_responses("create_server", 1);
        let cancelled =
            tokio::time::timeout(Duration::from_millis(10), faults.before("create_server")).await;
        assert!(cancelled.is_err());
        assert!(faults.before("create_server").await.unwrap());
        assert_eq!(faults.calls("create_server"), 2);
    }

    #[test]
    fn lost_responses_are_ambiguous() {
        let e = respond::<()>("create_server", true, Ok(())).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Ambiguous);
        assert!(respond("x", false, Ok(3)).is_ok());
    }
}
