//! A job's lease, as the worker running it sees it: what fences its writes, and the local
//! deadline past which it must stop.
//!
//! The store is the authority on who holds a job: it refuses writes and heartbeats of a
//! lease that was taken over or ran out by its own clock. A provider call cannot be refused
//! by the store, so the worker keeps a local deadline — the time of the last heartbeat it
//! *sent* that the store accepted, plus the lease, minus a margin — and every provider side
//! effect first checks that deadline and then renews the lease with the store. A worker that
//! stalls (a frozen process, a starved CPU, a heartbeat hung on a dead connection) therefore
//! finds, when it wakes, either its deadline passed or the store saying no, and does nothing
//! more.
//!
//! The guard of the running job is task-local ([`scope`]), so the fenced adapters and every
//! store write the engine makes while a job runs pick it up without being handed it.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::domain::Lease;
use crate::error::{Error, Result};
use crate::ports::Store;

tokio::task_local! {
    static CURRENT: Arc<LeaseGuard>;
}

/// The guard of the job running in this task, if any.
pub(crate) fn current() -> Option<Arc<LeaseGuard>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// The lease fencing writes made in this task, if a job runs in it.
pub(crate) fn current_fence() -> Option<Lease> {
    CURRENT.try_with(|guard| guard.lease()).ok()
}

/// Runs `work` with `guard` as the task's current lease.
pub(crate) async fn scope<F: Future>(guard: Arc<LeaseGuard>, work: F) -> F::Output {
    CURRENT.scope(guard, work).await
}

/// How a lease is kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LeaseTimings {
    /// Lease length, by the store's clock.
    pub(crate) lease: Duration,
    /// Time between heartbeats.
    pub(crate) heartbeat: Duration,
    /// Safety margin: the local deadline is this much before the lease would run out.
    pub(crate) margin: Duration,
}

/// One held lease.
pub(crate) struct LeaseGuard {
    store: Arc<dyn Store>,
    timings: LeaseTimings,
    state: Mutex<GuardState>,
}

impl std::fmt::Debug for LeaseGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseGuard")
            .field("lease", &self.lease())
            .field("timings", &self.timings)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy)]
struct GuardState {
    lease: Lease,
    /// Past this instant (tokio's monotonic clock) the worker assumes it lost the lease.
    deadline: Instant,
}

impl LeaseGuard {
    /// A guard for `lease`, which the store granted in answer to a request sent at
    /// `requested_at`.
    pub(crate) fn new(
        store: Arc<dyn Store>,
        lease: Lease,
        requested_at: Instant,
        timings: LeaseTimings,
    ) -> Self {
        LeaseGuard {
            store,
            timings,
            state: Mutex::new(GuardState {
                lease,
                deadline: Self::deadline_from(requested_at, timings),
            }),
        }
    }

    fn deadline_from(sent_at: Instant, timings: LeaseTimings) -> Instant {
        sent_at + timings.lease.saturating_sub(timings.margin)
    }

