//! API-key scopes, declared where each route is: in its handler's annotation,
//! `security(("api_key" = ["manage"]))`, the least scope the route needs. The router and the
//! OpenAPI document are made from those annotations ([`routes()`](super::routes())), so the table here is
//! read from the document, and [`require_scope`] enforces it for every request before the
//! handler runs. A route that declares no scope is refused (500, logged), never let through,
//! and a test fails for any such route.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use openclaw_core::domain::Scope;

use crate::auth::Caller;
use crate::error::AppError;

/// `(METHOD, route template)` → the least scope, for every operation whose `api_key`
/// security requirement names exactly one known scope.
pub fn route_scopes() -> &'static HashMap<(String, String), Scope> {
    static TABLE: OnceLock<HashMap<(String, String), Scope>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let doc = crate::openapi::document();
        let mut table = HashMap::new();
        let Some(paths) = doc["paths"].as_object() else {
            return table;
        };
        for (path, item) in paths {
            let Some(operations) = item.as_object() else {
                continue;
            };
            for (method, operation) in operations {
                let declared: Vec<&str> = operation["security"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|requirement| requirement["api_key"].as_array())
                    .flatten()
                    .filter_map(|scope| scope.as_str())
                    .collect();
                if let [only] = declared.as_slice() {
                    if let Ok(scope) = only.parse::<Scope>() {
                        table.insert((method.to_uppercase(), path.clone()), scope);
                    }
                }
            }
        }
        table
    })
}

/// The least scope of `method` on `route`, if declared.
pub fn scope_for(method: &Method, route: &str) -> Option<Scope> {
    route_scopes()
        .get(&(method.as_str().to_string(), route.to_string()))
        .copied()
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
            "a route declares no API-key scope in its annotation; refusing it"
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
