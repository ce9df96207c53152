//! The [`ApiKeyStore`] port: API keys live in the same database as everything else. Only the
//! hash of a key's secret half is ever stored.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openclaw_core::domain::{ApiKey, CustomerId, Scope};
use openclaw_core::ports::ApiKeyStore;
use openclaw_core::{Error, Result};
use sqlx::sqlite::SqliteRow;

use crate::connect::SqliteStore;
use crate::convert::{get, get_ts, ts};
use crate::error::{self, corrupt};

const API_KEY_COLUMNS: &str = "id, name, scope, customer_id, secret_hash, created_at, revoked_at";

fn api_key_from_row(row: &SqliteRow) -> Result<ApiKey> {
    let scope: String = get(row, "scope")?;
    let customer: Option<String> = get(row, "customer_id")?;
    Ok(ApiKey {
        id: get(row, "id")?,
        name: get(row, "name")?,
        scope: scope.parse::<Scope>().map_err(corrupt)?,
        customer_id: customer
            .map(CustomerId::parse)
            .transpose()
            .map_err(corrupt)?,
        secret_hash: get(row, "secret_hash")?,
        created_at: get_ts(row, "created_at")?,
        revoked_at: get::<Option<String>>(row, "revoked_at")?
            .map(|t| crate::convert::parse_ts(&t, "revoked_at"))
            .transpose()?,
    })
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, scope, customer_id, secret_hash, created_at, \
                 revoked_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(key.scope.as_str())
        .bind(key.customer_id.as_ref().map(CustomerId::as_str))
        .bind(&key.secret_hash)
        .bind(ts(key.created_at))
        .bind(key.revoked_at.map(ts))
        .execute(&self.inner.writer)
        .await
        .map_err(|e| match error::map("insert_api_key", e) {
            Error::Conflict { .. } => Error::conflict(format!("API key {} exists", key.id)),
            other => other,
        })?;
        Ok(())
    }

    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        let row = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = ?1"
        ))
        .bind(id)
        .fetch_optional(&self.inner.readers)
        .await
        .map_err(|e| error::map("get_api_key", e))?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY seq"
        ))
        .fetch_all(&self.inner.readers)
        .await
        .map_err(|e| error::map("list_api_keys", e))?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> Result<bool> {
        let revoked =
            sqlx::query("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
                .bind(id)
                .bind(ts(at))
                .execute(&self.inner.writer)
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
}
