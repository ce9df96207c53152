//! Store checks of the job queue: ordering, leases, fencing, attempts and dead letters.
//! `run_at` is compared with the time a claim names, so those checks claim at explicit
//! times; lease expiry follows the store's own clock, so those checks take a short lease and
//! wait it out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{
    assert_lease_lost, created, customer, deletion, fenced, join, move_to, now, sample_instance,
    status_write,
};
use crate::domain::{
    ClaimRequest, Instance, InstanceId, InstanceStatus, Job, JobFilter, JobKind, JobState, Lease,
    NewEvent, NewJob, RollbackLevel, RollbackLogEntry,
};
use crate::error::Error;
use crate::ports::{NewInstance, Store};

/// A lease no check outlives.
const LEASE: i64 = 60;
/// A lease the checks about expiry wait out.
const SHORT_LEASE_MS: i64 = 1_000;

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

/// Claims under a lease of [`SHORT_LEASE_MS`].
async fn claim_short(store: &Arc<dyn Store>, worker: &str) -> Option<Job> {
    let request = ClaimRequest {
        lease_for: Duration::milliseconds(SHORT_LEASE_MS),
        ..claim_at(worker, now())
    };
    store.claim_job(&request).await.unwrap()
}

/// Waits until a short lease taken before the call has run out by any store's clock.
async fn outlive_short_lease() {
    let wait = u64::try_from(SHORT_LEASE_MS + 400).unwrap_or(1_400);
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
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
    assert_lease_lost(
        result,
        &format!("{what} with a lease that is no longer held"),
    );
}

