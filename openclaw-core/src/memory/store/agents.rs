//! [`AgentStore`] for the in-memory store: tasks and heartbeats under the same mutex as the
//! rest of its data, timed by the store's clock.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::{InMemoryStore, State};
use crate::domain::{
    AgentPresence, AgentReport, AgentTask, AgentTaskId, AgentTaskOutcome, AgentTaskState,
    FleetUpgrade, FleetUpgradeState, InstanceId, NewAgentTask,
};
use crate::error::{Error, Result};
use crate::instance_secrets::SealedSecrets;
use crate::ports::AgentStore;

/// Cuts `message` to at most [`MAX_TASK_ERROR_LEN`](crate::domain::MAX_TASK_ERROR_LEN)
/// bytes on a character boundary.
pub(crate) fn cut_task_error(message: &str) -> String {
    let max = crate::domain::MAX_TASK_ERROR_LEN;
    if message.len() <= max {
        return message.to_string();
    }
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message[..end].to_string()
}

impl State {
    /// The instance's oldest task that is queued or whose lease ran out.
    fn due_agent_task(&self, instance: InstanceId, now: DateTime<Utc>) -> Option<AgentTaskId> {
        self.agent_tasks
            .values()
            .filter(|t| t.instance_id == instance)
            .find(|t| match t.state {
                AgentTaskState::Queued => true,
                AgentTaskState::Running => t.lease_expires_at.is_some_and(|at| at <= now),
                _ => false,
            })
            .map(|t| t.id)
    }
}

#[async_trait]
impl AgentStore for InMemoryStore {
    async fn enqueue_agent_task(&self, task: &NewAgentTask) -> Result<AgentTask> {
        let now = self.clock.now();
        self.run("enqueue_agent_task", |s| {
            if s.agent_tasks.contains_key(&task.id) {
                return Err(Error::conflict(format!("agent task {} exists", task.id)));
            }
            let stored = AgentTask {
                id: task.id,
                instance_id: task.instance_id,
                kind: task.kind.clone(),
                state: AgentTaskState::Queued,
                attempts: 0,
                max_attempts: task.max_attempts,
                lease_expires_at: None,
                output: None,
                error: None,
                requested_by: task.requested_by.clone(),
                created_at: task.created_at,
                updated_at: now,
            };
            s.agent_tasks.insert(task.id, stored.clone());
            Ok(stored)
        })
        .await
    }

    async fn replace_agent_task_output(
        &self,
        id: AgentTaskId,
        expected: &SealedSecrets,
        sealed: &SealedSecrets,
    ) -> Result<bool> {
        self.run("replace_agent_task_output", |s| {
            let task = s
                .agent_tasks
                .get_mut(&id)
                .ok_or_else(|| Error::not_found("agent task", id))?;
            if task.output.as_ref() != Some(expected) {
                return Ok(false);
            }
            task.output = Some(sealed.clone());
            Ok(true)
        })
        .await
    }

    async fn claim_agent_task(
        &self,
        instance: InstanceId,
        lease_for: Duration,
    ) -> Result<Option<AgentTask>> {
        let now = self.clock.now();
        self.run("claim_agent_task", |s| {
            while let Some(id) = s.due_agent_task(instance, now) {
                let Some(task) = s.agent_tasks.get_mut(&id) else {
                    break;
                };
                task.updated_at = now;
                if task.attempts >= task.max_attempts {
                    task.state = AgentTaskState::Failed;
                    task.lease_expires_at = None;
                    task.error = Some(format!(
                        "the agent took it {} times and never reported",
                        task.attempts
                    ));
                    continue;
                }
                task.state = AgentTaskState::Running;
                task.attempts += 1;
                task.lease_expires_at = Some(now + lease_for);
                return Ok(Some(task.clone()));
            }
            Ok(None)
        })
        .await
    }

