//! The `ApiKeyStore` port: the API keys the HTTP API accepts, and the signed-in users linked
//! to customers, kept by the same database as everything else.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{ApiKey, CustomerLink};
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
/// - `link_customer` stores a link, replacing the one of the same `uid` if there is one.
/// - `get_customer_link` returns the link of `uid`, or `None`.
/// - `list_customer_links` returns every link, by `uid` in byte order.
/// - `unlink_customer` removes the link of `uid` and returns `true`; `false` when there was
///   none.
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
    /// Links a user to a customer (replacing the user's link, if any).
    async fn link_customer(&self, link: &CustomerLink) -> Result<()>;
    /// The link of user `uid`.
    async fn get_customer_link(&self, uid: &str) -> Result<Option<CustomerLink>>;
    /// Every link, by uid (in byte order).
    async fn list_customer_links(&self) -> Result<Vec<CustomerLink>>;
    /// Removes the link of user `uid`.
    async fn unlink_customer(&self, uid: &str) -> Result<bool>;
}
