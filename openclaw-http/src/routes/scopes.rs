//! The one place API-key scopes are declared: every authenticated route with the least scope
//! it needs. [`require_scope`] enforces it for every request before the handler runs; a route
//! missing here is refused (500, logged), never let through, and a test fails for any route of
//! the API document that is not in the table.

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use openclaw_core::domain::Scope;

use crate::auth::Caller;
use crate::error::AppError;

/// `(method, route template, least scope)` of every route that takes an API key.
pub const ROUTE_SCOPES: &[(&str, &str, Scope)] = &[
    ("POST", "/v1/instances", Scope::Manage),
    ("GET", "/v1/instances", Scope::Read),
    ("GET", "/v1/instances/{id}", Scope::Read),
    ("DELETE", "/v1/instances/{id}", Scope::Manage),
    ("POST", "/v1/instances/{id}/suspend", Scope::Manage),
    ("POST", "/v1/instances/{id}/unsuspend", Scope::Manage),
    ("POST", "/v1/instances/{id}/retry", Scope::Manage),
    ("POST", "/v1/instances/{id}/rollback", Scope::Manage),
    ("GET", "/v1/instances/{id}/events", Scope::Read),
    // Read, then the handler's own rule: the instance's customer's key, or manage.
    ("GET", "/v1/instances/{id}/access", Scope::Read),
    ("POST", "/v1/instances/{id}/actions/{action}", Scope::Manage),
    ("GET", "/v1/instances/{id}/tasks", Scope::Read),
    ("GET", "/v1/instances/{id}/tasks/{task}", Scope::Read),
    ("GET", "/v1/instances/{id}/backups", Scope::Read),
    (
        "DELETE",
        "/v1/instances/{id}/backups/{backup}",
        Scope::Manage,
    ),
    ("GET", "/v1/events", Scope::Read),
    ("GET", "/v1/events/ws", Scope::Read),
    ("POST", "/v1/sweep", Scope::Admin),
    ("POST", "/v1/fleet/upgrade", Scope::Admin),
    ("GET", "/v1/fleet/upgrades", Scope::Admin),
];

/// The least scope of `method` on `route`, if declared.
pub fn scope_for(method: &Method, route: &str) -> Option<Scope> {
    ROUTE_SCOPES
        .iter()
        .find(|(m, r, _)| *m == method.as_str() && *r == route)
        .map(|(_, _, scope)| *scope)
}

/// Middleware of every authenticated route, after the key is checked: 403 unless the key's
/// scope allows the route's declared scope.
pub async fn require_scope(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let declared = route
        .as_deref()
        .and_then(|r| scope_for(request.method(), r));
    let Some(needed) = declared else {
        tracing::error!(
            method = %request.method(),
            route = route.as_deref().unwrap_or("unmatched"),
            "a route declares no scope in routes::scopes::ROUTE_SCOPES; refusing it"
        );
        return AppError::Domain(openclaw_core::Error::internal(
            "this route declares no scope",
        ))
        .into_response();
    };
    let Some(caller) = request.extensions().get::<Caller>() else {
        return AppError::Unauthenticated("no API key").into_response();
    };
    if let Err(refused) = caller.require(needed) {
        return refused.into_response();
    }
    next.run(request).await
}
