//! `POST /v1/bootstrap`: a new server fetches its secrets, once.
//!
//! No API key: the single-use token from the server's user data is the credential, sent as
//! `Authorization: Bearer <token>` — never in the URL, which proxies and access logs keep.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::{AppError, AppResult};
use crate::model::{BootstrapAgentView, BootstrapView, ErrorBody};
use crate::state::AppState;

/// Deliver an instance's secrets to its new server (the cloud-init bootstrap step).
///
/// 200 once; 410 for a token already used; 401 without a token; 404 for a token that does
/// not verify; 409 while the instance is not being provisioned or unsuspended.
#[utoipa::path(
    post, path = "/v1/bootstrap", tag = "bootstrap",
    responses(
        (status = 200, description = "The environment, once", body = BootstrapView),
        (status = 401, description = "No bootstrap token in the Authorization header", body = ErrorBody),
        (status = 404, description = "Not a token of this deployment", body = ErrorBody),
        (status = 409, description = "The instance is not being provisioned", body = ErrorBody),
        (status = 410, description = "Already used", body = ErrorBody),
    ),
    security(("bootstrap_token" = []))
)]
pub async fn bootstrap(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    let token = crate::auth::bearer(&headers)
        .ok_or(AppError::Unauthenticated(
            "send the bootstrap token as Authorization: Bearer <token>",
        ))?
        .to_string();
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
