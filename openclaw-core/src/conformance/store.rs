//! The [`Store`] contract as checks. Each check takes a store of its own.

use std::future::Future;
use std::sync::Arc;

use chrono::Duration;

use super::{join, now, unique};
use crate::domain::{
    ClaimRequest, CustomerId, ExternalRef, Instance, InstanceId, InstanceStatus, JobKind, NewEvent,
    NewJob, PlanName, RegionName, Subdomain, ValidCreate,
};
use crate::domain::{Lease, RollbackLogEntry};
use crate::error::Error;
use crate::ports::{InstanceDelete, InstanceWrite, NewInstance, Store};

mod engine;
mod events;
mod idempotency;
mod instances;
mod jobs;
mod rollback;
mod secrets;

pub use engine::*;
pub use events::*;
pub use idempotency::*;
pub use instances::*;
pub use jobs::*;
pub use rollback::*;
pub use secrets::*;

/// Runs every check, each on a fresh store from `new_store`.
pub async fn run_all<F, Fut>(new_store: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    ping(new_store().await).await;
    insert_and_get(new_store().await).await;
    insert_existing_id_conflicts(new_store().await).await;
    external_ref_unique_among_live(new_store().await).await;
    fqdn_unique_among_live(new_store().await).await;
    secrets_are_written_with_the_instance(new_store().await).await;
    bootstrap_hands_secrets_out_once(new_store().await).await;
    delete_instance_removes_secrets(new_store().await).await;
    list_filters_and_pages(new_store().await).await;
    update_compare_and_swap(new_store().await).await;
    update_writes_event_and_job(new_store().await).await;
    failed_update_writes_nothing(new_store().await).await;
    concurrent_updaters_one_winner_per_version(new_store().await).await;
    delete_instance_keeps_rollback_log(new_store().await).await;
    rollback_log_newest_first(new_store().await).await;
    event_sequences_strictly_increase(new_store().await).await;
    events_after_resumes(new_store().await).await;
    instance_events_in_order(new_store().await).await;
    concurrent_appends_read_gapless(new_store().await).await;
    claim_oldest_run_at_first(new_store().await).await;
    future_jobs_not_claimable(new_store().await).await;
    concurrent_claims_never_share_a_job(new_store().await).await;
    one_running_job_per_instance(new_store().await).await;
    expired_lease_keeps_instance_exclusive(new_store().await).await;
    heartbeat_extends_lease(new_store().await).await;
    expired_lease_is_rescued_and_fenced(new_store().await).await;
    expired_lease_is_refused_before_rescue(new_store().await).await;
    fenced_write_carries_event_and_alert(new_store().await).await;
    claim_new_job_takes_a_free_slot(new_store().await).await;
    stranded_dead_jobs_are_listed(new_store().await).await;
    purge_jobs_keeps_what_matters(new_store().await).await;
    used_up_attempts_dead_letter(new_store().await).await;
    fail_job_requeues_then_dead_letters(new_store().await).await;
    release_does_not_count_attempt(new_store().await).await;
    list_jobs_filters(new_store().await).await;
    wait_for_jobs_returns(new_store().await).await;
    idempotency_keys(new_store().await).await;
    idempotency_expiry_and_purge(new_store().await).await;
    stats_count(new_store().await).await;
    engine_drives_a_whole_life(new_store().await).await;
}

/// A new pending instance of `customer`, at `now`.
pub fn sample_instance(customer: &CustomerId, external_ref: Option<&ExternalRef>) -> Instance {
    let request = ValidCreate {
        customer_id: customer.clone(),
        external_ref: external_ref.cloned(),
        subdomain: Subdomain::parse(format!("t{}", unique())).unwrap(),
        plan: PlanName::new("starter"),
        region: RegionName::new("eu-west"),
    };
    Instance::new(InstanceId::new(), request, "conformance.test", now())
}

fn customer() -> CustomerId {
    CustomerId::parse(format!("cust-{}", unique())).unwrap()
}

fn reference() -> ExternalRef {
    ExternalRef::parse(format!("svc-{}", unique())).unwrap()
}

fn created(instance: &Instance) -> NewEvent {
    NewEvent::status_changed(
        instance.id,
        None,
        InstanceStatus::Pending,
        "created",
        instance.created_at,
    )
}

