//! The instance agent's side of the domain: the tasks the control plane queues for the agent
//! on an instance, and what the agent reports about its machine.
//!
//! The protocol itself (endpoints, bodies, the agent's credential) is in
//! `docs/agent-protocol.md`; this module holds what the store keeps.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ids::InstanceId;
use crate::error::{Error, Result};
use crate::instance_secrets::SealedSecrets;

/// The id of an agent task: a UUIDv7, so ids sort by creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgentTaskId(Uuid);

impl AgentTaskId {
    /// A new id for the current time.
    pub fn new() -> Self {
        AgentTaskId(Uuid::now_v7())
    }

    /// Wraps an existing UUID.
    pub fn from_uuid(uuid: Uuid) -> Self {
        AgentTaskId(uuid)
    }

    /// The UUID inside.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for AgentTaskId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for AgentTaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for AgentTaskId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Uuid::parse_str(s)
            .map(AgentTaskId)
            .map_err(|_| Error::invalid("task_id", "must be a UUID"))
    }
}

/// What a task asks the agent to do: the fixed allowlist. The agent refuses anything else.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "args", rename_all = "snake_case")]
pub enum AgentTaskKind {
    /// Mint a one-time pairing link with the gateway's own command.
    AccessLink,
    /// Restart the gateway and wait until it is ready.
    RestartGateway,
    /// A new gateway token: written, the gateway restarted, reported back to be sealed.
    RotateGatewayToken,
    /// The devices paired with the gateway.
    ListDevices,
    /// Unpair one device.
    RevokeDevice {
        /// The gateway's id of the device.
        device: String,
    },
    /// Install another OpenClaw version, rolling back on any failure.
    Upgrade {
        /// The npm version to install.
        version: String,
    },
    /// Archive the instance's OpenClaw state (`~/.openclaw`, the workspace inside it) and
    /// upload it to the control plane, which keeps it in its backup store under the task's
    /// id (the backup's id).
    Backup,
    /// Replace the instance's OpenClaw state with a backup, rolling back on any failure.
    Restore {
        /// The backup's id (the id of the task that made it).
        backup: String,
        /// The archive's SHA-256 (64 lowercase hex digits), checked before anything changes.
        sha256: String,
    },
}

/// The longest device id or version a task carries.
pub const MAX_TASK_ARG_LEN: usize = 128;

impl AgentTaskKind {
    /// The snake_case name the protocol uses.
    pub fn as_str(&self) -> &'static str {
        match self {
            AgentTaskKind::AccessLink => "access_link",
            AgentTaskKind::RestartGateway => "restart_gateway",
            AgentTaskKind::RotateGatewayToken => "rotate_gateway_token",
            AgentTaskKind::ListDevices => "list_devices",
            AgentTaskKind::RevokeDevice { .. } => "revoke_device",
            AgentTaskKind::Upgrade { .. } => "upgrade",
            AgentTaskKind::Backup => "backup",
            AgentTaskKind::Restore { .. } => "restore",
        }
    }

    /// Whether the task's output carries a secret (it is sealed before it is stored, and
    /// never shown in a task listing).
    pub fn output_is_secret(&self) -> bool {
        matches!(
            self,
            AgentTaskKind::AccessLink | AgentTaskKind::RotateGatewayToken
        )
    }

    /// Checks the arguments: a device id or version of 1 to [`MAX_TASK_ARG_LEN`] characters
    /// from `[A-Za-z0-9._+-]` (inert in a shell word and an npm spec), so an argument can
    /// never become an option or a second command on the instance.
    /// A restore names its backup by a task id and carries the archive's SHA-256.
    pub fn validate(&self) -> Result<()> {
        if let AgentTaskKind::Restore { backup, sha256 } = self {
            backup.parse::<AgentTaskId>().map_err(|_| {
                Error::invalid("backup", "must be a backup id (the UUID of its task)")
            })?;
            if !is_sha256_hex(sha256) {
                return Err(Error::invalid("sha256", "must be 64 lowercase hex digits"));
            }
            return Ok(());
        }
        let (field, value) = match self {
            AgentTaskKind::RevokeDevice { device } => ("device", device),
            AgentTaskKind::Upgrade { version } => ("version", version),
            _ => return Ok(()),
        };
        let inert = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-');
        if value.is_empty()
            || value.len() > MAX_TASK_ARG_LEN
            || value.starts_with('-')
            || !value.chars().all(inert)
        {
            return Err(Error::invalid(
                field,
                format!(
                    "must be 1-{MAX_TASK_ARG_LEN} characters of A-Z a-z 0-9 . _ + - \
                     and not start with -"
                ),
            ));
        }
        Ok(())
    }
}

/// Lowercase hex of `digest` (a SHA-256 as the protocol writes it, for 32 bytes).
pub fn to_hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `data` as the protocol writes it.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    to_hex(&sha2::Sha256::digest(data))
}

