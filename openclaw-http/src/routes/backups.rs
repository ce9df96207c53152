//! The backups of an instance's OpenClaw state: `GET /v1/instances/{id}/backups`,
//! `DELETE /v1/instances/{id}/backups/{backup}`. They are taken and restored by the
//! `backup` and `restore` actions (`POST /v1/instances/{id}/actions/...`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use openclaw_core::domain::AgentTaskId;

use crate::auth::Caller;
use crate::error::AppResult;
use crate::model::{BackupView, ErrorBody};
use crate::routes::instances::load_visible;
use crate::state::AppState;

fn backup_id(raw: &str) -> AppResult<AgentTaskId> {
    raw.parse()
        .map_err(|_| openclaw_core::Error::invalid("backup", "must be a backup id (a UUID)").into())
}

/// The instance's backups, newest first, as retention left them.
#[utoipa::path(
    get, path = "/v1/instances/{id}/backups", tag = "agent",
    params(("id" = String, Path, format = Uuid, description = "Instance id")),
    responses(
        (status = 200, body = Vec<BackupView>),
        (status = 404, body = ErrorBody),
        (status = 503, description = "The backup store did not answer; try again", body = ErrorBody),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<BackupView>>> {
    let id = id.parse()?;
    load_visible(&state, &caller, id).await?;
    let backups = state.provisioner.backups(id).await?;
    Ok(Json(backups.iter().map(BackupView::from).collect()))
}

/// Delete one backup of the instance (audited).
#[utoipa::path(
    delete, path = "/v1/instances/{id}/backups/{backup}", tag = "agent",
    params(
        ("id" = String, Path, format = Uuid, description = "Instance id"),
        ("backup" = String, Path, format = Uuid, description = "Backup id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Needs a manage or admin key", body = ErrorBody),
        (status = 404, description = "No such instance or backup", body = ErrorBody),
        (status = 422, description = "Not a backup id", body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, backup)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    let id = id.parse()?;
    let backup = backup_id(&backup)?;
    load_visible(&state, &caller, id).await?;
    state
        .provisioner
        .delete_backup(id, backup, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