    async fn finish_agent_task(
        &self,
        id: AgentTaskId,
        instance: InstanceId,
        outcome: &AgentTaskOutcome,
    ) -> Result<AgentTask> {
        let now = self.clock.now();
        self.run("finish_agent_task", |s| {
            let task = s
                .agent_tasks
                .get_mut(&id)
                .filter(|t| t.instance_id == instance)
                .ok_or_else(|| Error::not_found("agent task", id))?;
            let (state, output, error) = match outcome {
                AgentTaskOutcome::Succeeded(out) => {
                    (AgentTaskState::Succeeded, Some(out.clone()), None)
                }
                AgentTaskOutcome::Failed(e) => {
                    (AgentTaskState::Failed, None, Some(cut_task_error(e)))
                }
            };
            match task.state {
                AgentTaskState::Running => {
                    task.state = state;
                    task.output = output;
                    task.error = error;
                    task.lease_expires_at = None;
                    task.updated_at = now;
                    Ok(task.clone())
                }
                done if done == state && task.output == output && task.error == error => {
                    Ok(task.clone())
                }
                other => Err(Error::conflict(format!(
                    "agent task {id} is {other}; it takes no report now"
                ))),
            }
        })
        .await
    }

    async fn get_agent_task(&self, id: AgentTaskId) -> Result<Option<AgentTask>> {
        self.run("get_agent_task", |s| Ok(s.agent_tasks.get(&id).cloned()))
            .await
    }

    async fn agent_tasks(&self, instance: InstanceId, limit: usize) -> Result<Vec<AgentTask>> {
        self.run("agent_tasks", |s| {
            Ok(s.agent_tasks
                .values()
                .rev()
                .filter(|t| t.instance_id == instance)
                .take(limit)
                .cloned()
                .collect())
        })
        .await
    }

    async fn record_agent_report(
        &self,
        instance: InstanceId,
        report: &AgentReport,
    ) -> Result<AgentPresence> {
        let now = self.clock.now();
        self.run("record_agent_report", |s| {
            let presence = AgentPresence {
                instance_id: instance,
                last_seen: now,
                report: report.clone(),
            };
            s.agent_presence.insert(instance, presence.clone());
            Ok(presence)
        })
        .await
    }

    async fn agent_presence(&self, instance: InstanceId) -> Result<Option<AgentPresence>> {
        self.run("agent_presence", |s| {
            Ok(s.agent_presence.get(&instance).cloned())
        })
        .await
    }

    async fn purge_agent_tasks(&self, before: DateTime<Utc>) -> Result<u64> {
        self.run("purge_agent_tasks", |s| {
            let n = s.agent_tasks.len();
            s.agent_tasks
                .retain(|_, t| !(t.state.is_finished() && t.updated_at < before));
            Ok((n - s.agent_tasks.len()) as u64)
        })
        .await
    }

    async fn insert_fleet_upgrade(&self, upgrade: &FleetUpgrade) -> Result<()> {
        self.run("insert_fleet_upgrade", |s| {
            if s.fleet_upgrades.iter().any(|u| u.id == upgrade.id) {
                return Err(Error::conflict(format!(
                    "fleet upgrade {} exists",
                    upgrade.id
                )));
            }
            if let Some(running) = s
                .fleet_upgrades
                .iter()
                .find(|u| u.state == FleetUpgradeState::Running)
            {
                return Err(Error::conflict(format!(
                    "fleet upgrade {} to {} is still running",
                    running.id, running.version
                )));
            }
            s.fleet_upgrades.push(upgrade.clone());
            Ok(())
        })
        .await
    }

    async fn fleet_upgrades(&self, limit: usize) -> Result<Vec<FleetUpgrade>> {
        self.run("fleet_upgrades", |s| {
            Ok(s.fleet_upgrades.iter().rev().take(limit).cloned().collect())
        })
        .await
    }

    async fn finish_fleet_upgrade(
        &self,
        id: AgentTaskId,
        state: FleetUpgradeState,
        message: &str,
    ) -> Result<FleetUpgrade> {
        let now = self.clock.now();
        self.run("finish_fleet_upgrade", |s| {
            let upgrade = s
                .fleet_upgrades
                .iter_mut()
                .find(|u| u.id == id)
                .ok_or_else(|| Error::not_found("fleet upgrade", id))?;
            if upgrade.state != FleetUpgradeState::Running {
                return Err(Error::conflict(format!(
                    "fleet upgrade {id} is {}, not running",
                    upgrade.state
                )));
            }
            upgrade.state = state;
            upgrade.message = message.to_string();
            upgrade.updated_at = now;
            Ok(upgrade.clone())
        })
        .await
    }
}
