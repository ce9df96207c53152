//! Behaviour of the in-memory store beyond the shared conformance checks.

use super::*;
use crate::clock::TokioClock;
use crate::domain::{
    CustomerId, InstanceStatus, JobKind, PlanName, RegionName, Subdomain, ValidCreate,
};

fn instance() -> Instance {
    let request = ValidCreate {
        customer_id: CustomerId::parse("c-1").unwrap(),
        external_ref: None,
        subdomain: Subdomain::parse("alice").unwrap(),
        plan: PlanName::new("starter"),
        region: RegionName::new("eu-west"),
    };
    Instance::new(InstanceId::new(), request, "claw.example", Utc::now())
}

fn created(i: &Instance) -> NewEvent {
    NewEvent::status_changed(i.id, None, InstanceStatus::Pending, "created", i.created_at)
}

fn job_for(i: &Instance) -> NewJob {
    NewJob::new(i.id, JobKind::Provision, i.created_at, 3)
}

#[tokio::test(start_paused = true)]
async fn an_enqueued_job_wakes_a_waiting_worker() {
    let store = InMemoryStore::new();
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            store
                .wait_for_jobs(Duration::from_secs(3600))
                .await
                .unwrap();
            start.elapsed()
        })
    };
    tokio::task::yield_now().await;
    let i = instance();
    store
        .insert_instance(&NewInstance::new(&i, &created(&i), Some(job_for(&i))))
        .await
        .unwrap();
    assert_eq!(waiter.await.unwrap(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_change_just_before_the_wait_is_not_missed() {
    let store = InMemoryStore::new();
    let i = instance();
    store
        .insert_instance(&NewInstance::new(&i, &created(&i), None))
        .await
        .unwrap();
    store.enqueue_job(&job_for(&i)).await.unwrap();
    let start = tokio::time::Instant::now();
    store
        .wait_for_jobs(Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
    // The permit is used up: the next wait runs to its timeout.
    store.wait_for_jobs(Duration::from_secs(5)).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

#[tokio::test]
async fn a_status_change_without_its_event_is_refused() {
    let store = InMemoryStore::new();
    let i = instance();
    store
        .insert_instance(&NewInstance::new(&i, &created(&i), None))
        .await
        .unwrap();
    let mut next = i.clone();
    next.status = InstanceStatus::Provisioning;
    let err = store
        .update_instance(&InstanceWrite::new(next))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "event"));
    assert_eq!(store.get_instance(i.id).await.unwrap().unwrap().version, 1);
}

#[tokio::test]
async fn injected_faults_fail_before_or_lose_after_the_write() {
    let store = InMemoryStore::new();
    let i = instance();
    store
        .faults()
        .fail_next("insert_instance", 1, Error::unavailable("db", "gone"));
    assert!(store
        .insert_instance(&NewInstance::new(&i, &created(&i), None))
        .await
        .is_err());
    assert!(store.get_instance(i.id).await.unwrap().is_none());
    store.faults().lose_next_responses("insert_instance", 1);
    let err = store
        .insert_instance(&NewInstance::new(&i, &created(&i), None))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ambiguous");
    assert!(store.get_instance(i.id).await.unwrap().is_some());
    assert_eq!(store.faults().calls("insert_instance"), 2);
}

#[tokio::test(start_paused = true)]
async fn enqueue_times_come_from_the_stores_clock() {
    let clock = TokioClock::default();
    let store = InMemoryStore::with_clock(Arc::new(clock));
    let i = instance();
    store
        .insert_instance(&NewInstance::new(&i, &created(&i), None))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(30)).await;
    let job = store.enqueue_job(&job_for(&i)).await.unwrap();
    assert_eq!(job.created_at, clock.now());
}

#[tokio::test]
async fn reviving_an_instance_cannot_steal_a_live_external_ref() {
    let store = InMemoryStore::new();
    let reference = ExternalRef::parse("svc-1").unwrap();
    let mut old = instance();
    old.external_ref = Some(reference.clone());
    store
        .insert_instance(&NewInstance::new(&old, &created(&old), None))
        .await
        .unwrap();
    let write = |i: &Instance, to| {
        let mut next = i.clone();
        next.status = to;
        InstanceWrite {
            event: Some(NewEvent::status_changed(
                i.id,
                Some(i.status),
                to,
                "t",
                Utc::now(),
            )),
            ..InstanceWrite::new(next)
        }
    };
    let (old, _) = store
        .update_instance(&write(&old, InstanceStatus::RollingBack))
        .await
        .unwrap();
    let (old, _) = store
        .update_instance(&write(&old, InstanceStatus::RolledBack))
        .await
        .unwrap();
    let mut new = instance();
    new.external_ref = Some(reference.clone());
    store
        .insert_instance(&NewInstance::new(&new, &created(&new), None))
        .await
        .unwrap();
    let err = store
        .update_instance(&write(&old, InstanceStatus::Pending))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict");
    let live = store.find_live_by_external_ref(&reference).await.unwrap();
    assert_eq!(live.map(|i| i.id), Some(new.id));
}
