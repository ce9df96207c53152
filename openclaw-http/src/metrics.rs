//! `GET /metrics`: Prometheus text exposition of the engine's counters
//! ([`Provisioner::metrics`](openclaw_core::Provisioner::metrics)), the store's counts
//! ([`Store::stats`](openclaw_core::ports::Store::stats)) and this server's own counters.
//!
//! Provider requests are counted where every one of them passes: the rate limiter each
//! adapter takes one permit from per HTTP request (see [`crate::providers`]). That makes
//! `openclaw_provider_requests_total` exactly the requests sent, and a `Retry-After` the
//! adapter reports to its limiter exactly a 429 the provider answered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openclaw_core::domain::ALL_STATUSES;
use openclaw_core::engine::MetricsSnapshot;
use openclaw_core::ports::StoreStats;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter as PromCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge as PromGauge;
use prometheus_client::metrics::histogram::Histogram as PromHistogram;
use prometheus_client::registry::Registry;

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A monotonically increasing counter (a `prometheus-client` counter: clones count together).
#[derive(Debug, Default, Clone)]
pub struct Counter(PromCounter);

impl Counter {
    /// Adds one.
    pub fn incr(&self) {
        self.0.inc();
    }

    /// The count.
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(PromGauge);

impl Gauge {
    /// Adds one and returns a guard that takes it back when dropped, so a connection that
    /// ends in any way (error, panic, shutdown) is uncounted.
    pub fn track(self: &Arc<Self>) -> GaugeGuard {
        self.0.inc();
        GaugeGuard(self.clone())
    }

    /// The value.
    pub fn get(&self) -> i64 {
        self.0.get()
    }
}

/// Takes one off a [`Gauge`] when dropped.
#[derive(Debug)]
pub struct GaugeGuard(Arc<Gauge>);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0 .0.dec();
    }
}

/// Bucket bounds of [`Histogram`]s, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

fn latency_histogram() -> PromHistogram {
    PromHistogram::new(BUCKETS)
}

/// A latency histogram with fixed buckets (1 ms to 10 s).
#[derive(Debug, Clone)]
pub struct Histogram(PromHistogram);

impl Default for Histogram {
    fn default() -> Self {
        Histogram(latency_histogram())
    }
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, value: Duration) {
        self.0.observe(value.as_secs_f64());
    }
}

/// The labels of the per-route request metrics: the route's template (never the path, which
/// may carry ids), the method, and the answer's status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// `GET`, `POST`, …
    pub method: String,
    /// The route template (`/v1/instances/{id}`), or `unmatched`.
    pub route: String,
    /// The HTTP status answered.
    pub status: u16,
}

