//! The `HealthProbe` port: is an instance's OpenClaw gateway up?

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::Instance;

/// What a health check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Health {
    /// The gateway answers `GET /startupz` with 200.
    Healthy,
    /// Not up yet, as expected while the VPS boots (no answer, or 503 from `/startupz`).
    Starting,
    /// Up but wrong (an unexpected answer, a TLS failure after boot): counts as a failed
    /// check.
    Unhealthy {
        /// What was wrong.
        reason: String,
    },
}

/// Checks an instance's gateway on the VPS itself (never by polling the cloud provider).
///
/// # Contract
///
/// - `check` makes one bounded attempt (it has its own timeout) and never fails: what it finds
///   is a [`Health`]. It costs nothing at the providers.
/// - `Starting` is never counted against the instance; `Unhealthy` is.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait HealthProbe: Send + Sync + 'static {
    /// One health check of `instance`'s gateway.
    async fn check(&self, instance: &Instance) -> Health;
}