/// Whether `at` is `expected` give or take the clock difference a store on another host
/// may have (and the time the call took).
fn about(at: DateTime<Utc>, expected: DateTime<Utc>) -> bool {
    (at - expected).num_seconds().abs() <= 5
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
        assert!(
            about(lease.expires_at, Utc::now() + Duration::seconds(LEASE)),
            "a lease of {LEASE}s expires {LEASE}s from now by the store's clock: {lease:?}"
        );
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
    let stale = lease_of(&claim_short(&store, "old").await.expect("first job"));
    // Older than the running job, so a claim that ignored the running job would pick it.
    let other = NewJob::new(
        instance.id,
        JobKind::Terminate,
        t - Duration::seconds(60),
        3,
    );
    store.enqueue_job(&other).await.unwrap();
    outlive_short_lease().await;
    let claimed = claim(&store, "new", now())
        .await
        .expect("a job of the instance");
    assert!(claimed.id == first.id || claimed.id == other.id);
    assert_fenced(
        store
            .heartbeat_job(&stale, Duration::seconds(10 * LEASE))
            .await,
        "heartbeat_job",
    );
    let live: Vec<_> = store
        .list_jobs(&JobFilter {
            instance_id: Some(instance.id),
            ..JobFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.state == JobState::Running)
        .collect();
    assert_eq!(
        live.len(),
        1,
        "jobs of one instance running at once: {live:?}"
    );
}

/// A heartbeat moves the lease's expiry; the extended lease is not rescued.
pub async fn heartbeat_extends_lease(store: Arc<dyn Store>) {
    let (_, queued) = instance_with_job(&store, now(), 3).await;
    let lease = lease_of(&claim_short(&store, "w").await.unwrap());
    let extended = store
        .heartbeat_job(&lease, Duration::seconds(4 * LEASE))
        .await
        .unwrap();
    assert!(
        about(
            extended.expires_at,
            Utc::now() + Duration::seconds(4 * LEASE)
        ),
        "a heartbeat extends from the store's now: {extended:?}"
    );
    assert_eq!(
        (extended.job_id, extended.token),
        (lease.job_id, lease.token)
    );
    outlive_short_lease().await;
    assert!(
        claim(&store, "thief", now()).await.is_none(),
        "a job under an extended lease was rescued"
    );
    assert_eq!(job(&store, queued.id).await.lease, Some(extended));
    store.complete_job(&extended, now()).await.unwrap();
    assert_eq!(job(&store, queued.id).await.state, JobState::Done);
}

/// A job whose lease ran out is claimed again with a new lease and its attempt counted; the
/// old lease is fenced off (`LeaseLost`) for every call and every write to the instance.
pub async fn expired_lease_is_rescued_and_fenced(store: Arc<dyn Store>) {
    let (instance, queued) = instance_with_job(&store, now(), 3).await;
    let first = claim_short(&store, "w1").await.unwrap();
    assert!(
        claim(&store, "w2", now()).await.is_none(),
        "a job was rescued before its lease ran out"
    );
    outlive_short_lease().await;
    let rescue_at = now();
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
        store.heartbeat_job(&old, Duration::seconds(60)).await,
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
    let stale_write = fenced(
        status_write(&instance, InstanceStatus::Provisioning, None),
        old,
    );
    assert_fenced(store.update_instance(&stale_write).await, "update_instance");
    assert_eq!(
        store
            .get_instance(instance.id)
            .await
            .unwrap()
            .map(|i| i.version),
        Some(1),
        "a fenced-off write changed the instance"
    );
    assert_eq!(job(&store, queued.id).await.state, JobState::Running);
    let live_write = fenced(
        status_write(&instance, InstanceStatus::Provisioning, None),
        new,
    );
    store
        .update_instance(&live_write)
        .await
        .expect("a write under the current lease");

    store.complete_job(&new, rescue_at).await.unwrap();
    let done = job(&store, queued.id).await;
    assert_eq!((done.state, done.attempts), (JobState::Done, 2));
    assert_fenced(
        store.complete_job(&new, rescue_at).await,
        "complete_job after done",
    );
}

/// A lease that ran out is dead even before anyone rescued the job: its heartbeat and its
/// fenced writes are `LeaseLost`, and nothing is written.
pub async fn expired_lease_is_refused_before_rescue(store: Arc<dyn Store>) {
    let (instance, queued) = instance_with_job(&store, now(), 3).await;
    let lease = lease_of(&claim_short(&store, "w").await.unwrap());
    let provisioning = fenced(
        status_write(&instance, InstanceStatus::Provisioning, None),
        lease,
    );
    let stored = store
        .update_instance(&provisioning)
        .await
        .expect("a write under a live lease")
        .0;
    outlive_short_lease().await;
    let before = store.stats().await.unwrap().last_event_sequence;
    assert_fenced(
        store
            .update_instance(&fenced(
                status_write(&stored, InstanceStatus::Active, None),
                lease,
            ))
            .await,
        "update_instance after the lease ran out",
    );
    let log = RollbackLogEntry {
        instance_id: instance.id,
        level: RollbackLevel::Full,
        reason: "conformance".into(),
        deleted: vec![],
        instance: stored.clone(),
        at: now(),
    };
    let mut delete = deletion(
        instance.id,
        stored.version,
        NewEvent::status_changed(
            instance.id,
            Some(stored.status),
            InstanceStatus::RolledBack,
            "conformance",
            now(),
        ),
        log,
    );
    delete.fence = Some(lease);
    assert_fenced(
        store.delete_instance(&delete).await,
        "delete_instance after the lease ran out",
    );
    assert_fenced(
        store.heartbeat_job(&lease, Duration::seconds(LEASE)).await,
        "heartbeat_job after the lease ran out",
    );
    let current = store.get_instance(instance.id).await.unwrap();
    assert_eq!(
        current.map(|i| (i.status, i.version)),
        Some((InstanceStatus::Provisioning, stored.version)),
        "a write under a lease that ran out changed the instance"
    );
    assert_eq!(
        store.stats().await.unwrap().last_event_sequence,
        before,
        "a refused write appended an event"
    );
    assert_eq!(job(&store, queued.id).await.state, JobState::Running);
}

/// A fenced write under the current lease writes its event and its alert together, in that
/// order; a fence with a token the job never had is refused.
pub async fn fenced_write_carries_event_and_alert(store: Arc<dyn Store>) {
    let (instance, _) = instance_with_job(&store, now(), 3).await;
    let lease = lease_of(&claim(&store, "w", now()).await.unwrap());
    let bogus = Lease {
        token: uuid::Uuid::now_v7(),
        ..lease
    };
    assert_fenced(
        store
            .update_instance(&fenced(
                status_write(&instance, InstanceStatus::Failed, None),
                bogus,
            ))
            .await,
        "update_instance with a token the job never had",
    );
    let mut write = fenced(status_write(&instance, InstanceStatus::Failed, None), lease);
    write.alert = Some(NewEvent::alert(
        Some(instance.id),
        "conformance_alert",
        "failed with its alert",
        now(),
    ));
    let (_, event) = store.update_instance(&write).await.unwrap();
    let event = event.expect("the status event");
    let events = store.instance_events(instance.id).await.unwrap();
    let tail: Vec<_> = events.iter().rev().take(2).rev().collect();
    assert_eq!(tail.len(), 2);
    assert_eq!(tail[0].sequence, event.sequence);
    assert_eq!(
        tail[1].sequence,
        event.sequence + 1,
        "the alert follows its event"
    );
    assert!(
        matches!(&tail[1].kind, crate::domain::EventKind::Alert { code } if code == "conformance_alert"),
        "{:?}",
        tail[1]
    );
}

/// `claim_new_job` takes an instance's job slot only when no job of the instance runs, and
/// the job it inserts runs under a lease like a claimed one.
pub async fn claim_new_job_takes_a_free_slot(store: Arc<dyn Store>) {
    let (instance, first) = instance_with_job(&store, now(), 3).await;
    let running = claim(&store, "w", now()).await.expect("first job");
    assert_eq!(running.id, first.id);
    let sweep = NewJob::new(instance.id, JobKind::Sweep, now(), 1);
    assert!(
        store
            .claim_new_job(&sweep, &claim_at("sweeper", now()))
            .await
            .unwrap()
            .is_none(),
        "a slot was taken while a job of the instance runs"
    );
    assert!(
        store.get_job(sweep.id).await.unwrap().is_none(),
        "a refused claim_new_job wrote a job"
    );
    store
        .complete_job(&lease_of(&running), now())
        .await
        .unwrap();
    let queued = NewJob::new(instance.id, JobKind::Suspend, now(), 3);
    store.enqueue_job(&queued).await.unwrap();
    let held = store
        .claim_new_job(&sweep, &claim_at("sweeper", now()))
        .await
        .unwrap()
        .expect("the slot is free");
    assert_eq!(
        (held.id, held.state, held.attempts, held.worker.as_deref()),
        (sweep.id, JobState::Running, 1, Some("sweeper"))
    );
    assert!(
        claim(&store, "w", now()).await.is_none(),
        "another job of the instance was claimed while the slot is held"
    );
    store.complete_job(&lease_of(&held), now()).await.unwrap();
    assert_eq!(
        claim(&store, "w", now()).await.map(|j| j.id),
        Some(queued.id)
    );
}

/// A job whose attempts are used up is dead-lettered, with a last error, instead of claimed.
pub async fn used_up_attempts_dead_letter(store: Arc<dyn Store>) {
    let (_, queued) = instance_with_job(&store, now(), 2).await;
    assert_eq!(claim_short(&store, "w1").await.map(|j| j.attempts), Some(1));
    outlive_short_lease().await;
    assert_eq!(claim_short(&store, "w2").await.map(|j| j.attempts), Some(2));
    outlive_short_lease().await;
    assert!(
        claim(&store, "w3", now()).await.is_none(),
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

/// Dead jobs whose instance is in progress with nothing queued or running are stranded;
/// an instance that moved on, or that another job drives, is not.
pub async fn stranded_dead_jobs_are_listed(store: Arc<dyn Store>) {
    let t = now();
    let dead_job = |instance: &Instance| NewJob::new(instance.id, JobKind::Provision, t, 1);
    let kill = |store: Arc<dyn Store>| async move {
        let job = claim(&store, "w", now()).await.expect("a job to kill");
        let state = store
            .fail_job(&lease_of(&job), "boom", None, now())
            .await
            .unwrap();
        assert_eq!(state, JobState::Dead);
        job
    };
    // Stranded: provisioning, its only job dead.
    let (stranded, _) = {
        let instance = sample_instance(&customer(), None);
        let job = dead_job(&instance);
        store
            .insert_instance(&NewInstance::new(
                &instance,
                &created(&instance),
                Some(job.clone()),
            ))
            .await
            .unwrap();
        (instance, job)
    };
    let stranded = move_to(&store, &stranded, InstanceStatus::Provisioning, None).await;
    let stranded_job = kill(Arc::clone(&store)).await;
    // Moved on: failed.
    let (moved_on, _) = instance_with_job(&store, t, 1).await;
    let moved_on_job = kill(Arc::clone(&store)).await;
    move_to(&store, &moved_on, InstanceStatus::Failed, None).await;
    // Driven by another job: pending with a queued one.
    let (driven, _) = instance_with_job(&store, t, 1).await;
    let driven_job = kill(Arc::clone(&store)).await;
    store
        .enqueue_job(&NewJob::new(
            driven.id,
            JobKind::Provision,
            t + Duration::hours(1),
            3,
        ))
        .await
        .unwrap();

    let listed: Vec<_> = store
        .stranded_dead_jobs(1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert!(
        listed.contains(&stranded_job.id),
        "{:?} not listed for {}",
        stranded_job.id,
        stranded.id
    );
    assert!(
        !listed.contains(&moved_on_job.id),
        "a job of an instance that moved on was listed"
    );
    assert!(
        !listed.contains(&driven_job.id),
        "a job of an instance another job drives was listed"
    );
}

/// `purge_jobs` deletes done and dead jobs older than the cut-off, and keeps newer ones,
/// live ones and stranded ones.
pub async fn purge_jobs_keeps_what_matters(store: Arc<dyn Store>) {
    let t = now();
    let old = t - Duration::days(8);
    // Done long ago.
    let (_, done) = instance_with_job(&store, t, 3).await;
    let running = claim(&store, "w", t).await.unwrap();
    assert_eq!(running.id, done.id);
    store.complete_job(&lease_of(&running), old).await.unwrap();
    // Dead long ago, its instance failed.
    let (failed, dead) = instance_with_job(&store, t, 1).await;
    let running = claim(&store, "w", t).await.unwrap();
    assert_eq!(running.id, dead.id);
    store
        .fail_job(&lease_of(&running), "boom", None, old)
        .await
        .unwrap();
    move_to(&store, &failed, InstanceStatus::Failed, None).await;
    // Dead long ago and stranded.
    let (stranded, stranded_job) = instance_with_job(&store, t, 1).await;
    let stranded = move_to(&store, &stranded, InstanceStatus::Provisioning, None).await;
    let running = claim(&store, "w", t).await.unwrap();
    assert_eq!(running.id, stranded_job.id);
    store
        .fail_job(&lease_of(&running), "boom", None, old)
        .await
        .unwrap();
    // Done just now, and queued.
    let (_, recent) = instance_with_job(&store, t, 3).await;
    let running = claim(&store, "w", t).await.unwrap();
    store.complete_job(&lease_of(&running), t).await.unwrap();
    let (_, queued) = instance_with_job(&store, t + Duration::hours(1), 3).await;

    let purged = store.purge_jobs(t - Duration::days(7)).await.unwrap();
    assert_eq!(purged, 2, "the old done job and the old dead job");
    assert!(
        store.get_job(done.id).await.unwrap().is_none(),
        "an old done job was kept"
    );
    assert!(
        store.get_job(dead.id).await.unwrap().is_none(),
        "an old dead job was kept"
    );
    assert!(
        store.get_job(stranded_job.id).await.unwrap().is_some(),
        "a stranded dead job of {} was purged",
        stranded.id
    );
    assert!(
        store.get_job(recent.id).await.unwrap().is_some(),
        "a recent job was purged"
    );
    assert!(
        store.get_job(queued.id).await.unwrap().is_some(),
        "a queued job was purged"
    );
    assert_eq!(store.purge_jobs(t - Duration::days(7)).await.unwrap(), 0);
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
