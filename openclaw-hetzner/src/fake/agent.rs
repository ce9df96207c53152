//! The agent on each fake machine: once its bootstrap delivered an agent credential, it
//! speaks the agent protocol to the control plane as the real script does — a heartbeat
//! every interval, a long poll for tasks, a result for each — answering tasks with
//! [`SimulatedMachine`], so a sandbox's access links, restarts, token rotations, upgrades
//! (including one that fails and rolls back), backups and restores work end to end — the
//! archives go up and come down over HTTP as the real agent's do.
//!
//! It stops when the server is deleted or the control plane answers 410, and pauses while
//! the server is powered off. Only loopback control planes are ever contacted (the caller
//! checked the URL).

use std::sync::Arc;
use std::time::Duration;

use openclaw_core::domain::{sha256_hex, AgentTaskKind};
use openclaw_core::engine::AgentTaskResult;
use openclaw_core::memory::SimulatedMachine;
use serde_json::{json, Value};

use super::Shared;

/// What the bootstrap answer gave the agent.
pub(crate) struct AgentCredential {
    pub(crate) token: String,
    pub(crate) heartbeat: Duration,
}

/// The control plane's base URL: the bootstrap URL without `/v1/bootstrap`.
pub(crate) fn base_url(bootstrap_url: &str) -> Option<&str> {
    bootstrap_url.strip_suffix("/v1/bootstrap")
}

enum Step {
    Go,
    Pause,
    Stop,
}

fn step(shared: &Shared, id: u64) -> Step {
    let mut world = shared.world();
    // The fake's world moves on when it is looked at: finish the power actions due by now,
    // so a machine whose start action ended counts as running.
    world.advance(tokio::time::Instant::now());
    match (world.machines.get(&id), world.servers.get(&id)) {
        (Some(_), Some(server)) if server.status == "running" => Step::Go,
        (Some(_), Some(_)) => Step::Pause,
        _ => Step::Stop,
    }
}

/// Runs the agent of server `id` until the server is gone.
pub(crate) async fn run(
    shared: Arc<Shared>,
    id: u64,
    base: String,
    credential: AgentCredential,
    gateway_token: String,
) {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    else {
        return;
    };
    let mut machine = SimulatedMachine::new(gateway_token);
    let auth = format!("Bearer {}", credential.token);
    let mut next_beat = tokio::time::Instant::now();
    loop {
        match step(&shared, id) {
            Step::Stop => return,
            Step::Pause => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                next_beat = tokio::time::Instant::now();
                continue;
            }
            Step::Go => {}
        }
        if tokio::time::Instant::now() >= next_beat {
            let sent = client
                .post(format!("{base}/v1/agent/heartbeat"))
                .header("authorization", &auth)
                .json(&machine.report())
                .send()
                .await;
            if sent.as_ref().is_ok_and(|r| r.status().as_u16() == 410) {
                return;
            }
            next_beat += credential.heartbeat;
        }
        let wait = next_beat
            .saturating_duration_since(tokio::time::Instant::now())
            .as_secs()
            .clamp(1, 25);
        let polled = client
            .get(format!("{base}/v1/agent/tasks/next?wait={wait}"))
            .header("authorization", &auth)
            .send()
            .await;
        let Ok(response) = polled else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        match response.status().as_u16() {
            200 => {}
            204 => continue,
            410 => return,
            _ => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        let Ok(task) = response.json::<Value>().await else {
            continue;
        };
        let (Some(task_id), Some(kind)) = (task["id"].as_str(), parse_kind(&task)) else {
            continue;
        };
        let result = match &kind {
            AgentTaskKind::Backup => back_up(&client, &base, &auth, task_id, &machine).await,
            AgentTaskKind::Restore { backup, sha256 } => {
                restore(&client, &base, &auth, backup, sha256, &mut machine).await
            }
            other => machine.run(other),
        };
        let body = match result {
            AgentTaskResult::Ok(output) => json!({ "ok": true, "output": output }),
            AgentTaskResult::Err(error) => json!({ "ok": false, "error": error }),
        };
        let _ = client
            .post(format!("{base}/v1/agent/tasks/{task_id}/result"))
            .header("authorization", &auth)
            .json(&body)
            .send()
            .await;
    }
}

/// Uploads the machine's archive for backup task `task_id`, as the real agent does.
async fn back_up(
    client: &reqwest::Client,
    base: &str,
    auth: &str,
    task_id: &str,
    machine: &SimulatedMachine,
) -> AgentTaskResult {
    let archive = machine.archive();
    let sha256 = sha256_hex(&archive);
    let bytes = archive.len();
    let sent = client
        .put(format!("{base}/v1/agent/tasks/{task_id}/backup"))
        .header("authorization", auth)
        .header("x-archive-sha256", &sha256)
        .header("content-type", "application/gzip")
        .body(archive)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().as_u16() == 201 => AgentTaskResult::Ok(json!({
            "backup": task_id, "bytes": bytes, "sha256": sha256,
        })),
        Ok(r) => AgentTaskResult::Err(format!("uploading the archive: HTTP {}", r.status())),
        Err(e) => AgentTaskResult::Err(format!("uploading the archive: {e}")),
    }
}

/// Downloads backup `backup`, checks it and restores the machine from it.
async fn restore(
    client: &reqwest::Client,
    base: &str,
    auth: &str,
    backup: &str,
    sha256: &str,
    machine: &mut SimulatedMachine,
) -> AgentTaskResult {
    let got = client
        .get(format!("{base}/v1/agent/backups/{backup}"))
        .header("authorization", auth)
        .send()
        .await;
    let archive = match got {
        Ok(r) if r.status().is_success() => match r.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => return AgentTaskResult::Err(format!("downloading the backup: {e}")),
        },
        Ok(r) => {
            return AgentTaskResult::Err(format!("downloading the backup: HTTP {}", r.status()))
        }
        Err(e) => return AgentTaskResult::Err(format!("downloading the backup: {e}")),
    };
    if sha256_hex(&archive) != sha256 {
        return AgentTaskResult::Err(
            "the archive downloaded does not match its SHA-256; nothing changed".to_string(),
        );
    }
    match machine.restore(&archive) {
        Ok(()) => AgentTaskResult::Ok(json!({ "backup": backup })),
        Err(e) => AgentTaskResult::Err(e),
    }
}

/// A task of the protocol as the domain's kind; `None` for anything off the allowlist.
fn parse_kind(task: &Value) -> Option<AgentTaskKind> {
    let arg = |name: &str| task["args"][name].as_str().map(str::to_string);
    Some(match task["kind"].as_str()? {
        "access_link" => AgentTaskKind::AccessLink,
        "restart_gateway" => AgentTaskKind::RestartGateway,
        "rotate_gateway_token" => AgentTaskKind::RotateGatewayToken,
        "list_devices" => AgentTaskKind::ListDevices,
        "revoke_device" => AgentTaskKind::RevokeDevice {
            device: arg("device")?,
        },
        "upgrade" => AgentTaskKind::Upgrade {
            version: arg("version")?,
        },
        "backup" => AgentTaskKind::Backup,
        "restore" => AgentTaskKind::Restore {
            backup: arg("backup")?,
            sha256: arg("sha256")?,
        },
        _ => return None,
    })
}
