//! The `ApiKeyStore` port: the API keys the HTTP API accepts, kept by the same database as
//! everything else.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::ApiKey;
use crate::error::Result;

/// Persistence of API keys. Keys are stored hashed; no method ever sees a key's secret.
///
/// # Contract
///
/// - `insert_api_key` stores a new key; an existing `id` is `Conflict` and changes nothing.
/// - `get_api_key` returns the key with that id, revoked or not, or `None`.
/// - `list_api_keys` returns every key, oldest first.
/// - `revoke_api_key` sets `revoked_at` once and returns `true`; a key already revoked is left
///   as it was and returns `false`; an unknown id is `NotFound`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ApiKeyStore: Send + Sync + 'static {
    /// Stores a new key.
    async fn insert_api_key(&self, key: &ApiKey) -> Result<()>;
    /// The key with `id`.
    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>>;
    /// Every key, oldest first.
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>>;
    /// Revokes a key.
    async fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> Result<bool>;
}