    fn state(&self) -> GuardState {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lease, as last renewed.
    pub(crate) fn lease(&self) -> Lease {
        self.state().lease
    }

    /// The local deadline.
    pub(crate) fn deadline(&self) -> Instant {
        self.state().deadline
    }

    /// `LeaseLost` if the local deadline has passed.
    pub(crate) fn check_local(&self) -> Result<()> {
        let state = self.state();
        if Instant::now() >= state.deadline {
            return Err(Error::lease_lost(
                state.lease.job_id,
                "the worker went past its lease without a heartbeat the store accepted",
            ));
        }
        Ok(())
    }

    /// Extends the lease with the store. Succeeds only if the store accepted it in time;
    /// `LeaseLost` when the store refused it or the local deadline passed meanwhile. Other
    /// store errors are returned as they are (the lease may still be held until the deadline).
    pub(crate) async fn renew(&self) -> Result<()> {
        self.check_local()?;
        let sent_at = Instant::now();
        let state = self.state();
        // A heartbeat that hangs (a dead connection) must not outlive the lease it renews.
        let limit = state
            .deadline
            .saturating_duration_since(sent_at)
            .min(self.timings.heartbeat);
        let lease_for = chrono::Duration::from_std(self.timings.lease)
            .map_err(|_| Error::invalid("workers.lease", "too long"))?;
        match tokio::time::timeout(limit, self.store.heartbeat_job(&state.lease, lease_for)).await {
            Err(_elapsed) => {
                self.check_local()?;
                // The store's trouble, not a provider's: retryable, never a rollback trigger.
                Err(Error::Store {
                    message: format!("heartbeat took longer than {}ms", limit.as_millis()),
                    retryable: true,
                })
            }
            Ok(Err(error)) => Err(error),
            Ok(Ok(renewed)) => {
                let mut guarded = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                guarded.lease = renewed;
                let deadline = Self::deadline_from(sent_at, self.timings);
                if deadline > guarded.deadline {
                    guarded.deadline = deadline;
                }
                drop(guarded);
                self.check_local()
            }
        }
    }

    /// What a provider side effect calls first: the local deadline has not passed and the
    /// store still says the lease is ours (extending it, so the call has a whole lease to
    /// finish in).
    /// When the store cannot be reached the lease cannot be confirmed, so the side effect
    /// does not start either (its error is returned as is; retrying may help).
    pub(crate) async fn ensure_live(&self) -> Result<()> {
        self.renew().await
    }

    /// Heartbeats every `heartbeat` until the lease is lost; returns the reason then. Never
    /// returns while the lease is held.
    pub(crate) async fn keep_alive(&self) -> Error {
        loop {
            let next = (Instant::now() + self.timings.heartbeat).min(self.deadline());
            tokio::time::sleep_until(next).await;
            match self.renew().await {
                Ok(()) => {}
                Err(error @ Error::LeaseLost { .. }) => return error,
                Err(error) => {
                    tracing::warn!(%error, "heartbeat failed; retrying until the local deadline");
                    if let Err(lost) = self.check_local() {
                        return lost;
                    }
                    // Try again soon, but never spin: a failed heartbeat waits a little.
                    let pause = (self.timings.heartbeat / 4).max(Duration::from_millis(50));
                    let until = (Instant::now() + pause).min(self.deadline());
                    tokio::time::sleep_until(until).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClaimRequest, CustomerId, InstanceId, JobKind, NewEvent, NewJob};
    use crate::domain::{Instance, InstanceStatus, PlanName, RegionName, Subdomain, ValidCreate};
    use crate::memory::InMemoryStore;
    use crate::ports::NewInstance;
    use crate::TokioClock;

    const TIMINGS: LeaseTimings = LeaseTimings {
        lease: Duration::from_secs(10),
        heartbeat: Duration::from_secs(3),
        margin: Duration::from_secs(2),
    };

    async fn claimed(store: &InMemoryStore) -> Lease {
        let now = crate::clock::Clock::now(&TokioClock::default());
        let request = ValidCreate {
            customer_id: CustomerId::parse("c").unwrap(),
            external_ref: None,
            subdomain: Subdomain::parse("lease-test").unwrap(),
            plan: PlanName::new("starter"),
            region: RegionName::new("eu-west"),
        };
        let instance = Instance::new(InstanceId::new(), request, "example.com", now);
        let event = NewEvent::status_changed(instance.id, None, InstanceStatus::Pending, "t", now);
        let job = NewJob::new(instance.id, JobKind::Provision, now, 3);
        store
            .insert_instance(&NewInstance::new(&instance, &event, Some(job)))
            .await
            .unwrap();
        let claim = ClaimRequest {
            worker: "w".into(),
            now,
            lease_for: chrono::Duration::seconds(10),
        };
        store
            .claim_job(&claim)
            .await
            .unwrap()
            .unwrap()
            .lease
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn the_local_deadline_is_the_lease_minus_the_margin_from_the_request() {
        let store = InMemoryStore::with_clock(Arc::new(TokioClock::default()));
        let sent = Instant::now();
        let lease = claimed(&store).await;
        let guard = LeaseGuard::new(Arc::new(store), lease, sent, TIMINGS);
        assert_eq!(guard.deadline(), sent + Duration::from_secs(8));
        tokio::time::advance(Duration::from_millis(7_999)).await;
        guard.check_local().unwrap();
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(matches!(guard.check_local(), Err(Error::LeaseLost { .. })));
        assert!(matches!(
            guard.ensure_live().await,
            Err(Error::LeaseLost { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn keep_alive_renews_until_the_store_says_no() {
        let store = InMemoryStore::with_clock(Arc::new(TokioClock::default()));
        let lease = claimed(&store).await;
        let guard = Arc::new(LeaseGuard::new(
            Arc::new(store.clone()),
            lease,
            Instant::now(),
            TIMINGS,
        ));
        let kept = tokio::spawn({
            let guard = Arc::clone(&guard);
            async move { guard.keep_alive().await }
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!kept.is_finished(), "a held lease was given up");
        guard.check_local().unwrap();
        // Another worker takes the job over: the next heartbeat is refused.
        store
            .faults()
            .fail_next("heartbeat_job", 1, Error::lease_lost(lease.job_id, "taken"));
        let lost = kept.await.unwrap();
        assert!(matches!(lost, Error::LeaseLost { .. }), "{lost:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_heartbeat_does_not_outlive_the_lease() {
        let store = InMemoryStore::with_clock(Arc::new(TokioClock::default()));
        let lease = claimed(&store).await;
        let guard = LeaseGuard::new(Arc::new(store.clone()), lease, Instant::now(), TIMINGS);
        store.faults().set_latency(Duration::from_secs(3_600));
        let started = Instant::now();
        let lost = guard.keep_alive().await;
        assert!(matches!(lost, Error::LeaseLost { .. }), "{lost:?}");
        assert!(
            started.elapsed() <= Duration::from_secs(8),
            "gave up after {:?}, past the local deadline",
            started.elapsed()
        );
    }
}
