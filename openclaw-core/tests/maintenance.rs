//! What workers do besides jobs: settle instances whose job died (however many dead jobs
//! there are), survive a job that panics, stop loudly when they cannot go on, and purge what
//! has served its time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::stall::{Freezer, FrozenStore};
use common::Harness;
use openclaw_core::domain::{
    ClaimRequest, IdempotencyRecord, Instance, InstanceStatus, JobFilter, JobState, RollbackLevel,
};
use openclaw_core::engine::Trigger;
use openclaw_core::memory::InMemoryHealth;
use openclaw_core::ports::{Health, HealthProbe, Store};

fn start(h: &Harness) -> tokio::task::JoinHandle<openclaw_core::Result<()>> {
    let p = h.provisioner.clone();
    tokio::spawn(async move { p.run_workers(std::future::pending()).await })
}

/// Claims every runnable job and dead-letters it, as a worker that kept dying would.
async fn kill_all_jobs(h: &Harness) -> usize {
    let mut killed = 0;
    while let Some(job) = h
        .store
        .claim_job(&ClaimRequest {
            worker: "doomed".into(),
            now: openclaw_core::Clock::now(&openclaw_core::TokioClock::default()),
            lease_for: chrono::Duration::seconds(60),
        })
        .await
        .unwrap()
    {
        let state = h
            .store
            .fail_job(
                &job.lease.unwrap(),
                "the worker kept dying",
                None,
                job.run_at,
            )
            .await
            .unwrap();
        assert_eq!(state, JobState::Dead);
        killed += 1;
    }
    killed
}

#[tokio::test(start_paused = true)]
async fn no_number_of_old_dead_jobs_hides_a_new_one() {
    let h = Harness::new();
    // Six hundred dead jobs whose instances were moved on long ago...
    for n in 0..600 {
        let i = h.create(&format!("old-{n}")).await;
        h.provisioner
            .rollback(i.id, RollbackLevel::Soft)
            .await
            .unwrap();
    }
    assert_eq!(kill_all_jobs(&h).await, 600);
    // ...then 150 whose instances still wait on them (more than one batch of the reaper).
    let mut waiting = Vec::new();
    for n in 0..150 {
        waiting.push(h.create(&format!("new-{n}")).await.id);
    }
    assert_eq!(kill_all_jobs(&h).await, 150);

    assert_eq!(h.provisioner.reap_dead_jobs().await.unwrap(), 150);
    for id in &waiting {
        let instance = h.provisioner.get(*id).await.unwrap();
        assert_eq!(instance.status, InstanceStatus::RollingBack, "{id}");
        let last = instance.last_error.unwrap();
        assert!(
            last.message.contains(Trigger::AttemptsExhausted.as_str()),
            "{last:?}"
        );
    }
    assert_eq!(
        h.provisioner.reap_dead_jobs().await.unwrap(),
        0,
        "nothing twice"
    );
    h.settle().await;
    for id in &waiting {
        assert_eq!(h.status(*id).await, InstanceStatus::RolledBack);
    }
}

/// A probe that panics for instances named `boom…`.
#[derive(Debug)]
struct PanickyProbe(InMemoryHealth);

#[async_trait]
impl HealthProbe for PanickyProbe {
    async fn check(&self, instance: &Instance) -> Health {
        if instance.subdomain.as_str().starts_with("boom") {
            panic!("the probe exploded");
        }
        self.0.check(instance).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_job_is_a_failed_attempt_and_the_workers_go_on() {
    let h = Harness::with(
        |c| c,
        |b| b.health(Arc::new(PanickyProbe(InMemoryHealth::healthy()))),
    );
    let boom = h.create("boom").await;
    let fine = h.create("fine").await;
    let workers = start(&h);
    tokio::time::sleep(Duration::from_secs(3_600)).await;
    assert!(!workers.is_finished(), "the workers stopped");
    assert!(h.provisioner.workers_running());
    assert_eq!(h.status(fine.id).await, InstanceStatus::Active);
    // Every attempt panicked; out of attempts, the provisioning rolled back.
    assert_eq!(h.status(boom.id).await, InstanceStatus::RolledBack);
    let jobs = h
        .store
        .list_jobs(&JobFilter {
            instance_id: Some(boom.id),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    let provision = &jobs[0];
    assert_eq!(provision.state, JobState::Dead);
    assert_eq!(provision.attempts, 5);
    let error = provision.last_error.as_deref().unwrap();
    assert!(
        error.contains("internal") && error.contains("the probe exploded"),
        "{error}"
    );
    assert_eq!(h.provisioner.metrics().jobs_panicked, 5);
    // A new order after all that still goes through.
    let after = h.create("after").await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(h.status(after.id).await, InstanceStatus::Active);
    workers.abort();
}

#[tokio::test(start_paused = true)]
async fn workers_that_cannot_go_on_stop_with_an_error() {
    let freezer = Freezer::new();
    let h = Harness::with(
        |c| c,
        |b| {
            // Every store call of the workers goes through the freezer.
            let store: Arc<dyn Store> = Arc::new(openclaw_core::memory::InMemoryStore::with_clock(
                Arc::new(openclaw_core::TokioClock::default()),
            ));
            b.store(Arc::new(FrozenStore(store, freezer.clone())))
        },
    );
    let workers = start(&h);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(h.provisioner.workers_running());
    // A bug outside any job: claiming panics.
    freezer.panic_on("claim_job");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let ended = tokio::time::timeout(Duration::from_secs(60), workers)
        .await
        .expect("run_workers returned")
        .unwrap();
    let error = ended.expect_err("run_workers reports the failure");
    assert!(error.to_string().contains("panicked"), "{error}");
    assert!(!h.provisioner.workers_running());
}

#[tokio::test(start_paused = true)]
async fn finished_jobs_and_expired_keys_are_purged_after_the_retention() {
    let h = Harness::with(
        |mut c| {
            c.workers.retention = Duration::from_secs(24 * 3600);
            c.workers.purge_interval = Duration::from_secs(3600);
            c
        },
        |b| b,
    );
    let i = h.create("purged").await;
    let now = openclaw_core::Clock::now(&openclaw_core::TokioClock::default());
    h.store
        .put_idempotency(&IdempotencyRecord {
            key: "order-1".into(),
            request_hash: "h".into(),
            response: None,
            created_at: now,
            expires_at: now + chrono::Duration::hours(24),
        })
        .await
        .unwrap();
    let workers = start(&h);
    tokio::time::sleep(Duration::from_secs(3_600)).await;
    assert_eq!(h.status(i.id).await, InstanceStatus::Active);
    let jobs = |h: &Harness| {
        let store = h.store.clone();
        async move { store.list_jobs(&JobFilter::default()).await.unwrap().len() }
    };
    assert_eq!(jobs(&h).await, 1, "kept within the retention");
    tokio::time::sleep(Duration::from_secs(25 * 3600)).await;
    assert_eq!(jobs(&h).await, 0, "purged after the retention");
    // Asked as of when it was stored, the key would still be live — unless it is gone.
    assert!(
        h.store
            .get_idempotency("order-1", now)
            .await
            .unwrap()
            .is_none(),
        "the expired idempotency key was not purged"
    );
    workers.abort();
}
