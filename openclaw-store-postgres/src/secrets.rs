//! Instance secrets: stored sealed with the instance (in its insert statement), handed out
//! once to the instance's bootstrap, deleted with the instance (foreign key cascade).

use chrono::{DateTime, Utc};
use openclaw_core::domain::InstanceId;
use openclaw_core::instance_secrets::SealedSecrets;
use openclaw_core::{Error, Result};

use crate::connect::PgStore;
use crate::error;

impl PgStore {
    pub(crate) async fn secrets(&self, id: InstanceId) -> Result<Option<SealedSecrets>> {
        let sealed: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT sealed FROM instance_secrets WHERE instance_id = $1")
                .bind(id.as_uuid())
                .fetch_optional(self.pool_ref())
                .await
                .map_err(|e| error::map("instance_secrets", e))?;
        Ok(sealed.map(SealedSecrets::from_bytes))
    }

    pub(crate) async fn consume(
        &self,
        id: InstanceId,
        now: DateTime<Utc>,
    ) -> Result<Option<SealedSecrets>> {
        // The row lock makes concurrent bootstraps queue; only the first finds it unused.
        let sealed: Option<Vec<u8>> = sqlx::query_scalar(
            "UPDATE instance_secrets SET delivered_at = $2 \
             WHERE instance_id = $1 AND delivered_at IS NULL RETURNING sealed",
        )
        .bind(id.as_uuid())
        .bind(now)
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("consume_bootstrap", e))?;
        match sealed {
            Some(sealed) => Ok(Some(SealedSecrets::from_bytes(sealed))),
            None => self
                .secrets_exist(id, "consume_bootstrap")
                .await
                .map(|_| None),
        }
    }

    pub(crate) async fn replace_secrets(
        &self,
        id: InstanceId,
        expected: &SealedSecrets,
        sealed: &SealedSecrets,
    ) -> Result<bool> {
        let replaced = sqlx::query(
            "UPDATE instance_secrets SET sealed = $3 WHERE instance_id = $1 AND sealed = $2",
        )
        .bind(id.as_uuid())
        .bind(expected.as_bytes())
        .bind(sealed.as_bytes())
        .execute(self.pool_ref())
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
            sqlx::query("UPDATE instance_secrets SET delivered_at = NULL WHERE instance_id = $1")
                .bind(id.as_uuid())
                .execute(self.pool_ref())
                .await
                .map_err(|e| error::map("reset_bootstrap", e))?;
        if reset.rows_affected() == 0 {
            return Err(Error::not_found("instance secrets", id));
        }
        Ok(())
    }

    /// `NotFound` unless the instance has secrets.
    async fn secrets_exist(&self, id: InstanceId, operation: &'static str) -> Result<()> {
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM instance_secrets WHERE instance_id = $1")
                .bind(id.as_uuid())
                .fetch_optional(self.pool_ref())
                .await
                .map_err(|e| error::map(operation, e))?;
        match exists {
            Some(_) => Ok(()),
            None => Err(Error::not_found("instance secrets", id)),
        }
    }
}
