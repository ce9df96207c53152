//! The [`Store`] contract as checks. Each check takes a store of its own.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{join, now, unique};
use crate::domain::{
    CustomerId, EventKind, ExternalRef, IdempotencyRecord, Instance, InstanceFilter, InstanceId,
    InstanceStatus, JobKind, LastError, NewEvent, NewJob, Operation, PlanName, RegionName,
    RollbackLevel, RollbackLogEntry, StoredResponse, Subdomain, Topic, ValidCreate,
};
use crate::error::Error;
use crate::ports::{InstanceWrite, Store};

mod events;
mod jobs;

pub use events::*;
pub use jobs::*;

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
    used_up_attempts_dead_letter(new_store().await).await;
    fail_job_requeues_then_dead_letters(new_store().await).await;
    release_does_not_count_attempt(new_store().await).await;
    list_jobs_filters(new_store().await).await;
    wait_for_jobs_returns(new_store().await).await;
    idempotency_keys(new_store().await).await;
    idempotency_expiry_and_purge(new_store().await).await;
    stats_count(new_store().await).await;
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
        .insert_instance(&instance, &created(&instance), None)
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
        instance: next,
        job,
    }
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

/// An inserted instance reads back equal at version 1; its creation event and first job are
/// written with it; an unknown id reads as `None`.
pub async fn insert_and_get(store: Arc<dyn Store>) {
    let instance = sample_instance(&customer(), Some(&reference()));
    let event = created(&instance);
    let job = NewJob::new(instance.id, JobKind::Provision, instance.created_at, 5);
    let written = store
        .insert_instance(&instance, &event, Some(&job))
        .await
        .expect("insert_instance");
    assert!(written.sequence >= 1, "event sequences start at 1");
    assert_eq!(written.instance_id, Some(instance.id));
    assert_eq!(written.kind, event.kind);
    assert_eq!(written.topic, event.topic);
    assert_eq!(written.at, event.at, "event time must round-trip");
    let stored = store.get_instance(instance.id).await.unwrap();
    assert_eq!(stored.as_ref(), Some(&instance), "instance must round-trip");
    assert_eq!(stored.unwrap().version, 1);
    let queued = store
        .get_job(job.id)
        .await
        .unwrap()
        .expect("first job written");
    assert_eq!(queued.instance_id, instance.id);
    assert_eq!(queued.kind, JobKind::Provision);
    assert_eq!(queued.state, crate::domain::JobState::Queued);
    assert_eq!((queued.attempts, queued.max_attempts), (0, 5));
    assert_eq!(queued.run_at, job.run_at);
    assert!(store
        .get_instance(InstanceId::new())
        .await
        .unwrap()
        .is_none());
}

/// Inserting an existing id is `Conflict` and writes nothing: no event, no job, no change.
pub async fn insert_existing_id_conflicts(store: Arc<dyn Store>) {
    let first = insert_new(&store, None).await;
    let before = last_sequence(&store).await;
    let mut again = sample_instance(&customer(), None);
    again.id = first.id;
    let job = NewJob::new(first.id, JobKind::Provision, now(), 3);
    assert_conflict(
        store
            .insert_instance(&again, &created(&again), Some(&job))
            .await,
        "insert_instance with an existing id",
    );
    assert_eq!(store.get_instance(first.id).await.unwrap(), Some(first));
    assert_eq!(
        last_sequence(&store).await,
        before,
        "a refused insert wrote an event"
    );
    assert!(
        store.get_job(job.id).await.unwrap().is_none(),
        "a refused insert wrote its job"
    );
}

