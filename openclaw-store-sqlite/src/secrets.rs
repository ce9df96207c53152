//! Instance secrets: stored sealed with the instance (in its insert transaction), handed out
//! once to the instance's bootstrap, deleted with the instance (foreign key cascade).

use chrono::{DateTime, Utc};
use openclaw_core::domain::InstanceId;
use openclaw_core::instance_secrets::SealedSecrets;
use openclaw_core::{Error, Result};

use crate::connect::SqliteStore;
use crate::convert::ts;
use crate::error;

impl SqliteStore {
    pub(crate) async fn secrets(&self, id: InstanceId) -> Result<Option<SealedSecrets>> {
        let sealed: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT sealed FROM instance_secrets WHERE instance_id = ?1")
                .bind(id.to_string())
                .fetch_optional(&self.inner.readers)
                .await
                .map_err(|e| error::map("instance_secrets", e))?;
        Ok(sealed.map(SealedSecrets::from_bytes))
    }

    pub(crate) async fn consume(
        &self,
        id: InstanceId,
        now: DateTime<Utc>,
    ) -> Result<Option<SealedSecrets>> {
        // One statement on the one writer: concurrent bootstraps take turns, and only the
        // first finds the secrets unused.
        let sealed: Option<Vec<u8>> = sqlx::query_scalar(
            "UPDATE instance_secrets SET delivered_at = ?2 \
             WHERE instance_id = ?1 AND delivered_at IS NULL RETURNING sealed",
        )
        .bind(id.to_string())
        .bind(ts(now))
        .fetch_optional(&self.inner.writer)
        .await
        .map_err(|e| error::map("consume_bootstrap", e))?;
        if let Some(sealed) = sealed {
            return Ok(Some(SealedSecrets::from_bytes(sealed)));
        }
        match self.secrets(id).await? {
            Some(_) => Ok(None),
            None => Err(Error::not_found("instance secrets", id)),
        }
    }

    pub(crate) async fn replace_secrets(
        &self,
        id: InstanceId,
        expected: &SealedSecrets,
        sealed: &SealedSecrets,
    ) -> Result<bool> {
        let replaced = sqlx::query(
            "UPDATE instance_secrets SET sealed = ?3 WHERE instance_id = ?1 AND sealed = ?2",
        )
        .bind(id.to_string())
        .bind(expected.as_bytes())
        .bind(sealed.as_bytes())
        .execute(&self.inner.writer)
        .await
        .map_err(|e| error::map("replace_instance_secrets", e))?;
        if replaced.rows_affected() == 1 {
            return Ok(true);
        }
        match self.secrets(id).await? {
            Some(_) => Ok(false),
            None => Err(Error::not_found("instance secrets", id)),
        }
    }

    pub(crate) async fn reset(&self, id: InstanceId) -> Result<()> {
        let reset =
            sqlx::query("UPDATE instance_secrets SET delivered_at = NULL WHERE instance_id = ?1")
                .bind(id.to_string())
                .execute(&self.inner.writer)
                .await
                .map_err(|e| error::map("reset_bootstrap", e))?;
        if reset.rows_affected() == 0 {
            return Err(Error::not_found("instance secrets", id));
        }
        Ok(())
    }
}
