//! The [`DeploymentFacts`] port: write-once facts in the `deployment_facts` table.

use async_trait::async_trait;
use openclaw_core::ports::{check_fact, DeploymentFacts};
use openclaw_core::{Error, Result};

use crate::connect::PgStore;
use crate::error;

#[async_trait]
impl DeploymentFacts for PgStore {
    async fn fact(&self, name: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM deployment_facts WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool_ref())
            .await
            .map_err(|e| error::map("fact", e))
    }

    async fn record_fact(&self, name: &str, value: &str) -> Result<String> {
        check_fact(name, value)?;
        // Two statements: the read takes a snapshot after the insert, so it sees whichever
        // concurrent insert won.
        sqlx::query(
            "INSERT INTO deployment_facts (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(self.pool_ref())
        .await
        .map_err(|e| error::map("record_fact", e))?;
        self.fact(name)
            .await?
            .ok_or_else(|| Error::internal(format!("fact {name} vanished after it was recorded")))
    }
}
