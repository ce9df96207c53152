//! Idempotency keys. A key is live until its `expires_at`; the creation time of the request
//! that offers a key is that request's "now", so an expired key may be taken again without
//! waiting for the purge.

use chrono::{DateTime, Utc};
use openclaw_core::domain::{IdempotencyRecord, StoredResponse};
use openclaw_core::{Error, Result};
use openclaw_store_sql::{idempotency_record_from, IDEMPOTENCY_COLUMNS};
use sqlx::types::Json;

use crate::connect::PgStore;
use crate::error;
use crate::row::PgColumns;

/// A put races with a concurrent delete or purge of the same key at most this often before
/// it gives up (each round is a fresh look).
const PUT_ROUNDS: usize = 4;

impl PgStore {
    pub(crate) async fn put_key(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>> {
        for _ in 0..PUT_ROUNDS {
            // Inserts, or takes over an expired key; a live key is left as it is.
            let stored = sqlx::query(
                "INSERT INTO idempotency_keys (key, request_hash, response, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (key) DO UPDATE SET request_hash = EXCLUDED.request_hash, \
                     response = EXCLUDED.response, created_at = EXCLUDED.created_at, \
                     expires_at = EXCLUDED.expires_at \
                 WHERE idempotency_keys.expires_at <= EXCLUDED.created_at",
            )
            .bind(&record.key)
            .bind(&record.request_hash)
            .bind(record.response.as_ref().map(Json))
            .bind(record.created_at)
            .bind(record.expires_at)
            .execute(self.pool_ref())
            .await
            .map_err(|e| error::map("put_idempotency", e))?;
            if stored.rows_affected() == 1 {
                return Ok(None);
            }
            let existing = sqlx::query(&format!(
                "SELECT {IDEMPOTENCY_COLUMNS} FROM idempotency_keys WHERE key = $1"
            ))
            .bind(&record.key)
            .fetch_optional(self.pool_ref())
            .await
            .map_err(|e| error::map("put_idempotency", e))?;
            if let Some(row) = existing {
                return idempotency_record_from(&PgColumns(&row)).map(Some);
            }
        }
        Err(Error::Store {
            message: format!(
                "put_idempotency: key {} kept changing; try again",
                record.key
            ),
            retryable: true,
        })
    }

    pub(crate) async fn complete_key(&self, key: &str, response: &StoredResponse) -> Result<()> {
        let updated = sqlx::query("UPDATE idempotency_keys SET response = $2 WHERE key = $1")
            .bind(key)
            .bind(Json(response))
            .execute(self.pool_ref())
            .await
            .map_err(|e| error::map("complete_idempotency", e))?;
        if updated.rows_affected() == 0 {
            return Err(Error::not_found("idempotency_key", key));
        }
        Ok(())
    }

    pub(crate) async fn delete_key(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE key = $1")
            .bind(key)
            .execute(self.pool_ref())
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
            "SELECT {IDEMPOTENCY_COLUMNS} FROM idempotency_keys WHERE key = $1 AND expires_at > $2"
        ))
        .bind(key)
        .bind(now)
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("get_idempotency", e))?;
        row.map(|r| idempotency_record_from(&PgColumns(&r)))
            .transpose()
    }

    pub(crate) async fn purge_keys(&self, now: DateTime<Utc>) -> Result<u64> {
        let purged = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool_ref())
            .await
            .map_err(|e| error::map("purge_idempotency", e))?;
        Ok(purged.rows_affected())
    }
}
