//! `/v1/customer-links`: which customer a user signed in with Firebase acts for. Without a
//! link a user acts for the customer whose id is their uid; an operator links a uid to an
//! existing customer id (a WHMCS client id, say) so the user sees that customer's instances.
//! Admin only: a link decides what a user may see.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::Utc;
use openclaw_core::domain::{validate_uid, CustomerId, CustomerLink};

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::extract::JsonBody;
use crate::model::{CustomerLinkList, CustomerLinkRequest, CustomerLinkView, ErrorBody};
use crate::state::AppState;

/// The `{uid}` of a link's path; anything but a valid uid is 422 naming `uid`.
#[derive(Debug, Clone)]
pub struct UidPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for UidPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| AppError::invalid("uid", "must be 1-128 letters, digits or ._:@-"))?;
        validate_uid(&raw)?;
        Ok(UidPath(raw))
    }
}

fn view(link: CustomerLink) -> CustomerLinkView {
    CustomerLinkView {
        uid: link.uid,
        customer_id: link.customer_id.as_str().to_string(),
        linked_at: link.linked_at,
    }
}

/// Every link, by uid.
#[utoipa::path(
    get, path = "/v1/customer-links", tag = "dashboard",
    responses(
        (status = 200, body = CustomerLinkList),
        (status = 401, body = ErrorBody), (status = 403, description = "Not an admin key", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn list(State(state): State<AppState>) -> AppResult<Json<CustomerLinkList>> {
    let links = state.keys.list_customer_links().await?;
    Ok(Json(CustomerLinkList {
        items: links.into_iter().map(view).collect(),
    }))
}

/// Link the Firebase user `uid` to a customer (replacing any link it had). Takes effect on
/// the user's next request.
#[utoipa::path(
    put, path = "/v1/customer-links/{uid}", tag = "dashboard",
    params(("uid" = String, Path, min_length = 1, max_length = 128, pattern = r"^[A-Za-z0-9._:@-]+$", description = "The user's Firebase uid")),
    request_body = CustomerLinkRequest,
    responses(
        (status = 200, description = "Linked", body = CustomerLinkView),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "Not an admin key", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "A bad uid or customer id", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn link(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    UidPath(uid): UidPath,
    JsonBody(request): JsonBody<CustomerLinkRequest>,
) -> AppResult<Json<CustomerLinkView>> {
    let link = CustomerLink {
        uid,
        customer_id: CustomerId::parse(&request.customer_id)?,
        linked_at: Utc::now(),
    };
    state.keys.link_customer(&link).await?;
    tracing::info!(actor = %caller.actor(), uid = %link.uid, customer = %link.customer_id.as_str(), "customer link set");
    Ok(Json(view(link)))
}

/// Remove the link of `uid`: the user acts for the customer named by their uid again.
#[utoipa::path(
    delete, path = "/v1/customer-links/{uid}", tag = "dashboard",
    params(("uid" = String, Path, min_length = 1, max_length = 128, pattern = r"^[A-Za-z0-9._:@-]+$", description = "The user's Firebase uid")),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 401, body = ErrorBody), (status = 403, description = "Not an admin key", body = ErrorBody),
        (status = 404, description = "The uid has no link", body = ErrorBody),
        (status = 422, description = "A bad uid", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn unlink(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    UidPath(uid): UidPath,
) -> AppResult<StatusCode> {
    if state.keys.unlink_customer(&uid).await? {
        tracing::info!(actor = %caller.actor(), uid = %uid, "customer link removed");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(openclaw_core::Error::not_found("customer link", uid).into())
    }
}
