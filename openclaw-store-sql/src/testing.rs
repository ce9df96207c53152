//! Checks both SQL stores' own tests run (feature `testing`): what is particular to a SQL
//! store and so not in core's conformance suite.
#![allow(clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;

use chrono::{Duration, Utc};
use openclaw_core::conformance::store::sample_instance;
use openclaw_core::domain::{
    ClaimRequest, CustomerId, Instance, InstanceId, InstanceStatus, JobKind, NewEvent, NewJob,
    RollbackLevel, RollbackLogEntry,
};
use openclaw_core::ports::{InstanceDelete, InstanceWrite, NewInstance, Store, StoreStats};

/// Every kind of write a store counts — inserts with and without a job, status changes,
/// claims, completions, a dead letter, a release, a job inserted held, a delete and a purge —
/// and after each step `stats` equals `scan()` (a `GROUP BY` over the tables).
pub async fn counts_follow_every_write<F, Fut>(store: Arc<dyn Store>, scan: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreStats>,
{
    let check = |step: &'static str| {
        let store = Arc::clone(&store);
        let scanned = scan();
        async move {
            let scanned = scanned.await;
            let stats = store.stats().await.expect("stats");
            assert_eq!(
                stats, scanned,
                "after {step}: stats (left) and the tables (right)"
            );
        }
    };
    let t = Utc::now();
    let request = |worker: &str| ClaimRequest {
        worker: worker.into(),
        now: Utc::now(),
        lease_for: Duration::seconds(60),
    };
    let a = insert(&store, true).await;
    let b = insert(&store, false).await;
    let c = insert(&store, true).await;
    check("three inserts").await;
    let a = move_to(&store, &a, InstanceStatus::Provisioning).await;
    check("a status change").await;
    let first = store
        .claim_job(&request("w"))
        .await
        .expect("claim")
        .expect("a job");
    let first_lease = first.lease.expect("lease");
    store.complete_job(&first_lease, t).await.expect("complete");
    let second = store
        .claim_job(&request("w"))
        .await
        .expect("claim")
        .expect("a job");
    let second_lease = second.lease.expect("lease");
    store
        .fail_job(&second_lease, "boom", None, t)
        .await
        .expect("fail");
    assert_eq!((first.instance_id, second.instance_id), (a.id, c.id));
    check("a completion and a dead letter").await;
    store
        .enqueue_job(&NewJob::new(b.id, JobKind::Provision, t, 3))
        .await
        .expect("enqueue");
    let third = store
        .claim_job(&request("w"))
        .await
        .expect("claim")
        .expect("a job");
    store
        .release_job(&third.lease.expect("lease"), t)
        .await
        .expect("release");
    check("an enqueue and a release").await;
    let held = store
        .claim_new_job(&NewJob::new(b.id, JobKind::Sweep, t, 1), &request("sweep"))
        .await
        .expect("claim_new_job")
        .expect("a free slot");
    check("a job inserted held").await;
    store
        .complete_job(&held.lease.expect("lease"), t)
        .await
        .expect("complete");
    let doomed = &c;
    store
        .delete_instance(&InstanceDelete {
            id: doomed.id,
            expected_version: doomed.version,
            event: NewEvent::status_changed(
                doomed.id,
                Some(doomed.status),
                InstanceStatus::RolledBack,
                "counts",
                t,
            ),
            log: RollbackLogEntry {
                instance_id: doomed.id,
                level: RollbackLevel::Full,
                reason: "counts".into(),
                deleted: vec![],
                instance: doomed.clone(),
                at: t,
            },
            fence: None,
        })
        .await
        .expect("delete_instance");
    check("a delete").await;
    let purged = store
        .purge_jobs(Utc::now() + Duration::hours(1))
        .await
        .expect("purge_jobs");
    assert_eq!(
        purged, 3,
        "two done jobs and the dead job of the deleted instance"
    );
    check("a purge").await;
}

async fn insert(store: &Arc<dyn Store>, with_job: bool) -> Instance {
    insert_into(store.as_ref(), with_job).await
}

async fn insert_into(store: &dyn Store, with_job: bool) -> Instance {
    let instance = sample_instance(&CustomerId::parse("counts").expect("customer"), None);
    let created = NewEvent::status_changed(
        instance.id,
        None,
        InstanceStatus::Pending,
        "created",
        instance.created_at,
    );
    let job = with_job.then(|| NewJob::new(instance.id, JobKind::Provision, Utc::now(), 1));
    store
        .insert_instance(&NewInstance::new(&instance, &created, job))
        .await
        .expect("insert_instance");
    instance
}

async fn move_to(store: &Arc<dyn Store>, instance: &Instance, to: InstanceStatus) -> Instance {
    let mut next = instance.clone();
    next.status = to;
    let write = InstanceWrite {
        event: Some(NewEvent::status_changed(
            instance.id,
            Some(instance.status),
            to,
            "counts",
            Utc::now(),
        )),
        ..InstanceWrite::new(next)
    };
    store.update_instance(&write).await.expect("update").0
}