/// Inserts a new instance of a new customer with its creation event.
async fn insert_new(store: &Arc<dyn Store>, external_ref: Option<&ExternalRef>) -> Instance {
    let instance = sample_instance(&customer(), external_ref);
    store
        .insert_instance(&NewInstance::new(&instance, &created(&instance), None))
        .await
        .expect("insert_instance of a new instance");
    instance
}

/// `instance` moved to `to`, written with its event (and `job`); returns what was stored.
async fn move_to(
    store: &Arc<dyn Store>,
    instance: &Instance,
    to: InstanceStatus,
    job: Option<NewJob>,
) -> Instance {
    let write = status_write(instance, to, job);
    store
        .update_instance(&write)
        .await
        .unwrap_or_else(|e| panic!("update_instance at the current version failed: {e}"))
        .0
}

fn status_write(instance: &Instance, to: InstanceStatus, job: Option<NewJob>) -> InstanceWrite {
    let at = now();
    let mut next = instance.clone();
    next.status = to;
    next.updated_at = at;
    next.status_changed_at = at;
    InstanceWrite {
        event: Some(NewEvent::status_changed(
            instance.id,
            Some(instance.status),
            to,
            "conformance",
            at,
        )),
        job,
        ..InstanceWrite::new(next)
    }
}

/// The removal of `id` at `expected_version`, without a fence.
fn deletion(
    id: InstanceId,
    expected_version: u64,
    event: NewEvent,
    log: RollbackLogEntry,
) -> InstanceDelete {
    InstanceDelete {
        id,
        expected_version,
        event,
        log,
        fence: None,
    }
}

fn assert_lease_lost<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match result {
        Err(Error::LeaseLost { .. }) => {}
        other => panic!("{what}: expected LeaseLost, got {other:?}"),
    }
}

/// `write` fenced by `lease`.
fn fenced(mut write: InstanceWrite, lease: Lease) -> InstanceWrite {
    write.fence = Some(lease);
    write
}

async fn last_sequence(store: &Arc<dyn Store>) -> u64 {
    store.stats().await.expect("stats").last_event_sequence
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match result {
        Err(Error::Conflict { .. }) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

/// `ping` succeeds on a working store.
pub async fn ping(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
}

/// `stats` counts instances per status, jobs per state, and reports the last sequence.
pub async fn stats_count(store: Arc<dyn Store>) {
    let before = store.stats().await.unwrap();
    let first = insert_new(&store, None).await;
    let second = sample_instance(&customer(), None);
    let job = NewJob::new(second.id, JobKind::Provision, now(), 3);
    store
        .insert_instance(&NewInstance::new(
            &second,
            &created(&second),
            Some(job.clone()),
        ))
        .await
        .unwrap();
    move_to(&store, &first, InstanceStatus::Provisioning, None).await;
    let other = NewJob::new(first.id, JobKind::Provision, now(), 3);
    store.enqueue_job(&other).await.unwrap();
    let claimed = store
        .claim_job(&ClaimRequest {
            worker: "stats".into(),
            now: now(),
            lease_for: Duration::seconds(60),
        })
        .await
        .unwrap();
    assert!(claimed.is_some());
    let last = store
        .append_event(&NewEvent::alert(None, "conformance", "stats", now()))
        .await
        .unwrap();

    let after = store.stats().await.unwrap();
    let status = |s: &crate::ports::StoreStats, status| {
        s.instances_by_status.get(&status).copied().unwrap_or(0)
    };
    let jobs = |s: &crate::ports::StoreStats, state: &str| {
        s.jobs_by_state.get(state).copied().unwrap_or(0)
    };
    assert_eq!(
        status(&after, InstanceStatus::Pending),
        status(&before, InstanceStatus::Pending) + 1
    );
    assert_eq!(
        status(&after, InstanceStatus::Provisioning),
        status(&before, InstanceStatus::Provisioning) + 1
    );
    assert_eq!(jobs(&after, "queued"), jobs(&before, "queued") + 1);
    assert_eq!(jobs(&after, "running"), jobs(&before, "running") + 1);
    assert_eq!(after.last_event_sequence, last.sequence);
}
