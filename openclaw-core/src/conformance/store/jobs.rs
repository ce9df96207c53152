//! Store checks of the job queue: ordering, leases, fencing, attempts and dead letters.
//! Jobs are claimed at explicit times, so no check waits for a lease to run out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{created, customer, join, now, sample_instance};
use crate::domain::{
    ClaimRequest, Instance, InstanceId, Job, JobFilter, JobKind, JobState, Lease, NewJob,
};
use crate::error::Error;
use crate::ports::{NewInstance, Store};

const LEASE: i64 = 30;

fn claim_at(worker: &str, at: DateTime<Utc>) -> ClaimRequest {
    ClaimRequest {
        worker: worker.to_string(),
        now: at,
        lease_for: Duration::seconds(LEASE),
    }
}

async fn claim(store: &Arc<dyn Store>, worker: &str, at: DateTime<Utc>) -> Option<Job> {
    store.claim_job(&claim_at(worker, at)).await.unwrap()
}

/// A new instance with its first job, runnable from `run_at`.
async fn instance_with_job(
    store: &Arc<dyn Store>,
    run_at: DateTime<Utc>,
    max_attempts: u32,
) -> (Instance, NewJob) {
    let instance = sample_instance(&customer(), None);
    let job = NewJob::new(instance.id, JobKind::Provision, run_at, max_attempts);
    store
        .insert_instance(&NewInstance::new(
            &instance,
            &created(&instance),
            Some(job.clone()),
        ))
        .await
        .unwrap();
    (instance, job)
}

async fn job(store: &Arc<dyn Store>, id: crate::domain::JobId) -> Job {
    store.get_job(id).await.unwrap().expect("job exists")
}

fn lease_of(job: &Job) -> Lease {
    job.lease
        .unwrap_or_else(|| panic!("a claimed job carries its lease: {job:?}"))
}

fn assert_fenced<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match result {
        Err(Error::Conflict { .. }) => {}
        other => {
            panic!("{what} with a lease that was taken over: expected Conflict, got {other:?}")
        }
    }
}

/// Claims take the job with the oldest `run_at` first, and count one attempt.
pub async fn claim_oldest_run_at_first(store: Arc<dyn Store>) {
    let t = now();
    let (_, middle) = instance_with_job(&store, t - Duration::seconds(2), 3).await;
    let (_, newest) = instance_with_job(&store, t - Duration::seconds(1), 3).await;
    let (_, oldest) = instance_with_job(&store, t - Duration::seconds(3), 3).await;
    let mut order = Vec::new();
    while let Some(job) = claim(&store, "w", t).await {
        assert_eq!(job.attempts, 1);
        assert_eq!(job.state, JobState::Running);
        assert_eq!(job.worker.as_deref(), Some("w"));
        let lease = lease_of(&job);
        assert_eq!(lease.job_id, job.id);
        assert_eq!(lease.expires_at, t + Duration::seconds(LEASE));
        order.push(job.id);
        assert!(order.len() <= 3, "a running job was claimed again");
    }
    assert_eq!(order, vec![oldest.id, middle.id, newest.id]);
}

/// A job whose `run_at` is in the future cannot be claimed before it.
pub async fn future_jobs_not_claimable(store: Arc<dyn Store>) {
    let t = now();
    let (_, later) = instance_with_job(&store, t + Duration::seconds(60), 3).await;
    assert!(claim(&store, "w", t).await.is_none());
    assert!(claim(&store, "w", t + Duration::seconds(59))
        .await
        .is_none());
    let claimed = claim(&store, "w", t + Duration::seconds(60)).await;
    assert_eq!(claimed.map(|j| j.id), Some(later.id));
}

/// Eight workers claim forty jobs concurrently: every job is claimed exactly once, with
/// one attempt, and ends done.
pub async fn concurrent_claims_never_share_a_job(store: Arc<dyn Store>) {
    const JOBS: usize = 40;
    const WORKERS: usize = 8;
    let t = now();
    let mut ids = BTreeSet::new();
    for _ in 0..JOBS {
        ids.insert(instance_with_job(&store, t, 3).await.1.id);
    }
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let name = format!("worker-{w}");
                let mut claimed = Vec::new();
                while let Some(job) = claim(&store, &name, t).await {
                    claimed.push(job.id);
                    store.complete_job(&lease_of(&job), t).await.unwrap();
                }
                claimed
            })
        })
        .collect();
    let mut claims: BTreeMap<_, usize> = BTreeMap::new();
    for worker in workers {
        for id in join(worker).await {
            *claims.entry(id).or_default() += 1;
        }
    }
    let twice: Vec<_> = claims.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "jobs claimed more than once: {twice:?}");
    assert_eq!(claims.keys().copied().collect::<BTreeSet<_>>(), ids);
    for id in ids {
        let job = job(&store, id).await;
        assert_eq!((job.state, job.attempts), (JobState::Done, 1), "{job:?}");
    }
}

