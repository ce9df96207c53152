//! The API's request and response bodies.
//!
//! They mirror the core domain types rather than serialize them directly, so that the API's
//! shape is written down in one place (and in the OpenAPI document generated from it), and a
//! change inside the engine cannot change what WHMCS receives without a change here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use openclaw_core::domain::{
    Event, EventKind, Instance, InstanceStatus, LastError, RollbackLevel, Topic,
};
use openclaw_core::engine::SweepReport;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// Every error: `{"error": {"code", "message", "details"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// One error.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `invalid_input`, `not_found`, `conflict`,
    /// `invalid_transition`, `gone`, `unauthorized`, `forbidden`, `rate_limited`,
    /// `malformed_json`, `payload_too_large`, `idempotency_conflict`, `unavailable`,
    /// `timeout`, `internal`, …
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// What a program can act on (`field` of an invalid input, `from`/`to` of an invalid
    /// transition, `retry_after_seconds`); `null` when there is nothing.
    #[schema(value_type = Option<Object>)]
    pub details: Value,
}

/// Where an instance is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted, waiting for a worker.
    Pending,
    /// Server, DNS and health being set up.
    Provisioning,
    /// Running and healthy.
    Active,
    /// Being powered off.
    Suspending,
    /// Powered off; server and name kept.
    Suspended,
    /// Being powered on.
    Unsuspending,
    /// Server and records being deleted.
    Terminating,
    /// Gone for good.
    Terminated,
    /// A failed provisioning being undone.
    RollingBack,
    /// Undone; `retry` provisions it afresh.
    RolledBack,
    /// Stopped; needs a person (or `retry`).
    Failed,
    /// Its server is moving to another plan's server type; it returns to `active` or
    /// `suspended` (see `plan_change`).
    Resizing,
}

impl From<InstanceStatus> for Status {
    fn from(status: InstanceStatus) -> Self {
        match status {
            InstanceStatus::Pending => Status::Pending,
            InstanceStatus::Provisioning => Status::Provisioning,
            InstanceStatus::Active => Status::Active,
            InstanceStatus::Suspending => Status::Suspending,
            InstanceStatus::Suspended => Status::Suspended,
            InstanceStatus::Unsuspending => Status::Unsuspending,
            InstanceStatus::Terminating => Status::Terminating,
            InstanceStatus::Terminated => Status::Terminated,
            InstanceStatus::RollingBack => Status::RollingBack,
            InstanceStatus::RolledBack => Status::RolledBack,
            InstanceStatus::Failed => Status::Failed,
            InstanceStatus::Resizing => Status::Resizing,
        }
    }
}

impl From<Status> for InstanceStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Pending => InstanceStatus::Pending,
            Status::Provisioning => InstanceStatus::Provisioning,
            Status::Active => InstanceStatus::Active,
            Status::Suspending => InstanceStatus::Suspending,
            Status::Suspended => InstanceStatus::Suspended,
            Status::Unsuspending => InstanceStatus::Unsuspending,
            Status::Terminating => InstanceStatus::Terminating,
            Status::Terminated => InstanceStatus::Terminated,
            Status::RollingBack => InstanceStatus::RollingBack,
            Status::RolledBack => InstanceStatus::RolledBack,
            Status::Failed => InstanceStatus::Failed,
            Status::Resizing => InstanceStatus::Resizing,
        }
    }
}

/// An instance as the API shows it. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InstanceView {
    /// Its id (a UUIDv7).
    pub id: String,
    /// The billing customer.
    pub customer_id: String,
    /// The billing system's reference (a WHMCS service id).
    pub external_ref: Option<String>,
    /// The DNS label.
    pub subdomain: String,
    /// `<subdomain>.<zone>`.
    pub fqdn: String,
    /// The plan.
    pub plan: String,
    /// The region.
    pub region: String,
    /// Where it is in its lifecycle.
    pub status: Status,
    /// What the providers gave it so far.
    pub resources: ResourcesView,
    /// Increments on every change.
    pub version: u64,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its current status began.
    pub status_changed_at: DateTime<Utc>,
    /// The error that stopped the last operation, if any.
    pub last_error: Option<LastErrorView>,
    /// When it first became active (`null` for one that never was).
    pub activated_at: Option<DateTime<Utc>>,
    /// A billing request accepted before the instance reached the state where it applies:
    /// `suspend` (carried out once it is active) or `unsuspend` (once it is suspended).
    pub pending_request: Option<String>,
    /// The plan change under way (while `resizing`, or `failed` by one), else `null`.
    pub plan_change: Option<PlanChangeView>,
    /// The agent on the instance's server: filled in by `GET /v1/instances/{id}`, `null` in
    /// listings and in the answers to operations.
    pub agent: Option<AgentView>,
}