/// An external reference is unique among live instances, and free again once its instance
/// is terminated.
pub async fn external_ref_unique_among_live(store: Arc<dyn Store>) {
    let reference = reference();
    let first = insert_new(&store, Some(&reference)).await;
    let before = last_sequence(&store).await;
    let second = sample_instance(&customer(), Some(&reference));
    assert_conflict(
        store
            .insert_instance(&second, &created(&second), None)
            .await,
        "insert_instance with the external_ref of a live instance",
    );
    assert!(store.get_instance(second.id).await.unwrap().is_none());
    assert_eq!(last_sequence(&store).await, before);
    let found = store.find_live_by_external_ref(&reference).await.unwrap();
    assert_eq!(found.map(|i| i.id), Some(first.id));

    let terminating = move_to(&store, &first, InstanceStatus::Terminating, None).await;
    assert_eq!(
        store
            .find_live_by_external_ref(&reference)
            .await
            .unwrap()
            .map(|i| i.id),
        Some(first.id),
        "terminating is still live"
    );
    move_to(&store, &terminating, InstanceStatus::Terminated, None).await;
    assert!(store
        .find_live_by_external_ref(&reference)
        .await
        .unwrap()
        .is_none());
    store
        .insert_instance(&second, &created(&second), None)
        .await
        .expect("the external_ref of a terminated instance is free");
    let found = store.find_live_by_external_ref(&reference).await.unwrap();
    assert_eq!(found.map(|i| i.id), Some(second.id));
}

