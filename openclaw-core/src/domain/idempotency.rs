//! Idempotency keys: a client's promise that two requests with the same key are the same
//! request, so the second gets the first one's response.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A stored idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The client's key (scoped by the caller, e.g. `<api key id>:<key>`).
    pub key: String,
    /// A hash of the request (method, path, body); the same key with another hash is a
    /// conflict.
    pub request_hash: String,
    /// The stored response, `None` while the first request is still being handled.
    pub response: Option<StoredResponse>,
    /// When it was first seen.
    pub created_at: DateTime<Utc>,
    /// After this, the key may be reused.
    pub expires_at: DateTime<Utc>,
}

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: serde_json::Value,
    /// The headers a replay must repeat (`location`, `retry-after`), lowercase names.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
}
