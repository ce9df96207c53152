//! Operator actions run by the agent on an instance, and the tasks they became:
//! `POST /v1/instances/{id}/actions/<action>` (one route per action, each with its own
//! arguments), `GET /v1/instances/{id}/tasks[/{task}]`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use openclaw_core::domain::{AgentTaskId, AgentTaskKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::extract::JsonBody;
use crate::model::{AgentTaskStatusView, ErrorBody};
use crate::routes::instances::load_visible;
use crate::state::AppState;

/// `upgrade`'s argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    /// The OpenClaw version to install (an npm version such as `2026.9.6`).
    #[schema(pattern = r"^[A-Za-z0-9._+][A-Za-z0-9._+-]{0,127}$")]
    pub version: String,
}

/// `revoke-device`'s argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeDeviceRequest {
    /// The gateway's id of the device (see `list-devices`).
    #[schema(pattern = r"^[A-Za-z0-9._+][A-Za-z0-9._+-]{0,127}$")]
    pub device: String,
}

/// `restore`'s argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// The id of the backup to restore (see `GET /v1/instances/{id}/backups`).
    #[schema(format = Uuid)]
    pub backup: String,
}

/// A task with what it produced, when that is not a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentTaskDetailView {
    /// The task.
    #[serde(flatten)]
    pub task: AgentTaskStatusView,
    /// Its output once it succeeded (`null` for tasks whose output is a secret: access
    /// links and rotated tokens).
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
}

/// Queues `kind` for the agent of instance `id` and answers 202 with the task.
async fn queue(
    state: &AppState,
    caller: &Caller,
    id: &str,
    kind: AgentTaskKind,
) -> AppResult<(StatusCode, Json<AgentTaskStatusView>)> {
    let id = id.parse()?;
    load_visible(state, caller, id).await?;
    let task = match kind {
        AgentTaskKind::Restore { backup, .. } => {
            let backup = backup.parse().map_err(|_| AppError::InvalidBody {
                field: "backup".to_string(),
                message: "must be a backup id (a UUID)".to_string(),
            })?;
            state
                .provisioner
                .request_restore(id, backup, &caller.actor())
                .await?
        }
        kind => {
            state
                .provisioner
                .request_agent_task(id, kind, &caller.actor())
                .await?
        }
    };
    Ok((StatusCode::ACCEPTED, Json(AgentTaskStatusView::from(&task))))
}

type Queued = AppResult<(StatusCode, Json<AgentTaskStatusView>)>;

