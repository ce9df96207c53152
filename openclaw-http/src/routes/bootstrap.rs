//! `POST /v1/bootstrap/{token}`: a new server fetches its secrets, once.
//!
//! No API key: the single-use token from the server's user data is the credential. The
//! token is never logged (request spans name the route template, not the path).

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::AppResult;
use crate::model::{BootstrapAgentView, BootstrapView, ErrorBody};
use crate::state::AppState;

/// Deliver an instance's secrets to its new server (the cloud-init bootstrap step).
///
/// 200 once; 410 for a token already used; 404 for a token that does not verify; 409 while
/// the instance is not being provisioned or unsuspended.
#[utoipa::path(
    post, path = "/v1/bootstrap/{token}", tag = "bootstrap",
    params(("token" = String, Path, description = "The single-use bootstrap token from the server's user data")),
    responses(
        (status = 200, description = "The environment, once", body = BootstrapView),
        (status = 404, description = "Not a token of this deployment", body = ErrorBody),
        (status = 409, description = "The instance is not being provisioned", body = ErrorBody),
        (status = 410, description = "Already used", body = ErrorBody),
    )
)]
pub async fn bootstrap(
    State(state): State<AppState>,
    token: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> AppResult<Response> {
    let Ok(Path(token)) = token else {
        return Err(openclaw_core::Error::not_found("bootstrap token", "presented").into());
    };
    let env = state.provisioner.bootstrap(&token).await?;
    let instance = state
        .provisioner
        .bootstrap_instance(&token)
        .ok_or_else(|| openclaw_core::Error::not_found("bootstrap token", "presented"))?;
    let default_model = state
        .provisioner
        .config()
        .first_run
        .default_model(|key| env.contains_key(key))
        .map(str::to_string);
    let view = BootstrapView {
        default_model,
        env: env
            .into_iter()
            .map(|(k, v)| (k, v.expose().to_string()))
            .collect(),
        agent: BootstrapAgentView {
            token: state.provisioner.agent_token(instance).expose().to_string(),
            heartbeat_seconds: state.provisioner.config().agent.heartbeat.as_secs().max(1),
        },
    };
    let mut response = Json(view).into_response();
    // Secrets: no cache anywhere may keep them.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