/// Requests by route, method and status, and how long their answers took to start.
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    /// Requests answered.
    pub count: Family<RequestLabels, PromCounter>,
    /// From the request to its response's head (an event stream's body runs on after).
    pub duration: Family<RequestLabels, PromHistogram, fn() -> PromHistogram>,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        RequestMetrics {
            count: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl RequestMetrics {
    /// Counts one request of `method` on `route` answered `status` after `took`.
    pub fn record(&self, method: &str, route: &str, status: u16, took: Duration) {
        let labels = RequestLabels {
            method: method.to_string(),
            route: route.to_string(),
            status,
        };
        self.count.get_or_create(&labels).inc();
        self.duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }
}

/// Events in the last 60 slots of `SLOT_SECS` seconds each (for "per minute" or "per hour"
/// without PromQL).
#[derive(Debug)]
pub struct SlotWindow<const SLOT_SECS: u64> {
    /// Per slot: which slot of time it holds (seconds since the epoch / `SLOT_SECS`), and
    /// its count.
    slots: [(AtomicU64, AtomicU64); 60],
}

/// Events in the last 60 seconds.
pub type MinuteWindow = SlotWindow<1>;
/// Events in the last 5 minutes (Cloudflare's rate-limit window).
pub type FiveMinuteWindow = SlotWindow<5>;
/// Events in the last hour (Hetzner's rate-limit window).
pub type HourWindow = SlotWindow<60>;

impl<const SLOT_SECS: u64> Default for SlotWindow<SLOT_SECS> {
    fn default() -> Self {
        SlotWindow {
            slots: std::array::from_fn(|_| (AtomicU64::new(0), AtomicU64::new(0))),
        }
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl<const SLOT_SECS: u64> SlotWindow<SLOT_SECS> {
    /// Counts one event now.
    pub fn record(&self) {
        self.record_at(unix_secs());
    }

    fn record_at(&self, now_secs: u64) {
        let now = now_secs / SLOT_SECS.max(1);
        let (slot, count) = &self.slots[(now % 60) as usize];
        let seen = slot.swap(now, Ordering::Relaxed);
        if seen != now {
            // The slot held an older span: start it again. Two threads racing here may
            // lose one count, which a rate gauge can afford.
            count.store(0, Ordering::Relaxed);
        }
        count.fetch_add(1, Ordering::Relaxed);
    }

    /// Events in the last 60 slots (the current one included).
    pub fn total(&self) -> u64 {
        self.total_at(unix_secs())
    }

    fn total_at(&self, now_secs: u64) -> u64 {
        let now = now_secs / SLOT_SECS.max(1);
        self.slots
            .iter()
            .filter(|(slot, _)| now.saturating_sub(slot.load(Ordering::Relaxed)) < 60)
            .map(|(_, count)| count.load(Ordering::Relaxed))
            .sum()
    }
}

impl MinuteWindow {
    /// Events in the last 60 seconds.
    pub fn last_minute(&self) -> u64 {
        self.total()
    }
}

/// Hetzner Cloud's request budget per project: 3600 per hour.
pub const HETZNER_REQUESTS_PER_HOUR: u64 = 3600;
/// Cloudflare's request budget per user: 1200 per 5 minutes.
pub const CLOUDFLARE_REQUESTS_PER_FIVE_MINUTES: u64 = 1200;

/// What one provider's adapter did.
#[derive(Debug, Default)]
pub struct ProviderStats {
    /// HTTP requests sent (one limiter permit each).
    pub requests: Counter,
    /// The same, in the last minute.
    pub requests_window: MinuteWindow,
    /// The same, in the last hour (Hetzner's budget window).
    pub requests_last_hour: HourWindow,
    /// The same, in the last 5 minutes (Cloudflare's budget window).
    pub requests_last_five_minutes: FiveMinuteWindow,
    /// Requests that waited for the limiter.
    pub throttled: Counter,
    /// 429s the provider answered (a `Retry-After` reported to the limiter).
    pub rate_limited: Counter,
    /// Port calls the engine made (before retries).
    pub calls: Counter,
    /// Port call attempts (retries and look-ups after ambiguous creates included).
    pub attempts: Counter,
    /// What the provider last reported remaining (`RateLimit-Remaining`) plus one; 0 while
    /// it never did.
    pub remaining_reported: AtomicU64,
}

/// This server's own counters.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    /// Requests refused by the per-key rate limit.
    pub api_rate_limited: Counter,
    /// Open WebSocket event streams.
    pub websocket_connections: Arc<Gauge>,
    /// Open Server-Sent Events streams.
    pub sse_connections: Arc<Gauge>,
    /// From an event's time to its delivery to a live subscriber.
    pub event_latency: Histogram,
    /// Compute provider (Hetzner).
    pub compute: Arc<ProviderStats>,
    /// DNS provider (Cloudflare).
    pub dns: Arc<ProviderStats>,
    /// Every API request by route, method and status.
    pub requests: RequestMetrics,
    /// The Redis event bus's publish and delivery times (with `redis_url`).
    pub bus: crate::redis::BusMetrics,
    /// Errors live event streams hit and carried on from (a lost bus connection, a gap
    /// read back from the log).
    pub event_stream_interruptions: Counter,
}

impl ProviderStats {
    /// Counts one request sent now.
    pub fn record_request(&self) {
        self.requests.incr();
        self.requests_window.record();
        self.requests_last_hour.record();
        self.requests_last_five_minutes.record();
    }

    /// Records what the provider reported remaining of its budget.
    pub fn report_remaining(&self, remaining: u32) {
        self.remaining_reported
            .store(u64::from(remaining) + 1, Ordering::Relaxed);
    }

    /// What the provider last reported remaining, if it ever did.
    pub fn reported_remaining(&self) -> Option<u64> {
        self.remaining_reported
            .load(Ordering::Relaxed)
            .checked_sub(1)
    }
}

/// What `/metrics` reports beyond this server's counters and the engine's snapshot, read
/// at scrape time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrapeFigures {
    /// The database's connection pool.
    pub pool: Option<crate::store::PoolFigures>,
    /// Instances in a transitional status for longer than [`STUCK_AFTER`], by status.
    pub stuck: Vec<(&'static str, u64)>,
}

/// How long an instance may stay in a transitional status before it counts as stuck.
pub const STUCK_AFTER: Duration = Duration::from_secs(30 * 60);

/// The name a counter is registered under: `prometheus-client` writes the `_total` itself.
fn counter_name(name: &str) -> &str {
    name.strip_suffix("_total").unwrap_or(name)
}

/// A counter holding `value` (read from a snapshot at scrape time).
fn counter_of(value: u64) -> PromCounter {
    let counter = PromCounter::default();
    counter.inc_by(value);
    counter
}

/// A gauge holding `value`.
fn gauge_of(value: i64) -> PromGauge {
    let gauge = PromGauge::default();
    gauge.set(value);
    gauge
}

/// A gauge holding the fraction `value`.
fn float_gauge_of(value: f64) -> PromGauge<f64, AtomicU64> {
    let gauge = PromGauge::<f64, AtomicU64>::default();
    gauge.set(value);
    gauge
}

/// The label of per-provider metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ProviderLabel {
    provider: &'static str,
}

/// The label of instance counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

/// The label of job counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Everything as a `prometheus-client` registry (help texts without a final full stop: the
/// encoder adds one): this server's own metrics (shared, so they
/// keep counting), and the engine's and the store's figures as read now.
pub fn registry(
    http: &HttpMetrics,
    engine: &MetricsSnapshot,
    stats: Option<&StoreStats>,
) -> Registry {
    let mut registry = Registry::default();
    let providers = [("hetzner", &http.compute), ("cloudflare", &http.dns)];
    let per_provider = |registry: &mut Registry,
                        name: &str,
                        help: &str,
                        counter: bool,
                        f: &dyn Fn(&ProviderStats) -> u64| {
        if counter {
            let family = Family::<ProviderLabel, PromCounter>::default();
            for (provider, stats) in &providers {
                family
                    .get_or_create(&ProviderLabel { provider })
                    .inc_by(f(stats));
            }
            registry.register(counter_name(name), help, family);
        } else {
            let family = Family::<ProviderLabel, PromGauge>::default();
            for (provider, stats) in &providers {
                family
                    .get_or_create(&ProviderLabel { provider })
                    .set(saturating_i64(f(stats)));
            }
            registry.register(name, help, family);
        }
    };
    per_provider(
        &mut registry,
        "openclaw_provider_requests_total",
        "HTTP requests sent to a provider",
        true,
        &|s| s.requests.get(),
    );
    per_provider(
        &mut registry,
        "openclaw_provider_requests_last_minute",
        "HTTP requests sent to a provider in the last 60 seconds",
        false,
        &|s| s.requests_window.last_minute(),
    );
    per_provider(
        &mut registry,
        "openclaw_provider_rate_limited_total",
        "429 answers from a provider",
        true,
        &|s| s.rate_limited.get(),
    );
    per_provider(
        &mut registry,
        "openclaw_provider_throttled_total",
        "Requests that waited for openclaw's own limiter of a provider",
        true,
        &|s| s.throttled.get(),
    );
    per_provider(
        &mut registry,
        "openclaw_provider_retries_total",
        "Provider call attempts beyond the first (retries, look-ups after ambiguous creates)",
        true,
        &|s| s.attempts.get().saturating_sub(s.calls.get()),
    );
    registry.register(
        "openclaw_http_requests",
        "API requests answered, by route template, method and status",
        http.requests.count.clone(),
    );
    registry.register(
        "openclaw_http_request_duration_seconds",
        "Time from an API request to its response's head, by route template, method and status",
        http.requests.duration.clone(),
    );
    registry.register(
        "openclaw_api_rate_limited",
        "API requests refused with 429 by the per-key rate limit",
        http.api_rate_limited.0.clone(),
    );
    registry.register(
        "openclaw_websocket_connections",
        "Open WebSocket event streams",
        gauge_of(http.websocket_connections.get()),
    );
    registry.register(
        "openclaw_sse_connections",
        "Open Server-Sent Events streams",
        gauge_of(http.sse_connections.get()),
    );
    registry.register(
        "openclaw_event_delivery_seconds",
        "Time from an event's creation to its delivery to a live subscriber",
        http.event_latency.0.clone(),
    );
    for (name, help, value) in [
        (
            "openclaw_provisions_started_total",
            "Provisionings started",
            engine.provisions_started,
        ),
        (
            "openclaw_provisions_succeeded_total",
            "Provisionings that reached active",
            engine.provisions_succeeded,
        ),
        (
            "openclaw_rollbacks_started_total",
            "Rollbacks started",
            engine.rollbacks_started,
        ),
        (
            "openclaw_rollbacks_succeeded_total",
            "Rollbacks that reached rolled_back",
            engine.rollbacks_succeeded,
        ),
        (
            "openclaw_rollbacks_failed_total",
            "Rollbacks that ended failed",
            engine.rollbacks_failed,
        ),
        (
            "openclaw_jobs_completed_total",
            "Jobs finished",
            engine.jobs_completed,
        ),
        (
            "openclaw_jobs_retried_total",
            "Job attempts that failed and were scheduled again",
            engine.jobs_retried,
        ),
        (
            "openclaw_jobs_dead_total",
            "Jobs dead-lettered",
            engine.jobs_dead,
        ),
        (
            "openclaw_jobs_interrupted_total",
            "Jobs handed back at shutdown",
            engine.jobs_interrupted,
        ),
        (
            "openclaw_leases_lost_total",
            "Jobs stopped because their lease was lost (taken over, or run out while the worker stalled)",
            engine.leases_lost,
        ),
        (
            "openclaw_jobs_panicked_total",
            "Job attempts that panicked (each counted as a failed attempt)",
            engine.jobs_panicked,
        ),
        (
            "openclaw_orphans_deleted_total",
            "Orphaned servers and DNS records the sweep deleted",
            engine.orphans_deleted,
        ),
        (
            "openclaw_backups_stored_total",
            "Backup archives stored, whole and checked",
            engine.backups_stored,
        ),
        (
            "openclaw_backup_bytes_stored_total",
            "Bytes of the backup archives stored",
            engine.backup_bytes_stored,
        ),
        (
            "openclaw_backups_deleted_total",
            "Backups deleted by retention or by request",
            engine.backups_deleted,
        ),
        (
            "openclaw_health_checks_total",
            "Health checks made",
            engine.health_checks,
        ),
        (
            "openclaw_events_published_total",
            "Events handed to the bus",
            engine.events_published,
        ),
        ("openclaw_alerts_total", "Alerts raised", engine.alerts),
    ] {
        registry.register(counter_name(name), help, counter_of(value));
    }
    let rollback_seconds = PromCounter::<f64, AtomicU64>::default();
    rollback_seconds.inc_by(engine.rollback_seconds_total);
    registry.register(
        "openclaw_rollback_seconds",
        "Time spent in finished rollbacks, summed",
        rollback_seconds,
    );
    let finished = engine.rollbacks_succeeded + engine.rollbacks_failed;
    registry.register(
        "openclaw_rollback_success_ratio",
        "Finished rollbacks that reached rolled_back (1 when none finished)",
        float_gauge_of(if finished == 0 {
            1.0
        } else {
            engine.rollbacks_succeeded as f64 / finished as f64
        }),
    );
    registry.register(
        "openclaw_rollback_duration_seconds_average",
        "Average duration of finished rollbacks",
        float_gauge_of(if finished == 0 {
            0.0
        } else {
            engine.rollback_seconds_total / finished as f64
        }),
    );
    registry.register(
        "openclaw_workers_running",
        "Whether this process's provisioning workers are running",
        gauge_of(i64::from(engine.workers_running)),
    );
    registry.register(
        "openclaw_orphans_found",
        "Orphaned servers and DNS records the last sweep of this process found",
        gauge_of(saturating_i64(engine.orphans_found)),
    );
    let budget = Family::<ProviderLabel, PromGauge<f64, AtomicU64>>::default();
    budget
        .get_or_create(&ProviderLabel {
            provider: "hetzner",
        })
        .set(http.compute.requests_last_hour.total() as f64 / HETZNER_REQUESTS_PER_HOUR as f64);
    budget
        .get_or_create(&ProviderLabel {
            provider: "cloudflare",
        })
        .set(
            http.dns.requests_last_five_minutes.total() as f64
                / CLOUDFLARE_REQUESTS_PER_FIVE_MINUTES as f64,
        );
    registry.register(
        "openclaw_provider_budget_used_ratio",
        "Share of the provider's request budget this process used in its window (Hetzner 3600 per hour, Cloudflare 1200 per 5 minutes)",
        budget,
    );
    registry.register(
        counter_name("openclaw_event_stream_interruptions_total"),
        "Errors live event streams hit and carried on from (a lost bus connection, a gap read back from the log)",
        counter_of(http.event_stream_interruptions.get()),
    );
    for (name, help, value) in [
        (
            "openclaw_agents_connected",
            "Active instances whose agent sent a heartbeat recently, at the last check",
            engine.agents_connected,
        ),
        (
            "openclaw_agents_silent",
            "Active instances whose agent has been silent for agent.silent_after heartbeats",
            engine.agents_silent,
        ),
        (
            "openclaw_gateways_down",
            "Active instances whose agent reports the OpenClaw gateway down",
            engine.gateways_down,
        ),
    ] {
        registry.register(name, help, gauge_of(saturating_i64(value)));
    }
    registry.register(
        "openclaw_store_up",
        "Whether the store answered the last scrape",
        gauge_of(i64::from(stats.is_some())),
    );
    if let Some(stats) = stats {
        let instances = Family::<StatusLabel, PromGauge>::default();
        for status in ALL_STATUSES {
            let n = stats.instances_by_status.get(&status).copied().unwrap_or(0);
            instances
                .get_or_create(&StatusLabel {
                    status: status.as_str(),
                })
                .set(saturating_i64(n));
        }
        registry.register("openclaw_instances", "Instances by status", instances);
        let jobs = Family::<StateLabel, PromGauge>::default();
        for state in ["queued", "running", "done", "dead"] {
            let n = stats.jobs_by_state.get(state).copied().unwrap_or(0);
            jobs.get_or_create(&StateLabel { state })
                .set(saturating_i64(n));
        }
        registry.register(
            "openclaw_jobs",
            "Jobs by state (queued is the queue depth)",
            jobs,
        );
        registry.register(
            "openclaw_job_queue_depth",
            "Jobs waiting for a worker (queued)",
            gauge_of(saturating_i64(
                stats.jobs_by_state.get("queued").copied().unwrap_or(0),
            )),
        );
        registry.register(
            "openclaw_last_event_sequence",
            "The highest event sequence written",
            gauge_of(saturating_i64(stats.last_event_sequence)),
        );
    }
    registry
}

/// What `/metrics` reads about Redis at scrape time (with `redis_url`).
#[derive(Debug, Clone)]
pub struct RedisView {
    /// The bus's counts.
    pub bus: openclaw_bus_redis::RedisBusStats,
    /// The store's newest sequence minus the stream's (`None` when Redis did not answer).
    pub stream_lag: Option<u64>,
    /// Per shared budget: its name, the grants its local fallback made, and whether it is
    /// in fallback now.
    pub limiters: Vec<(&'static str, u64, bool)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SourceLabel {
    source: &'static str,
}

/// Adds the Redis families to `registry`.
fn register_redis(registry: &mut Registry, http: &HttpMetrics, redis: &RedisView) {
    registry.register(
        "openclaw_redis_subscribed",
        "Whether this replica's subscription to the Redis event channels is up",
        gauge_of(i64::from(redis.bus.live_connected)),
    );
    registry.register(
        "openclaw_redis_publish_seconds",
        "Time to publish one event to Redis (stream and channel)",
        http.bus.publish.0.clone(),
    );
    registry.register(
        "openclaw_redis_delivery_seconds",
        "Time from an event's creation on any replica to its arrival on this replica's Redis subscription",
        http.bus.delivery.0.clone(),
    );
    registry.register(
        counter_name("openclaw_redis_publish_failures_total"),
        "Events that did not reach Redis (subscribers read them from the store's log)",
        counter_of(redis.bus.publish_failures),
    );
    if let Some(lag) = redis.stream_lag {
        registry.register(
            "openclaw_redis_stream_lag_events",
            "Events in the store's log newer than the newest in the Redis stream",
            gauge_of(saturating_i64(lag)),
        );
    }
    let fallback = PromCounter::<f64, AtomicU64>::default();
    fallback.inc_by(redis.bus.fallback_seconds);
    registry.register(
        "openclaw_redis_fallback_seconds",
        "Time this replica's subscription to the Redis event channels was down (events came through the store's log)",
        fallback,
    );
    let reads = Family::<SourceLabel, PromCounter>::default();
    reads
        .get_or_create(&SourceLabel { source: "stream" })
        .inc_by(redis.bus.stream_reads);
    reads
        .get_or_create(&SourceLabel { source: "store" })
        .inc_by(redis.bus.store_reads);
    registry.register(
        "openclaw_redis_replay_reads",
        "Subscriber reads of past events, by where they were answered",
        reads,
    );
    let grants = Family::<LimitLabel, PromCounter>::default();
    let in_fallback = Family::<LimitLabel, PromGauge>::default();
    for (limit, fallback_grants, now) in &redis.limiters {
        grants
            .get_or_create(&LimitLabel { limit })
            .inc_by(*fallback_grants);
        in_fallback
            .get_or_create(&LimitLabel { limit })
            .set(i64::from(*now));
    }
    registry.register(
        "openclaw_redis_limiter_fallback_grants",
        "Permits a shared rate limit granted from this replica's local share while Redis did not answer",
        grants,
    );
    registry.register(
        "openclaw_redis_limiter_in_fallback",
        "Whether a shared rate limit uses this replica's local share now",
        in_fallback,
    );
}

/// The label of pool connection counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PoolStateLabel {
    state: &'static str,
}

/// Registers what was read at scrape time: the pool and the stuck instances.
fn register_scrape(registry: &mut Registry, figures: &ScrapeFigures) {
    if let Some(pool) = figures.pool {
        let connections = Family::<PoolStateLabel, PromGauge>::default();
        connections
            .get_or_create(&PoolStateLabel { state: "in_use" })
            .set(i64::from(pool.in_use));
        connections
            .get_or_create(&PoolStateLabel { state: "idle" })
            .set(i64::from(pool.idle));
        registry.register(
            "openclaw_store_pool_connections",
            "Database connections of this process's pool, lent out (in_use) or waiting (idle)",
            connections,
        );
        registry.register(
            "openclaw_store_pool_max_connections",
            "The most connections this process's pool opens",
            gauge_of(i64::from(pool.max)),
        );
    }
    let stuck = Family::<StatusLabel, PromGauge>::default();
    for (status, n) in &figures.stuck {
        stuck
            .get_or_create(&StatusLabel { status })
            .set(saturating_i64(*n));
    }
    registry.register(
        "openclaw_instances_stuck",
        "Instances in a transitional status for more than 30 minutes, by status",
        stuck,
    );
}

/// Renders everything in the OpenMetrics text format ([`CONTENT_TYPE`]), which Prometheus
/// scrapes, through `prometheus-client`'s encoder.
pub fn render(http: &HttpMetrics, engine: &MetricsSnapshot, stats: Option<&StoreStats>) -> String {
    render_with_redis(http, engine, stats, None)
}

/// [`render`], with the Redis families when `redis` is given.
pub fn render_with_redis(
    http: &HttpMetrics,
    engine: &MetricsSnapshot,
    stats: Option<&StoreStats>,
    redis: Option<&RedisView>,
) -> String {
    render_scraped(http, engine, stats, redis, &ScrapeFigures::default())
}

/// [`render_with_redis`], with what was read at scrape time.
pub fn render_scraped(
    http: &HttpMetrics,
    engine: &MetricsSnapshot,
    stats: Option<&StoreStats>,
    redis: Option<&RedisView>,
    figures: &ScrapeFigures,
) -> String {
    let mut registry = registry(http, engine, stats);
    if let Some(redis) = redis {
        register_redis(&mut registry, http, redis);
    }
    register_scrape(&mut registry, figures);
    let mut out = String::with_capacity(16 * 1024);
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_windows_forget_what_left_their_span() {
        let hour = HourWindow::default();
        let start = 1_000_000 * 60;
        hour.record_at(start);
        hour.record_at(start + 59);
        hour.record_at(start + 30 * 60);
        assert_eq!(hour.total_at(start + 30 * 60), 3);
        // 60 one-minute slots: the first minute's two leave an hour later.
        assert_eq!(hour.total_at(start + 60 * 60), 1);
        assert_eq!(hour.total_at(start + 91 * 60), 0);
        let five = FiveMinuteWindow::default();
        five.record_at(start);
        assert_eq!(five.total_at(start + 299), 1);
        assert_eq!(five.total_at(start + 300), 0);
    }

    #[test]
    fn the_budget_ratio_is_each_providers_window_over_its_quota() {
        let http = HttpMetrics::default();
        for _ in 0..360 {
            http.compute.record_request();
        }
        for _ in 0..600 {
            http.dns.record_request();
        }
        let text = render(&http, &MetricsSnapshot::default(), None);
        assert!(
            text.contains("openclaw_provider_budget_used_ratio{provider=\"hetzner\"} 0.1"),
            "{text}"
        );
        assert!(
            text.contains("openclaw_provider_budget_used_ratio{provider=\"cloudflare\"} 0.5"),
            "{text}"
        );
    }

    #[test]
    fn scrape_figures_show_the_pool_the_stuck_and_the_orphans() {
        let http = HttpMetrics::default();
        http.event_stream_interruptions.incr();
        let engine = MetricsSnapshot {
            orphans_found: 4,
            ..MetricsSnapshot::default()
        };
        let figures = ScrapeFigures {
            pool: Some(crate::store::PoolFigures {
                in_use: 3,
                idle: 2,
                max: 5,
            }),
            stuck: vec![("provisioning", 2), ("resizing", 0)],
        };
        let text = render_scraped(&http, &engine, None, None, &figures);
        for line in [
            "openclaw_store_pool_connections{state=\"in_use\"} 3",
            "openclaw_store_pool_connections{state=\"idle\"} 2",
            "openclaw_store_pool_max_connections 5",
            "openclaw_instances_stuck{status=\"provisioning\"} 2",
            "openclaw_instances_stuck{status=\"resizing\"} 0",
            "openclaw_orphans_found 4",
            "openclaw_event_stream_interruptions_total 1",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        let without = render(&http, &engine, None);
        assert!(!without.contains("openclaw_store_pool_connections"));
    }

    #[test]
    fn renders_every_family_once() {
        let http = HttpMetrics::default();
        http.compute.requests.incr();
        http.compute.requests_window.record();
        http.event_latency.observe(Duration::from_millis(3));
        let _ws = http.websocket_connections.track();
        let text = render(
            &http,
            &MetricsSnapshot::default(),
            Some(&StoreStats::default()),
        );
        assert!(text.contains("openclaw_provider_requests_total{provider=\"hetzner\"} 1"));
        assert!(text.contains("openclaw_provider_requests_last_minute{provider=\"hetzner\"} 1"));
        assert!(text.contains("openclaw_websocket_connections 1"));
        assert!(text.contains("openclaw_event_delivery_seconds_bucket{le=\"0.005\"} 1"));
        http.requests
            .record("GET", "/v1/instances/{id}", 200, Duration::from_millis(7));
        let text = render(
            &http,
            &MetricsSnapshot::default(),
            Some(&StoreStats::default()),
        );
        assert!(text.contains(
            "openclaw_http_requests_total{method=\"GET\",route=\"/v1/instances/{id}\",status=\"200\"} 1"
        ), "{text}");
        assert!(text.contains(
            "openclaw_http_request_duration_seconds_bucket{le=\"0.01\",method=\"GET\",route=\"/v1/instances/{id}\",status=\"200\"} 1"
        ), "{text}");
        assert!(text.ends_with("# EOF\n"));
        // One full stop at the end of a help text: the encoder's.
        assert!(!text.contains(".."), "{text}");
        assert!(text.contains("openclaw_instances{status=\"active\"} 0"));
        assert!(text.contains("openclaw_job_queue_depth 0"));
        let mut families: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        let total = families.len();
        families.sort_unstable();
        families.dedup();
        assert_eq!(families.len(), total, "a family is declared twice");
    }

    #[test]
    fn redis_families_show_the_bus_and_the_shared_limits() {
        let http = HttpMetrics::default();
        http.bus.publish.observe(Duration::from_micros(300));
        let view = RedisView {
            bus: openclaw_bus_redis::RedisBusStats {
                published: 1,
                publish_failures: 2,
                stream_reads: 3,
                store_reads: 4,
                live_connected: true,
                live_connects: 1,
                fallback_seconds: 1.5,
                epoch_changes: 0,
                epoch: None,
            },
            stream_lag: Some(7),
            limiters: vec![("hetzner", 5, true)],
        };
        let text = render_with_redis(&http, &MetricsSnapshot::default(), None, Some(&view));
        for line in [
            "openclaw_redis_subscribed 1",
            "openclaw_redis_publish_seconds_bucket{le=\"0.001\"} 1",
            "openclaw_redis_publish_failures_total 2",
            "openclaw_redis_stream_lag_events 7",
            "openclaw_redis_fallback_seconds_total 1.5",
            "openclaw_redis_replay_reads_total{source=\"stream\"} 3",
            "openclaw_redis_limiter_fallback_grants_total{limit=\"hetzner\"} 5",
            "openclaw_redis_limiter_in_fallback{limit=\"hetzner\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        let without = render(&http, &MetricsSnapshot::default(), None);
        assert!(!without.contains("openclaw_redis_"));
    }

    #[test]
    fn gauges_go_back_down_when_the_guard_drops() {
        let gauge = Arc::new(Gauge::default());
        let guard = gauge.track();
        assert_eq!(gauge.get(), 1);
        drop(guard);
        assert_eq!(gauge.get(), 0);
    }
}