/// While one job of an instance runs, no other job of that instance is claimed.
pub async fn one_running_job_per_instance(store: Arc<dyn Store>) {
    let t = now();
    let (instance, first) = instance_with_job(&store, t - Duration::seconds(2), 3).await;
    let second = NewJob::new(instance.id, JobKind::Suspend, t - Duration::seconds(1), 3);
    store.enqueue_job(&second).await.unwrap();
    let running = claim(&store, "w1", t).await.expect("first job");
    assert_eq!(running.id, first.id);
    assert!(
        claim(&store, "w2", t).await.is_none(),
        "a second job of an instance with a running job was claimed"
    );
    store.complete_job(&lease_of(&running), t).await.unwrap();
    let next = claim(&store, "w2", t)
        .await
        .expect("second job after the first is done");
    assert_eq!(next.id, second.id);
}

/// A job whose lease ran out, with another job of its instance queued: whatever a claim
/// then returns, the old worker cannot make two jobs of the instance run under live leases
/// by heartbeating its stale lease.
pub async fn expired_lease_keeps_instance_exclusive(store: Arc<dyn Store>) {
    let t = now();
    let (instance, first) = instance_with_job(&store, t, 3).await;
    let stale = lease_of(&claim(&store, "old", t).await.expect("first job"));
    // Older than the running job, so a claim that ignored the running job would pick it.
    let other = NewJob::new(
        instance.id,
        JobKind::Terminate,
        t - Duration::seconds(60),
        3,
    );
    store.enqueue_job(&other).await.unwrap();
    let later = t + Duration::seconds(2 * LEASE);
    let claimed = claim(&store, "new", later)
        .await
        .expect("a job of the instance");
    assert!(claimed.id == first.id || claimed.id == other.id);
    let _ = store
        .heartbeat_job(&stale, later + Duration::seconds(10 * LEASE))
        .await;
    let live: Vec<_> = store
        .list_jobs(&JobFilter {
            instance_id: Some(instance.id),
            ..JobFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.state == JobState::Running && j.lease.is_some_and(|l| l.expires_at > later))
        .collect();
    assert_eq!(
        live.len(),
        1,
        "jobs of one instance running under live leases: {live:?}"
    );
}

/// A heartbeat moves the lease's expiry; the extended lease is not rescued.
pub async fn heartbeat_extends_lease(store: Arc<dyn Store>) {
    let t = now();
    let (_, queued) = instance_with_job(&store, t, 3).await;
    let lease = lease_of(&claim(&store, "w", t).await.unwrap());
    let until = t + Duration::seconds(4 * LEASE);
    let extended = store.heartbeat_job(&lease, until).await.unwrap();
    assert_eq!(extended.expires_at, until);
    assert_eq!(
        (extended.job_id, extended.token),
        (lease.job_id, lease.token)
    );
    assert!(
        claim(&store, "thief", t + Duration::seconds(2 * LEASE))
            .await
            .is_none(),
        "a job under an extended lease was rescued"
    );
    assert_eq!(job(&store, queued.id).await.lease, Some(extended));
    store
        .complete_job(&extended, t + Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(job(&store, queued.id).await.state, JobState::Done);
}

/// A job whose lease ran out is claimed again with a new lease and its attempt counted; the
/// old lease is fenced off (`Conflict`) for every call.
pub async fn expired_lease_is_rescued_and_fenced(store: Arc<dyn Store>) {
    let t = now();
    let (_, queued) = instance_with_job(&store, t, 3).await;
    let first = claim(&store, "w1", t).await.unwrap();
    assert!(claim(&store, "w2", t + Duration::seconds(LEASE - 1))
        .await
        .is_none());
    let rescue_at = t + Duration::seconds(LEASE + 1);
    let second = claim(&store, "w2", rescue_at)
        .await
        .expect("expired lease rescued");
    assert_eq!(second.id, queued.id);
    assert_eq!(second.attempts, 2, "a rescue counts an attempt");
    assert_eq!(second.worker.as_deref(), Some("w2"));
    let (old, new) = (lease_of(&first), lease_of(&second));
    assert_ne!(old.token, new.token, "every claim gets a fresh lease token");
    assert_eq!(job(&store, queued.id).await.lease, Some(new));

    assert_fenced(
        store
            .heartbeat_job(&old, rescue_at + Duration::seconds(60))
            .await,
        "heartbeat_job",
    );
    assert_fenced(store.complete_job(&old, rescue_at).await, "complete_job");
    assert_fenced(
        store
            .fail_job(&old, "late", Some(rescue_at), rescue_at)
            .await,
        "fail_job",
    );
    assert_fenced(store.release_job(&old, rescue_at).await, "release_job");
    assert_eq!(job(&store, queued.id).await.state, JobState::Running);

    store.complete_job(&new, rescue_at).await.unwrap();
    let done = job(&store, queued.id).await;
    assert_eq!((done.state, done.attempts), (JobState::Done, 2));
    assert_fenced(
        store.complete_job(&new, rescue_at).await,
        "complete_job after done",
    );
}

/// A job whose attempts are used up is dead-lettered, with a last error, instead of claimed.
pub async fn used_up_attempts_dead_letter(store: Arc<dyn Store>) {
    let t = now();
    let (_, queued) = instance_with_job(&store, t, 2).await;
    let step = Duration::seconds(LEASE + 1);
    assert_eq!(claim(&store, "w1", t).await.map(|j| j.attempts), Some(1));
    assert_eq!(
        claim(&store, "w2", t + step).await.map(|j| j.attempts),
        Some(2)
    );
    assert!(
        claim(&store, "w3", t + step + step).await.is_none(),
        "a job with no attempts left was claimed"
    );
    let dead = job(&store, queued.id).await;
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(dead.attempts, 2);
    assert!(dead.last_error.is_some(), "a dead job says why");
    let listed = store
        .list_jobs(&JobFilter {
            state: Some(JobState::Dead),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert!(listed.iter().any(|j| j.id == queued.id));
}

/// `fail_job` requeues at `retry_at` while attempts remain, and dead-letters with the error
/// when they do not or when there is no `retry_at`.
pub async fn fail_job_requeues_then_dead_letters(store: Arc<dyn Store>) {
    let t = now();
    let (_, queued) = instance_with_job(&store, t, 3).await;
    let lease = lease_of(&claim(&store, "w", t).await.unwrap());
    let retry_at = t + Duration::seconds(10);
    let state = store
        .fail_job(&lease, "boom", Some(retry_at), t + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(state, JobState::Queued);
    let requeued = job(&store, queued.id).await;
    assert_eq!(requeued.state, JobState::Queued);
    assert_eq!(requeued.run_at, retry_at);
    assert_eq!(requeued.last_error.as_deref(), Some("boom"));
    assert_eq!(requeued.lease, None);
    assert!(claim(&store, "w", t + Duration::seconds(5)).await.is_none());
    let again = claim(&store, "w", retry_at)
        .await
        .expect("claimable at retry_at");
    assert_eq!(again.attempts, 2);
    let state = store
        .fail_job(&lease_of(&again), "fatal", None, retry_at)
        .await
        .unwrap();
    assert_eq!(state, JobState::Dead, "no retry_at dead-letters");
    let dead = job(&store, queued.id).await;
    assert_eq!(
        (dead.state, dead.last_error.as_deref()),
        (JobState::Dead, Some("fatal"))
    );

    let (_, single) = instance_with_job(&store, t, 1).await;
    let lease = lease_of(&claim(&store, "w", t).await.unwrap());
    assert_eq!(lease.job_id, single.id);
    let state = store
        .fail_job(&lease, "once", Some(retry_at), t)
        .await
        .unwrap();
    assert_eq!(state, JobState::Dead, "no attempts left dead-letters");
    assert_eq!(
        job(&store, single.id).await.last_error.as_deref(),
        Some("once")
    );
}

/// `release_job` requeues without counting the attempt and ends the lease.
pub async fn release_does_not_count_attempt(store: Arc<dyn Store>) {
    let t = now();
    let (_, queued) = instance_with_job(&store, t, 1).await;
    let lease = lease_of(&claim(&store, "w", t).await.unwrap());
    store.release_job(&lease, t).await.unwrap();
    let released = job(&store, queued.id).await;
    assert_eq!(
        (released.state, released.attempts, released.lease),
        (JobState::Queued, 0, None)
    );
    assert_fenced(
        store.complete_job(&lease, t).await,
        "complete_job after release",
    );
    let again = claim(&store, "w", t)
        .await
        .expect("a released job is claimable");
    assert_eq!((again.id, again.attempts), (queued.id, 1));
}

/// `list_jobs` filters by state and instance, lists oldest first and honours the limit.
pub async fn list_jobs_filters(store: Arc<dyn Store>) {
    let t = now();
    let (instance, first) = instance_with_job(&store, t, 3).await;
    let second = NewJob::new(instance.id, JobKind::Suspend, t, 3);
    store.enqueue_job(&second).await.unwrap();
    let (_, elsewhere) = instance_with_job(&store, t, 3).await;
    let running = claim(&store, "w", t).await.unwrap();
    assert_eq!(running.id, first.id);
    store.complete_job(&lease_of(&running), t).await.unwrap();

    let list = |state, instance_id, limit| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_jobs(&JobFilter {
                    state,
                    instance_id,
                    limit,
                })
                .await
                .unwrap()
                .into_iter()
                .map(|j| j.id)
                .collect::<Vec<_>>()
        }
    };
    let of: Option<InstanceId> = Some(instance.id);
    assert_eq!(list(None, of, None).await, vec![first.id, second.id]);
    assert_eq!(list(Some(JobState::Done), of, None).await, vec![first.id]);
    assert_eq!(list(None, of, Some(1)).await, vec![first.id]);
    let queued = list(Some(JobState::Queued), None, None).await;
    assert!(queued.contains(&second.id) && queued.contains(&elsewhere.id));
    assert!(!queued.contains(&first.id));
}

/// `wait_for_jobs` returns (at the latest) after its timeout.
pub async fn wait_for_jobs_returns(store: Arc<dyn Store>) {
    let waited = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.wait_for_jobs(std::time::Duration::from_millis(50)),
    )
    .await;
    assert!(
        matches!(waited, Ok(Ok(()))),
        "wait_for_jobs(50ms) did not return within 10s: {waited:?}"
    );
}
