//! Store checks of instance secrets: written with the instance, handed out once.

use std::sync::Arc;

use super::{created, customer, join, move_to, now, sample_instance};
use crate::domain::{InstanceStatus, RollbackLevel, RollbackLogEntry};
use crate::error::Error;
use crate::instance_secrets::SealedSecrets;
use crate::ports::{NewInstance, Store};

fn sealed(tag: u8) -> SealedSecrets {
    SealedSecrets::from_bytes(vec![1, tag, 0, 255, 7, 7, 7, 7, 7, 7, 7, 7, 7, 9, 9, 9])
}

/// Secrets written with an instance read back byte for byte; an instance written without
/// them has none.
pub async fn secrets_are_written_with_the_instance(store: Arc<dyn Store>) {
    let with = sample_instance(&customer(), None);
    let mut new = NewInstance::new(&with, &created(&with), None);
    new.secrets = Some(sealed(1));
    store.insert_instance(&new).await.unwrap();
    assert_eq!(
        store.instance_secrets(with.id).await.unwrap(),
        Some(sealed(1))
    );
    let without = sample_instance(&customer(), None);
    store
        .insert_instance(&NewInstance::new(&without, &created(&without), None))
        .await
        .unwrap();
    assert_eq!(store.instance_secrets(without.id).await.unwrap(), None);
    assert!(matches!(
        store.consume_bootstrap(without.id, now()).await,
        Err(Error::NotFound { .. })
    ));
}

/// `consume_bootstrap` hands the secrets out once — also to eight concurrent callers — and
/// once more after `reset_bootstrap`; reading them (`instance_secrets`) is not a use.
pub async fn bootstrap_hands_secrets_out_once(store: Arc<dyn Store>) {
    let instance = sample_instance(&customer(), None);
    let mut new = NewInstance::new(&instance, &created(&instance), None);
    new.secrets = Some(sealed(2));
    store.insert_instance(&new).await.unwrap();
    assert!(store.instance_secrets(instance.id).await.unwrap().is_some());

    let racers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.consume_bootstrap(instance.id, now()).await })
        })
        .collect();
    let mut handed_out = 0;
    for racer in racers {
        if let Some(secrets) = join(racer).await.unwrap() {
            assert_eq!(secrets, sealed(2));
            handed_out += 1;
        }
    }
    assert_eq!(
        handed_out, 1,
        "exactly one concurrent bootstrap gets the secrets"
    );
    assert_eq!(
        store.consume_bootstrap(instance.id, now()).await.unwrap(),
        None
    );

    // A rotation swaps them without handing them out again — only if they are still what
    // the rotation read.
    assert!(!store
        .replace_instance_secrets(instance.id, &sealed(9), &sealed(3))
        .await
        .unwrap());
    assert_eq!(
        store.instance_secrets(instance.id).await.unwrap(),
        Some(sealed(2))
    );
    assert!(store
        .replace_instance_secrets(instance.id, &sealed(2), &sealed(3))
        .await
        .unwrap());
    assert_eq!(
        store.instance_secrets(instance.id).await.unwrap(),
        Some(sealed(3))
    );
    assert_eq!(
        store.consume_bootstrap(instance.id, now()).await.unwrap(),
        None
    );
    assert!(store
        .replace_instance_secrets(instance.id, &sealed(3), &sealed(2))
        .await
        .unwrap());
    assert!(matches!(
        store
            .replace_instance_secrets(crate::domain::InstanceId::new(), &sealed(3), &sealed(2))
            .await,
        Err(Error::NotFound { .. })
    ));
    store.reset_bootstrap(instance.id).await.unwrap();
    assert_eq!(
        store.consume_bootstrap(instance.id, now()).await.unwrap(),
        Some(sealed(2))
    );
    assert_eq!(
        store.consume_bootstrap(instance.id, now()).await.unwrap(),
        None
    );
    assert_eq!(
        store.instance_secrets(instance.id).await.unwrap(),
        Some(sealed(2)),
        "the secrets stay readable after the bootstrap"
    );
}

/// A full rollback's `delete_instance` takes the secrets with the row.
pub async fn delete_instance_removes_secrets(store: Arc<dyn Store>) {
    let instance = sample_instance(&customer(), None);
    let mut new = NewInstance::new(&instance, &created(&instance), None);
    new.secrets = Some(sealed(3));
    store.insert_instance(&new).await.unwrap();
    let rolling = move_to(&store, &instance, InstanceStatus::RollingBack, None).await;
    let event = crate::domain::NewEvent::status_changed(
        instance.id,
        Some(InstanceStatus::RollingBack),
        InstanceStatus::RolledBack,
        "full rollback",
        now(),
    );
    let log = RollbackLogEntry {
        instance_id: instance.id,
        level: RollbackLevel::Full,
        reason: "conformance".into(),
        deleted: vec![],
        instance: rolling.clone(),
        at: now(),
    };
    store
        .delete_instance(&super::deletion(instance.id, rolling.version, event, log))
        .await
        .unwrap();
    assert_eq!(store.instance_secrets(instance.id).await.unwrap(), None);
}