/// Restart the instance's gateway. Answers at once with the task; follow it at
/// `GET /v1/instances/{id}/tasks/{task}`.
#[utoipa::path(
    post, path = "/v1/instances/{id}/actions/restart", tag = "agent",
    params(("id" = String, Path, format = Uuid, description = "Instance id")),
    responses(
        (status = 202, description = "Queued", body = AgentTaskStatusView),
        (status = 404, description = "Unknown instance", body = ErrorBody),
        (status = 409, description = "The instance is not active", body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn restart(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Queued {
    queue(&state, &caller, &id, AgentTaskKind::RestartGateway).await
}

/// Give the gateway a new token (old links and sessions stop working); the control plane's
/// sealed copy is replaced.
#[utoipa::path(
    post, path = "/v1/instances/{id}/actions/rotate-token", tag = "agent",
    params(("id" = String, Path, format = Uuid, description = "Instance id")),
    responses(
        (status = 202, description = "Queued", body = AgentTaskStatusView),
        (status = 404, description = "Unknown instance", body = ErrorBody),
        (status = 409, description = "The instance is not active", body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn rotate_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Queued {
    queue(&state, &caller, &id, AgentTaskKind::RotateGatewayToken).await
}

/// List the devices paired with the gateway (the task's output).
#[utoipa::path(
    post, path = "/v1/instances/{id}/actions/list-devices", tag = "agent",
    params(("id" = String, Path, format = Uuid, description = "Instance id")),
    responses(
        (status = 202, description = "Queued", body = AgentTaskStatusView),
        (status = 404, description = "Unknown instance", body = ErrorBody),
        (status = 409, description = "The instance is not active", body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn list_devices(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Queued {
    queue(&state, &caller, &id, AgentTaskKind::ListDevices).await
}

/// Archive the instance's OpenClaw state into the backup store. A backup's id is its task's
/// id.
#[utoipa::path(
    post, path = "/v1/instances/{id}/actions/backup", tag = "agent",
    params(("id" = String, Path, format = Uuid, description = "Instance id")),
    responses(
        (status = 202, description = "Queued", body = AgentTaskStatusView),
        (status = 404, description = "Unknown instance", body = ErrorBody),
        (status = 409, description = "The instance is not active", body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn backup(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Queued {
    queue(&state, &caller, &id, AgentTaskKind::Backup).await
}

/// Install another OpenClaw version; the agent rolls back to the previous one if the new one
/// does not come up.
#[utoipa::path(
    post, path = "/v1/instances/{id}/actions/upgrade", tag = "agent",
    params(("id" = String, Path, format = Uuid, description = "Instance id")),
    request_body = UpgradeRequest,
    responses(
        (status = 202, description = "Queued", body = AgentTaskStatusView),
        (status = 404, description = "Unknown instance", body = ErrorBody),
        (status = 409, description = "The instance is not active", body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn upgrade(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpgradeRequest>,
) -> Queued {
    let kind = AgentTaskKind::Upgrade {
        version: body.version,
    };
    queue(&state, &caller, &id, kind).await
}

/// Unpair one device from the gateway.
#[utoipa::path(
    post, path = "/v1/instances/{id}/actions/revoke-device", tag = "agent",
    params(("id" = String, Path, format = Uuid, description = "Instance id")),
    request_body = RevokeDeviceRequest,
    responses(
        (status = 202, description = "Queued", body = AgentTaskStatusView),
        (status = 404, description = "Unknown instance", body = ErrorBody),
        (status = 409, description = "The instance is not active", body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn revoke_device(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RevokeDeviceRequest>,
) -> Queued {
    let kind = AgentTaskKind::RevokeDevice {
        device: body.device,
    };
    queue(&state, &caller, &id, kind).await
}

/// Replace the instance's OpenClaw state with a backup; the agent puts the previous state
/// back if the restore fails.
#[utoipa::path(
    post, path = "/v1/instances/{id}/actions/restore", tag = "agent",
    params(("id" = String, Path, format = Uuid, description = "Instance id")),
    request_body = RestoreRequest,
    responses(
        (status = 202, description = "Queued", body = AgentTaskStatusView),
        (status = 404, description = "Unknown instance or backup", body = ErrorBody),
        (status = 409, description = "The instance is not active", body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn restore(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RestoreRequest>,
) -> Queued {
    // The archive's SHA-256 is filled in from the backup's record.
    let kind = AgentTaskKind::Restore {
        backup: body.backup,
        sha256: String::new(),
    };
    queue(&state, &caller, &id, kind).await
}

/// The tasks of an instance's agent, newest first (at most 100).
#[utoipa::path(
    get, path = "/v1/instances/{id}/tasks", tag = "agent",
    params(("id" = String, Path, format = Uuid, description = "Instance id")),
    responses(
        (status = 200, body = Vec<AgentTaskStatusView>),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<AgentTaskStatusView>>> {
    let id = id.parse()?;
    load_visible(&state, &caller, id).await?;
    let tasks = state.provisioner.agent_tasks(id, 100).await?;
    Ok(Json(tasks.iter().map(AgentTaskStatusView::from).collect()))
}

/// One task of an instance's agent, with its output when that is not a secret.
#[utoipa::path(
    get, path = "/v1/instances/{id}/tasks/{task}", tag = "agent",
    params(
        ("id" = String, Path, format = Uuid, description = "Instance id"),
        ("task" = String, Path, format = Uuid, description = "Task id"),
    ),
    responses(
        (status = 200, body = AgentTaskDetailView),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, task)): Path<(String, String)>,
) -> AppResult<Json<AgentTaskDetailView>> {
    let id = id.parse()?;
    let task: AgentTaskId = task.parse()?;
    load_visible(&state, &caller, id).await?;
    let found = state
        .provisioner
        .agent_task(task)
        .await?
        .filter(|t| t.instance_id == id)
        .ok_or_else(|| openclaw_core::Error::not_found("agent task", task))?;
    let output = if found.kind.output_is_secret() {
        None
    } else {
        state.provisioner.agent_task_output(&found)?
    };
    Ok(Json(AgentTaskDetailView {
        task: AgentTaskStatusView::from(&found),
        output,
    }))
}
