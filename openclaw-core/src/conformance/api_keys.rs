//! The [`ApiKeyStore`] contract as checks. Each check takes a store of its own.

use std::sync::Arc;

use super::{now, unique};
use crate::domain::{ApiKey, CustomerId, CustomerLink, Scope};
use crate::error::Error;
use crate::ports::ApiKeyStore;

fn key(scope: Scope, customer: Option<&str>) -> ApiKey {
    ApiKey {
        id: format!("key_{}", unique()),
        name: format!("conformance {}", unique()),
        scope,
        customer_id: customer.map(|c| CustomerId::parse(c).unwrap()),
        secret_hash: "ab".repeat(32),
        created_at: now(),
        revoked_at: None,
    }
}

/// A stored key reads back exactly; an unknown id is `None`; a second key with the same id is
/// `Conflict` and changes nothing.
pub async fn insert_and_get(store: Arc<dyn ApiKeyStore>) {
    let k = key(Scope::Manage, Some("client-9"));
    store.insert_api_key(&k).await.unwrap();
    assert_eq!(store.get_api_key(&k.id).await.unwrap(), Some(k.clone()));
    assert_eq!(store.get_api_key("key_unknown").await.unwrap(), None);
    let mut clash = key(Scope::Admin, None);
    clash.id = k.id.clone();
    assert!(matches!(
        store.insert_api_key(&clash).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(store.get_api_key(&k.id).await.unwrap(), Some(k));
}

/// `list_api_keys` returns every key, oldest first.
pub async fn list_oldest_first(store: Arc<dyn ApiKeyStore>) {
    let before = store.list_api_keys().await.unwrap().len();
    let keys = [
        key(Scope::Admin, None),
        key(Scope::Read, None),
        key(Scope::Manage, Some("client-1")),
    ];
    for k in &keys {
        store.insert_api_key(k).await.unwrap();
    }
    let listed = store.list_api_keys().await.unwrap();
    assert_eq!(listed.len(), before + 3);
    let ours: Vec<_> = listed
        .into_iter()
        .filter(|k| keys.iter().any(|mine| mine.id == k.id))
        .collect();
    assert_eq!(ours, keys.to_vec());
}

/// Revoking sets `revoked_at` once (`true`), a second revoke changes nothing (`false`), and
/// an unknown id is `NotFound`.
pub async fn revoke_once(store: Arc<dyn ApiKeyStore>) {
    let k = key(Scope::Read, None);
    store.insert_api_key(&k).await.unwrap();
    let at = now();
    assert!(store.revoke_api_key(&k.id, at).await.unwrap());
    let revoked = store.get_api_key(&k.id).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    assert!(!store
        .revoke_api_key(&k.id, at + chrono::Duration::seconds(5))
        .await
        .unwrap());
    assert_eq!(
        store.get_api_key(&k.id).await.unwrap().unwrap().revoked_at,
        Some(at)
    );
    assert!(matches!(
        store.revoke_api_key("key_unknown", at).await,
        Err(Error::NotFound { .. })
    ));
}

fn link(uid: &str, customer: &str) -> CustomerLink {
    CustomerLink {
        uid: uid.to_string(),
        customer_id: CustomerId::parse(customer).unwrap(),
        linked_at: now(),
    }
}

/// A link reads back exactly, a second link of the same uid replaces the first, links list
/// by uid, and unlinking removes one once (`true`, then `false`).
pub async fn customer_links(store: Arc<dyn ApiKeyStore>) {
    let tag = unique();
    let (b, a) = (format!("uid-b-{tag}"), format!("uid-a-{tag}"));
    assert_eq!(store.get_customer_link(&a).await.unwrap(), None);
    let first = link(&b, "whmcs-17");
    store.link_customer(&first).await.unwrap();
    assert_eq!(store.get_customer_link(&b).await.unwrap(), Some(first));
    let mut moved = link(&b, "whmcs-18");
    moved.linked_at = now() + chrono::Duration::seconds(3);
    store.link_customer(&moved).await.unwrap();
    assert_eq!(
        store.get_customer_link(&b).await.unwrap(),
        Some(moved.clone())
    );
    let other = link(&a, "whmcs-17");
    store.link_customer(&other).await.unwrap();
    let ours: Vec<_> = store
        .list_customer_links()
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.uid.ends_with(&tag))
        .collect();
    assert_eq!(ours, vec![other.clone(), moved], "one link per uid, by uid");
    assert!(store.unlink_customer(&a).await.unwrap());
    assert!(!store.unlink_customer(&a).await.unwrap());
    assert_eq!(store.get_customer_link(&a).await.unwrap(), None);
    assert!(store.get_customer_link(&b).await.unwrap().is_some());
}

/// Runs every check, each on a fresh store from `new_store`.
pub async fn run_all<F, Fut>(new_store: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn ApiKeyStore>>,
{
    insert_and_get(new_store().await).await;
    list_oldest_first(new_store().await).await;
    revoke_once(new_store().await).await;
    customer_links(new_store().await).await;
}
