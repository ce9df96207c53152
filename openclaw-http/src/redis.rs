//! What replicas share through Redis when `redis_url` is set: the event bus
//! ([`RedisBus`]), the providers' budgets and the API keys' budgets
//! ([`RedisRateLimiter`]) — and what `/readyz` and `/metrics` say about them.

use std::sync::Arc;
use std::time::Duration;

use openclaw_bus_redis::{BusObserver, RedisBus, RedisRateLimiter};

use crate::metrics::Histogram;

/// The deployment fact naming the store's event log, which keys the Redis stream.
pub const EVENT_LOG_FACT: &str = "event_log_id";

/// The bus of `deployment` over `stores`'s log: the log's identity recorded on first use
/// (write-once, so every replica and the CLI agree on it).
pub async fn bus(
    url: &str,
    deployment: &str,
    stores: &crate::store::Stores,
    observer: Arc<dyn BusObserver>,
) -> openclaw_core::Result<RedisBus> {
    let candidate = uuid::Uuid::now_v7().simple().to_string();
    let log_id = stores.facts.record_fact(EVENT_LOG_FACT, &candidate).await?;
    let mut config = openclaw_bus_redis::RedisBusConfig::new(url, deployment);
    config.log_id = Some(log_id);
    RedisBus::with_observer(config, stores.store.clone(), observer)
}

/// The Redis-backed parts of one process.
#[derive(Debug)]
pub struct RedisParts {
    /// The event bus the provisioner publishes on and the event streams follow.
    pub bus: RedisBus,
    /// The providers' shared budgets, by provider name.
    pub limiters: Vec<(&'static str, Arc<RedisRateLimiter>)>,
}

/// What `/readyz` reports about Redis: `up`, or `down` (the server still works: events reach
/// other replicas through the store's log, limits fall back to this replica's share).
pub async fn readiness(parts: &RedisParts) -> &'static str {
    match parts.bus.ping().await {
        Ok(()) => "up",
        Err(error) => {
            tracing::warn!(%error, "Redis does not answer /readyz's PING");
            "down"
        }
    }
}

/// The bus's measurements as histograms of this server's metrics.
#[derive(Debug, Clone, Default)]
pub struct BusMetrics {
    /// One event's trip to Redis (stream and channel, one script).
    pub publish: Histogram,
    /// From an event's time to its arrival on this replica's channel subscription, whichever
    /// replica wrote it.
    pub delivery: Histogram,
}

impl BusObserver for BusMetrics {
    fn published(&self, took: Duration) {
        self.publish.observe(took);
    }

    fn delivered(&self, lag: Duration) {
        self.delivery.observe(lag);
    }
}

/// What `/metrics` shows about Redis now; `stats` (the store's, read for the same scrape)
/// gives the log's newest sequence the stream's is compared with.
pub async fn view(
    parts: &RedisParts,
    stats: Option<&openclaw_core::ports::StoreStats>,
) -> crate::metrics::RedisView {
    let head = parts.bus.stream_head().await;
    let stream_lag = match (stats, head) {
        (Some(stats), Some(head)) => Some(stats.last_event_sequence.saturating_sub(head)),
        _ => None,
    };
    crate::metrics::RedisView {
        bus: parts.bus.stats(),
        stream_lag,
        limiters: parts
            .limiters
            .iter()
            .map(|(name, limiter)| (*name, limiter.fallback_grants(), limiter.in_fallback()))
            .collect(),
    }
}