/// Listing filters by customer, status and external reference, orders by id, and pages
/// with the cursor until `next` is `None`.
pub async fn list_filters_and_pages(store: Arc<dyn Store>) {
    let customer = customer();
    let reference = reference();
    let mut ids = Vec::new();
    for i in 0..5 {
        let instance = sample_instance(&customer, (i == 0).then_some(&reference));
        store
            .insert_instance(&instance, &created(&instance), None)
            .await
            .unwrap();
        if i % 2 == 1 {
            move_to(&store, &instance, InstanceStatus::Provisioning, None).await;
        }
        ids.push(instance.id);
    }
    ids.sort();
    insert_new(&store, None).await; // another customer's

    let of_customer = |status, limit| InstanceFilter {
        customer_id: Some(customer.clone()),
        status,
        limit,
        ..InstanceFilter::default()
    };
    let all = store
        .list_instances(&of_customer(None, Some(100)))
        .await
        .unwrap();
    assert_eq!(all.items.iter().map(|i| i.id).collect::<Vec<_>>(), ids);
    assert_eq!(all.next, None, "a page holding everything has no next");
    let exact = store
        .list_instances(&of_customer(None, Some(5)))
        .await
        .unwrap();
    assert_eq!(exact.items.len(), 5);
    assert_eq!(
        exact.next, None,
        "the last page has no next, even when full"
    );

    let provisioning = store
        .list_instances(&of_customer(Some(InstanceStatus::Provisioning), None))
        .await
        .unwrap();
    assert_eq!(provisioning.items.len(), 2);
    assert!(provisioning
        .items
        .iter()
        .all(|i| i.status == InstanceStatus::Provisioning));
    let by_ref = store
        .list_instances(&InstanceFilter {
            external_ref: Some(reference.clone()),
            ..InstanceFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_ref.items.len(), 1);
    assert_eq!(by_ref.items[0].external_ref.as_ref(), Some(&reference));

    let mut paged = Vec::new();
    let mut filter = of_customer(None, Some(2));
    let mut pages = 0;
    loop {
        let page = store.list_instances(&filter).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2, "page larger than its limit");
        paged.extend(page.items.iter().map(|i| i.id));
        match page.next {
            Some(next) => {
                assert_eq!(Some(next), page.items.last().map(|i| i.id));
                filter.after = Some(next);
            }
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(
        paged, ids,
        "pages must cover every instance once, in id order"
    );
    assert_eq!(pages, 3);
}

/// An update at the stored version writes version + 1; a stale version is `Conflict` and
/// changes nothing; an unknown id is `NotFound`.
pub async fn update_compare_and_swap(store: Arc<dyn Store>) {
    let instance = insert_new(&store, None).await;
    let mut next = instance.clone();
    next.resources.ipv4 = Some("192.0.2.10".parse().unwrap());
    next.updated_at = now();
    let (stored, event) = store
        .update_instance(&InstanceWrite {
            instance: next.clone(),
            event: None,
            job: None,
        })
        .await
        .expect("update at the current version");
    assert_eq!(stored.version, 2);
    assert!(event.is_none());
    let read = store.get_instance(instance.id).await.unwrap().unwrap();
    assert_eq!(read, stored);
    assert_eq!(read.resources.ipv4, next.resources.ipv4);

    let mut stale = instance.clone();
    stale.resources.ipv4 = Some("192.0.2.99".parse().unwrap());
    assert_conflict(
        store
            .update_instance(&InstanceWrite {
                instance: stale,
                event: None,
                job: None,
            })
            .await,
        "update_instance at a stale version",
    );
    assert_eq!(
        store.get_instance(instance.id).await.unwrap(),
        Some(read.clone())
    );

    let third = move_to(&store, &read, InstanceStatus::Provisioning, None).await;
    assert_eq!(third.version, 3);

    let unknown = sample_instance(&customer(), None);
    match store
        .update_instance(&InstanceWrite {
            instance: unknown,
            event: None,
            job: None,
        })
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => panic!("update_instance of an unknown id: expected NotFound, got {other:?}"),
    }
}

/// An update's event and job are written with it.
pub async fn update_writes_event_and_job(store: Arc<dyn Store>) {
    let instance = insert_new(&store, None).await;
    let job = NewJob::new(instance.id, JobKind::Provision, now(), 3);
    let write = status_write(&instance, InstanceStatus::Provisioning, Some(job.clone()));
    let (stored, event) = store.update_instance(&write).await.unwrap();
    let event = event.expect("the update's event is returned");
    assert_eq!(stored.status, InstanceStatus::Provisioning);
    assert_eq!(
        event.status_change(),
        Some((Some(InstanceStatus::Pending), InstanceStatus::Provisioning))
    );
    let events = store.instance_events(instance.id).await.unwrap();
    assert_eq!(events.last(), Some(&event));
    let queued = store
        .get_job(job.id)
        .await
        .unwrap()
        .expect("the update's job");
    assert_eq!(queued.instance_id, instance.id);
}

/// A refused update writes neither its event nor its job.
pub async fn failed_update_writes_nothing(store: Arc<dyn Store>) {
    let instance = insert_new(&store, None).await;
    let current = move_to(&store, &instance, InstanceStatus::Provisioning, None).await;
    let events_before = store.instance_events(instance.id).await.unwrap();
    let before = last_sequence(&store).await;
    let job = NewJob::new(instance.id, JobKind::Terminate, now(), 3);
    // Written at the version read before the last update.
    let write = status_write(&instance, InstanceStatus::Terminating, Some(job.clone()));
    assert_conflict(store.update_instance(&write).await, "stale update");
    assert_eq!(
        store.get_instance(instance.id).await.unwrap(),
        Some(current)
    );
    assert_eq!(
        store.instance_events(instance.id).await.unwrap(),
        events_before
    );
    assert_eq!(
        last_sequence(&store).await,
        before,
        "a refused update wrote its event"
    );
    assert!(
        store.get_job(job.id).await.unwrap().is_none(),
        "a refused update wrote its job"
    );
}

/// Eight tasks update one instance concurrently, each retrying on `Conflict` until it has
/// won five times: every version from 2 to 41 is won exactly once, and every win wrote
/// exactly one event.
pub async fn concurrent_updaters_one_winner_per_version(store: Arc<dyn Store>) {
    const UPDATERS: usize = 8;
    const WINS_EACH: usize = 5;
    let instance = insert_new(&store, None).await;
    let tasks: Vec<_> = (0..UPDATERS)
        .map(|updater| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut won = Vec::new();
                let mut tries = 0;
                while won.len() < WINS_EACH {
                    tries += 1;
                    assert!(tries < 10_000, "updater {updater} never wins");
                    let current = store.get_instance(instance.id).await.unwrap().unwrap();
                    let at = now();
                    let mut next = current.clone();
                    next.updated_at = at;
                    next.last_error = Some(LastError {
                        operation: Operation::Provision,
                        code: format!("updater-{updater}"),
                        message: format!("from version {}", current.version),
                        at,
                    });
                    let write = InstanceWrite {
                        instance: next,
                        event: Some(NewEvent {
                            topic: Topic::Audit,
                            instance_id: Some(instance.id),
                            kind: EventKind::Audit {
                                action: "conformance_update".into(),
                                actor: format!("updater-{updater}"),
                            },
                            reason: format!("from version {}", current.version),
                            at,
                        }),
                        job: None,
                    };
                    match store.update_instance(&write).await {
                        Ok((stored, _)) => {
                            assert_eq!(stored.version, current.version + 1);
                            won.push(stored.version);
                        }
                        Err(Error::Conflict { .. }) => {}
                        Err(e) => panic!("concurrent update failed with {e}, not Conflict"),
                    }
                }
                won
            })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        versions.extend(join(task).await);
    }
    versions.sort_unstable();
    let expected: Vec<u64> = (2..=(1 + (UPDATERS * WINS_EACH) as u64)).collect();
    assert_eq!(
        versions, expected,
        "each version must have exactly one winner"
    );
    let last = store.get_instance(instance.id).await.unwrap().unwrap();
    assert_eq!(last.version, *expected.last().unwrap());
    let events = store.instance_events(instance.id).await.unwrap();
    assert_eq!(events.len(), 1 + UPDATERS * WINS_EACH, "one event per win");
}

