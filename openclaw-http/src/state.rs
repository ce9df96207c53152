//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use openclaw_core::ports::{ApiKeyStore, Store};
use openclaw_core::Provisioner;
use tokio::sync::watch;

use crate::auth::KeyCache;
use crate::config::HttpConfig;
use crate::metrics::HttpMetrics;
use crate::rate_limit::ApiRateLimits;

/// The router's state: the engine and the ports behind it, as shared handles.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub provisioner: Provisioner,
    /// Its store (readiness, idempotency keys, stats).
    pub store: Arc<dyn Store>,
    /// The API keys.
    pub keys: Arc<dyn ApiKeyStore>,
    /// This server's counters.
    pub metrics: Arc<HttpMetrics>,
    /// Per-key request budgets.
    pub api_limits: Arc<ApiRateLimits>,
    /// Recently checked keys.
    pub key_cache: Arc<KeyCache>,
    /// Failed authentications per client address.
    pub auth_failures: Arc<crate::auth_failures::AuthFailures>,
    /// Open event streams per key.
    pub streams: Arc<crate::stream_limit::StreamLimits>,
    /// Limits and timeouts.
    pub settings: Arc<Settings>,
    /// Turns true when the server shuts down: event streams end then, so that graceful
    /// shutdown does not wait for them forever.
    pub shutdown: watch::Receiver<bool>,
    /// Whether this process runs the provisioner's workers: then it is ready only while
    /// they run (orders accepted with nothing to carry them out would wait for ever).
    pub runs_workers: bool,
    /// What replicas share through Redis (with `redis_url`): `/readyz` and `/metrics` report
    /// on it.
    pub redis: Option<Arc<crate::redis::RedisParts>>,
    /// The database's connection pool, for `/metrics` (`None`: not reported).
    pub pool: Option<crate::store::PoolProbe>,
    /// Customer sign-in with Firebase ID tokens (`None`: off).
    pub firebase: Option<Arc<crate::firebase::FirebaseVerifier>>,
    /// What the dashboard's page is told about this server (`/dashboard/config.json`).
    pub dashboard: Arc<crate::dashboard::PageConfig>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("provisioner", &self.provisioner)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The HTTP settings handlers read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Longest time until a response starts.
    pub request_timeout: Duration,
    /// How long idempotency keys are kept.
    pub idempotency_ttl: Duration,
    /// How often event streams send a keep-alive.
    pub keep_alive: Duration,
    /// The bearer token `/metrics` asks for, if any.
    pub metrics_token: Option<openclaw_core::SecretString>,
}

impl Default for Settings {
    fn default() -> Self {
        Self::from(&HttpConfig::default())
    }
}

impl From<&HttpConfig> for Settings {
    fn from(config: &HttpConfig) -> Self {
        Settings {
            body_limit: config.body_limit,
            request_timeout: config.request_timeout,
            idempotency_ttl: Duration::from_secs(24 * 3600),
            keep_alive: Duration::from_secs(15),
            metrics_token: config.metrics_token.as_ref().map(|t| t.0.clone()),
        }
    }
}

impl AppState {
    /// State for `provisioner`, whose store also keeps the API keys, with the default
    /// settings and a shutdown signal that is never raised. Tests and embedders start here.
    pub fn new(provisioner: Provisioner, keys: Arc<dyn ApiKeyStore>) -> Self {
        let config = HttpConfig::default();
        Self::with_config(provisioner, keys, Arc::new(HttpMetrics::default()), &config)
    }

    /// State with explicit metrics and settings.
    pub fn with_config(
        provisioner: Provisioner,
        keys: Arc<dyn ApiKeyStore>,
        metrics: Arc<HttpMetrics>,
        config: &HttpConfig,
    ) -> Self {
        // The sender is dropped at once: the receiver then never changes, so a state built
        // without a shutdown signal never ends its streams.
        let (_, shutdown) = watch::channel(false);
        AppState {
            store: provisioner.store().clone(),
            provisioner,
            keys,
            metrics,
            api_limits: Arc::new(ApiRateLimits::new(config.rate_limit)),
            key_cache: Arc::new(KeyCache::new(config.key_cache_ttl)),
            streams: crate::stream_limit::StreamLimits::new(config.max_streams_per_key),
            auth_failures: Arc::new(crate::auth_failures::AuthFailures::new(
                config.failed_auth_rate_limit,
            )),
            settings: Arc::new(Settings::from(config)),
            shutdown,
            runs_workers: false,
            redis: None,
            pool: None,
            firebase: None,
            dashboard: Arc::new(crate::dashboard::PageConfig::default()),
        }
    }

    /// The same state, ready only while the provisioner's workers run in this process.
    #[must_use]
    pub fn with_workers(mut self) -> Self {
        self.runs_workers = true;
        self
    }

    /// The same state, ending event streams when `shutdown` turns true.
    #[must_use]
    pub fn with_shutdown(mut self, shutdown: watch::Receiver<bool>) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Resolves once shutdown has begun (never, without a signal).
    pub async fn shutting_down(&self) {
        let mut rx = self.shutdown.clone();
        loop {
            if *rx.borrow_and_update() {
                return;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
