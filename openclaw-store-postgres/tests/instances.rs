//! Instance writes beyond the conformance suite: what the database's constraints add.

// Helpers outside `#[test]` functions stop the test on failure, as the tests themselves do.
#![allow(clippy::expect_used, clippy::panic)]

mod common;

use chrono::Utc;
use openclaw_core::conformance::store::sample_instance;
use openclaw_core::domain::{CustomerId, ExternalRef, Instance, InstanceStatus, NewEvent};
use openclaw_core::ports::{InstanceWrite, NewInstance, Store};
use openclaw_core::Error;

fn customer() -> CustomerId {
    CustomerId::parse("instances-test").expect("customer id")
}

fn created(i: &Instance) -> NewEvent {
    NewEvent::status_changed(i.id, None, InstanceStatus::Pending, "created", i.created_at)
}

fn moved(i: &Instance, to: InstanceStatus) -> InstanceWrite {
    let mut next = i.clone();
    next.status = to;
    InstanceWrite {
        event: Some(NewEvent::status_changed(
            i.id,
            Some(i.status),
            to,
            "test",
            Utc::now(),
        )),
        ..InstanceWrite::new(next)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_without_its_event_is_refused() {
    let store = common::store().await;
    let instance = sample_instance(&customer(), None);
    store
        .insert_instance(&NewInstance::new(&instance, &created(&instance), None))
        .await
        .expect("insert");
    let mut write = moved(&instance, InstanceStatus::Provisioning);
    write.event = None;
    match store.update_instance(&write).await {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "event"),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    assert_eq!(
        store.get_instance(instance.id).await.expect("get"),
        Some(instance)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviving_an_instance_cannot_take_a_live_reference_or_name() {
    let store = common::store().await;
    let reference = ExternalRef::parse("svc-revive").expect("reference");
    let old = sample_instance(&customer(), Some(&reference));
    store
        .insert_instance(&NewInstance::new(&old, &created(&old), None))
        .await
        .expect("insert");
    let (rolling, _) = store
        .update_instance(&moved(&old, InstanceStatus::RollingBack))
        .await
        .expect("rolling back");
    let (rolled, _) = store
        .update_instance(&moved(&rolling, InstanceStatus::RolledBack))
        .await
        .expect("rolled back");
    // The reference and the name are free: a new order takes both.
    let mut new = sample_instance(&customer(), Some(&reference));
    new.fqdn = old.fqdn.clone();
    new.subdomain = old.subdomain.clone();
    store
        .insert_instance(&NewInstance::new(&new, &created(&new), None))
        .await
        .expect("a rolled-back instance's reference and name are free");
    // Retrying the old one would make two live instances share them.
    match store
        .update_instance(&moved(&rolled, InstanceStatus::Pending))
        .await
    {
        Err(Error::Conflict { message }) => assert!(message.contains("live instance"), "{message}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(
        store
            .find_live_by_external_ref(&reference)
            .await
            .expect("find")
            .map(|i| i.id),
        Some(new.id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_postgresql_cannot_store_is_invalid_input() {
    let store = common::store().await;
    let event = NewEvent::alert(None, "test", "nul \u{0} inside", Utc::now());
    match store.append_event(&event).await {
        Err(Error::InvalidInput { .. }) => {}
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_fence_is_named_before_a_stale_version() {
    let store = std::sync::Arc::new(common::store().await);
    openclaw_store_sql::testing::a_lost_fence_is_named_before_a_stale_version(store).await;
}
