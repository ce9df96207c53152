//! The control plane's side of the instance agent: its credential, its heartbeats, the tasks
//! queued for it and what it reports back, and the access link it mints.
//!
//! The wire protocol is in `docs/agent-protocol.md`; this module is what the HTTP endpoints
//! call. Tasks are durable (the [`AgentStore`](crate::ports::AgentStore)), so any replica may
//! queue a task, any replica may hand it to the agent's long poll, and any replica may take
//! its report.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::provisioner::Provisioner;
use crate::domain::{
    AgentPresence, AgentReport, AgentTask, AgentTaskId, AgentTaskKind, AgentTaskOutcome,
    AgentTaskState, GatewayProbe, InstanceId, InstanceStatus, NewAgentTask,
};
use crate::error::{Error, Result};
use crate::secret::SecretString;

/// How often a waiting long poll or access request looks at the store again, for tasks
/// queued or finished by another replica (this replica's own are noticed at once).
const STORE_POLL: Duration = Duration::from_millis(500);

/// The longest pairing token accepted from an agent.
const MAX_PAIRING_TOKEN_LEN: usize = 512;
/// Reads of an instance's secrets a change makes before giving up on writers racing it.
pub(crate) const RESEAL_ATTEMPTS: usize = 5;

/// What the control plane knows of an instance's agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatus {
    /// Whether its last heartbeat is recent enough
    /// ([`AgentConfig::connected_within`](super::AgentConfig::connected_within)).
    pub connected: bool,
    /// When it last reported, if ever.
    pub last_seen: Option<DateTime<Utc>>,
    /// The gateway's health as the agent last saw it.
    pub gateway: Option<GatewayProbe>,
    /// The OpenClaw version the agent last reported.
    pub openclaw_version: Option<String>,
}

/// What an agent reports for a task it ran.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentTaskResult {
    /// Done, with the task's output (an object; see the protocol).
    Ok(Value),
    /// Not done: one line for an operator.
    Err(String),
}

/// Wakes the long polls of this process's agents when a task is queued here.
#[derive(Debug, Default)]
pub(crate) struct AgentWakers(Mutex<HashMap<InstanceId, Arc<Notify>>>);

impl AgentWakers {
    fn get(&self, instance: InstanceId) -> Arc<Notify> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Drop the wakers nobody waits on any more, so the map stays as small as the set of
        // agents polling this process.
        if map.len() > 64 {
            map.retain(|_, n| Arc::strong_count(n) > 1);
        }
        map.entry(instance).or_default().clone()
    }

    pub(crate) fn wake(&self, instance: InstanceId) {
        // `notify_one` keeps a permit when nobody waits yet, so a poll between its claim
        // and its wait still sees the task.
        self.get(instance).notify_one();
    }
}

impl Provisioner {
    /// The instance an agent credential belongs to, or `None` for anything else.
    pub fn agent_instance(&self, token: &str) -> Option<InstanceId> {
        self.engine.bootstrap_key.verify_agent(token)
    }

    /// The agent credential of `instance` (handed to its server with its secrets).
    pub fn agent_token(&self, instance: InstanceId) -> SecretString {
        self.engine.bootstrap_key.agent_token_for(instance)
    }

    /// Records a heartbeat of `instance`'s agent. An instance that is gone (terminated,
    /// rolled back, deleted) is `Gone`: its agent should stop.
    pub async fn agent_heartbeat(
        &self,
        instance: InstanceId,
        report: &AgentReport,
    ) -> Result<AgentPresence> {
        report.validate()?;
        self.live_for_agent(instance).await?;
        self.engine
            .agents
            .record_agent_report(instance, report)
            .await
    }

