//! `POST /v1/bootstrap`: a new server fetches its secrets, once.
//!
//! No API key: the single-use token from the server's user data is the credential, sent as
//! `Authorization: Bearer <token>` — never in the URL, which proxies and access logs keep.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;

use crate::error::{AppError, AppResult};
use crate::model::{BootstrapAgentView, BootstrapView, ErrorBody};
use crate::state::AppState;

/// Deliver an instance's secrets to its new server (the cloud-init bootstrap step).
///
/// 200 once; 410 for a token already used or of a provisioning attempt that has ended (the
/// same server asking again within a minute from its recorded address gets the same answer);
/// 401 without a token; 404 for a token that does not verify; 409 while the instance is not
/// being provisioned or unsuspended.
#[utoipa::path(
    post, path = "/v1/bootstrap", tag = "bootstrap",
    responses(
        (status = 200, description = "The environment, once", body = BootstrapView),
        (status = 401, description = "No bootstrap token in the Authorization header", body = ErrorBody),
        (status = 404, description = "Not a token of this deployment", body = ErrorBody),
        (status = 409, description = "The instance is not being provisioned", body = ErrorBody),
        (status = 410, description = "Already used, or the token of an ended provisioning attempt", body = ErrorBody),
    ),
    security(("bootstrap_token" = []))
)]
pub async fn bootstrap(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let token = crate::auth::bearer(&headers)
        .ok_or(AppError::Unauthenticated(
            "send the bootstrap token as Authorization: Bearer <token>",
        ))?
        .to_string();
    // The peer's address: a server asking again soon from its own address gets the same
    // answer (behind a proxy this is the proxy's, and a repeat is refused).
    let client = connect.map(|Extension(ConnectInfo(addr))| addr.ip());
    let (instance, env) = state.provisioner.bootstrap(&token, client).await?;
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
