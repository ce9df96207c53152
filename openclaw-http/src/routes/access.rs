//! `GET /v1/instances/{id}/access`: a one-time pairing link to the customer's Control UI,
//! minted on the instance by its agent.
//!
//! The only API answer that carries an instance secret, so it is the narrowest: keys of
//! admin or manage scope (operators, WHMCS), or a key bound to the instance's own customer.
//! Every answer is recorded as an audit event naming the key.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use openclaw_core::domain::Scope;

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::extract::InstancePath;
use crate::model::{AccessView, ErrorBody};
use crate::routes::instances::load_visible;
use crate::state::AppState;

/// A one-time pairing link to an active instance's Control UI,
/// `https://<fqdn>/#bootstrapToken=…&bootstrapProfile=owner`, minted on the instance by its
/// agent with OpenClaw's own `openclaw dashboard` (valid about ten minutes, for one browser).
#[utoipa::path(
    get, path = "/v1/instances/{id}/access", tag = "instances",
    params(("id" = String, Path, format = Uuid, description = "Instance id")),
    responses(
        (status = 200, description = "The link (secret); audited", body = AccessView),
        (status = 403, description = "A read-only key not bound to this customer", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The instance is not active", body = ErrorBody),
        (status = 503, description = "The instance's agent is not connected, or did not answer in time (agent_unavailable, with Retry-After)", body = ErrorBody),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn access(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    InstancePath(id): InstancePath,
) -> AppResult<Response> {
    load_visible(&state, &caller, id).await?;
    // `load_visible` has checked a bound key's customer; an unbound key needs manage.
    if caller.customer.is_none() && !caller.scope.allows(Scope::Manage) {
        return Err(AppError::Forbidden(
            "access links are for admin and manage keys, or the customer's own key".to_string(),
        ));
    }
    let link = state.provisioner.access_link(id, &caller.actor()).await?;
    let mut response = Json(AccessView {
        url: link.expose().to_string(),
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
