//! The router: one file per resource, and [`app`] assembling them with authentication,
//! idempotency, the body limit, the timeout, request spans and the JSON error shape for
//! everything that does not match.

pub mod access;
pub mod actions;
pub mod agent;
pub mod backups;
pub mod bootstrap;
pub mod events;
pub mod fleet;
pub mod instances;
pub mod scopes;
pub mod sweep;
pub mod system;

use std::any::Any;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::Response as HttpResponse;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::auth::require_key;
use crate::error::AppError;
use crate::idempotency::idempotency;
use crate::state::AppState;

/// The whole API as an axum `Router`, ready to serve or to call with
/// `tower::ServiceExt::oneshot` in tests.
pub fn app(state: AppState) -> Router {
    let authenticated = Router::new()
        .route(
            "/v1/instances",
            post(instances::create).get(instances::list),
        )
        .route(
            "/v1/instances/{id}",
            get(instances::get_one).delete(instances::terminate),
        )
        .route("/v1/instances/{id}/suspend", post(instances::suspend))
        .route("/v1/instances/{id}/unsuspend", post(instances::unsuspend))
        .route("/v1/instances/{id}/retry", post(instances::retry))
        .route("/v1/instances/{id}/rollback", post(instances::rollback))
        .route("/v1/instances/{id}/events", get(instances::events))
        .route("/v1/instances/{id}/access", get(access::access))
        .route("/v1/instances/{id}/actions/{action}", post(actions::act))
        .route("/v1/instances/{id}/tasks", get(actions::list))
        .route("/v1/instances/{id}/tasks/{task}", get(actions::get_one))
        .route("/v1/instances/{id}/backups", get(backups::list))
        .route(
            "/v1/instances/{id}/backups/{backup}",
            axum::routing::delete(backups::delete),
        )
        .route("/v1/events", get(events::sse))
        .route("/v1/events/ws", get(events::websocket))
        .route("/v1/sweep", post(sweep::sweep))
        .route("/v1/fleet/upgrade", post(fleet::upgrade))
        .route("/v1/fleet/upgrades", get(fleet::list))
        // Route layers wrap in the order added (the last is outermost): the key is checked,
        // then its scope against `scopes::ROUTE_SCOPES`, then idempotency runs.
        .route_layer(middleware::from_fn_with_state(state.clone(), idempotency))
        .route_layer(middleware::from_fn(scopes::require_scope))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    let open = Router::new()
        .route("/v1/bootstrap", post(bootstrap::bootstrap))
        // The agent's credential is checked by the handlers' `AgentCaller`.
        .route("/v1/agent/heartbeat", post(agent::heartbeat))
        .route("/v1/agent/script", get(agent::script))
        .route("/v1/agent/tasks/next", get(agent::next_task))
        .route("/v1/agent/tasks/{task}/result", post(agent::task_result))
        .route("/v1/agent/backups/{backup}", get(agent::download_backup))
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(system::openapi));
    // An archive upload takes as long as the archive does: outside the request timeout,
    // and limited by `engine.backups.max_bytes` rather than the body limit.
    let transfers = Router::new().route(
        "/v1/agent/tasks/{task}/backup",
        axum::routing::put(agent::upload_backup),
    );
    let body_limit = state.settings.body_limit;
    authenticated
        .merge(open)
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .merge(transfers)
        .fallback(|| async { AppError::NoRoute })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    // The route template, never the path: a bootstrap path carries its token.
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    tracing::info_span!("request", method = %request.method(), route)
                })
                .on_request(())
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::DEBUG),
                )
                // A 5xx is logged where it arises (an internal error at ERROR, a dependency
                // or an agent not connected yet at WARN); the span's own line is a warning.
                .on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::WARN)),
        )
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

/// Answers with 503 when the handler has not started its response within the timeout.
/// Event streams are not cut: their response starts at once and the body runs on.
async fn timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(state.settings.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AppError::Timeout.into_response(),
    }
}

/// A panic (a bug) still answers in the API's error shape, without its message.
fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> HttpResponse<axum::body::Body> {
    tracing::error!("a handler panicked");
    AppError::Domain(openclaw_core::Error::internal("handler panicked")).into_response()
}
