//! The [`DeploymentFacts`] port: write-once facts in the `deployment_facts` table.

use async_trait::async_trait;
use openclaw_core::ports::{check_fact, DeploymentFacts};
use openclaw_core::{Error, Result};

use crate::connect::SqliteStore;
use crate::error;

#[async_trait]
impl DeploymentFacts for SqliteStore {
    async fn fact(&self, name: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM deployment_facts WHERE name = ?1")
            .bind(name)
            .fetch_optional(&self.inner.readers)
            .await
            .map_err(|e| error::map("fact", e))
    }

    async fn record_fact(&self, name: &str, value: &str) -> Result<String> {
        check_fact(name, value)?;
        sqlx::query("INSERT OR IGNORE INTO deployment_facts (name, value) VALUES (?1, ?2)")
            .bind(name)
            .bind(value)
            .execute(&self.inner.writer)
            .await
            .map_err(|e| error::map("record_fact", e))?;
        // Read on the writer: what it just committed (or found) is what is in force.
        let value: Option<String> =
            sqlx::query_scalar("SELECT value FROM deployment_facts WHERE name = ?1")
                .bind(name)
                .fetch_optional(&self.inner.writer)
                .await
                .map_err(|e| error::map("record_fact", e))?;
        value.ok_or_else(|| Error::internal(format!("fact {name} vanished after it was recorded")))
    }
}
