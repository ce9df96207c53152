//! Unauthenticated operational endpoints: liveness, readiness, metrics, the OpenAPI document.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::AppResult;
use crate::metrics;
use crate::model::{ErrorBody, StatusView};
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = StatusView)))]
pub async fn healthz() -> Json<StatusView> {
    Json(StatusView {
        status: "ok".to_string(),
        redis: None,
    })
}

/// The store answers and the provisioning workers run: the server can do its work. With
/// `redis_url`, `redis` says whether Redis answers; a replica without Redis still works
/// (events through the store's log, rate limits at its own share), so it stays ready.
#[utoipa::path(
    get, path = "/readyz", tag = "system",
    responses((status = 200, body = StatusView), (status = 503, description = "The store does not answer, or the provisioning workers have stopped", body = ErrorBody))
)]
pub async fn readyz(State(state): State<AppState>) -> AppResult<Json<StatusView>> {
    if state.runs_workers && !state.provisioner.workers_running() {
        return Err(openclaw_core::Error::unavailable(
            "workers",
            "the provisioning workers are not running",
        )
        .into());
    }
    state.store.ping().await?;
    let redis = match &state.redis {
        Some(parts) => Some(crate::redis::readiness(parts).await.to_string()),
        None => None,
    };
    Ok(Json(StatusView {
        status: "ready".to_string(),
        redis,
    }))
}

/// The metrics, in the OpenMetrics text format (Prometheus scrapes it).
#[utoipa::path(
    get, path = "/metrics", tag = "system",
    responses(
        (status = 200, description = "The metrics in the OpenMetrics text format (Prometheus scrapes it)", content_type = "application/openmetrics-text", body = String),
        (status = 401, description = "The metrics token is configured and was not given", body = crate::model::ErrorBody),
    ),
    security((), ("metrics_token" = []))
)]
pub async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(expected) = &state.settings.metrics_token {
        let given = crate::auth::bearer(&headers).unwrap_or("");
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.expose().as_bytes()).into();
        if !same {
            return crate::error::AppError::Unauthenticated(
                "/metrics needs the metrics token: Authorization: Bearer <http.metrics_token>",
            )
            .into_response();
        }
    }
    let stats = match state.store.stats().await {
        Ok(stats) => Some(stats),
        Err(error) => {
            tracing::warn!(%error, "store stats unavailable for /metrics");
            None
        }
    };
    let redis = match &state.redis {
        Some(parts) => Some(crate::redis::view(parts, stats.as_ref()).await),
        None => None,
    };
    let figures = metrics::ScrapeFigures {
        pool: state.pool.as_ref().map(|probe| probe()),
        stuck: stuck_instances(&state, stats.as_ref()).await,
    };
    let text = metrics::render_scraped(
        &state.metrics,
        &state.provisioner.metrics(),
        stats.as_ref(),
        redis.as_ref(),
        &figures,
    );
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    response
}

/// Instances in a transitional status whose status began more than
/// [`metrics::STUCK_AFTER`] ago, per status. Only statuses the counts say are not empty are
/// read, a page of at most 1,000 each (a figure for an alert, not an inventory).
async fn stuck_instances(
    state: &AppState,
    stats: Option<&openclaw_core::ports::StoreStats>,
) -> Vec<(&'static str, u64)> {
    let Some(stats) = stats else {
        return Vec::new();
    };
    let cutoff = chrono::Utc::now()
        - chrono::Duration::from_std(metrics::STUCK_AFTER).unwrap_or(chrono::Duration::MAX);
    let mut stuck = Vec::new();
    for status in openclaw_core::domain::ALL_STATUSES {
        if !status.is_in_progress() {
            continue;
        }
        let mut n = 0;
        if stats.instances_by_status.get(&status).copied().unwrap_or(0) > 0 {
            let filter = openclaw_core::domain::InstanceFilter {
                status: Some(status),
                limit: Some(1000),
                ..Default::default()
            };
            match state.store.list_instances(&filter).await {
                Ok(page) => {
                    n = page
                        .items
                        .iter()
                        .filter(|i| i.status_changed_at < cutoff)
                        .count() as u64;
                }
                Err(error) => tracing::warn!(%error, "stuck instances unavailable for /metrics"),
            }
        }
        stuck.push((status.as_str(), n));
    }
    stuck
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
pub async fn openapi(State(state): State<AppState>) -> Response {
    let doc = crate::openapi::for_deployment(state.provisioner.config());
    let mut response = doc.to_string().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