/// What the control plane knows of an instance's agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentView {
    /// Whether its last heartbeat is recent (three heartbeat intervals by default).
    pub connected: bool,
    /// When it last reported; `null` if it never did.
    pub last_seen: Option<DateTime<Utc>>,
    /// The gateway's health as the agent last saw it on loopback: `up` (`/healthz` and
    /// `/startupz` answer 200), `starting` (only `/healthz`), `down`; `null` before the first
    /// heartbeat.
    pub gateway: Option<String>,
    /// The OpenClaw version the agent last reported.
    pub openclaw_version: Option<String>,
}

impl From<&openclaw_core::engine::AgentStatus> for AgentView {
    fn from(s: &openclaw_core::engine::AgentStatus) -> Self {
        AgentView {
            connected: s.connected,
            last_seen: s.last_seen,
            gateway: s.gateway.map(|g| {
                match (g.healthz, g.startupz) {
                    (true, true) => "up",
                    (true, false) => "starting",
                    _ => "down",
                }
                .to_string()
            }),
            openclaw_version: s.openclaw_version.clone(),
        }
    }
}

/// A plan change under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlanChangeView {
    /// The plan the instance had (its `plan` until the change succeeds).
    pub from: String,
    /// The plan it is moving to.
    pub to: String,
    /// Where it returns: `active` or `suspended`.
    pub resume: Status,
    /// Whether the new plan failed and the server is moving back to the old one.
    pub reverting: bool,
}

/// The provider resources of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourcesView {
    /// The server's id at the compute provider.
    pub server_id: Option<String>,
    /// Public IPv4 address.
    pub ipv4: Option<String>,
    /// Public IPv6 address.
    pub ipv6: Option<String>,
    /// Ids of its DNS records.
    pub dns_record_ids: Vec<String>,
}

/// The error that stopped an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LastErrorView {
    /// `provision`, `suspend`, `unsuspend`, `terminate`, `rollback`, `sweep` or
    /// `change_plan`.
    pub operation: String,
    /// The error's stable code.
    pub code: String,
    /// What happened.
    pub message: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl From<&LastError> for LastErrorView {
    fn from(e: &LastError) -> Self {
        LastErrorView {
            operation: e.operation.as_str().to_string(),
            code: e.code.clone(),
            message: e.message.clone(),
            at: e.at,
        }
    }
}

impl From<&Instance> for InstanceView {
    fn from(i: &Instance) -> Self {
        InstanceView {
            id: i.id.to_string(),
            customer_id: i.customer_id.as_str().to_string(),
            external_ref: i.external_ref.as_ref().map(|r| r.as_str().to_string()),
            subdomain: i.subdomain.as_str().to_string(),
            fqdn: i.fqdn.clone(),
            plan: i.plan.as_str().to_string(),
            region: i.region.as_str().to_string(),
            status: i.status.into(),
            resources: ResourcesView {
                server_id: i
                    .resources
                    .server_id
                    .as_ref()
                    .map(|s| s.as_str().to_string()),
                ipv4: i.resources.ipv4.map(|ip| ip.to_string()),
                ipv6: i.resources.ipv6.map(|ip| ip.to_string()),
                dns_record_ids: i
                    .resources
                    .dns_record_ids
                    .iter()
                    .map(|r| r.as_str().to_string())
                    .collect(),
            },
            version: i.version,
            created_at: i.created_at,
            updated_at: i.updated_at,
            status_changed_at: i.status_changed_at,
            last_error: i.last_error.as_ref().map(LastErrorView::from),
            activated_at: i.activated_at,
            pending_request: i.pending_request.map(|r| r.as_str().to_string()),
            plan_change: i.plan_change.as_ref().map(|c| PlanChangeView {
                from: c.from.as_str().to_string(),
                to: c.to.as_str().to_string(),
                resume: c.resume.into(),
                reverting: c.reverting,
            }),
            agent: None,
        }
    }
}

