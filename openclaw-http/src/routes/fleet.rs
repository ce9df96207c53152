//! Fleet upgrades: `POST /v1/fleet/upgrade`, `GET /v1/fleet/upgrades`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use openclaw_core::domain::FleetUpgrade;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::AppResult;
use crate::extract::JsonBody;
use crate::model::ErrorBody;
use crate::state::AppState;

/// What to upgrade the fleet to, and how carefully.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetUpgradeRequest {
    /// The OpenClaw version (an npm version).
    #[schema(pattern = r"^[A-Za-z0-9._+][A-Za-z0-9._+-]{0,127}$")]
    pub version: String,
    /// How many instances (the oldest) upgrade first, alone (default 1; 0 for none).
    #[serde(default = "one", deserialize_with = "crate::model::whole_number")]
    #[schema(minimum = 0, maximum = 1000)]
    pub canary: usize,
    /// How many instances upgrade at once after the canary (default 10).
    #[serde(default = "ten", deserialize_with = "crate::model::whole_number")]
    #[schema(minimum = 1, maximum = 1000)]
    pub batch_size: usize,
}

fn one() -> usize {
    1
}

fn ten() -> usize {
    10
}

/// A fleet upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FleetUpgradeView {
    /// Its id.
    pub id: String,
    /// The version.
    pub version: String,
    /// `running`, `succeeded` or `failed`.
    pub state: String,
    /// How it ended, or what it is doing.
    pub message: String,
    /// The instance ids, wave by wave (the first wave is the canary).
    pub waves: Vec<Vec<String>>,
    /// Who started it.
    pub requested_by: String,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// Its last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&FleetUpgrade> for FleetUpgradeView {
    fn from(u: &FleetUpgrade) -> Self {
        FleetUpgradeView {
            id: u.id.to_string(),
            version: u.version.clone(),
            state: u.state.as_str().to_string(),
            message: u.message.clone(),
            waves: u
                .waves
                .iter()
                .map(|w| w.iter().map(ToString::to_string).collect())
                .collect(),
            requested_by: u.requested_by.clone(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// Upgrade every active instance: the canary first, then batches, each after the one
/// before it is healthy on the new version; it stops at the first failure (that instance
/// rolls itself back). Driven by the workers of any replica; survives restarts.
#[utoipa::path(
    post, path = "/v1/fleet/upgrade", tag = "admin",
    request_body = FleetUpgradeRequest,
    responses(
        (status = 202, description = "Started", body = FleetUpgradeView),
        (status = 403, description = "Admin keys only", body = ErrorBody),
        (status = 409, description = "Another fleet upgrade is running", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn upgrade(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(body): JsonBody<FleetUpgradeRequest>,
) -> AppResult<(StatusCode, Json<FleetUpgradeView>)> {
    let started = state
        .provisioner
        .start_fleet_upgrade(&body.version, body.canary, body.batch_size, &caller.actor())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(FleetUpgradeView::from(&started))))
}

/// Fleet upgrades, newest first (at most 20).
#[utoipa::path(
    get, path = "/v1/fleet/upgrades", tag = "admin",
    responses(
        (status = 200, body = Vec<FleetUpgradeView>),
        (status = 403, description = "Admin keys only", body = ErrorBody),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn list(State(state): State<AppState>) -> AppResult<Json<Vec<FleetUpgradeView>>> {
    let upgrades = state.provisioner.fleet_upgrades(20).await?;
    Ok(Json(upgrades.iter().map(FleetUpgradeView::from).collect()))
}
