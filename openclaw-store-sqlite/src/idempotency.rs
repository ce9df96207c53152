//! Idempotency keys. A key is live until its `expires_at`; the creation time of the request
//! that offers a key is that request's "now", so an expired key may be taken again without
//! waiting for the purge.

use chrono::{DateTime, Utc};
use openclaw_core::domain::{IdempotencyRecord, StoredResponse};
use openclaw_core::{Error, Result};
use openclaw_store_sql::{idempotency_record_from, IDEMPOTENCY_COLUMNS};

use crate::connect::SqliteStore;
use crate::convert::{json, ts};
use crate::error;
use crate::row::SqliteColumns;

impl SqliteStore {
    pub(crate) async fn put_key(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>> {
        const OP: &str = "put_idempotency";
        let response = record.response.as_ref().map(json).transpose()?;
        // Insert, or take over an expired key, in the transaction that read the live one.
        let mut tx = self.write_tx(OP).await?;
        let stored = sqlx::query(
            "INSERT INTO idempotency_keys (key, request_hash, response, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash, \
                 response = excluded.response, created_at = excluded.created_at, \
                 expires_at = excluded.expires_at \
             WHERE idempotency_keys.expires_at <= excluded.created_at",
        )
        .bind(&record.key)
        .bind(&record.request_hash)
        .bind(response)
        .bind(ts(record.created_at))
        .bind(ts(record.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| error::map(OP, e))?;
        let existing = if stored.rows_affected() == 1 {
            None
        } else {
            let row = sqlx::query(&format!(
                "SELECT {IDEMPOTENCY_COLUMNS} FROM idempotency_keys WHERE key = ?1"
            ))
            .bind(&record.key)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| error::map(OP, e))?;
            Some(idempotency_record_from(&SqliteColumns(&row))?)
        };
        tx.commit().await.map_err(|e| error::map(OP, e))?;
        Ok(existing)
    }

    pub(crate) async fn complete_key(&self, key: &str, response: &StoredResponse) -> Result<()> {
        let updated = sqlx::query("UPDATE idempotency_keys SET response = ?2 WHERE key = ?1")
            .bind(key)
            .bind(json(response)?)
            .execute(&self.inner.writer)
            .await
            .map_err(|e| error::map("complete_idempotency", e))?;
        if updated.rows_affected() == 0 {
            return Err(Error::not_found("idempotency_key", key));
        }
        Ok(())
    }

    pub(crate) async fn delete_key(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE key = ?1")
            .bind(key)
            .execute(&self.inner.writer)
            .await
            .map_err(|e| error::map("delete_idempotency", e))?;
        Ok(())
    }

    pub(crate) async fn get_key(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {IDEMPOTENCY_COLUMNS} FROM idempotency_keys WHERE key = ?1 AND expires_at > ?2"
        ))
        .bind(key)
        .bind(ts(now))
        .fetch_optional(&self.inner.readers)
        .await
        .map_err(|e| error::map("get_idempotency", e))?;
        row.map(|r| idempotency_record_from(&SqliteColumns(&r)))
            .transpose()
    }

    pub(crate) async fn purge_keys(&self, now: DateTime<Utc>) -> Result<u64> {
        let purged = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= ?1")
            .bind(ts(now))
            .execute(&self.inner.writer)
            .await
            .map_err(|e| error::map("purge_idempotency", e))?;
        Ok(purged.rows_affected())
    }
}
