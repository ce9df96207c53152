//! The `AgentStore` port: the tasks queued for instance agents and their last heartbeats,
//! kept by the same database as everything else.

use async_trait::async_trait;
use chrono::Duration;

use crate::domain::{
    AgentPresence, AgentReport, AgentTask, AgentTaskId, AgentTaskOutcome, FleetUpgrade,
    FleetUpgradeState, InstanceId, NewAgentTask,
};
use crate::error::Result;
use crate::instance_secrets::SealedSecrets;

/// Persistence of agent tasks (a small durable queue per instance, leased like jobs) and of
/// agent heartbeats.
///
/// # Contract
///
/// - `enqueue_agent_task` stores a new task `queued` with 0 attempts; an existing `id` is
///   `Conflict` and changes nothing.
/// - `claim_agent_task` hands the instance's agent its oldest task that is `queued`, or
///   `running` with a lease that has run out (an agent that restarted takes its task again):
///   the task becomes `running`, `attempts` grows by one and `lease_expires_at` is the
///   store's clock plus `lease_for`. A task whose lease ran out with no attempts left
///   becomes `failed` ("the agent took it N times and never reported") instead of being
///   handed out. Two concurrent claims never get the same task while its lease runs.
///   `None` when nothing is due.
/// - `finish_agent_task` records the outcome of a `running` task of `instance`: `succeeded`
///   with its sealed output, or `failed` with its error (cut to
///   [`MAX_TASK_ERROR_LEN`](crate::domain::MAX_TASK_ERROR_LEN) bytes on a character
///   boundary). The same outcome reported again for a finished task returns it unchanged
///   (the agent may retry a report whose answer it lost); any other report for a finished
///   task is `Conflict`; a task unknown or of another instance is `NotFound`.
/// - `get_agent_task` returns the task with `id`, or `None`.
/// - `agent_tasks` returns an instance's tasks, newest first, at most `limit`.
/// - `replace_agent_task_output` swaps a task's sealed output (re-sealed under a new key) if
///   it is still byte for byte `expected`, and returns whether it did; a task unknown is
///   `NotFound`.
/// - `record_agent_report` keeps the report as the instance's latest, `last_seen` set from
///   the store's clock, and returns it.
/// - `agent_presence` returns an instance's latest report, or `None` if its agent never
///   reported.
/// - `purge_agent_tasks` deletes finished tasks last changed before `before` and returns how
///   many.
/// - `insert_fleet_upgrade` stores a new fleet upgrade as given; an existing `id` is
///   `Conflict`, and so is a second `running` one (one fleet upgrade at a time).
/// - `fleet_upgrades` returns fleet upgrades, newest first, at most `limit`.
/// - `finish_fleet_upgrade` moves a `running` fleet upgrade to `state` with `message` and
///   returns it; one that is not running is `Conflict`, an unknown id `NotFound`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AgentStore: Send + Sync + 'static {
    /// Queues a task.
    async fn enqueue_agent_task(&self, task: &NewAgentTask) -> Result<AgentTask>;
    /// The instance's next due task, now held by its agent.
    async fn claim_agent_task(
        &self,
        instance: InstanceId,
        lease_for: Duration,
    ) -> Result<Option<AgentTask>>;
    /// Records how a running task ended.
    async fn finish_agent_task(
        &self,
        id: AgentTaskId,
        instance: InstanceId,
        outcome: &AgentTaskOutcome,
    ) -> Result<AgentTask>;
    /// One task.
    async fn get_agent_task(&self, id: AgentTaskId) -> Result<Option<AgentTask>>;
    /// An instance's tasks, newest first.
    async fn agent_tasks(&self, instance: InstanceId, limit: usize) -> Result<Vec<AgentTask>>;
    /// Replaces a task's sealed output if it is still `expected`.
    async fn replace_agent_task_output(
        &self,
        id: AgentTaskId,
        expected: &SealedSecrets,
        sealed: &SealedSecrets,
    ) -> Result<bool>;
    /// Keeps a heartbeat.
    async fn record_agent_report(
        &self,
        instance: InstanceId,
        report: &AgentReport,
    ) -> Result<AgentPresence>;
    /// An instance's latest heartbeat.
    async fn agent_presence(&self, instance: InstanceId) -> Result<Option<AgentPresence>>;
    /// Deletes finished tasks older than `before`.
    async fn purge_agent_tasks(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64>;
    /// Starts a fleet upgrade.
    async fn insert_fleet_upgrade(&self, upgrade: &FleetUpgrade) -> Result<()>;
    /// Fleet upgrades, newest first.
    async fn fleet_upgrades(&self, limit: usize) -> Result<Vec<FleetUpgrade>>;
    /// Ends a running fleet upgrade.
    async fn finish_fleet_upgrade(
        &self,
        id: AgentTaskId,
        state: FleetUpgradeState,
        message: &str,
    ) -> Result<FleetUpgrade>;
}
