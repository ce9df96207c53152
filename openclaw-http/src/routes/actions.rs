//! Operator actions run by the agent on an instance, and the tasks they became:
//! `POST /v1/instances/{id}/actions/{action}`, `GET /v1/instances/{id}/tasks[/{task}]`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use openclaw_core::domain::{AgentTaskId, AgentTaskKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::extract::{JsonBody, OptionalJson};
use crate::model::{AgentTaskStatusView, ErrorBody};
use crate::routes::instances::load_visible;
use crate::state::AppState;

/// The arguments some actions take.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// `upgrade`: the OpenClaw version to install (an npm version).
    #[serde(default)]
    pub version: Option<String>,
    /// `revoke-device`: the gateway's id of the device.
    #[serde(default)]
    pub device: Option<String>,
    /// `restore`: the id of the backup to restore (see `GET /v1/instances/{id}/backups`).
    #[serde(default)]
    pub backup: Option<String>,
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

fn kind_of(action: &str, body: ActionRequest) -> AppResult<AgentTaskKind> {
    let need = |field: &'static str, value: Option<String>| {
        value.ok_or_else(|| AppError::InvalidBody {
            field: field.to_string(),
            message: format!("{action} needs {field}"),
        })
    };
    Ok(match action {
        "restart" => AgentTaskKind::RestartGateway,
        "rotate-token" => AgentTaskKind::RotateGatewayToken,
        "list-devices" => AgentTaskKind::ListDevices,
        "revoke-device" => AgentTaskKind::RevokeDevice {
            device: need("device", body.device)?,
        },
        "upgrade" => AgentTaskKind::Upgrade {
            version: need("version", body.version)?,
        },
        "backup" => AgentTaskKind::Backup,
        // The archive's SHA-256 is filled in from the backup's record.
        "restore" => AgentTaskKind::Restore {
            backup: need("backup", body.backup)?,
            sha256: String::new(),
        },
        _ => return Err(AppError::NoRoute),
    })
}

/// Queue an action for the instance's agent: `restart`, `rotate-token`, `upgrade`
/// (`{"version"}`), `list-devices`, `revoke-device` (`{"device"}`), `backup`, `restore`
/// (`{"backup"}`). Answers at once with the task; follow it at
/// `GET /v1/instances/{id}/tasks/{task}`. A backup's id is its task's id.
#[utoipa::path(
    post, path = "/v1/instances/{id}/actions/{action}", tag = "agent",
    params(
        ("id" = String, Path, description = "Instance id"),
        ("action" = String, Path, description = "restart, rotate-token, upgrade, list-devices, revoke-device, backup or restore"),
    ),
    request_body(content = Option<ActionRequest>, description = "Arguments of upgrade, revoke-device and restore"),
    responses(
        (status = 202, description = "Queued", body = AgentTaskStatusView),
        (status = 403, description = "Needs a manage or admin key", body = ErrorBody),
        (status = 404, description = "Unknown instance, action or backup", body = ErrorBody),
        (status = 409, description = "The instance is not active", body = ErrorBody),
        (status = 422, description = "A missing or unsafe argument", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn act(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, action)): Path<(String, String)>,
    JsonBody(body): OptionalJson<ActionRequest>,
) -> AppResult<(StatusCode, Json<AgentTaskStatusView>)> {
    let id = id.parse()?;
    let kind = kind_of(&action, body)?;
    load_visible(&state, &caller, id).await?;
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

/// The tasks of an instance's agent, newest first (at most 100).
#[utoipa::path(
    get, path = "/v1/instances/{id}/tasks", tag = "agent",
    params(("id" = String, Path, description = "Instance id")),
    responses(
        (status = 200, body = Vec<AgentTaskStatusView>),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = []))
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
        ("id" = String, Path, description = "Instance id"),
        ("task" = String, Path, description = "Task id"),
    ),
    responses(
        (status = 200, body = AgentTaskDetailView),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = []))
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