fn rollback_entry(instance: &Instance, reason: &str) -> RollbackLogEntry {
    RollbackLogEntry {
        instance_id: instance.id,
        level: RollbackLevel::Full,
        reason: reason.to_string(),
        deleted: vec!["server 1".into(), "dns record 2".into()],
        instance: instance.clone(),
        at: now(),
    }
}

fn deleted_event(instance: &Instance) -> NewEvent {
    NewEvent::status_changed(
        instance.id,
        Some(instance.status),
        InstanceStatus::RolledBack,
        "full rollback",
        now(),
    )
}

/// `delete_instance` checks the version, removes the row, frees its external reference, and
/// writes its event and rollback log entry; an unknown id is `NotFound`.
pub async fn delete_instance_keeps_rollback_log(store: Arc<dyn Store>) {
    let reference = reference();
    let instance = insert_new(&store, Some(&reference)).await;
    let current = move_to(&store, &instance, InstanceStatus::RollingBack, None).await;
    let entry = rollback_entry(&current, "conformance");
    let before = last_sequence(&store).await;
    assert_conflict(
        store
            .delete_instance(instance.id, 1, &deleted_event(&current), &entry)
            .await,
        "delete_instance at a stale version",
    );
    assert!(store.get_instance(instance.id).await.unwrap().is_some());
    assert_eq!(last_sequence(&store).await, before);
    assert!(!store
        .rollback_log(100)
        .await
        .unwrap()
        .iter()
        .any(|e| e.instance_id == instance.id));

    let event = store
        .delete_instance(
            instance.id,
            current.version,
            &deleted_event(&current),
            &entry,
        )
        .await
        .expect("delete_instance at the current version");
    assert!(event.sequence > before);
    assert!(store.get_instance(instance.id).await.unwrap().is_none());
    assert!(store
        .find_live_by_external_ref(&reference)
        .await
        .unwrap()
        .is_none());
    let log = store.rollback_log(100).await.unwrap();
    assert_eq!(
        log.iter().find(|e| e.instance_id == instance.id),
        Some(&entry),
        "the rollback log entry must round-trip"
    );
    let events = store.instance_events(instance.id).await.unwrap();
    assert_eq!(events.last(), Some(&event));
    match store
        .delete_instance(
            instance.id,
            current.version,
            &deleted_event(&current),
            &entry,
        )
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => panic!("delete_instance of a deleted id: expected NotFound, got {other:?}"),
    }
}

/// The rollback log lists the newest entry first, at most `limit`.
pub async fn rollback_log_newest_first(store: Arc<dyn Store>) {
    let mut entries = Vec::new();
    for reason in ["first", "second", "third"] {
        let instance = insert_new(&store, None).await;
        let entry = rollback_entry(&instance, reason);
        store
            .delete_instance(instance.id, 1, &deleted_event(&instance), &entry)
            .await
            .unwrap();
        entries.push(entry);
    }
    let log = store.rollback_log(100).await.unwrap();
    let position = |entry: &RollbackLogEntry| {
        log.iter()
            .position(|e| e == entry)
            .unwrap_or_else(|| panic!("rollback log lacks the {} entry", entry.reason))
    };
    assert!(position(&entries[2]) < position(&entries[1]));
    assert!(position(&entries[1]) < position(&entries[0]));
    let newest = store.rollback_log(1).await.unwrap();
    assert_eq!(
        newest,
        vec![entries[2].clone()],
        "limit 1 gives the newest entry"
    );
}

