//! A simulated instance agent: the machine side of the agent protocol without a machine.
//!
//! [`SimulatedMachine`] answers every task of the allowlist as the real agent would on a
//! healthy instance — pairing tokens that are fresh each time, a gateway token that
//! rotates, devices that can be revoked, upgrades that succeed for versions it "finds on
//! npm" and otherwise fail and roll back. [`InProcessAgent`] drives one against a
//! [`Provisioner`] directly (engine tests); the sandbox's fake servers drive the same
//! machine over HTTP, as the real agent does.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::{RngCore, SeedableRng};
use serde_json::json;
use tokio::task::JoinHandle;

use crate::cloud_init::DEFAULT_OPENCLAW_VERSION;
use crate::domain::{AgentReport, AgentTaskKind, Capacity, GatewayProbe, InstanceId};
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

    /// Runs one task as the real agent would.
    pub fn run(&mut self, kind: &AgentTaskKind) -> AgentTaskResult {
        match kind {
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
                        let result = runner
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .run(&task.kind);
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
