//! `POST /v1/sweep`: find (and delete) what the providers hold for this deployment that no
//! live instance claims. Admin only.
//!
//! It runs in the server, not in a separate process, so that it shares the server's provider
//! clients and their rate limiters: a second process would spend the same provider budget
//! without knowing about the first.

use axum::extract::State;
use axum::{Extension, Json};
use openclaw_core::engine::SweepMode;

use crate::auth::Caller;
use crate::error::AppResult;
use crate::extract::OptionalJson;
use crate::model::{ErrorBody, SweepRequest, SweepView};
use crate::state::AppState;

/// Sweep orphaned servers and DNS records (`dry_run` only reports).
#[utoipa::path(
    post, path = "/v1/sweep", tag = "admin",
    request_body(content = Option<SweepRequest>, description = "Optional; default deletes"),
    responses(
        (status = 200, body = SweepView),
        (status = 403, description = "Not an admin key", body = ErrorBody),
        (status = 503, description = "A provider failed", body = ErrorBody),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn sweep(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    crate::extract::JsonBody(request): OptionalJson<SweepRequest>,
) -> AppResult<Json<SweepView>> {
    let mode = if request.dry_run {
        SweepMode::DryRun
    } else {
        SweepMode::Delete
    };
    let report = state.provisioner.sweep(mode).await?;
    tracing::info!(
        actor = %caller.actor(),
        dry_run = request.dry_run,
        orphans = report.orphan_servers.len() + report.orphan_records.len(),
        "sweep"
    );
    Ok(Json(SweepView::of(&report, request.dry_run)))
}
