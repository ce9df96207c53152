//! Store checks of instances: round trips, uniqueness, listing and compare-and-swap writes.

use std::sync::Arc;

use super::{
    assert_conflict, created, customer, insert_new, join, last_sequence, move_to, now, reference,
    sample_instance, status_write,
};
use crate::domain::{
    EventKind, InstanceFilter, InstanceId, InstanceStatus, JobKind, JobState, LastError, NewEvent,
    NewJob, Operation, Topic,
};
use crate::error::Error;
use crate::ports::{InstanceWrite, NewInstance, Store};

/// An inserted instance reads back equal at version 1; its creation event and first job are
/// written with it; an unknown id reads as `None`.
pub async fn insert_and_get(store: Arc<dyn Store>) {
    let instance = sample_instance(&customer(), Some(&reference()));
    let event = created(&instance);
    let job = NewJob::new(instance.id, JobKind::Provision, instance.created_at, 5);
    let written = store
        .insert_instance(&NewInstance::new(&instance, &event, Some(job.clone())))
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
    assert_eq!(queued.state, JobState::Queued);
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
            .insert_instance(&NewInstance::new(
                &again,
                &created(&again),
                Some(job.clone()),
            ))
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

/// Two live instances never share a name: a second one with the `fqdn` of a live instance
/// is `Conflict` and writes nothing; once the first is terminated the name is free.
pub async fn fqdn_unique_among_live(store: Arc<dyn Store>) {
    let first = insert_new(&store, None).await;
    let before = last_sequence(&store).await;
    let mut second = sample_instance(&customer(), None);
    second.subdomain = first.subdomain.clone();
    second.fqdn = first.fqdn.clone();
    assert_conflict(
        store
            .insert_instance(&NewInstance::new(&second, &created(&second), None))
            .await,
        "insert_instance with the fqdn of a live instance",
    );
    assert!(store.get_instance(second.id).await.unwrap().is_none());
    assert_eq!(last_sequence(&store).await, before);

    let terminating = move_to(&store, &first, InstanceStatus::Terminating, None).await;
    move_to(&store, &terminating, InstanceStatus::Terminated, None).await;
    store
        .insert_instance(&NewInstance::new(&second, &created(&second), None))
        .await
        .expect("the name of a terminated instance is free");
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
            .insert_instance(&NewInstance::new(&second, &created(&second), None))
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
        .insert_instance(&NewInstance::new(&second, &created(&second), None))
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
            .insert_instance(&NewInstance::new(&instance, &created(&instance), None))
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

    // `search`: a subdomain's prefix, or an external reference exactly.
    let searched = |text: &str| {
        let store = store.clone();
        let filter = InstanceFilter {
            search: Some(text.to_string()),
            customer_id: Some(customer.clone()),
            limit: Some(100),
            ..InstanceFilter::default()
        };
        async move { store.list_instances(&filter).await.unwrap().items }
    };
    let first = store.get_instance(ids[0]).await.unwrap().unwrap();
    let label = first.subdomain.as_str().to_string();
    let found = searched(&label).await;
    assert!(
        found.iter().any(|i| i.id == first.id),
        "the whole subdomain"
    );
    let found = searched(&label[..label.len() - 2]).await;
    assert!(found.iter().any(|i| i.id == first.id), "a prefix");
    assert!(found.iter().all(
        |i| i.subdomain.as_str().starts_with(&label[..label.len() - 2])
            || i.external_ref.as_ref().map(|r| r.as_str()) == Some(&label[..label.len() - 2])
    ));
    assert!(
        searched(&label[1..]).await.iter().all(|i| i.id != first.id),
        "not a middle part"
    );
    assert!(
        searched(&format!("{label}%")).await.is_empty(),
        "% is not a wildcard"
    );
    let with_ref = searched(reference.as_str()).await;
    assert_eq!(with_ref.len(), 1, "an external reference exactly");
    assert_eq!(with_ref[0].external_ref.as_ref(), Some(&reference));

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
        .update_instance(&InstanceWrite::new(next.clone()))
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
        store.update_instance(&InstanceWrite::new(stale)).await,
        "update_instance at a stale version",
    );
    assert_eq!(
        store.get_instance(instance.id).await.unwrap(),
        Some(read.clone())
    );

    let third = move_to(&store, &read, InstanceStatus::Provisioning, None).await;
    assert_eq!(third.version, 3);

    let unknown = sample_instance(&customer(), None);
    match store.update_instance(&InstanceWrite::new(unknown)).await {
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
                        rollback_level: None,
                        code: format!("updater-{updater}"),
                        message: format!("from version {}", current.version),
                        at,
                    });
                    let write = InstanceWrite {
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
                        ..InstanceWrite::new(next)
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