    /// What is known of `instance`'s agent.
    pub async fn agent_status(&self, instance: InstanceId) -> Result<AgentStatus> {
        let presence = self.engine.agents.agent_presence(instance).await?;
        let within = chrono::Duration::from_std(self.engine.config.agent.connected_within())
            .unwrap_or(chrono::Duration::MAX);
        let now = self.engine.now();
        Ok(match presence {
            None => AgentStatus {
                connected: false,
                last_seen: None,
                gateway: None,
                openclaw_version: None,
            },
            Some(p) => AgentStatus {
                connected: now.signed_duration_since(p.last_seen) < within,
                last_seen: Some(p.last_seen),
                gateway: Some(p.report.gateway),
                openclaw_version: p.report.openclaw_version,
            },
        })
    }

    /// The long poll of `instance`'s agent: its next task, taken under the task lease, as
    /// soon as one is due, or `None` after `wait`.
    pub async fn next_agent_task(
        &self,
        instance: InstanceId,
        wait: Duration,
    ) -> Result<Option<AgentTask>> {
        self.live_for_agent(instance).await?;
        let engine = &self.engine;
        let lease = chrono::Duration::from_std(engine.config.agent.task_lease)
            .map_err(|_| Error::invalid("agent.task_lease", "too long"))?;
        let waker = engine.agent_wakers.get(instance);
        let deadline = Instant::now() + wait;
        loop {
            if let Some(task) = engine.agents.claim_agent_task(instance, lease).await? {
                return Ok(Some(task));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            tokio::select! {
                _ = waker.notified() => {}
                _ = tokio::time::sleep(left.min(STORE_POLL)) => {}
            }
        }
    }

    /// Queues `kind` for `instance`'s agent on behalf of `actor` (audited). Only for an
    /// instance whose server runs (active, or unsuspending/suspending on its way).
    pub async fn request_agent_task(
        &self,
        instance: InstanceId,
        kind: AgentTaskKind,
        actor: &str,
    ) -> Result<AgentTask> {
        kind.validate()?;
        let engine = &self.engine;
        let current = engine.load_existing(instance).await?;
        if current.status != InstanceStatus::Active {
            return Err(Error::conflict(format!(
                "instance {instance} is {}; its agent takes tasks only while it is active",
                current.status
            )));
        }
        let task = NewAgentTask::new(instance, kind, actor, engine.now());
        let stored = engine.agents.enqueue_agent_task(&task).await?;
        engine.agent_wakers.wake(instance);
        self.audit(
            instance,
            "agent_task_requested",
            actor,
            format!("{} queued as task {}", stored.kind, stored.id),
        )
        .await?;
        Ok(stored)
    }

    /// Records what `instance`'s agent reports for `task`. Outputs are checked against what
    /// the task promises and sealed before they are stored (they may carry secrets);
    /// nothing of an output goes into an event.
    pub async fn report_agent_task(
        &self,
        instance: InstanceId,
        task: AgentTaskId,
        result: AgentTaskResult,
    ) -> Result<AgentTask> {
        let engine = &self.engine;
        let current = engine
            .agents
            .get_agent_task(task)
            .await?
            .filter(|t| t.instance_id == instance)
            .ok_or_else(|| Error::not_found("agent task", task))?;
        let outcome = match &result {
            AgentTaskResult::Ok(output) => {
                check_output(&current.kind, output)?;
                if current.kind == AgentTaskKind::Backup {
                    let sha256 = output.get("sha256").and_then(Value::as_str).unwrap_or("");
                    self.check_backup_output(instance, task, sha256).await?;
                }
                if current.kind == AgentTaskKind::RotateGatewayToken
                    && current.state == AgentTaskState::Running
                {
                    self.reseal_gateway_token(instance, output).await?;
                }
                AgentTaskOutcome::Succeeded(engine.secrets_key.seal_task_output(task, output)?)
            }
            AgentTaskResult::Err(message) => AgentTaskOutcome::Failed(one_line(message)),
        };
        let finished = match engine
            .agents
            .finish_agent_task(task, instance, &outcome)
            .await
        {
            Ok(done) => done,
            // A success reported again: sealing again made other bytes, so the store sees
            // another outcome. The task is done as reported; answer with it.
            Err(Error::Conflict { .. })
                if current.state == AgentTaskState::Succeeded
                    && matches!(result, AgentTaskResult::Ok(_)) =>
            {
                return Ok(current);
            }
            Err(e) => return Err(e),
        };
        if finished.kind == AgentTaskKind::Backup && finished.state == AgentTaskState::Succeeded {
            self.after_backup(instance).await;
        }
        let (action, reason) = match &finished.error {
            None => (
                "agent_task_succeeded",
                format!("{} (task {}) succeeded", finished.kind, finished.id),
            ),
            Some(error) => (
                "agent_task_failed",
                format!("{} (task {}) failed: {error}", finished.kind, finished.id),
            ),
        };
        self.audit(instance, action, "instance agent", reason)
            .await?;
        Ok(finished)
    }

    /// Seals the gateway token a rotation reported into the instance's secrets, so the
    /// control plane's copy is the one the gateway now takes.
    async fn reseal_gateway_token(&self, instance: InstanceId, output: &Value) -> Result<()> {
        let engine = &self.engine;
        let token = output
            .get("gateway_token")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::invalid("output", "a rotation needs gateway_token"))?;
        // Read, change, write back if nobody wrote in between (a re-seal under a new key
        // may run at the same time); a lost race reads again.
        for _ in 0..RESEAL_ATTEMPTS {
            let sealed = engine
                .store
                .instance_secrets(instance)
                .await?
                .ok_or_else(|| Error::not_found("instance secrets", instance))?;
            let mut secrets = engine.secrets_key.open(instance, &sealed)?;
            secrets.gateway_token = SecretString::new(token.to_string());
            let resealed = engine.secrets_key.seal(instance, &secrets)?;
            if engine
                .store
                .replace_instance_secrets(instance, &sealed, &resealed)
                .await?
            {
                return Ok(());
            }
        }
        Err(Error::conflict(format!(
            "the secrets of instance {instance} kept changing while the rotated gateway \
             token was being stored"
        )))
    }