fn idempotency_record(
    key: &str,
    hash: &str,
    at: DateTime<Utc>,
    ttl: Duration,
) -> IdempotencyRecord {
    IdempotencyRecord {
        key: key.to_string(),
        request_hash: hash.to_string(),
        response: None,
        created_at: at,
        expires_at: at + ttl,
    }
}

/// An idempotency key is stored once; a second put returns the first record unchanged;
/// completing attaches the response; deleting (twice) removes it.
pub async fn idempotency_keys(store: Arc<dyn Store>) {
    let key = format!("api:{}", unique());
    let t = now();
    let record = idempotency_record(&key, "hash-1", t, Duration::hours(1));
    assert_eq!(store.put_idempotency(&record).await.unwrap(), None);
    let other = idempotency_record(&key, "hash-2", t + Duration::seconds(1), Duration::hours(1));
    assert_eq!(
        store.put_idempotency(&other).await.unwrap(),
        Some(record.clone()),
        "a live key returns the stored record unchanged"
    );
    let later = t + Duration::seconds(2);
    assert_eq!(
        store.get_idempotency(&key, later).await.unwrap(),
        Some(record.clone())
    );
    let response = StoredResponse {
        status: 201,
        body: serde_json::json!({"id": "abc", "status": "pending"}),
    };
    store.complete_idempotency(&key, &response).await.unwrap();
    let completed = store.get_idempotency(&key, later).await.unwrap().unwrap();
    assert_eq!(completed.response, Some(response));
    assert_eq!(completed.request_hash, "hash-1");
    store.delete_idempotency(&key).await.unwrap();
    assert!(store.get_idempotency(&key, later).await.unwrap().is_none());
    store
        .delete_idempotency(&key)
        .await
        .expect("deleting a missing key succeeds");
    assert_eq!(store.put_idempotency(&other).await.unwrap(), None);
}

/// An expired key reads as absent and may be taken again; `purge_idempotency` removes
/// exactly the expired keys.
pub async fn idempotency_expiry_and_purge(store: Arc<dyn Store>) {
    let t = now();
    let short = format!("api:{}", unique());
    let long = format!("api:{}", unique());
    store
        .put_idempotency(&idempotency_record(&short, "h", t, Duration::seconds(10)))
        .await
        .unwrap();
    let kept = idempotency_record(&long, "h", t, Duration::hours(1));
    store.put_idempotency(&kept).await.unwrap();
    let after_expiry = t + Duration::seconds(11);
    assert!(store
        .get_idempotency(&short, after_expiry)
        .await
        .unwrap()
        .is_none());
    let retaken = idempotency_record(&short, "h2", after_expiry, Duration::seconds(10));
    assert_eq!(
        store.put_idempotency(&retaken).await.unwrap(),
        None,
        "an expired key may be taken again"
    );
    assert_eq!(
        store
            .get_idempotency(&short, after_expiry + Duration::seconds(1))
            .await
            .unwrap(),
        Some(retaken.clone())
    );
    let purge_at = after_expiry + Duration::seconds(30);
    assert_eq!(store.purge_idempotency(purge_at).await.unwrap(), 1);
    assert!(
        store
            .get_idempotency(&short, after_expiry)
            .await
            .unwrap()
            .is_none(),
        "purged keys are gone"
    );
    assert_eq!(
        store.get_idempotency(&long, purge_at).await.unwrap(),
        Some(kept)
    );
    assert_eq!(store.purge_idempotency(purge_at).await.unwrap(), 0);
}

/// `stats` counts instances per status, jobs per state, and reports the last sequence.
pub async fn stats_count(store: Arc<dyn Store>) {
    let before = store.stats().await.unwrap();
    let first = insert_new(&store, None).await;
    let second = sample_instance(&customer(), None);
    let job = NewJob::new(second.id, JobKind::Provision, now(), 3);
    store
        .insert_instance(&second, &created(&second), Some(&job))
        .await
        .unwrap();
    move_to(&store, &first, InstanceStatus::Provisioning, None).await;
    let other = NewJob::new(first.id, JobKind::Provision, now(), 3);
    store.enqueue_job(&other).await.unwrap();
    let claimed = store
        .claim_job(&crate::domain::ClaimRequest {
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
