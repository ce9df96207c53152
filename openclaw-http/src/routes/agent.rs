//! `/v1/agent/...`: the endpoints the agent on each instance calls (outbound from the
//! instance; see `docs/agent-protocol.md`).
//!
//! No API key: the agent's credential (`Authorization: Bearer <agent token>`, derived from
//! the deployment's bootstrap key) is checked without a look-up and names the one instance
//! whose heartbeats and tasks it may send and take.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use openclaw_core::domain::{AgentTaskId, AgentTaskKind, InstanceId};
use openclaw_core::engine::AgentTaskResult;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{AppError, AppResult};
use crate::extract::{JsonBody, QueryOf};
use crate::model::{
    AgentHeartbeatRequest, AgentTaskResultRequest, AgentTaskView, BackupView, ErrorBody,
};
use crate::state::AppState;

/// The longest long poll; the server's request timeout caps it further.
const MAX_WAIT: u64 = 30;
/// The long poll's default.
const DEFAULT_WAIT: u64 = 25;

/// The instance whose agent is calling, from its credential.
#[derive(Debug, Clone, Copy)]
pub struct AgentCaller(pub InstanceId);

impl FromRequestParts<AppState> for AgentCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = crate::auth::bearer(&parts.headers).ok_or(AppError::Unauthenticated(
            "send the agent credential as Authorization: Bearer <token>",
        ))?;
        state
            .provisioner
            .agent_instance(token)
            .map(AgentCaller)
            .ok_or(AppError::Unauthenticated(
                "this is not an agent credential of this deployment",
            ))
    }
}

/// Record a heartbeat of the calling agent.
#[utoipa::path(
    post, path = "/v1/agent/heartbeat", tag = "agent",
    request_body = AgentHeartbeatRequest,
    responses(
        (status = 204, description = "Recorded"),
        (status = 401, description = "Not an agent credential", body = ErrorBody),
        (status = 410, description = "The instance is gone: the agent should stop", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("agent_token" = []))
)]
pub async fn heartbeat(
    State(state): State<AppState>,
    AgentCaller(instance): AgentCaller,
    JsonBody(body): JsonBody<AgentHeartbeatRequest>,
) -> AppResult<StatusCode> {
    state
        .provisioner
        .agent_heartbeat(instance, &body.into())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The long poll's query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NextTaskQuery {
    /// Seconds to wait for a task (1-30, default 25).
    pub wait: Option<u64>,
}

/// The calling agent's next task, as soon as one is queued, or 204 after `wait` seconds.
#[utoipa::path(
    get, path = "/v1/agent/tasks/next", tag = "agent",
    params(NextTaskQuery),
    responses(
        (status = 200, description = "A task, now held by the agent for the task lease", body = AgentTaskView),
        (status = 204, description = "Nothing to do; poll again"),
        (status = 401, description = "Not an agent credential", body = ErrorBody),
        (status = 410, description = "The instance is gone: the agent should stop", body = ErrorBody),
    ),
    security(("agent_token" = []))
)]
pub async fn next_task(
    State(state): State<AppState>,
    AgentCaller(instance): AgentCaller,
    QueryOf(query): QueryOf<NextTaskQuery>,
) -> AppResult<Response> {
    let wait = query.wait.unwrap_or(DEFAULT_WAIT);
    if !(1..=MAX_WAIT).contains(&wait) {
        return Err(openclaw_core::Error::invalid("wait", "must be 1-30 seconds").into());
    }
    // Leave the server's request timeout room to answer.
    let cap = state
        .settings
        .request_timeout
        .saturating_sub(Duration::from_secs(2))
        .max(Duration::from_secs(1));
    let wait = Duration::from_secs(wait).min(cap);
    // A server shutting down answers "nothing yet" at once rather than hold its shutdown
    // for the rest of the poll; the agent polls again (another replica, or this one back).
    let polled = tokio::select! {
        polled = state.provisioner.next_agent_task(instance, wait) => polled?,
        () = state.shutting_down() => None,
    };
    match polled {
        None => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(task) => {
            let (kind, args) = wire(&task.kind);
            Ok(Json(AgentTaskView {
                id: task.id.to_string(),
                kind,
                args,
            })
            .into_response())
        }
    }
}

/// A task as the protocol sends it: its name and an arguments object.
fn wire(kind: &AgentTaskKind) -> (String, Value) {
    let args = match kind {
        AgentTaskKind::Upgrade { version } => json!({ "version": version }),
        AgentTaskKind::RevokeDevice { device } => json!({ "device": device }),
        AgentTaskKind::Restore { backup, sha256 } => json!({ "backup": backup, "sha256": sha256 }),
        _ => json!({}),
    };
    (kind.as_str().to_string(), args)
}