/// The `subdomain` of an order as a regular expression (ECMA-262, as JSON Schema has it):
/// the checks of [`Subdomain::parse`](openclaw_core::domain::Subdomain::parse), reserved names
/// included (a test checks the two agree).
pub const SUBDOMAIN_PATTERN: &str = concat!(
    r"^(?!..--)(?!(?:www|api|admin|app|mail|smtp|imap|pop|ftp|ns|ns1|ns2|dns|mx|status|",
    r"support|help|billing|whmcs|dashboard|console|control|static|cdn|assets|auth|login|sso|",
    r"root|openclaw|localhost|autodiscover|autoconfig)$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
);

/// The schema of an order's `subdomain`.
fn subdomain_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(63))
        .pattern(Some(SUBDOMAIN_PATTERN))
        .description(Some(
            "The wanted DNS label: lowercase letters, digits and inner hyphens, 1-63 \
             characters, no `--` in third and fourth place, not a reserved name",
        ))
        .build()
}

/// An order for a new instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInstanceRequest {
    /// The billing customer. Required, except that a key bound to a customer may leave it
    /// out (its own is used); such a key may not name another.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9._:@-]+$")]
    pub customer_id: Option<String>,
    /// The billing system's reference (a WHMCS service id). A second create with the same
    /// reference returns the first instance instead of making another.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128, pattern = r"^[A-Za-z0-9._:@-]+$")]
    pub external_ref: Option<String>,
    /// The wanted DNS label: lowercase letters, digits and inner hyphens, 1-63 characters,
    /// not `xn--`-style (`--` in third and fourth place), not one of the reserved names
    /// (`www`, `api`, `admin`, … — `RESERVED_SUBDOMAINS`).
    #[schema(schema_with = subdomain_schema)]
    pub subdomain: String,
    /// A plan of the catalog (`starter`, `professional`, `enterprise`).
    pub plan: String,
    /// A region of the catalog (`us-east`, `eu-west`, `asia-pacific`).
    pub region: String,
    /// Model-provider keys for the instance's environment (`ANTHROPIC_API_KEY`, …). Sealed
    /// before they are stored, delivered once to the server, never returned.
    #[serde(default)]
    pub provider_keys: BTreeMap<String, String>,
}

/// How far a rollback goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Mark failed and alert; touch nothing at the providers.
    Soft,
    /// Delete DNS records and server; end `rolled_back`.
    #[default]
    Partial,
    /// Partial, then delete the instance itself (a rollback log entry stays).
    Full,
}

impl From<Level> for RollbackLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Soft => RollbackLevel::Soft,
            Level::Partial => RollbackLevel::Partial,
            Level::Full => RollbackLevel::Full,
        }
    }
}

/// The body of a rollback (optional; default `partial`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// How far to go (default `partial`).
    #[serde(default)]
    pub level: Level,
}

/// The body of a plan change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePlanRequest {
    /// A plan of the catalog (`starter`, `professional`, `enterprise`).
    #[schema(min_length = 1, max_length = 64)]
    pub plan: String,
}

/// Filters and cursor of `GET /v1/instances`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this customer's instances.
    #[param(min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9._:@-]+$")]
    pub customer_id: Option<String>,
    /// Only instances in this status.
    pub status: Option<Status>,
    /// Only the instance with this external reference.
    #[param(min_length = 1, max_length = 128, pattern = r"^[A-Za-z0-9._:@-]+$")]
    pub external_ref: Option<String>,
    /// Only instances whose subdomain starts with this, or whose external reference is this.
    #[param(min_length = 1, max_length = 128, pattern = r"^[A-Za-z0-9._:@-]+$")]
    pub search: Option<String>,
    /// The `next` cursor of the previous page.
    #[param(format = Uuid)]
    pub after: Option<String>,
    /// Page size, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
}

/// One page of instances, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InstancePage {
    /// The instances.
    pub items: Vec<InstanceView>,
    /// Pass as `after` for the next page; `null` on the last one.
    pub next: Option<String>,
}

/// Which events a stream carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// `provisioning`, `alerts` or `audit` (default: all).
    #[param(pattern = "^(provisioning|alerts|audit)$")]
    pub topic: Option<String>,
    /// Only events of this instance.
    #[param(format = Uuid)]
    pub instance_id: Option<String>,
    /// Resume after this sequence (the `Last-Event-ID` header wins when both are given).
    /// Without either, the stream starts with events from now on.
    #[param(minimum = 0, maximum = 999_999_999_999_999_999_u64)]
    pub after: Option<u64>,
}

