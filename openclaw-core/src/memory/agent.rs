//! A simulated instance agent: the machine side of the agent protocol without a machine.
//!
//! [`SimulatedMachine`] answers every task of the allowlist as the real agent would on a
//! healthy instance — pairing tokens that are fresh each time, a gateway token that
//! rotates, devices that can be revoked, upgrades that succeed for versions it "finds on
//! npm" and otherwise fail and roll back, a state (paired devices, workspace files) that
//! backups archive and restores bring back. [`InProcessAgent`] drives one against a
//! [`Provisioner`] directly (engine tests); the sandbox's fake servers drive the same
//! machine over HTTP, as the real agent does.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use rand::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::task::JoinHandle;

use crate::cloud_init::DEFAULT_OPENCLAW_VERSION;
use crate::domain::{
    sha256_hex, AgentReport, AgentTask, AgentTaskKind, Capacity, GatewayProbe, InstanceId,
};
use crate::engine::AgentTaskResult;
use crate::Provisioner;

/// A version no upgrade can find, for tests of the rollback.
pub const MISSING_VERSION: &str = "0.0.0-missing";

/// What the simulated machine runs and remembers. Secrets it hands out are kept so that
/// tests can compare them; its `Debug` shows none of them.
#[derive(Clone)]
pub struct SimulatedMachine {
    /// The OpenClaw version installed.
    pub openclaw_version: String,
    /// Versions an upgrade can install (anything else fails and rolls back).
    pub available_versions: BTreeSet<String>,
    /// Whether the gateway answers its health checks.
    pub gateway_up: bool,
    /// Paired device ids.
    pub devices: Vec<String>,
    /// The files of the assistant's workspace, by name.
    pub workspace: BTreeMap<String, String>,
    gateway_token: String,
    pairing_tokens: Vec<String>,
    restarts: u32,
}

impl std::fmt::Debug for SimulatedMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedMachine")
            .field("openclaw_version", &self.openclaw_version)
            .field("gateway_up", &self.gateway_up)
            .field("devices", &self.devices)
            .field("workspace", &self.workspace.keys().collect::<Vec<_>>())
            .field("restarts", &self.restarts)
            .finish_non_exhaustive()
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::StdRng::from_os_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl SimulatedMachine {
    /// A machine running the pinned default version with `gateway_token`, whose upgrades
    /// find the default version and `2026.10.1`.
    pub fn new(gateway_token: impl Into<String>) -> Self {
        SimulatedMachine {
            openclaw_version: DEFAULT_OPENCLAW_VERSION.to_string(),
            available_versions: [DEFAULT_OPENCLAW_VERSION, "2026.10.1"]
                .into_iter()
                .map(String::from)
                .collect(),
            gateway_up: true,
            devices: Vec::new(),
            workspace: BTreeMap::new(),
            gateway_token: gateway_token.into(),
            pairing_tokens: Vec::new(),
            restarts: 0,
        }
    }

    /// The gateway token now in force.
    pub fn gateway_token(&self) -> &str {
        &self.gateway_token
    }

    /// Every pairing token minted so far, oldest first.
    pub fn pairing_tokens(&self) -> &[String] {
        &self.pairing_tokens
    }

    /// How many times the gateway was restarted.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Pairs a device the way a browser opening a pairing link would: the token must be
    /// one this machine minted and not used yet. Returns the new device's id.
    pub fn pair(&mut self, pairing_token: &str) -> Option<String> {
        let at = self
            .pairing_tokens
            .iter()
            .position(|t| t == pairing_token)?;
        self.pairing_tokens[at] = String::new();
        let device = format!("device-{}", &random_token()[..12]);
        self.devices.push(device.clone());
        Some(device)
    }

    /// A heartbeat.
    pub fn report(&self) -> AgentReport {
        AgentReport {
            agent_version: "1".to_string(),
            openclaw_version: Some(self.openclaw_version.clone()),
            gateway: GatewayProbe {
                healthz: self.gateway_up,
                startupz: self.gateway_up,
            },
            memory: Capacity {
                total_kb: 4_000_000,
                available_kb: 2_900_000,
            },
            disk: Capacity {
                total_kb: 78_000_000,
                available_kb: 70_000_000,
            },
            uptime_s: 60,
        }
    }

    /// The machine's OpenClaw state as a backup archive (the simulation's own format: the
    /// control plane never looks inside).
    pub fn archive(&self) -> Vec<u8> {
        let state = SimulatedState {
            devices: self.devices.clone(),
            workspace: self.workspace.clone(),
        };
        serde_json::to_vec(&state).unwrap_or_default()
    }

    /// Replaces the state with an archive's, as a restore does: an archive that does not
    /// open leaves everything as it was (the rollback) and says so.
    pub fn restore(&mut self, archive: &[u8]) -> std::result::Result<(), String> {
        let state: SimulatedState = serde_json::from_slice(archive)
            .map_err(|e| format!("the archive does not open ({e}); kept the current state"))?;
        self.devices = state.devices;
        self.workspace = state.workspace;
        self.restarts += 1;
        Ok(())
    }

    /// Runs one task that moves no archive as the real agent would; `backup` and
    /// `restore` are run by [`InProcessAgent`] (or a fake server's agent), which move the
    /// archive with [`archive`](Self::archive) and [`restore`](Self::restore).
    pub fn run(&mut self, kind: &AgentTaskKind) -> AgentTaskResult {
        match kind {
            AgentTaskKind::Backup | AgentTaskKind::Restore { .. } => AgentTaskResult::Err(
                "backup and restore move an archive: the machine's driver runs them".to_string(),
            ),
            AgentTaskKind::AccessLink => {
                let token = random_token();
                self.pairing_tokens.push(token.clone());
                AgentTaskResult::Ok(json!({ "bootstrap_token": token }))
            }
            AgentTaskKind::RestartGateway => {
                self.restarts += 1;
                self.gateway_up = true;
                AgentTaskResult::Ok(json!({}))
            }
            AgentTaskKind::RotateGatewayToken => {
                self.gateway_token = random_token();
                self.restarts += 1;
                AgentTaskResult::Ok(json!({ "gateway_token": self.gateway_token }))
            }
            AgentTaskKind::ListDevices => AgentTaskResult::Ok(json!({
                "devices": self.devices.iter().map(|d| json!({"deviceId": d})).collect::<Vec<_>>()
            })),
            AgentTaskKind::RevokeDevice { device } => {
                match self.devices.iter().position(|d| d == device) {
                    Some(at) => {
                        self.devices.remove(at);
                        AgentTaskResult::Ok(json!({}))
                    }
                    None => AgentTaskResult::Err(format!("no paired device {device}")),
                }
            }
            AgentTaskKind::Upgrade { version } => {
                let previous = self.openclaw_version.clone();
                if self.available_versions.contains(version) {
                    self.openclaw_version = version.clone();
                    self.restarts += 1;
                    AgentTaskResult::Ok(json!({ "version": version, "previous": previous }))
                } else {
                    AgentTaskResult::Err(format!(
                        "npm install openclaw@{version} failed (no such version); \
                         rolled back to {previous}"
                    ))
                }
            }
        }
    }
}

