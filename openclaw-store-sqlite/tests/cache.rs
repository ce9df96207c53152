//! The instance cache: this process reads its own writes at once, and sees another process's
//! writes after a version conflict or within the cache's time to live.

#![allow(clippy::expect_used, clippy::panic)]

use std::time::Duration;

use openclaw_core::conformance::store::sample_instance;
use openclaw_core::domain::{CustomerId, InstanceStatus, NewEvent};
use openclaw_core::ports::{InstanceWrite, NewInstance, Store};
use openclaw_core::Error;
use openclaw_store_sqlite::{SqliteConfig, SqliteStore};

/// Two stores on one file: what two processes sharing it look like.
async fn two_processes(ttl: Duration) -> (SqliteStore, SqliteStore) {
    let mut first = SqliteConfig::temporary();
    first.instance_cache_ttl = ttl;
    let a = SqliteStore::connect(&first).await.expect("first store");
    let mut second = SqliteConfig::new(a.path());
    second.instance_cache_ttl = ttl;
    let b = SqliteStore::connect(&second).await.expect("second store");
    (a, b)
}

fn status_write(instance: &openclaw_core::domain::Instance, to: InstanceStatus) -> InstanceWrite {
    let mut next = instance.clone();
    next.status = to;
    InstanceWrite {
        event: Some(NewEvent::status_changed(
            instance.id,
            Some(instance.status),
            to,
            "cache test",
            chrono::Utc::now(),
        )),
        ..InstanceWrite::new(next)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_processs_write_is_seen_after_a_conflict() {
    let (a, b) = two_processes(Duration::from_secs(3600)).await;
    let customer = CustomerId::parse("cache-1").expect("customer");
    let instance = sample_instance(&customer, None);
    let created = NewEvent::status_changed(
        instance.id,
        None,
        InstanceStatus::Pending,
        "created",
        instance.created_at,
    );
    a.insert_instance(&NewInstance::new(&instance, &created, None))
        .await
        .expect("insert");
    let seen_by_a = a
        .get_instance(instance.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(seen_by_a.version, 1);

    // The other process moves it on; this one still answers from memory...
    b.update_instance(&status_write(&seen_by_a, InstanceStatus::Provisioning))
        .await
        .expect("b writes");
    let stale = a
        .get_instance(instance.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        stale.version, 1,
        "within the ttl a foreign write may be unseen"
    );

    // ...until its own compare-and-swap finds the newer version, which drops the entry.
    let refused = a
        .update_instance(&status_write(&stale, InstanceStatus::Provisioning))
        .await;
    assert!(
        matches!(refused, Err(Error::Conflict { .. })),
        "{refused:?}"
    );
    let fresh = a
        .get_instance(instance.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(fresh.version, 2);
    assert_eq!(fresh.status, InstanceStatus::Provisioning);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_writes_are_seen_at_once_and_foreign_ones_within_the_ttl() {
    let (a, b) = two_processes(Duration::from_millis(200)).await;
    let instance = sample_instance(&CustomerId::parse("cache-2").expect("customer"), None);
    let created = NewEvent::status_changed(
        instance.id,
        None,
        InstanceStatus::Pending,
        "created",
        instance.created_at,
    );
    a.insert_instance(&NewInstance::new(&instance, &created, None))
        .await
        .expect("insert");
    let (written, _) = a
        .update_instance(&status_write(&instance, InstanceStatus::Provisioning))
        .await
        .expect("a writes");
    assert_eq!(
        a.get_instance(instance.id)
            .await
            .expect("get")
            .expect("row"),
        written,
        "a process reads its own write at once"
    );
    b.update_instance(&status_write(&written, InstanceStatus::Active))
        .await
        .expect("b writes");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let later = a
        .get_instance(instance.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        later.status,
        InstanceStatus::Active,
        "seen once the ttl passed"
    );
    assert_eq!(later.version, 3);
}
