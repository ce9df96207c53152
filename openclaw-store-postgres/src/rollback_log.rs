//! The rollback log: entries are written by `delete_instance` in its statement and read
//! newest first. The whole entry is kept as JSON, with the instance as it was.

use openclaw_core::domain::RollbackLogEntry;
use openclaw_core::Result;
use openclaw_store_sql::limit;
use sqlx::types::Json;

use crate::connect::PgStore;
use crate::error;

impl PgStore {
    pub(crate) async fn rollback_entries(&self, max: usize) -> Result<Vec<RollbackLogEntry>> {
        let entries: Vec<Json<RollbackLogEntry>> =
            sqlx::query_scalar("SELECT entry FROM rollback_log ORDER BY seq DESC LIMIT $1")
                .bind(limit(max))
                .fetch_all(self.pool_ref())
                .await
                .map_err(|e| error::map("rollback_log", e))?;
        Ok(entries.into_iter().map(|Json(entry)| entry).collect())
    }
}
