//! `/v1/instances`: create, list, get, suspend, unsuspend, retry, rollback, terminate, and an
//! instance's events.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use openclaw_core::domain::{
    validate_limit, CreateInstance, CustomerId, ExternalRef, Instance, InstanceFilter, InstanceId,
};
use openclaw_core::{Error, SecretString};

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::extract::{InstancePath, JsonBody, OptionalJson, QueryOf};
use crate::model::{
    ChangePlanRequest, CreateInstanceRequest, ErrorBody, EventList, EventView, InstancePage,
    InstanceView, ListQuery, RollbackRequest,
};
use crate::state::AppState;

type Accepted = (StatusCode, Json<InstanceView>);

fn accepted(caller: &Caller, instance: &Instance) -> Accepted {
    let view = crate::customer_view::instance(caller, InstanceView::from(instance));
    (StatusCode::ACCEPTED, Json(view))
}

/// The instance `id` if `caller` may see it; `NotFound` otherwise, so a key bound to one
/// customer cannot even learn that another customer's instance exists.
pub(crate) async fn load_visible(
    state: &AppState,
    caller: &Caller,
    id: InstanceId,
) -> AppResult<Instance> {
    let instance = state.provisioner.get(id).await?;
    if caller.sees(&instance) {
        Ok(instance)
    } else {
        Err(Error::not_found("instance", id).into())
    }
}

