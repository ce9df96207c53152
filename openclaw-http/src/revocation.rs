//! A revoked API key stops working on every replica within a second, not a cache lifetime
//! later. `openclaw keys revoke` writes an audit event `api_key_revoked` to the store's log
//! (the key's id in its reason, never its secret) and, with `redis_url`, publishes it; every
//! server follows the audit topic of its bus and empties its key cache when one arrives
//! (through Redis at once, or through the bus's poll of the log within its idle poll).

use std::sync::Arc;

use futures_util::StreamExt;
use openclaw_core::domain::{Event, EventKind, NewEvent, Topic};
use openclaw_core::Provisioner;

use crate::auth::KeyCache;

/// The audit action of a revocation.
pub const KEY_REVOKED: &str = "api_key_revoked";

/// The audit event recording that key `id` was revoked by `actor`.
pub fn revoked_event(id: &str, actor: &str) -> NewEvent {
    NewEvent {
        topic: Topic::Audit,
        instance_id: None,
        kind: EventKind::Audit {
            action: KEY_REVOKED.to_string(),
            actor: actor.to_string(),
        },
        reason: format!("API key {id} revoked"),
        at: chrono::Utc::now(),
    }
}

/// Whether `event` says a key was revoked.
pub fn is_revocation(event: &Event) -> bool {
    matches!(&event.kind, EventKind::Audit { action, .. } if action == KEY_REVOKED)
}

/// Follows the audit topic and empties `cache` on every revocation, until the bus closes.
/// A failed read of the log is retried by the stream itself.
pub async fn follow(provisioner: Provisioner, cache: Arc<KeyCache>) {
    let mut events = loop {
        match provisioner.subscribe(Some(Topic::Audit), None).await {
            Ok(events) => break events,
            Err(error) => {
                tracing::warn!(%error, "cannot follow key revocations yet; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    };
    while let Some(item) = events.next().await {
        if let Ok(event) = item {
            if is_revocation(&event) {
                cache.clear();
                tracing::info!(reason = %event.reason, "a key was revoked: the key cache is emptied");
            }
        }
    }
}
