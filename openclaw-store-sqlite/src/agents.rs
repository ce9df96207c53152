//! The [`AgentStore`] port: agent tasks and heartbeats. Writes go through the one writing
//! connection; leases and `last_seen` run on this store's clock.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use openclaw_core::domain::{
    AgentPresence, AgentReport, AgentTask, AgentTaskId, AgentTaskOutcome, InstanceId, NewAgentTask,
};
use openclaw_core::domain::{FleetUpgrade, FleetUpgradeState};
use openclaw_core::instance_secrets::SealedSecrets;
use openclaw_core::ports::AgentStore;
use openclaw_core::{Error, Result};
use openclaw_store_sql::{
    agent_presence_from, agent_report_json, agent_task_from, agent_task_kind_json,
    fleet_upgrade_from, fleet_waves_json, limit, outcome_columns, AGENT_PRESENCE_COLUMNS,
    AGENT_TASK_COLUMNS, EXHAUSTED_MESSAGE_PREFIX, EXHAUSTED_MESSAGE_SUFFIX, FLEET_UPGRADE_COLUMNS,
};

use crate::connect::SqliteStore;
use crate::convert::{lease_end, ts};
use crate::error;
use crate::row::SqliteColumns;

#[async_trait]
impl AgentStore for SqliteStore {
    async fn enqueue_agent_task(&self, task: &NewAgentTask) -> Result<AgentTask> {
        let row = sqlx::query(&format!(
            "INSERT INTO agent_tasks (id, instance_id, kind, state, attempts, max_attempts, \
                 requested_by, created_at, updated_at) \
             VALUES (?1, ?2, ?3, 'queued', 0, ?4, ?5, ?6, ?7) \
             RETURNING {AGENT_TASK_COLUMNS}"
        ))
        .bind(task.id.to_string())
        .bind(task.instance_id.to_string())
        .bind(agent_task_kind_json(&task.kind)?)
        .bind(i64::from(task.max_attempts.max(1)))
        .bind(&task.requested_by)
        .bind(ts(task.created_at))
        .bind(ts(self.clock.now()))
        .fetch_one(&self.inner.writer)
        .await
        .map_err(|e| match error::map("enqueue_agent_task", e) {
            Error::Conflict { .. } => Error::conflict(format!("agent task {} exists", task.id)),
            other => other,
        })?;
        agent_task_from(&SqliteColumns(&row))
    }