    /// Waits until `task` is finished or `timeout` passes, and returns it as it then is.
    pub async fn wait_agent_task(&self, task: AgentTaskId, timeout: Duration) -> Result<AgentTask> {
        let deadline = Instant::now() + timeout;
        loop {
            let current = self
                .engine
                .agents
                .get_agent_task(task)
                .await?
                .ok_or_else(|| Error::not_found("agent task", task))?;
            let left = deadline.saturating_duration_since(Instant::now());
            if current.state.is_finished() || left.is_zero() {
                return Ok(current);
            }
            tokio::time::sleep(left.min(Duration::from_millis(100))).await;
        }
    }

    /// One agent task.
    pub async fn agent_task(&self, task: AgentTaskId) -> Result<Option<AgentTask>> {
        self.engine.agents.get_agent_task(task).await
    }

    /// An instance's agent tasks, newest first.
    pub async fn agent_tasks(&self, instance: InstanceId, limit: usize) -> Result<Vec<AgentTask>> {
        self.engine.agents.agent_tasks(instance, limit).await
    }

    /// The output of a finished, successful task, opened.
    pub fn agent_task_output(&self, task: &AgentTask) -> Result<Option<Value>> {
        task.output
            .as_ref()
            .map(|sealed| self.engine.secrets_key.open_task_output(task.id, sealed))
            .transpose()
    }

