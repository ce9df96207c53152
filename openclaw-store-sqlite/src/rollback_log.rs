//! The rollback log: entries are written by `delete_instance` in its transaction and read
//! newest first. The whole entry is kept as JSON, with the instance as it was.

use openclaw_core::domain::RollbackLogEntry;
use openclaw_core::Result;
use openclaw_store_sql::{corrupt, limit};

use crate::connect::SqliteStore;
use crate::error;

impl SqliteStore {
    pub(crate) async fn rollback_entries(&self, max: usize) -> Result<Vec<RollbackLogEntry>> {
        let entries: Vec<String> =
            sqlx::query_scalar("SELECT entry FROM rollback_log ORDER BY seq DESC LIMIT ?1")
                .bind(limit(max))
                .fetch_all(&self.inner.readers)
                .await
                .map_err(|e| error::map("rollback_log", e))?;
        entries
            .iter()
            .map(|e| {
                serde_json::from_str(e).map_err(|e| corrupt(format!("rollback_log.entry: {e}")))
            })
            .collect()
    }
}