    async fn claim_agent_task(
        &self,
        instance: InstanceId,
        lease_for: Duration,
    ) -> Result<Option<AgentTask>> {
        const OP: &str = "claim_agent_task";
        let now = self.clock.now();
        let until = lease_end(now, lease_for)?;
        let mut tx = self.write_tx(OP).await?;
        sqlx::query(&format!(
            "UPDATE agent_tasks SET state = 'failed', lease_expires_at = NULL, \
                 error = '{EXHAUSTED_MESSAGE_PREFIX}' || attempts || '{EXHAUSTED_MESSAGE_SUFFIX}', \
                 updated_at = ?2 \
             WHERE instance_id = ?1 AND state = 'running' AND lease_expires_at <= ?2 \
               AND attempts >= max_attempts"
        ))
        .bind(instance.to_string())
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| error::map(OP, e))?;
        let row = sqlx::query(&format!(
            "UPDATE agent_tasks SET state = 'running', attempts = attempts + 1, \
                 lease_expires_at = ?3, updated_at = ?2 \
             WHERE seq = (SELECT seq FROM agent_tasks \
                          WHERE instance_id = ?1 AND attempts < max_attempts \
                            AND (state = 'queued' \
                                 OR (state = 'running' AND lease_expires_at <= ?2)) \
                          ORDER BY seq LIMIT 1) \
             RETURNING {AGENT_TASK_COLUMNS}"
        ))
        .bind(instance.to_string())
        .bind(ts(now))
        .bind(ts(until))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| error::map(OP, e))?;
        tx.commit().await.map_err(|e| error::map(OP, e))?;
        row.map(|r| agent_task_from(&SqliteColumns(&r))).transpose()
    }

    async fn finish_agent_task(
        &self,
        id: AgentTaskId,
        instance: InstanceId,
        outcome: &AgentTaskOutcome,
    ) -> Result<AgentTask> {
        let (state, output, error) = outcome_columns(outcome);
        let row = sqlx::query(&format!(
            "UPDATE agent_tasks SET state = ?3, output = ?4, error = ?5, \
                 lease_expires_at = NULL, updated_at = ?6 \
             WHERE id = ?1 AND instance_id = ?2 AND state = 'running' \
             RETURNING {AGENT_TASK_COLUMNS}"
        ))
        .bind(id.to_string())
        .bind(instance.to_string())
        .bind(state)
        .bind(&output)
        .bind(&error)
        .bind(ts(self.clock.now()))
        .fetch_optional(&self.inner.writer)
        .await
        .map_err(|e| error::map("finish_agent_task", e))?;
        if let Some(row) = row {
            return agent_task_from(&SqliteColumns(&row));
        }
        let found = self.get_agent_task(id).await?;
        openclaw_store_sql::settle_unrecorded_report(id, instance, outcome, found)
    }

    async fn replace_agent_task_output(
        &self,
        id: AgentTaskId,
        expected: &SealedSecrets,
        sealed: &SealedSecrets,
    ) -> Result<bool> {
        let replaced =
            sqlx::query("UPDATE agent_tasks SET output = ?3 WHERE id = ?1 AND output = ?2")
                .bind(id.to_string())
                .bind(openclaw_store_sql::sealed_text(expected))
                .bind(openclaw_store_sql::sealed_text(sealed))
                .execute(&self.inner.writer)
                .await
                .map_err(|e| error::map("replace_agent_task_output", e))?;
        if replaced.rows_affected() == 1 {
            return Ok(true);
        }
        match self.get_agent_task(id).await? {
            Some(_) => Ok(false),
            None => Err(Error::not_found("agent task", id)),
        }
    }

    async fn get_agent_task(&self, id: AgentTaskId) -> Result<Option<AgentTask>> {
        let row = sqlx::query(&format!(
            "SELECT {AGENT_TASK_COLUMNS} FROM agent_tasks WHERE id = ?1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.inner.readers)
        .await
        .map_err(|e| error::map("get_agent_task", e))?;
        row.map(|r| agent_task_from(&SqliteColumns(&r))).transpose()
    }

    async fn agent_tasks(&self, instance: InstanceId, max: usize) -> Result<Vec<AgentTask>> {
        let rows = sqlx::query(&format!(
            "SELECT {AGENT_TASK_COLUMNS} FROM agent_tasks WHERE instance_id = ?1 \
             ORDER BY seq DESC LIMIT ?2"
        ))
        .bind(instance.to_string())
        .bind(limit(max))
        .fetch_all(&self.inner.readers)
        .await
        .map_err(|e| error::map("agent_tasks", e))?;
        rows.iter()
            .map(|r| agent_task_from(&SqliteColumns(r)))
            .collect()
    }

    async fn record_agent_report(
        &self,
        instance: InstanceId,
        report: &AgentReport,
    ) -> Result<AgentPresence> {
        let row = sqlx::query(&format!(
            "INSERT INTO agent_presence (instance_id, last_seen, report) VALUES (?1, ?2, ?3) \
             ON CONFLICT (instance_id) DO UPDATE \
                 SET last_seen = excluded.last_seen, report = excluded.report \
             RETURNING {AGENT_PRESENCE_COLUMNS}"
        ))
        .bind(instance.to_string())
        .bind(ts(self.clock.now()))
        .bind(agent_report_json(report)?)
        .fetch_one(&self.inner.writer)
        .await
        .map_err(|e| error::map("record_agent_report", e))?;
        agent_presence_from(&SqliteColumns(&row))
    }

    async fn agent_presence(&self, instance: InstanceId) -> Result<Option<AgentPresence>> {
        let row = sqlx::query(&format!(
            "SELECT {AGENT_PRESENCE_COLUMNS} FROM agent_presence WHERE instance_id = ?1"
        ))
        .bind(instance.to_string())
        .fetch_optional(&self.inner.readers)
        .await
        .map_err(|e| error::map("agent_presence", e))?;
        row.map(|r| agent_presence_from(&SqliteColumns(&r)))
            .transpose()
    }

    async fn purge_agent_tasks(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM agent_tasks \
             WHERE state IN ('succeeded', 'failed') AND updated_at < ?1",
        )
        .bind(ts(before))
        .execute(&self.inner.writer)
        .await
        .map_err(|e| error::map("purge_agent_tasks", e))?;
        Ok(done.rows_affected())
    }
    async fn insert_fleet_upgrade(&self, upgrade: &FleetUpgrade) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO fleet_upgrades ({FLEET_UPGRADE_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ))
        .bind(upgrade.id.to_string())
        .bind(&upgrade.version)
        .bind(fleet_waves_json(upgrade)?)
        .bind(upgrade.state.as_str())
        .bind(&upgrade.message)
        .bind(&upgrade.requested_by)
        .bind(ts(upgrade.created_at))
        .bind(ts(upgrade.updated_at))
        .execute(&self.inner.writer)
        .await
        .map_err(|e| match error::map("insert_fleet_upgrade", e) {
            Error::Conflict { .. } => Error::conflict(format!(
                "fleet upgrade {} exists, or another fleet upgrade is still running",
                upgrade.id
            )),
            other => other,
        })?;
        Ok(())
    }

    async fn fleet_upgrades(&self, max: usize) -> Result<Vec<FleetUpgrade>> {
        let rows = sqlx::query(&format!(
            "SELECT {FLEET_UPGRADE_COLUMNS} FROM fleet_upgrades ORDER BY seq DESC LIMIT ?1"
        ))
        .bind(limit(max))
        .fetch_all(&self.inner.readers)
        .await
        .map_err(|e| error::map("fleet_upgrades", e))?;
        rows.iter()
            .map(|r| fleet_upgrade_from(&SqliteColumns(r)))
            .collect()
    }

    async fn finish_fleet_upgrade(
        &self,
        id: AgentTaskId,
        state: FleetUpgradeState,
        message: &str,
    ) -> Result<FleetUpgrade> {
        let row = sqlx::query(&format!(
            "UPDATE fleet_upgrades SET state = ?2, message = ?3, updated_at = ?4 \
             WHERE id = ?1 AND state = 'running' RETURNING {FLEET_UPGRADE_COLUMNS}"
        ))
        .bind(id.to_string())
        .bind(state.as_str())
        .bind(message)
        .bind(ts(self.clock.now()))
        .fetch_optional(&self.inner.writer)
        .await
        .map_err(|e| error::map("finish_fleet_upgrade", e))?;
        if let Some(row) = row {
            return fleet_upgrade_from(&SqliteColumns(&row));
        }
        let found = sqlx::query(&format!(
            "SELECT {FLEET_UPGRADE_COLUMNS} FROM fleet_upgrades WHERE id = ?1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.inner.readers)
        .await
        .map_err(|e| error::map("finish_fleet_upgrade", e))?;
        let found = found
            .map(|row| fleet_upgrade_from(&SqliteColumns(&row)))
            .transpose()?;
        Err(openclaw_store_sql::fleet_finish_refusal(id, found))
    }
}
