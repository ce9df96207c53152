//! Store checks of idempotency keys.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{now, unique};
use crate::domain::{IdempotencyRecord, StoredResponse};
use crate::ports::Store;

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
        headers: [("location".to_string(), "/v1/instances/abc".to_string())].into(),
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