/// Reads a count that JSON may write as `3` or `3.0`: both are the integer 3 to JSON Schema,
/// so both are accepted; a fraction or a negative number is not.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    use serde::de::Error as _;
    let n = serde_json::Number::deserialize(d)?;
    let whole = match (n.as_u64(), n.as_f64()) {
        (Some(u), _) => Some(u),
        // Exactly representable below 2^53; a count here is at most a few thousand.
        (None, Some(f)) if f.fract() == 0.0 && (0.0..9.0e15).contains(&f) => {
            format!("{f:.0}").parse().ok()
        }
        _ => None,
    };
    whole
        .and_then(|u| usize::try_from(u).ok())
        .ok_or_else(|| D::Error::custom(format!("must be a whole number, not {n}")))
}

/// One message of the `GET /v1/events` stream (`text/event-stream`), field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventStreamMessage {
    /// The event's sequence: what `Last-Event-ID` resumes after.
    #[schema(pattern = "^[0-9]+$")]
    pub id: String,
    /// The event's kind (`status_changed`, `alert`, `audit`, …).
    pub event: String,
    /// The event as JSON: an `EventView`, the same as a WebSocket message.
    pub data: String,
}

/// What an event says happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKindView {
    /// The instance changed status (`from` is null when it was created).
    StatusChanged {
        /// The previous status.
        from: Option<Status>,
        /// The new status.
        to: Status,
    },
    /// Something needs a person.
    Alert {
        /// Stable code (`manual_intervention_required`, …).
        code: String,
    },
    /// An audited action (an access link handed out, secrets delivered).
    Audit {
        /// What was done.
        action: String,
        /// Who did it (a key name, never a secret).
        actor: String,
    },
}

/// One event of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// Position in the log: strictly increasing, global. Resume after it.
    pub sequence: u64,
    /// `provisioning`, `alerts` or `audit`.
    pub topic: String,
    /// The instance it concerns.
    pub instance_id: Option<String>,
    /// What happened.
    pub kind: EventKindView,
    /// Why, for a person.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> Self {
        let kind = match &e.kind {
            EventKind::StatusChanged { from, to } => EventKindView::StatusChanged {
                from: from.map(Status::from),
                to: (*to).into(),
            },
            EventKind::Alert { code } => EventKindView::Alert { code: code.clone() },
            EventKind::Audit { action, actor } => EventKindView::Audit {
                action: action.clone(),
                actor: actor.clone(),
            },
        };
        EventView {
            sequence: e.sequence,
            topic: topic_name(e.topic).to_string(),
            instance_id: e.instance_id.map(|i| i.to_string()),
            kind,
            reason: e.reason.clone(),
            at: e.at,
        }
    }
}

fn topic_name(topic: Topic) -> &'static str {
    topic.as_str()
}

/// An instance's events, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    /// The events.
    pub items: Vec<EventView>,
}

/// The customer's Control UI link. Secret: the token is in the fragment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccessView {
    /// `https://<fqdn>/#token=<gateway token>`.
    pub url: String,
}

/// What the new server writes to its environment file. Delivered once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BootstrapView {
    /// `OPENCLAW_GATEWAY_TOKEN` and the provider keys.
    pub env: BTreeMap<String, String>,
    /// The instance agent's credential and settings (written to a file of its own, never
    /// into the gateway's environment).
    pub agent: BootstrapAgentView,
    /// OpenClaw's default model for the provider keys of the order (written to
    /// `agents.defaults.model.primary`), or `null` to leave OpenClaw's own default.
    pub default_model: Option<String>,
}

/// What the instance agent needs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BootstrapAgentView {
    /// The agent's credential, sent as `Authorization: Bearer` on every agent call.
    pub token: String,
    /// How often to send a heartbeat, in seconds.
    pub heartbeat_seconds: u64,
}

impl std::fmt::Debug for BootstrapAgentView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapAgentView")
            .field("token", &"[redacted]")
            .field("heartbeat_seconds", &self.heartbeat_seconds)
            .finish()
    }
}

/// A heartbeat from an instance agent (see `docs/agent-protocol.md`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentHeartbeatRequest {
    /// The agent's protocol version (`1`).
    pub agent_version: String,
    /// `openclaw --version`, or `null` when it failed.
    #[serde(default)]
    pub openclaw_version: Option<String>,
    /// The gateway's answers on loopback.
    pub gateway: GatewayProbeView,
    /// `MemTotal` and `MemAvailable`.
    pub memory: CapacityView,
    /// The disk holding OpenClaw's state.
    pub disk: CapacityView,
    /// Seconds since boot.
    pub uptime_s: u64,
}