/// Report how a task the calling agent took ended.
#[utoipa::path(
    post, path = "/v1/agent/tasks/{task}/result", tag = "agent",
    params(("task" = String, Path, format = Uuid, description = "The task's id")),
    request_body = AgentTaskResultRequest,
    responses(
        (status = 204, description = "Recorded"),
        (status = 401, description = "Not an agent credential", body = ErrorBody),
        (status = 404, description = "Not a task of this instance", body = ErrorBody),
        (status = 409, description = "The task is not running (already reported otherwise)", body = ErrorBody),
        (status = 422, description = "An output without what the task promises", body = ErrorBody),
    ),
    security(("agent_token" = []))
)]
pub async fn task_result(
    State(state): State<AppState>,
    AgentCaller(instance): AgentCaller,
    Path(task): Path<String>,
    JsonBody(body): JsonBody<AgentTaskResultRequest>,
) -> AppResult<StatusCode> {
    let task: AgentTaskId = task.parse()?;
    let result = if body.ok {
        AgentTaskResult::Ok(body.output.unwrap_or_else(|| json!({})))
    } else {
        AgentTaskResult::Err(body.error.unwrap_or_default())
    };
    state
        .provisioner
        .report_agent_task(instance, task, result)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The header carrying an archive's SHA-256 (64 lowercase hex digits), both ways.
pub const ARCHIVE_SHA256: &str = "x-archive-sha256";

/// Upload the archive of the calling agent's running backup task: the raw bytes (a gzipped
/// tar of `~/.openclaw`) as the body, their SHA-256 in `X-Archive-SHA256`. Streamed into the
/// backup store and checked before anything is kept; sending it again replaces it. Then
/// report the task's result with the same `sha256`.
#[utoipa::path(
    put, path = "/v1/agent/tasks/{task}/backup", tag = "agent",
    params(
        ("task" = String, Path, format = Uuid, description = "The backup task's id (the backup's id)"),
        ("X-Archive-SHA256" = String, Header, description = "The archive's SHA-256, 64 lowercase hex digits"),
    ),
    request_body(content = Vec<u8>, content_type = "application/gzip", description = "The archive"),
    responses(
        (status = 201, description = "Stored", body = BackupView),
        (status = 401, description = "Not an agent credential", body = ErrorBody),
        (status = 404, description = "Not a task of this instance", body = ErrorBody),
        (status = 409, description = "Not a running backup task", body = ErrorBody),
        (status = 422, description = "Empty, too large, cut off, or another SHA-256: nothing kept", body = ErrorBody),
        (status = 503, description = "The backup store did not answer; try again", body = ErrorBody),
    ),
    security(("agent_token" = []))
)]
pub async fn upload_backup(
    State(state): State<AppState>,
    AgentCaller(instance): AgentCaller,
    Path(task): Path<String>,
    request: Request,
) -> AppResult<(StatusCode, Json<BackupView>)> {
    let task: AgentTaskId = task.parse()?;
    let sha256 = request
        .headers()
        .get(ARCHIVE_SHA256)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_string();
    if sha256.is_empty() {
        return Err(openclaw_core::Error::invalid(
            "X-Archive-SHA256",
            "send the archive's SHA-256 (64 lowercase hex digits) in this header",
        )
        .into());
    }
    let body = request.into_body().into_data_stream();
    let stored = state
        .provisioner
        .store_backup(instance, task, &sha256, body)
        .await?;
    Ok((StatusCode::CREATED, Json(BackupView::from(&stored))))
}

/// Download a backup of the calling agent's instance, to restore it: the archive as the
/// body, its SHA-256 in `X-Archive-SHA256`.
#[utoipa::path(
    get, path = "/v1/agent/backups/{backup}", tag = "agent",
    params(("backup" = String, Path, format = Uuid, description = "The backup's id")),
    responses(
        (status = 200, description = "The archive", content_type = "application/gzip", body = Vec<u8>),
        (status = 401, description = "Not an agent credential", body = ErrorBody),
        (status = 404, description = "No such backup of this instance", body = ErrorBody),
        (status = 503, description = "The backup store did not answer; try again", body = ErrorBody),
    ),
    security(("agent_token" = []))
)]
pub async fn download_backup(
    State(state): State<AppState>,
    AgentCaller(instance): AgentCaller,
    Path(backup): Path<String>,
) -> AppResult<Response> {
    let backup: AgentTaskId = backup
        .parse()
        .map_err(|_| openclaw_core::Error::invalid("backup", "must be a backup id"))?;
    let (record, archive) = state.provisioner.open_backup(instance, backup).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (header::CONTENT_LENGTH, record.bytes.to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (
                header::HeaderName::from_static(ARCHIVE_SHA256),
                record.sha256,
            ),
        ],
        Body::from_stream(archive),
    )
        .into_response())
}

/// The instance agent, as every instance's cloud-init fetches it (and checks it against the
/// SHA-256 its user data pins). Public: it holds no secret.
#[utoipa::path(
    get, path = "/v1/agent/script", tag = "agent",
    responses(
        (status = 200, description = "The agent, a POSIX shell script", content_type = "text/x-shellscript", body = String),
    )
)]
pub async fn script(State(state): State<AppState>) -> AppResult<Response> {
    let script = openclaw_core::agent_script(&state.provisioner.config().cloud_init)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        script,
    )
        .into_response())
}
