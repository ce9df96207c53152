//! Store checks of full rollbacks: deleting an instance and the log kept of it.

use std::sync::Arc;

use super::{assert_conflict, insert_new, last_sequence, move_to, now, reference};
use crate::domain::{Instance, InstanceStatus, NewEvent, RollbackLevel, RollbackLogEntry};
use crate::error::Error;
use crate::ports::Store;

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
            .delete_instance(&super::deletion(
                instance.id,
                1,
                deleted_event(&current),
                entry.clone(),
            ))
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
        .delete_instance(&super::deletion(
            instance.id,
            current.version,
            deleted_event(&current),
            entry.clone(),
        ))
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
        .delete_instance(&super::deletion(
            instance.id,
            current.version,
            deleted_event(&current),
            entry.clone(),
        ))
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
            .delete_instance(&super::deletion(
                instance.id,
                1,
                deleted_event(&instance),
                entry.clone(),
            ))
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
