//! `GET /v1/whoami`: who the server takes the caller for. The dashboard asks it after
//! sign-in to choose between the operators' views and a customer's.

use axum::{Extension, Json};

use crate::auth::Caller;
use crate::model::{ErrorBody, WhoamiView};

/// The caller: an API key (its name, scope and customer) or a customer signed in with
/// Firebase. Never a secret.
#[utoipa::path(
    get, path = "/v1/whoami", tag = "dashboard",
    responses(
        (status = 200, body = WhoamiView),
        (status = 401, description = "No, or a bad, API key or ID token", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn whoami(Extension(caller): Extension<Caller>) -> Json<WhoamiView> {
    Json(WhoamiView {
        kind: if caller.is_signed_in_user() {
            "firebase"
        } else {
            "api_key"
        }
        .to_string(),
        name: caller.name.clone(),
        scope: caller.scope.to_string(),
        customer_id: caller.customer.map(|c| c.as_str().to_string()),
    })
}