/// What a simulated backup archive holds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulatedState {
    devices: Vec<String>,
    workspace: BTreeMap<String, String>,
}

/// Runs `task` on `machine` against `provisioner` in this process, archives included.
async fn run_in_process(
    provisioner: &Provisioner,
    instance: InstanceId,
    machine: &Mutex<SimulatedMachine>,
    task: &AgentTask,
) -> AgentTaskResult {
    let lock = || machine.lock().unwrap_or_else(PoisonError::into_inner);
    match &task.kind {
        AgentTaskKind::Backup => {
            let archive = lock().archive();
            let sha256 = sha256_hex(&archive);
            let bytes = archive.len();
            let body = futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from(archive))]);
            match provisioner
                .store_backup(instance, task.id, &sha256, body)
                .await
            {
                Ok(_) => AgentTaskResult::Ok(json!({
                    "backup": task.id.to_string(), "bytes": bytes, "sha256": sha256,
                })),
                Err(e) => AgentTaskResult::Err(format!("uploading the archive failed: {e}")),
            }
        }
        AgentTaskKind::Restore { backup, sha256 } => {
            let Ok(id) = backup.parse() else {
                return AgentTaskResult::Err("args.backup is not a backup id".to_string());
            };
            let downloaded = match provisioner.open_backup(instance, id).await {
                Ok((_, stream)) => {
                    stream
                        .try_fold(Vec::new(), |mut all, chunk| async move {
                            all.extend_from_slice(&chunk);
                            Ok(all)
                        })
                        .await
                }
                Err(e) => Err(e),
            };
            match downloaded {
                Err(e) => AgentTaskResult::Err(format!("downloading the backup failed: {e}")),
                Ok(archive) if sha256_hex(&archive) != *sha256 => AgentTaskResult::Err(
                    "the archive downloaded does not match its SHA-256; nothing changed"
                        .to_string(),
                ),
                Ok(archive) => match lock().restore(&archive) {
                    Ok(()) => AgentTaskResult::Ok(json!({ "backup": backup })),
                    Err(e) => AgentTaskResult::Err(e),
                },
            }
        }
        other => lock().run(other),
    }
}

/// A [`SimulatedMachine`] driven against a [`Provisioner`] in this process: it sends a
/// heartbeat at once and every `heartbeat`, long-polls for tasks and reports each result,
/// until aborted or until the control plane says the instance is gone.
#[derive(Debug)]
pub struct InProcessAgent {
    /// The machine, shared with the test.
    pub machine: Arc<Mutex<SimulatedMachine>>,
    handle: JoinHandle<()>,
}

impl InProcessAgent {
    /// Starts an agent for `instance`.
    pub fn spawn(
        provisioner: Provisioner,
        instance: InstanceId,
        machine: SimulatedMachine,
        heartbeat: Duration,
    ) -> Self {
        let machine = Arc::new(Mutex::new(machine));
        let shared = machine.clone();
        let lock = move || {
            shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        };
        let runner = machine.clone();
        let handle = tokio::spawn(async move {
            let mut next_beat = tokio::time::Instant::now();
            loop {
                if tokio::time::Instant::now() >= next_beat {
                    let report = lock().report();
                    if let Err(crate::Error::Gone { .. }) =
                        provisioner.agent_heartbeat(instance, &report).await
                    {
                        return;
                    }
                    next_beat += heartbeat;
                }
                let wait = next_beat.saturating_duration_since(tokio::time::Instant::now());
                match provisioner.next_agent_task(instance, wait).await {
                    Ok(Some(task)) => {
                        let result = run_in_process(&provisioner, instance, &runner, &task).await;
                        let _ = provisioner
                            .report_agent_task(instance, task.id, result)
                            .await;
                    }
                    Ok(None) => {}
                    Err(crate::Error::Gone { .. }) => return,
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            }
        });
        InProcessAgent { machine, handle }
    }

    /// Stops it (as if the machine lost its network).
    pub fn stop(&self) {
        self.handle.abort();
    }
}

impl Drop for InProcessAgent {
    fn drop(&mut self) {
        self.handle.abort();
    }
}