/// Accept an order for a new instance.
///
/// Returns at once with the instance `pending`; follow it with `GET /v1/events`. A second
/// create with the same `external_ref` and details returns the first instance (a different
/// order for the same reference is 409).
#[utoipa::path(
    post, path = "/v1/instances", tag = "instances",
    request_body = CreateInstanceRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response to the same request")),
    responses(
        (status = 202, description = "Accepted; provisioning runs in the background", body = InstanceView),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No or bad API key", body = ErrorBody),
        (status = 403, description = "The key may not create (read scope, or another customer)", body = ErrorBody),
        (status = 409, description = "external_ref or subdomain taken; Idempotency-Key reused", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(request): JsonBody<CreateInstanceRequest>,
) -> AppResult<Accepted> {
    let customer_id = match (&caller.customer, request.customer_id) {
        (Some(own), None) => own.as_str().to_string(),
        (Some(own), Some(named)) if named == own.as_str() => named,
        (Some(_), Some(_)) => {
            return Err(AppError::Forbidden(
                "this key creates instances for its own customer only".to_string(),
            ))
        }
        (None, Some(named)) => named,
        (None, None) => return Err(AppError::invalid("customer_id", "is required")),
    };
    let order = CreateInstance {
        customer_id,
        external_ref: request.external_ref,
        subdomain: request.subdomain,
        plan: request.plan,
        region: request.region,
        provider_keys: request
            .provider_keys
            .into_iter()
            .map(|(k, v)| (k, SecretString::new(v)))
            .collect(),
    };
    match state.provisioner.create(order).await {
        Ok(instance) => Ok(accepted(&caller, &instance)),
        // The engine's message names the instance holding the reference or name; a key bound
        // to a customer must not learn another customer's instance ids from it.
        Err(Error::Conflict { .. }) if caller.customer.is_some() => {
            Err(Error::conflict("the external_ref or subdomain is already in use").into())
        }
        Err(other) => Err(other.into()),
    }
}

/// List instances, oldest first, one page at a time.
#[utoipa::path(
    get, path = "/v1/instances", tag = "instances",
    params(ListQuery),
    responses(
        (status = 200, description = "One page", body = InstancePage),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    QueryOf(query): QueryOf<ListQuery>,
) -> AppResult<Json<InstancePage>> {
    let asked = query.customer_id.map(CustomerId::parse).transpose()?;
    let customer_id = match (&caller.customer, asked) {
        (Some(own), Some(asked)) if *own != asked => {
            // Another customer's instances are invisible to this key: an empty page.
            return Ok(Json(InstancePage {
                items: Vec::new(),
                next: None,
            }));
        }
        (Some(own), _) => Some(own.clone()),
        (None, asked) => asked,
    };
    let after = query
        .after
        .map(|a| {
            a.parse::<InstanceId>()
                .map_err(|_| AppError::invalid("after", "is not an instance id"))
        })
        .transpose()?;
    let search = query
        .search
        .map(|text| {
            let ok = (1..=128).contains(&text.len())
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._:@-".contains(c));
            if ok {
                Ok(text)
            } else {
                Err(AppError::invalid(
                    "search",
                    "must be 1-128 letters, digits or ._:@- (a subdomain's start or an external reference)",
                ))
            }
        })
        .transpose()?;
    let filter = InstanceFilter {
        search,
        customer_id,
        status: query.status.map(Into::into),
        external_ref: query.external_ref.map(ExternalRef::parse).transpose()?,
        after,
        limit: validate_limit(query.limit)?,
    };
    let page = state.provisioner.list(&filter).await?;
    Ok(Json(InstancePage {
        items: page
            .items
            .iter()
            .map(|i| crate::customer_view::instance(&caller, InstanceView::from(i)))
            .collect(),
        next: page.next.map(|n| n.to_string()),
    }))
}

/// One instance.
#[utoipa::path(
    get, path = "/v1/instances/{id}", tag = "instances",
    params(("id" = String, Path, format = Uuid, description = "Instance id")),
    responses(
        (status = 200, body = InstanceView),
        (status = 401, body = ErrorBody), (status = 404, description = "Unknown, or not this key's customer", body = ErrorBody),
        (status = 422, description = "Not an instance id", body = ErrorBody),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    InstancePath(id): InstancePath,
) -> AppResult<Json<InstanceView>> {
    let instance = load_visible(&state, &caller, id).await?;
    let mut view = crate::customer_view::instance(&caller, InstanceView::from(&instance));
    let agent = state.provisioner.agent_status(id).await?;
    view.agent = Some(crate::model::AgentView::from(&agent));
    Ok(Json(view))
}

/// Power an active instance off, keeping its server and name. Accepted while the instance
/// is still on its way to `active` (pending, provisioning, unsuspending): it is then
/// carried out once it is active (`pending_request` says so meanwhile).
#[utoipa::path(
    post, path = "/v1/instances/{id}/suspend", tag = "instances",
    params(("id" = String, Path, format = Uuid, description = "Instance id"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response")),
    responses(
        (status = 202, body = InstanceView),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Nothing to suspend: terminated, rolled back, rolling back, or failed without ever having been active", body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn suspend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    InstancePath(id): InstancePath,
) -> AppResult<Accepted> {
    load_visible(&state, &caller, id).await?;
    Ok(accepted(&caller, &state.provisioner.suspend(id).await?))
}

/// Power a suspended instance on and wait for its health again. Accepted while it is
/// being suspended (carried out once it is suspended); withdraws a suspend still waiting.
#[utoipa::path(
    post, path = "/v1/instances/{id}/unsuspend", tag = "instances",
    params(("id" = String, Path, format = Uuid, description = "Instance id"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response")),
    responses(
        (status = 202, body = InstanceView),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Nothing to unsuspend: terminated, rolled back, rolling back, or failed without ever having been active", body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn unsuspend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    InstancePath(id): InstancePath,
) -> AppResult<Accepted> {
    load_visible(&state, &caller, id).await?;
    Ok(accepted(&caller, &state.provisioner.unsuspend(id).await?))
}

/// Move an active or suspended instance to another plan: its server is powered off, changed
/// to the plan's server type keeping its disk, and powered on again if it was active
/// (`resizing`, then back to `active` or `suspended`). If the new type fails, the server
/// goes back to the old one and `last_error` says why. Already on that plan, or moving to
/// it: answered as is.
#[utoipa::path(
    post, path = "/v1/instances/{id}/plan", tag = "instances",
    params(("id" = String, Path, format = Uuid, description = "Instance id"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response")),
    request_body = ChangePlanRequest,
    responses(
        (status = 202, body = InstanceView),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not active or suspended, moving to another plan already, or the plan's disk is smaller than the instance's (a disk never shrinks)", body = ErrorBody),
        (status = 422, description = "Unknown plan", body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn change_plan(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    InstancePath(id): InstancePath,
    JsonBody(request): JsonBody<ChangePlanRequest>,
) -> AppResult<Accepted> {
    load_visible(&state, &caller, id).await?;
    Ok(accepted(
        &caller,
        &state.provisioner.change_plan(id, &request.plan).await?,
    ))
}

/// Run again what failed (a `failed` instance's last operation; a `rolled_back` one's
/// provisioning).
#[utoipa::path(
    post, path = "/v1/instances/{id}/retry", tag = "instances",
    params(("id" = String, Path, format = Uuid, description = "Instance id"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response")),
    responses(
        (status = 202, body = InstanceView),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Nothing to retry", body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn retry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    InstancePath(id): InstancePath,
) -> AppResult<Accepted> {
    load_visible(&state, &caller, id).await?;
    Ok(accepted(&caller, &state.provisioner.retry(id).await?))
}

/// Roll an instance back (`soft`, `partial` — the default — or `full`).
#[utoipa::path(
    post, path = "/v1/instances/{id}/rollback", tag = "instances",
    params(("id" = String, Path, format = Uuid, description = "Instance id"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response")),
    request_body(content = Option<RollbackRequest>, description = "Optional; default level partial"),
    responses(
        (status = 202, body = InstanceView),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn rollback(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    InstancePath(id): InstancePath,
    JsonBody(request): OptionalJson<RollbackRequest>,
) -> AppResult<Accepted> {
    load_visible(&state, &caller, id).await?;
    Ok(accepted(
        &caller,
        &state.provisioner.rollback(id, request.level.into()).await?,
    ))
}

/// Terminate an instance: its DNS records and server are deleted.
#[utoipa::path(
    delete, path = "/v1/instances/{id}", tag = "instances",
    params(("id" = String, Path, format = Uuid, description = "Instance id"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response")),
    responses(
        (status = 202, body = InstanceView),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("api_key" = ["manage"]))
)]
pub async fn terminate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    InstancePath(id): InstancePath,
) -> AppResult<Accepted> {
    load_visible(&state, &caller, id).await?;
    Ok(accepted(&caller, &state.provisioner.terminate(id).await?))
}

/// Every event of one instance, oldest first.
#[utoipa::path(
    get, path = "/v1/instances/{id}/events", tag = "instances",
    params(("id" = String, Path, format = Uuid, description = "Instance id")),
    responses(
        (status = 200, body = EventList),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    InstancePath(id): InstancePath,
) -> AppResult<Json<EventList>> {
    load_visible(&state, &caller, id).await?;
    let events = state.provisioner.events(id).await?;
    Ok(Json(EventList {
        items: events
            .iter()
            .map(|e| crate::customer_view::event(&caller, EventView::from(e)))
            .collect(),
    }))
}