    /// The customer's one-time pairing link,
    /// `https://<fqdn>/#bootstrapToken=<token>&bootstrapProfile=owner`, minted on the
    /// instance by its agent with the gateway's own command. Audited, naming `actor`.
    ///
    /// `Conflict` unless the instance is active; `Unavailable` (service `instance agent`)
    /// when its agent is not connected or does not answer in time.
    pub async fn access_link(&self, id: InstanceId, actor: &str) -> Result<SecretString> {
        let engine = &self.engine;
        let instance = engine.load_existing(id).await?;
        if instance.status != InstanceStatus::Active {
            return Err(Error::conflict(format!(
                "instance {id} is {}; it has no gateway to open",
                instance.status
            )));
        }
        let status = self.agent_status(id).await?;
        if !status.connected {
            let message = match status.last_seen {
                None => "the instance's agent has not connected yet".to_string(),
                Some(at) => format!(
                    "the instance's agent is not connected (last seen {})",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            };
            return Err(Error::Unavailable {
                service: "instance agent".to_string(),
                message,
                status: None,
            });
        }
        let task = self
            .request_agent_task(id, AgentTaskKind::AccessLink, actor)
            .await?;
        let done = self
            .wait_agent_task(task.id, engine.config.agent.access_wait)
            .await?;
        match done.state {
            AgentTaskState::Succeeded => {}
            AgentTaskState::Failed => {
                return Err(Error::Unavailable {
                    service: "instance agent".to_string(),
                    message: format!(
                        "the agent could not mint a link: {}",
                        done.error.unwrap_or_default()
                    ),
                    status: None,
                })
            }
            _ => {
                return Err(Error::Unavailable {
                    service: "instance agent".to_string(),
                    message: "the instance's agent did not answer in time".to_string(),
                    status: None,
                })
            }
        }
        let output = self.agent_task_output(&done)?.unwrap_or(Value::Null);
        let token = output
            .get("bootstrap_token")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::internal("an access link task succeeded without a token"))?;
        self.audit(
            id,
            "access_link_issued",
            actor,
            "a one-time pairing link was handed out".to_string(),
        )
        .await?;
        Ok(SecretString::new(format!(
            "https://{}/#bootstrapToken={token}&bootstrapProfile=owner",
            instance.fqdn
        )))
    }

    /// `Gone` for an instance an agent should no longer act for.
    async fn live_for_agent(&self, instance: InstanceId) -> Result<()> {
        let gone = |why: String| Error::Gone { message: why };
        match self.engine.load(instance).await? {
            None => Err(gone(format!("instance {instance} no longer exists"))),
            Some(i) if i.status.is_terminal() => Err(gone(format!(
                "instance {instance} is {}; its agent can stop",
                i.status
            ))),
            Some(_) => Ok(()),
        }
    }

    async fn audit(
        &self,
        instance: InstanceId,
        action: &str,
        actor: &str,
        reason: String,
    ) -> Result<()> {
        self.engine
            .audit(Some(instance), action, actor, reason)
            .await
    }
}

/// Checks an output against what its task promises.
fn check_output(kind: &AgentTaskKind, output: &Value) -> Result<()> {
    let invalid = |why: &str| Error::invalid("output", why.to_string());
    if !output.is_object() {
        return Err(invalid("must be a JSON object"));
    }
    let token_ok = |field: &str| {
        output.get(field).and_then(Value::as_str).is_some_and(|t| {
            (16..=MAX_PAIRING_TOKEN_LEN).contains(&t.len())
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
        })
    };
    match kind {
        AgentTaskKind::AccessLink if !token_ok("bootstrap_token") => Err(invalid(
            "an access_link output needs bootstrap_token: 16-512 URL-safe characters",
        )),
        AgentTaskKind::RotateGatewayToken if !token_ok("gateway_token") => Err(invalid(
            "a rotate_gateway_token output needs gateway_token: 16-512 URL-safe characters",
        )),
        AgentTaskKind::ListDevices if !output.get("devices").is_some_and(Value::is_array) => {
            Err(invalid("a list_devices output needs a devices array"))
        }
        AgentTaskKind::Backup
            if !output
                .get("sha256")
                .and_then(Value::as_str)
                .is_some_and(crate::domain::is_sha256_hex) =>
        {
            Err(invalid(
                "a backup output needs sha256: the archive's, 64 lowercase hex digits",
            ))
        }
        _ => Ok(()),
    }
}

/// The first line of `message`, without control characters.
fn one_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    let clean: String = line.chars().filter(|c| !c.is_control()).collect();
    if clean.is_empty() {
        "the agent reported a failure without a message".to_string()
    } else {
        clean
    }
}