/// Writes what a store had written before the migration that adds the counts (run it on a
/// schema migrated up to just before it): one pending instance and five jobs, three of
/// them done. See [`check_counts_of_rows_before`].
pub async fn write_rows_before_counts(store: &dyn Store) {
    insert_into(store, false).await;
    for n in 0..5 {
        let job = NewJob::new(InstanceId::new(), JobKind::Provision, Utc::now(), 3);
        store.enqueue_job(&job).await.expect("enqueue");
        if n % 2 == 0 {
            let claimed = store
                .claim_job(&ClaimRequest {
                    worker: "before".into(),
                    now: Utc::now(),
                    lease_for: Duration::seconds(60),
                })
                .await
                .expect("claim")
                .expect("a job");
            store
                .complete_job(&claimed.lease.expect("lease"), Utc::now())
                .await
                .expect("complete");
        }
    }
}

/// After the migration: `stats` equals `scanned` (a `GROUP BY` over the tables) and counts
/// what [`write_rows_before_counts`] wrote.
pub fn check_counts_of_rows_before(stats: &StoreStats, scanned: &StoreStats) {
    assert_eq!(stats, scanned, "stats (left) and the tables (right)");
    assert_eq!(stats.jobs_by_state.get("done"), Some(&3));
    assert_eq!(stats.jobs_by_state.get("queued"), Some(&2));
    assert_eq!(
        stats.instances_by_status.get(&InstanceStatus::Pending),
        Some(&1)
    );
}

/// A write whose fence is lost *and* whose version is stale is refused as `LeaseLost`, not
/// `Conflict`: a worker that lost its lease must stop, not re-read and try again. (Core's
/// suite checks each reason alone; this checks their order in the store's classification.)
pub async fn a_lost_fence_is_named_before_a_stale_version(store: Arc<dyn Store>) {
    let instance = insert(&store, true).await;
    let request = ClaimRequest {
        worker: "w".into(),
        now: Utc::now(),
        lease_for: Duration::seconds(60),
    };
    let job = store
        .claim_job(&request)
        .await
        .expect("claim")
        .expect("a job");
    let lease = job.lease.expect("lease");
    let moved = move_to(&store, &instance, InstanceStatus::Provisioning).await;
    store
        .release_job(&lease, Utc::now())
        .await
        .expect("release");
    let mut stale = InstanceWrite {
        fence: Some(lease),
        ..InstanceWrite::new(instance.clone())
    };
    stale.instance.status = InstanceStatus::Provisioning;
    stale.event = Some(NewEvent::status_changed(
        instance.id,
        Some(instance.status),
        InstanceStatus::Provisioning,
        "stale",
        Utc::now(),
    ));
    match store.update_instance(&stale).await {
        Err(openclaw_core::Error::LeaseLost { job: lost, .. }) => assert_eq!(lost, job.id),
        other => panic!("expected LeaseLost, got {other:?}"),
    }
    let delete = InstanceDelete {
        id: moved.id,
        expected_version: instance.version,
        event: NewEvent::status_changed(
            instance.id,
            Some(moved.status),
            InstanceStatus::RolledBack,
            "stale",
            Utc::now(),
        ),
        log: RollbackLogEntry {
            instance_id: instance.id,
            level: RollbackLevel::Full,
            reason: "stale".into(),
            deleted: vec![],
            instance: moved.clone(),
            at: Utc::now(),
        },
        fence: Some(lease),
    };
    assert!(
        matches!(
            store.delete_instance(&delete).await,
            Err(openclaw_core::Error::LeaseLost { .. })
        ),
        "a delete with a lost fence and a stale version"
    );
    let kept = store.get_instance(instance.id).await.expect("get");
    assert_eq!(kept, Some(moved), "a refused write changed the instance");
}

/// Writes what a store held before the migration that adds the `resizing` status (run it on
/// a schema migrated up to just before it): an active instance with sealed secrets. See
/// [`check_rows_after_resizing`].
pub async fn write_rows_before_resizing(store: &dyn Store) -> Instance {
    let mut instance = sample_instance(&CustomerId::parse("resizing").expect("customer"), None);
    instance.status = InstanceStatus::Active;
    let created = NewEvent::status_changed(
        instance.id,
        None,
        InstanceStatus::Active,
        "created",
        instance.created_at,
    );
    let mut new = NewInstance::new(&instance, &created, None);
    new.secrets = Some(openclaw_core::instance_secrets::SealedSecrets::from_bytes(
        vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
    ));
    store.insert_instance(&new).await.expect("insert_instance");
    instance
}

/// After the migration: the instance and its secrets are still there (rebuilding the table
/// must not cascade into them), it can move to `resizing`, and the counts follow.
pub async fn check_rows_after_resizing(store: &dyn Store, instance: &Instance) {
    let stored = store
        .get_instance(instance.id)
        .await
        .expect("get")
        .expect("the instance is still there");
    assert_eq!(stored, *instance);
    let secrets = store
        .instance_secrets(instance.id)
        .await
        .expect("secrets")
        .expect("the secrets are still there");
    assert_eq!(secrets.as_bytes().len(), 16);
    let mut next = stored.clone();
    next.status = InstanceStatus::Resizing;
    let write = InstanceWrite {
        event: Some(NewEvent::status_changed(
            instance.id,
            Some(InstanceStatus::Active),
            InstanceStatus::Resizing,
            "plan change",
            Utc::now(),
        )),
        ..InstanceWrite::new(next)
    };
    let (resizing, _) = store.update_instance(&write).await.expect("to resizing");
    assert_eq!(resizing.status, InstanceStatus::Resizing);
    let stats = store.stats().await.expect("stats");
    assert_eq!(
        stats.instances_by_status.get(&InstanceStatus::Resizing),
        Some(&1)
    );
    assert_eq!(stats.instances_by_status.get(&InstanceStatus::Active), None);
}