/// Whether `s` is a SHA-256 as the protocol writes it: 64 lowercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl fmt::Display for AgentTaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentTaskKind::RevokeDevice { device } => write!(f, "revoke_device({device})"),
            AgentTaskKind::Upgrade { version } => write!(f, "upgrade({version})"),
            AgentTaskKind::Restore { backup, .. } => write!(f, "restore({backup})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentTaskState {
    /// Waiting for the instance's agent to take it.
    Queued,
    /// Taken by the agent under a lease; a lease that runs out puts it back in reach.
    Running,
    /// The agent reported success.
    Succeeded,
    /// The agent reported failure, or the task ran out of attempts.
    Failed,
}

impl AgentTaskState {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentTaskState::Queued => "queued",
            AgentTaskState::Running => "running",
            AgentTaskState::Succeeded => "succeeded",
            AgentTaskState::Failed => "failed",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s output.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "queued" => Ok(AgentTaskState::Queued),
            "running" => Ok(AgentTaskState::Running),
            "succeeded" => Ok(AgentTaskState::Succeeded),
            "failed" => Ok(AgentTaskState::Failed),
            other => Err(Error::internal(format!(
                "unknown agent task state {other:?}"
            ))),
        }
    }

    /// Whether the task is over.
    pub fn is_finished(self) -> bool {
        matches!(self, AgentTaskState::Succeeded | AgentTaskState::Failed)
    }
}

impl fmt::Display for AgentTaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAgentTask {
    /// Its id.
    pub id: AgentTaskId,
    /// The instance whose agent runs it.
    pub instance_id: InstanceId,
    /// What to do.
    pub kind: AgentTaskKind,
    /// Who asked (an API key id, `operator`, `fleet upgrade`, …), for the audit trail.
    pub requested_by: String,
    /// How many times the agent may take it before it fails for good.
    pub max_attempts: u32,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
}

impl NewAgentTask {
    /// A task with a fresh id and 3 attempts.
    pub fn new(
        instance_id: InstanceId,
        kind: AgentTaskKind,
        requested_by: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Self {
        NewAgentTask {
            id: AgentTaskId::new(),
            instance_id,
            kind,
            requested_by: requested_by.into(),
            max_attempts: 3,
            created_at: now,
        }
    }
}

/// A task as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentTask {
    /// Its id.
    pub id: AgentTaskId,
    /// The instance whose agent runs it.
    pub instance_id: InstanceId,
    /// What to do.
    pub kind: AgentTaskKind,
    /// Where it is.
    pub state: AgentTaskState,
    /// How many times the agent took it.
    pub attempts: u32,
    /// How many times it may be taken.
    pub max_attempts: u32,
    /// While running: when the agent's hold on it ends (the store's clock).
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// What the agent reported on success, sealed for the instance (it may hold a secret;
    /// only the control plane opens it).
    pub output: Option<SealedSecrets>,
    /// What the agent reported on failure: one line for an operator.
    pub error: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// Its last change.
    pub updated_at: DateTime<Utc>,
}

/// How a task ended, as the agent reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentTaskOutcome {
    /// Done; the output sealed for the instance.
    Succeeded(SealedSecrets),
    /// Not done, and why (one line).
    Failed(String),
}

/// The longest error line kept for a failed task.
pub const MAX_TASK_ERROR_LEN: usize = 1_000;

/// The gateway's two health answers, as the agent saw them on loopback.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayProbe {
    /// `GET /healthz` answered 200.
    pub healthz: bool,
    /// `GET /startupz` answered 200.
    pub startupz: bool,
}

impl GatewayProbe {
    /// Whether the gateway is up and ready.
    pub fn is_up(&self) -> bool {
        self.healthz && self.startupz
    }
}

/// Total and available kilobytes of memory or disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// Total, in KiB.
    pub total_kb: u64,
    /// Available, in KiB.
    pub available_kb: u64,
}

/// One heartbeat of an agent: the machine as it sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentReport {
    /// The agent's protocol version.
    pub agent_version: String,
    /// `openclaw --version`, if it answered.
    pub openclaw_version: Option<String>,
    /// The gateway's health on loopback.
    pub gateway: GatewayProbe,
    /// Memory.
    pub memory: Capacity,
    /// The disk holding OpenClaw's state.
    pub disk: Capacity,
    /// Seconds since the machine booted.
    pub uptime_s: u64,
}

/// The longest version string a report may carry.
pub const MAX_REPORT_VERSION_LEN: usize = 64;

impl AgentReport {
    /// Checks the strings a report carries: printable ASCII of bounded length.
    pub fn validate(&self) -> Result<()> {
        let printable = |s: &str| s.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        if self.agent_version.is_empty()
            || self.agent_version.len() > MAX_REPORT_VERSION_LEN
            || !printable(&self.agent_version)
        {
            return Err(Error::invalid(
                "agent_version",
                format!("must be 1-{MAX_REPORT_VERSION_LEN} printable characters"),
            ));
        }
        if let Some(v) = &self.openclaw_version {
            if v.len() > MAX_REPORT_VERSION_LEN || !printable(v) {
                return Err(Error::invalid(
                    "openclaw_version",
                    format!("must be at most {MAX_REPORT_VERSION_LEN} printable characters"),
                ));
            }
        }
        Ok(())
    }
}

