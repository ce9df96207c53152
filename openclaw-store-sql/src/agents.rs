//! Agent tasks and agent heartbeats: the columns both schemas give them and the mapping of a
//! row back into the domain.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openclaw_core::domain::{
    AgentPresence, AgentReport, AgentTask, AgentTaskId, AgentTaskKind, AgentTaskOutcome,
    AgentTaskState, FleetUpgrade, FleetUpgradeState, InstanceId, MAX_TASK_ERROR_LEN,
};
use openclaw_core::instance_secrets::SealedSecrets;
use openclaw_core::Result;

use crate::columns::Columns;
use crate::errors::corrupt;
use crate::numbers::to_u32;

/// The columns of `agent_tasks`, in the order the statements of both stores select them.
pub const AGENT_TASK_COLUMNS: &str = "id, instance_id, kind, state, attempts, max_attempts, \
     lease_expires_at, output, error, requested_by, created_at, updated_at";

/// The columns of `agent_presence`.
pub const AGENT_PRESENCE_COLUMNS: &str = "instance_id, last_seen, report";

/// A task's kind as both schemas store it (JSON text: `{"kind": …, "args": …}`).
pub fn agent_task_kind_json(kind: &AgentTaskKind) -> Result<String> {
    serde_json::to_string(kind).map_err(|e| corrupt(format!("agent task kind: {e}")))
}

/// A report as both schemas store it (JSON text).
pub fn agent_report_json(report: &AgentReport) -> Result<String> {
    serde_json::to_string(report).map_err(|e| corrupt(format!("agent report: {e}")))
}

/// Sealed output as stored: base64url text.
pub fn sealed_text(sealed: &SealedSecrets) -> String {
    URL_SAFE_NO_PAD.encode(sealed.as_bytes())
}

/// An outcome as the three columns it sets: state, output, error (the error cut to
/// [`MAX_TASK_ERROR_LEN`] bytes on a character boundary).
pub fn outcome_columns(
    outcome: &AgentTaskOutcome,
) -> (&'static str, Option<String>, Option<String>) {
    match outcome {
        AgentTaskOutcome::Succeeded(out) => (
            AgentTaskState::Succeeded.as_str(),
            Some(sealed_text(out)),
            None,
        ),
        AgentTaskOutcome::Failed(e) => {
            let mut end = e.len().min(MAX_TASK_ERROR_LEN);
            while !e.is_char_boundary(end) {
                end -= 1;
            }
            (
                AgentTaskState::Failed.as_str(),
                None,
                Some(e[..end].to_string()),
            )
        }
    }
}

/// The error a claim writes on a task whose lease ran out with no attempts left, as SQL
/// text concatenation of its attempts column.
pub const EXHAUSTED_MESSAGE_PREFIX: &str = "the agent took it ";
/// See [`EXHAUSTED_MESSAGE_PREFIX`].
pub const EXHAUSTED_MESSAGE_SUFFIX: &str = " times and never reported";

/// The task in a row of [`AGENT_TASK_COLUMNS`].
pub fn agent_task_from(row: &impl Columns) -> Result<AgentTask> {
    let output = row
        .opt_text("output")?
        .map(|text| {
            URL_SAFE_NO_PAD
                .decode(text)
                .map(SealedSecrets::from_bytes)
                .map_err(|_| corrupt("agent task output is not base64url"))
        })
        .transpose()?;
    Ok(AgentTask {
        id: AgentTaskId::from_uuid(row.uuid("id")?),
        instance_id: InstanceId::from_uuid(row.uuid("instance_id")?),
        kind: row.json("kind")?,
        state: AgentTaskState::parse(&row.text("state")?).map_err(corrupt)?,
        attempts: to_u32(row.int("attempts")?, "attempts")?,
        max_attempts: to_u32(row.int("max_attempts")?, "max_attempts")?,
        lease_expires_at: row.opt_time("lease_expires_at")?,
        output,
        error: row.opt_text("error")?,
        requested_by: row.text("requested_by")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// The presence in a row of [`AGENT_PRESENCE_COLUMNS`].
pub fn agent_presence_from(row: &impl Columns) -> Result<AgentPresence> {
    Ok(AgentPresence {
        instance_id: InstanceId::from_uuid(row.uuid("instance_id")?),
        last_seen: row.time("last_seen")?,
        report: row.json("report")?,
    })
}

/// The columns of `fleet_upgrades`, in the order the statements of both stores select them.
pub const FLEET_UPGRADE_COLUMNS: &str =
    "id, version, waves, state, message, requested_by, created_at, updated_at";

/// A fleet upgrade's waves as both schemas store them (JSON text).
pub fn fleet_waves_json(upgrade: &FleetUpgrade) -> Result<String> {
    serde_json::to_string(&upgrade.waves).map_err(|e| corrupt(format!("fleet waves: {e}")))
}

/// The fleet upgrade in a row of [`FLEET_UPGRADE_COLUMNS`].
pub fn fleet_upgrade_from(row: &impl Columns) -> Result<FleetUpgrade> {
    Ok(FleetUpgrade {
        id: AgentTaskId::from_uuid(row.uuid("id")?),
        version: row.text("version")?,
        waves: row.json("waves")?,
        state: FleetUpgradeState::parse(&row.text("state")?).map_err(corrupt)?,
        message: row.text("message")?,
        requested_by: row.text("requested_by")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// What a report for task `id` of `instance` gets when the update that records it changed no
/// row: `found` is the task as it is. `NotFound` for a task unknown or of another instance;
/// the task itself when it already ended with the same outcome (a report retried after its
/// answer was lost); `Conflict` otherwise.
pub fn settle_unrecorded_report(
    id: AgentTaskId,
    instance: InstanceId,
    outcome: &AgentTaskOutcome,
    found: Option<AgentTask>,
) -> Result<AgentTask> {
    let task = found
        .filter(|t| t.instance_id == instance)
        .ok_or_else(|| openclaw_core::Error::not_found("agent task", id))?;
    let (state, output, error) = outcome_columns(outcome);
    let same = task.state.as_str() == state
        && task.output.as_ref().map(sealed_text) == output
        && task.error == error;
    if same {
        return Ok(task);
    }
    Err(openclaw_core::Error::conflict(format!(
        "agent task {id} is {}; it takes no report now",
        task.state
    )))
}

/// The refusal for finishing fleet upgrade `id` when the update changed no row: `found` is
/// the upgrade as it is.
pub fn fleet_finish_refusal(id: AgentTaskId, found: Option<FleetUpgrade>) -> openclaw_core::Error {
    match found {
        None => openclaw_core::Error::not_found("fleet upgrade", id),
        Some(upgrade) => openclaw_core::Error::conflict(format!(
            "fleet upgrade {id} is {}, not running",
            upgrade.state
        )),
    }
}
