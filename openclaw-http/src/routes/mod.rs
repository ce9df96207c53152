//! The router: one file per resource, and [`app`] assembling them with authentication,
//! idempotency, the body limit, the timeout, request spans and the JSON error shape for
//! everything that does not match.

pub mod access;
pub mod actions;
pub mod agent;
pub mod backups;
pub mod bootstrap;
pub mod customer_links;
pub mod events;
pub mod fleet;
pub mod instances;
pub mod overview;
pub mod scopes;
pub mod sweep;
pub mod system;
pub mod whoami;

use std::any::Any;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::Response as HttpResponse;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::require_key;
use crate::error::AppError;
use crate::idempotency::idempotency;
use crate::state::AppState;

/// The API's routes in three groups by how a caller proves who it is, each route registered
/// from its handler's `#[utoipa::path]` annotation: the one list the router and the OpenAPI
/// document ([`crate::openapi`]) are both made from, so neither can have a route the other
/// lacks. API-key scopes are declared there too (`security(("api_key" = ["manage"]))`).
pub struct Routes {
    /// Routes that take an API key (checked, then its scope, then idempotency).
    pub authenticated: OpenApiRouter<AppState>,
    /// Routes with credentials of their own (bootstrap token, agent credential, metrics
    /// token) or none.
    pub open: OpenApiRouter<AppState>,
    /// Archive uploads: outside the request timeout and the body limit.
    pub transfers: OpenApiRouter<AppState>,
}

/// Every route of the API.
pub fn routes() -> Routes {
    let authenticated = OpenApiRouter::new()
        .routes(routes!(instances::create, instances::list))
        .routes(routes!(instances::get_one, instances::terminate))
        .routes(routes!(instances::suspend))
        .routes(routes!(instances::unsuspend))
        .routes(routes!(instances::change_plan))
        .routes(routes!(instances::retry))
        .routes(routes!(instances::rollback))
        .routes(routes!(instances::events))
        .routes(routes!(access::access))
        .routes(routes!(actions::restart))
        .routes(routes!(actions::rotate_token))
        .routes(routes!(actions::list_devices))
        .routes(routes!(actions::backup))
        .routes(routes!(actions::upgrade))
        .routes(routes!(actions::revoke_device))
        .routes(routes!(actions::restore))
        .routes(routes!(actions::list))
        .routes(routes!(actions::get_one))
        .routes(routes!(backups::list))
        .routes(routes!(backups::delete))
        .routes(routes!(events::sse))
        .routes(routes!(events::websocket))
        .routes(routes!(sweep::sweep))
        .routes(routes!(fleet::upgrade))
        .routes(routes!(fleet::list))
        .routes(routes!(whoami::whoami))
        .routes(routes!(overview::overview))
        .routes(routes!(customer_links::list))
        .routes(routes!(customer_links::link, customer_links::unlink));
    let open = OpenApiRouter::new()
        .routes(routes!(bootstrap::bootstrap))
        // The agent's credential is checked by the handlers' `AgentCaller`.
        .routes(routes!(agent::heartbeat))
        .routes(routes!(agent::script))
        .routes(routes!(agent::next_task))
        .routes(routes!(agent::task_result))
        .routes(routes!(agent::download_backup))
        .routes(routes!(system::healthz))
        .routes(routes!(system::readyz))
        .routes(routes!(system::metrics))
        .routes(routes!(system::openapi));
    let transfers = OpenApiRouter::new().routes(routes!(agent::upload_backup));
    Routes {
        authenticated,
        open,
        transfers,
    }
}

/// The whole API as an axum `Router`, ready to serve or to call with
/// `tower::ServiceExt::oneshot` in tests.
pub fn app(state: AppState) -> Router {
    let Routes {
        authenticated,
        open,
        transfers,
    } = routes();
    let authenticated: Router<AppState> = authenticated
        .split_for_parts()
        .0
        // Route layers wrap in the order added (the last is outermost): the key is checked,
        // then its scope as the route's annotation declares it, then idempotency runs.
        .route_layer(middleware::from_fn_with_state(state.clone(), idempotency))
        .route_layer(middleware::from_fn(scopes::require_scope))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    let open: Router<AppState> = open.split_for_parts().0;
    // An archive upload takes as long as the archive does: outside the request timeout,
    // and limited by `engine.backups.max_bytes` rather than the body limit.
    let transfers: Router<AppState> = transfers.split_for_parts().0;
    let body_limit = state.settings.body_limit;
    authenticated
        .merge(open)
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .merge(transfers)
        .merge(crate::dashboard::routes())
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
        .layer(middleware::from_fn_with_state(state.clone(), count_request))
        .with_state(state)
}

/// Counts every request by route template, method and status, and times it to its response's
/// head (`openclaw_http_requests_total`, `openclaw_http_request_duration_seconds`).
async fn count_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let response = next.run(request).await;
    state.metrics.requests.record(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
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
