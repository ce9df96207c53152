//! `GET /v1/overview`: the deployment at a glance — instances per status, the job queue,
//! the rollback rate against its alert, each provider's request budget — for the
//! dashboard's System view. Operators only: it counts every customer's instances.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::{Extension, Json};
use openclaw_core::domain::ALL_STATUSES;

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::metrics::{
    ProviderStats, CLOUDFLARE_REQUESTS_PER_FIVE_MINUTES, HETZNER_REQUESTS_PER_HOUR,
};
use crate::model::{ErrorBody, OverviewView, ProviderBudgetView, RollbackRateView};
use crate::state::AppState;

/// The share of a provider's budget where the dashboard warns (the seeds' 80 %).
pub const BUDGET_WARN_RATIO: f64 = 0.8;
/// The rollback rate the deployment alerts above (the seeds' 5 %; `OpenclawRollbackRateHigh`).
pub const ROLLBACK_ALERT_RATE: f64 = 0.05;
/// Provisionings needed before the rollback rate means anything (as the alert rule says).
pub const ROLLBACK_ALERT_MIN_PROVISIONINGS: u64 = 5;

/// Instances per status, jobs per state, rollbacks against provisionings, provider budgets.
#[utoipa::path(
    get, path = "/v1/overview", tag = "dashboard",
    responses(
        (status = 200, body = OverviewView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "A key bound to a customer (or a signed-in customer)", body = ErrorBody),
        (status = 429, body = ErrorBody),
        (status = 503, description = "The store does not answer", body = ErrorBody),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn overview(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> AppResult<Json<OverviewView>> {
    if caller.customer.is_some() {
        return Err(AppError::Forbidden(
            "the overview counts every customer's instances: it is for operators' keys".to_string(),
        ));
    }
    let stats = state.store.stats().await?;
    let instances_by_status: BTreeMap<String, u64> = ALL_STATUSES
        .iter()
        .map(|s| {
            let n = stats.instances_by_status.get(s).copied().unwrap_or(0);
            (s.as_str().to_string(), n)
        })
        .collect();
    let engine = state.provisioner.metrics();
    let provisionings = engine.provisions_started;
    let rate = if provisionings == 0 {
        0.0
    } else {
        engine.rollbacks_started as f64 / provisionings as f64
    };
    Ok(Json(OverviewView {
        instances_total: instances_by_status.values().sum(),
        instances_by_status,
        jobs: stats
            .jobs_by_state
            .iter()
            .map(|(state, n)| ((*state).to_string(), *n))
            .collect(),
        last_event_sequence: stats.last_event_sequence,
        rollbacks: RollbackRateView {
            started: engine.rollbacks_started,
            succeeded: engine.rollbacks_succeeded,
            failed: engine.rollbacks_failed,
            provisionings,
            rate,
            alert_threshold: ROLLBACK_ALERT_RATE,
            alerting: provisionings >= ROLLBACK_ALERT_MIN_PROVISIONINGS
                && rate > ROLLBACK_ALERT_RATE,
        },
        providers: vec![
            budget(
                "hetzner",
                "1h",
                &state.metrics.compute,
                state.metrics.compute.requests_last_hour.total(),
                HETZNER_REQUESTS_PER_HOUR,
            ),
            budget(
                "cloudflare",
                "5m",
                &state.metrics.dns,
                state.metrics.dns.requests_last_five_minutes.total(),
                CLOUDFLARE_REQUESTS_PER_FIVE_MINUTES,
            ),
        ],
    }))
}

fn budget(
    provider: &str,
    window: &str,
    stats: &ProviderStats,
    used: u64,
    limit: u64,
) -> ProviderBudgetView {
    let used_ratio = used as f64 / limit as f64;
    ProviderBudgetView {
        provider: provider.to_string(),
        window: window.to_string(),
        used,
        limit,
        used_ratio,
        warn_ratio: BUDGET_WARN_RATIO,
        warning: used_ratio >= BUDGET_WARN_RATIO,
        reported_remaining: stats.reported_remaining(),
    }
}