/// The last heartbeat of an instance's agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPresence {
    /// The instance.
    pub instance_id: InstanceId,
    /// When the heartbeat arrived (the store's clock).
    pub last_seen: DateTime<Utc>,
    /// What it said.
    pub report: AgentReport,
}

/// Where a fleet upgrade is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FleetUpgradeState {
    /// Upgrading wave after wave.
    Running,
    /// Every instance of every wave upgraded.
    Succeeded,
    /// Stopped at the first instance whose upgrade failed (that instance rolled itself back).
    Failed,
}

impl FleetUpgradeState {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FleetUpgradeState::Running => "running",
            FleetUpgradeState::Succeeded => "succeeded",
            FleetUpgradeState::Failed => "failed",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s output.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "running" => Ok(FleetUpgradeState::Running),
            "succeeded" => Ok(FleetUpgradeState::Succeeded),
            "failed" => Ok(FleetUpgradeState::Failed),
            other => Err(Error::internal(format!(
                "unknown fleet upgrade state {other:?}"
            ))),
        }
    }
}

impl fmt::Display for FleetUpgradeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An upgrade of every active instance to one OpenClaw version: the canary wave first, then
/// batches, each wave only once the one before it has upgraded (and is healthy again), and
/// nothing more after the first failure. The waves are fixed when it starts, so instances
/// created meanwhile are not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetUpgrade {
    /// Its id.
    pub id: AgentTaskId,
    /// The version every instance gets.
    pub version: String,
    /// The instances, wave by wave (the first wave is the canary).
    pub waves: Vec<Vec<InstanceId>>,
    /// Where it is.
    pub state: FleetUpgradeState,
    /// How it ended, or how far it got.
    pub message: String,
    /// Who started it.
    pub requested_by: String,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// Its last change.
    pub updated_at: DateTime<Utc>,
}

impl FleetUpgrade {
    /// The id of the upgrade task of `instance` in this fleet upgrade: derived, so that
    /// whichever replica drives the upgrade, and however often, the task is queued once.
    pub fn task_id(&self, instance: InstanceId) -> AgentTaskId {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(b"openclaw-fleet-upgrade-task:")
            .chain_update(self.id.as_uuid().as_bytes())
            .chain_update(instance.as_uuid().as_bytes())
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        // Keep it a valid UUIDv8 ("custom"), so no real v7 id can collide with it.
        bytes[6] = (bytes[6] & 0x0f) | 0x80;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        AgentTaskId::from_uuid(Uuid::from_bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_that_could_become_shell_are_refused() {
        for bad in [
            "",
            "-rf",
            "1.0 && reboot",
            "a;b",
            "$(id)",
            "a/b",
            &"9".repeat(129),
        ] {
            let kind = AgentTaskKind::Upgrade {
                version: bad.to_string(),
            };
            let err = kind.validate().unwrap_err();
            assert_eq!(err.code(), "invalid_input", "{bad:?}");
        }
        for good in ["2026.9.6", "2026.10.1-beta.2", "latest", "1.0.0+build"] {
            AgentTaskKind::Upgrade {
                version: good.to_string(),
            }
            .validate()
            .unwrap();
        }
    }

    #[test]
    fn a_restore_names_a_task_id_and_a_lowercase_sha256() {
        let id = AgentTaskId::new().to_string();
        let sha = "ab".repeat(32);
        let restore = |backup: &str, sha256: &str| AgentTaskKind::Restore {
            backup: backup.to_string(),
            sha256: sha256.to_string(),
        };
        restore(&id, &sha).validate().unwrap();
        for (backup, sha256, field) in [
            ("../../etc", sha.as_str(), "backup"),
            ("", sha.as_str(), "backup"),
            (id.as_str(), &"AB".repeat(32), "sha256"),
            (id.as_str(), &"ab".repeat(31), "sha256"),
            (id.as_str(), "", "sha256"),
        ] {
            match restore(backup, sha256).validate() {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{backup:?}/{sha256:?}: {other:?}"),
            }
        }
        assert_eq!(restore(&id, &sha).to_string(), format!("restore({id})"));
        assert_eq!(
            serde_json::to_value(AgentTaskKind::Backup).unwrap(),
            serde_json::json!({"kind": "backup"})
        );
    }

    #[test]
    fn kinds_serialize_as_the_protocol_says() {
        let json = serde_json::to_value(AgentTaskKind::Upgrade {
            version: "2026.10.1".into(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "upgrade", "args": {"version": "2026.10.1"}})
        );
        let json = serde_json::to_value(AgentTaskKind::AccessLink).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "access_link"}));
    }

    #[test]
    fn states_round_trip() {
        for s in [
            AgentTaskState::Queued,
            AgentTaskState::Running,
            AgentTaskState::Succeeded,
            AgentTaskState::Failed,
        ] {
            assert_eq!(AgentTaskState::parse(s.as_str()).unwrap(), s);
        }
        assert!(AgentTaskState::parse("done").is_err());
    }
}
