//! The [`ApiKeyStore`] port: API keys live in the same database as everything else. Only the
//! hash of a key's secret half is ever stored.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openclaw_core::domain::{ApiKey, CustomerId, CustomerLink};
use openclaw_core::ports::ApiKeyStore;
use openclaw_core::{Error, Result};
use openclaw_store_sql::{
    api_key_from, customer_link_from, API_KEY_COLUMNS, CUSTOMER_LINK_COLUMNS,
};

use crate::connect::PgStore;
use crate::error;
use crate::row::PgColumns;

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&key.id)
        .bind(&key.name)
        .bind(key.scope.as_str())
        .bind(key.customer_id.as_ref().map(CustomerId::as_str))
        .bind(&key.secret_hash)
        .bind(key.created_at)
        .bind(key.revoked_at)
        .execute(self.pool_ref())
        .await
        .map_err(|e| match error::map("insert_api_key", e) {
            Error::Conflict { .. } => Error::conflict(format!("API key {} exists", key.id)),
            other => other,
        })?;
        Ok(())
    }

    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        let row = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("get_api_key", e))?;
        row.map(|r| api_key_from(&PgColumns(&r))).transpose()
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY seq"
        ))
        .fetch_all(self.pool_ref())
        .await
        .map_err(|e| error::map("list_api_keys", e))?;
        rows.iter().map(|r| api_key_from(&PgColumns(r))).collect()
    }

    async fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> Result<bool> {
        let revoked =
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .bind(at)
                .execute(self.pool_ref())
                .await
                .map_err(|e| error::map("revoke_api_key", e))?;
        if revoked.rows_affected() == 1 {
            return Ok(true);
        }
        match self.get_api_key(id).await? {
            Some(_) => Ok(false),
            None => Err(Error::not_found("api_key", id)),
        }
    }

    async fn link_customer(&self, link: &CustomerLink) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO customer_links ({CUSTOMER_LINK_COLUMNS}) VALUES ($1, $2, $3) \
             ON CONFLICT (uid) DO UPDATE SET customer_id = excluded.customer_id, linked_at = excluded.linked_at"
        ))
        .bind(&link.uid)
        .bind(link.customer_id.as_str())
        .bind(link.linked_at)
        .execute(self.pool_ref())
        .await
        .map_err(|e| error::map("link_customer", e))?;
        Ok(())
    }

    async fn get_customer_link(&self, uid: &str) -> Result<Option<CustomerLink>> {
        let row = sqlx::query(&format!(
            "SELECT {CUSTOMER_LINK_COLUMNS} FROM customer_links WHERE uid = $1"
        ))
        .bind(uid)
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("get_customer_link", e))?;
        row.map(|r| customer_link_from(&PgColumns(&r))).transpose()
    }

    async fn list_customer_links(&self) -> Result<Vec<CustomerLink>> {
        let rows = sqlx::query(&format!(
            "SELECT {CUSTOMER_LINK_COLUMNS} FROM customer_links ORDER BY uid COLLATE \"C\""
        ))
        .fetch_all(self.pool_ref())
        .await
        .map_err(|e| error::map("list_customer_links", e))?;
        rows.iter()
            .map(|r| customer_link_from(&PgColumns(r)))
            .collect()
    }

    async fn unlink_customer(&self, uid: &str) -> Result<bool> {
        let removed = sqlx::query("DELETE FROM customer_links WHERE uid = $1")
            .bind(uid)
            .execute(self.pool_ref())
            .await
            .map_err(|e| error::map("unlink_customer", e))?;
        Ok(removed.rows_affected() == 1)
    }
}
