//! `GET /metrics`: Prometheus text exposition of the engine's counters
//! ([`Provisioner::metrics`](openclaw_core::Provisioner::metrics)), the store's counts
//! ([`Store::stats`](openclaw_core::ports::Store::stats)) and this server's own counters.
//!
//! Provider requests are counted where every one of them passes: the rate limiter each
//! adapter takes one permit from per HTTP request (see [`crate::providers`]). That makes
//! `openclaw_provider_requests_total` exactly the requests sent, and a `Retry-After` the
//! adapter reports to its limiter exactly a 429 the provider answered.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openclaw_core::domain::ALL_STATUSES;
use openclaw_core::engine::MetricsSnapshot;
use openclaw_core::ports::StoreStats;

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn incr(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Adds one and returns a guard that takes it back when dropped, so a connection that
    /// ends in any way (error, panic, shutdown) is uncounted.
    pub fn track(self: &Arc<Self>) -> GaugeGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(self.clone())
    }

    /// The value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Takes one off a [`Gauge`] when dropped.
#[derive(Debug)]
pub struct GaugeGuard(Arc<Gauge>);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Bucket bounds of [`Histogram`]s, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A latency histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, value: Duration) {
        let secs = value.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(value.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        header(out, name, help, "histogram");
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Events in the last 60 seconds, in one-second slots (for "per minute" without PromQL).
#[derive(Debug)]
pub struct MinuteWindow {
    slots: [(AtomicU64, AtomicU64); 60],
}

impl Default for MinuteWindow {
    fn default() -> Self {
        MinuteWindow {
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

impl MinuteWindow {
    /// Counts one event now.
    pub fn record(&self) {
        let now = unix_secs();
        let (second, count) = &self.slots[(now % 60) as usize];
        let seen = second.swap(now, Ordering::Relaxed);
        if seen != now {
            // The slot held an older second: start it again. Two threads racing here may
            // lose one count, which a rate gauge can afford.
            count.store(0, Ordering::Relaxed);
        }
        count.fetch_add(1, Ordering::Relaxed);
    }

    /// Events in the last 60 seconds.
    pub fn last_minute(&self) -> u64 {
        let now = unix_secs();
        self.slots
            .iter()
            .filter(|(second, _)| now.saturating_sub(second.load(Ordering::Relaxed)) < 60)
            .map(|(_, count)| count.load(Ordering::Relaxed))
            .sum()
    }
}

/// What one provider's adapter did.
#[derive(Debug, Default)]
pub struct ProviderStats {
    /// HTTP requests sent (one limiter permit each).
    pub requests: Counter,
    /// The same, in the last minute.
    pub requests_window: MinuteWindow,
    /// Requests that waited for the limiter.
    pub throttled: Counter,
    /// 429s the provider answered (a `Retry-After` reported to the limiter).
    pub rate_limited: Counter,
    /// Port calls the engine made (before retries).
    pub calls: Counter,
    /// Port call attempts (retries and look-ups after ambiguous creates included).
    pub attempts: Counter,
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
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn single(out: &mut String, name: &str, help: &str, kind: &str, value: impl std::fmt::Display) {
    header(out, name, help, kind);
    let _ = writeln!(out, "{name} {value}");
}

/// Renders everything in the Prometheus text format (version 0.0.4).
pub fn render(http: &HttpMetrics, engine: &MetricsSnapshot, stats: Option<&StoreStats>) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let providers = [("hetzner", &http.compute), ("cloudflare", &http.dns)];
    let per_provider = |out: &mut String,
                        name: &str,
                        help: &str,
                        kind: &str,
                        f: &dyn Fn(&ProviderStats) -> u64| {
        header(out, name, help, kind);
        for (provider, stats) in &providers {
            let _ = writeln!(out, "{name}{{provider=\"{provider}\"}} {}", f(stats));
        }
    };
    per_provider(
        &mut out,
        "openclaw_provider_requests_total",
        "HTTP requests sent to a provider.",
        "counter",
        &|s| s.requests.get(),
    );
    per_provider(
        &mut out,
        "openclaw_provider_requests_last_minute",
        "HTTP requests sent to a provider in the last 60 seconds.",
        "gauge",
        &|s| s.requests_window.last_minute(),
    );
    per_provider(
        &mut out,
        "openclaw_provider_rate_limited_total",
        "429 answers from a provider.",
        "counter",
        &|s| s.rate_limited.get(),
    );
    per_provider(
        &mut out,
        "openclaw_provider_throttled_total",
        "Requests that waited for openclaw's own limiter of a provider.",
        "counter",
        &|s| s.throttled.get(),
    );
    per_provider(
        &mut out,
        "openclaw_provider_retries_total",
        "Provider call attempts beyond the first (retries, look-ups after ambiguous creates).",
        "counter",
        &|s| s.attempts.get().saturating_sub(s.calls.get()),
    );
    single(
        &mut out,
        "openclaw_api_rate_limited_total",
        "API requests refused with 429 by the per-key rate limit.",
        "counter",
        http.api_rate_limited.get(),
    );
    single(
        &mut out,
        "openclaw_websocket_connections",
        "Open WebSocket event streams.",
        "gauge",
        http.websocket_connections.get(),
    );
    single(
        &mut out,
        "openclaw_sse_connections",
        "Open Server-Sent Events streams.",
        "gauge",
        http.sse_connections.get(),
    );
    http.event_latency.write(
        &mut out,
        "openclaw_event_delivery_seconds",
        "Time from an event's creation to its delivery to a live subscriber.",
    );
    for (name, help, value) in [
        (
            "openclaw_provisions_started_total",
            "Provisionings started.",
            engine.provisions_started,
        ),
        (
            "openclaw_provisions_succeeded_total",
            "Provisionings that reached active.",
            engine.provisions_succeeded,
        ),
        (
            "openclaw_rollbacks_started_total",
            "Rollbacks started.",
            engine.rollbacks_started,
        ),
        (
            "openclaw_rollbacks_succeeded_total",
            "Rollbacks that reached rolled_back.",
            engine.rollbacks_succeeded,
        ),
        (
            "openclaw_rollbacks_failed_total",
            "Rollbacks that ended failed.",
            engine.rollbacks_failed,
        ),
        (
            "openclaw_jobs_completed_total",
            "Jobs finished.",
            engine.jobs_completed,
        ),
        (
            "openclaw_jobs_retried_total",
            "Job attempts that failed and were scheduled again.",
            engine.jobs_retried,
        ),
        (
            "openclaw_jobs_dead_total",
            "Jobs dead-lettered.",
            engine.jobs_dead,
        ),
        (
            "openclaw_jobs_interrupted_total",
            "Jobs handed back at shutdown.",
            engine.jobs_interrupted,
        ),
        (
            "openclaw_leases_lost_total",
            "Jobs stopped because their lease was lost (taken over, or run out while the worker stalled).",
            engine.leases_lost,
        ),
        (
            "openclaw_jobs_panicked_total",
            "Job attempts that panicked (each counted as a failed attempt).",
            engine.jobs_panicked,
        ),
        (
            "openclaw_orphans_deleted_total",
            "Orphaned servers and DNS records the sweep deleted.",
            engine.orphans_deleted,
        ),
        (
            "openclaw_backups_stored_total",
            "Backup archives stored, whole and checked.",
            engine.backups_stored,
        ),
        (
            "openclaw_backup_bytes_stored_total",
            "Bytes of the backup archives stored.",
            engine.backup_bytes_stored,
        ),
        (
            "openclaw_backups_deleted_total",
            "Backups deleted by retention or by request.",
            engine.backups_deleted,
        ),
        (
            "openclaw_health_checks_total",
            "Health checks made.",
            engine.health_checks,
        ),
        (
            "openclaw_events_published_total",
            "Events handed to the bus.",
            engine.events_published,
        ),
        ("openclaw_alerts_total", "Alerts raised.", engine.alerts),
    ] {
        single(&mut out, name, help, "counter", value);
    }
    single(
        &mut out,
        "openclaw_rollback_seconds_total",
        "Time spent in finished rollbacks, summed.",
        "counter",
        engine.rollback_seconds_total,
    );
    let finished = engine.rollbacks_succeeded + engine.rollbacks_failed;
    single(
        &mut out,
        "openclaw_rollback_success_ratio",
        "Finished rollbacks that reached rolled_back (1 when none finished).",
        "gauge",
        if finished == 0 {
            1.0
        } else {
            engine.rollbacks_succeeded as f64 / finished as f64
        },
    );
    single(
        &mut out,
        "openclaw_rollback_duration_seconds_average",
        "Average duration of finished rollbacks.",
        "gauge",
        if finished == 0 {
            0.0
        } else {
            engine.rollback_seconds_total / finished as f64
        },
    );
    single(
        &mut out,
        "openclaw_workers_running",
        "Whether this process's provisioning workers are running.",
        "gauge",
        u8::from(engine.workers_running),
    );
    for (name, help, value) in [
        (
            "openclaw_agents_connected",
            "Active instances whose agent sent a heartbeat recently, at the last check.",
            engine.agents_connected,
        ),
        (
            "openclaw_agents_silent",
            "Active instances whose agent has been silent for agent.silent_after heartbeats.",
            engine.agents_silent,
        ),
        (
            "openclaw_gateways_down",
            "Active instances whose agent reports the OpenClaw gateway down.",
            engine.gateways_down,
        ),
    ] {
        single(&mut out, name, help, "gauge", value);
    }
    single(
        &mut out,
        "openclaw_store_up",
        "Whether the store answered the last scrape.",
        "gauge",
        u8::from(stats.is_some()),
    );
    if let Some(stats) = stats {
        header(
            &mut out,
            "openclaw_instances",
            "Instances by status.",
            "gauge",
        );
        for status in ALL_STATUSES {
            let n = stats.instances_by_status.get(&status).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "openclaw_instances{{status=\"{}\"}} {n}",
                status.as_str()
            );
        }
        header(
            &mut out,
            "openclaw_jobs",
            "Jobs by state (queued is the queue depth).",
            "gauge",
        );
        for state in ["queued", "running", "done", "dead"] {
            let n = stats.jobs_by_state.get(state).copied().unwrap_or(0);
            let _ = writeln!(out, "openclaw_jobs{{state=\"{state}\"}} {n}");
        }
        single(
            &mut out,
            "openclaw_job_queue_depth",
            "Jobs waiting for a worker (queued).",
            "gauge",
            stats.jobs_by_state.get("queued").copied().unwrap_or(0),
        );
        single(
            &mut out,
            "openclaw_last_event_sequence",
            "The highest event sequence written.",
            "gauge",
            stats.last_event_sequence,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn gauges_go_back_down_when_the_guard_drops() {
        let gauge = Arc::new(Gauge::default());
        let guard = gauge.track();
        assert_eq!(gauge.get(), 1);
        drop(guard);
        assert_eq!(gauge.get(), 0);
    }
}