/// The gateway's two health answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayProbeView {
    /// `GET /healthz` answered 200.
    pub healthz: bool,
    /// `GET /startupz` answered 200.
    pub startupz: bool,
}

/// Total and available KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityView {
    /// Total, KiB.
    pub total_kb: u64,
    /// Available, KiB.
    pub available_kb: u64,
}

impl From<AgentHeartbeatRequest> for openclaw_core::domain::AgentReport {
    fn from(r: AgentHeartbeatRequest) -> Self {
        use openclaw_core::domain::{Capacity, GatewayProbe};
        openclaw_core::domain::AgentReport {
            agent_version: r.agent_version,
            openclaw_version: r.openclaw_version,
            gateway: GatewayProbe {
                healthz: r.gateway.healthz,
                startupz: r.gateway.startupz,
            },
            memory: Capacity {
                total_kb: r.memory.total_kb,
                available_kb: r.memory.available_kb,
            },
            disk: Capacity {
                total_kb: r.disk.total_kb,
                available_kb: r.disk.available_kb,
            },
            uptime_s: r.uptime_s,
        }
    }
}

/// A task handed to an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentTaskView {
    /// The task's id, for its result.
    pub id: String,
    /// One of the allowlist: `access_link`, `restart_gateway`, `rotate_gateway_token`,
    /// `list_devices`, `revoke_device`, `upgrade`.
    pub kind: String,
    /// The task's arguments (`{}` for most; `{"version"}` for `upgrade`, `{"device"}` for
    /// `revoke_device`).
    #[schema(value_type = Object)]
    pub args: serde_json::Value,
}

/// An agent's report on a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentTaskResultRequest {
    /// Whether the task was done.
    pub ok: bool,
    /// The task's output when `ok` (an object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub output: Option<serde_json::Value>,
    /// One line for an operator when not `ok`.
    #[serde(default)]
    pub error: Option<String>,
}

/// A task as operators see it (outputs that carry secrets are never shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentTaskStatusView {
    /// Its id.
    pub id: String,
    /// What it does, with its arguments: `upgrade(2026.10.1)`.
    pub kind: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub state: String,
    /// How many times the agent took it.
    pub attempts: u32,
    /// Why it failed.
    pub error: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// Its last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&openclaw_core::domain::AgentTask> for AgentTaskStatusView {
    fn from(t: &openclaw_core::domain::AgentTask) -> Self {
        AgentTaskStatusView {
            id: t.id.to_string(),
            kind: t.kind.to_string(),
            state: t.state.as_str().to_string(),
            attempts: t.attempts,
            error: t.error.clone(),
            requested_by: t.requested_by.clone(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A backup of an instance's OpenClaw state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupView {
    /// Its id (the id of the backup task that made it); restore with it.
    pub id: String,
    /// The instance it is of.
    pub instance_id: String,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// The archive's size in bytes.
    pub bytes: u64,
    /// The archive's SHA-256, 64 lowercase hex digits.
    pub sha256: String,
    /// The OpenClaw version the instance ran when it was taken.
    pub openclaw_version: Option<String>,
}

impl From<&openclaw_core::domain::Backup> for BackupView {
    fn from(b: &openclaw_core::domain::Backup) -> Self {
        BackupView {
            id: b.id.to_string(),
            instance_id: b.instance_id.to_string(),
            created_at: b.created_at,
            bytes: b.bytes,
            sha256: b.sha256.clone(),
            openclaw_version: b.openclaw_version.clone(),
        }
    }
}

/// A sweep request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    /// Only report what would be deleted (default false).
    #[serde(default)]
    pub dry_run: bool,
}

/// A resource found at a provider that no live instance claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrphanView {
    /// The provider's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `server`, `A` or `AAAA`.
    pub kind: String,
}

/// What a sweep found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SweepView {
    /// Whether anything was deleted.
    pub dry_run: bool,
    /// Orphans found.
    pub orphans: Vec<OrphanView>,
    /// Ids deleted.
    pub deleted: Vec<String>,
    /// Deletions that failed.
    pub errors: Vec<String>,
}

impl SweepView {
    /// The view of `report`.
    pub fn of(report: &SweepReport, dry_run: bool) -> Self {
        let mut orphans: Vec<OrphanView> = report
            .orphan_servers
            .iter()
            .map(|s| OrphanView {
                id: s.id.as_str().to_string(),
                name: s.name.clone(),
                kind: "server".to_string(),
            })
            .collect();
        orphans.extend(report.orphan_records.iter().map(|r| OrphanView {
            id: r.id.as_str().to_string(),
            name: r.name.clone(),
            kind: r.record_type.as_str().to_string(),
        }));
        let deleted = report
            .deleted_servers
            .iter()
            .map(|s| s.as_str().to_string())
            .chain(
                report
                    .deleted_records
                    .iter()
                    .map(|r| r.as_str().to_string()),
            )
            .collect();
        SweepView {
            dry_run,
            orphans,
            deleted,
            errors: report.errors.clone(),
        }
    }
}

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    /// `ok`, `ready` or `unavailable`.
    pub status: String,
    /// `/readyz` with `redis_url` set: `up` when Redis answers, else `down` (the server
    /// still works without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub redis: Option<String>,
}

/// Who the caller is, as the server sees them (`GET /v1/whoami`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhoamiView {
    /// `api_key` or `firebase` (a customer signed in with a Firebase ID token).
    pub kind: String,
    /// The key's name, or `firebase:<uid>`.
    pub name: String,
    /// `admin`, `manage` or `read`.
    pub scope: String,
    /// The only customer the caller sees; `null` for an operator's key.
    pub customer_id: Option<String>,
}

/// A signed-in user linked to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustomerLinkView {
    /// The user's Firebase uid.
    pub uid: String,
    /// The customer they act for.
    pub customer_id: String,
    /// When the link was made.
    pub linked_at: DateTime<Utc>,
}

/// Every customer link, by uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustomerLinkList {
    /// The links.
    pub items: Vec<CustomerLinkView>,
}

/// The body of `PUT /v1/customer-links/{uid}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerLinkRequest {
    /// An existing customer id, such as a WHMCS client id.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9._:@-]+$")]
    pub customer_id: String,
}

/// The deployment at a glance (`GET /v1/overview`): what the dashboard's System view shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OverviewView {
    /// Instances per status (every status, zeros included).
    pub instances_by_status: BTreeMap<String, u64>,
    /// Instances stored, in every status.
    pub instances_total: u64,
    /// Jobs per state (`queued`, `running`, `succeeded`, `dead`, …): the queue's depth.
    pub jobs: BTreeMap<String, u64>,
    /// The highest event sequence: the live stream resumes after it.
    pub last_event_sequence: u64,
    /// Rollbacks against provisionings, since this process started.
    pub rollbacks: RollbackRateView,
    /// Each provider's request budget.
    pub providers: Vec<ProviderBudgetView>,
}

/// Rollbacks against provisionings (this process's counters since it started).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RollbackRateView {
    /// Rollbacks started.
    pub started: u64,
    /// Rollbacks that reached `rolled_back`.
    pub succeeded: u64,
    /// Rollbacks that ended `failed`.
    pub failed: u64,
    /// Provisionings started.
    pub provisionings: u64,
    /// `started / provisionings` (0 when none started).
    pub rate: f64,
    /// The rate above which the deployment alerts (the `OpenclawRollbackRateHigh` rule): 0.05.
    pub alert_threshold: f64,
    /// Whether the rate is above the threshold with at least 5 provisionings started.
    pub alerting: bool,
}

/// One provider's request budget in its own window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProviderBudgetView {
    /// `hetzner` or `cloudflare`.
    pub provider: String,
    /// The provider's window: `1h` (Hetzner: 3600 per hour) or `5m` (Cloudflare: 1200 per
    /// 5 minutes).
    pub window: String,
    /// Requests this process sent in the window.
    pub used: u64,
    /// The provider's limit for the window.
    pub limit: u64,
    /// `used / limit`.
    pub used_ratio: f64,
    /// Where the warning starts: 0.8.
    pub warn_ratio: f64,
    /// Whether `used_ratio` reached `warn_ratio`.
    pub warning: bool,
    /// What the provider last reported remaining (`RateLimit-Remaining`), if it did.
    pub reported_remaining: Option<u64>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_subdomain_pattern_names_every_reserved_label() {
        for name in openclaw_core::domain::RESERVED_SUBDOMAINS {
            let valid_chars = name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if valid_chars {
                assert!(
                    super::SUBDOMAIN_PATTERN.contains(&format!("|{name}|"))
                        || super::SUBDOMAIN_PATTERN.contains(&format!("(?:{name}|"))
                        || super::SUBDOMAIN_PATTERN.contains(&format!("|{name})$")),
                    "{name} is reserved but the document's pattern allows it"
                );
            }
        }
    }
}
