//! Counters the engine keeps about itself, read as a [`MetricsSnapshot`] (the HTTP binary
//! exports them to Prometheus).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn incr(&self) {
        self.add(1);
    }

    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Live counters of one engine.
#[derive(Debug, Default)]
pub(crate) struct EngineMetrics {
    pub(crate) provisions_started: Counter,
    pub(crate) provisions_succeeded: Counter,
    pub(crate) rollbacks_started: Counter,
    pub(crate) rollbacks_succeeded: Counter,
    pub(crate) rollbacks_failed: Counter,
    pub(crate) rollback_micros: Counter,
    pub(crate) jobs_completed: Counter,
    pub(crate) jobs_retried: Counter,
    pub(crate) jobs_dead: Counter,
    pub(crate) jobs_interrupted: Counter,
    pub(crate) leases_lost: Counter,
    pub(crate) jobs_panicked: Counter,
    pub(crate) orphans_deleted: Counter,
    /// Orphans the last sweep found (a level, not a total).
    pub(crate) orphans_found: AtomicU64,
    pub(crate) health_checks: Counter,
    pub(crate) events_published: Counter,
    pub(crate) publish_failures: Counter,
    pub(crate) alerts: Counter,
    pub(crate) backups_stored: Counter,
    pub(crate) backup_bytes_stored: Counter,
    pub(crate) backups_deleted: Counter,
}

impl EngineMetrics {
    pub(crate) fn rollback_finished(&self, succeeded: bool, took: Duration) {
        if succeeded {
            self.rollbacks_succeeded.incr();
        } else {
            self.rollbacks_failed.incr();
        }
        self.rollback_micros
            .add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    }

    pub(crate) fn snapshot(&self, workers_running: bool) -> MetricsSnapshot {
        MetricsSnapshot {
            workers_running,
            provisions_started: self.provisions_started.get(),
            provisions_succeeded: self.provisions_succeeded.get(),
            rollbacks_started: self.rollbacks_started.get(),
            rollbacks_succeeded: self.rollbacks_succeeded.get(),
            rollbacks_failed: self.rollbacks_failed.get(),
            rollback_seconds_total: self.rollback_micros.get() as f64 / 1e6,
            jobs_completed: self.jobs_completed.get(),
            jobs_retried: self.jobs_retried.get(),
            jobs_dead: self.jobs_dead.get(),
            jobs_interrupted: self.jobs_interrupted.get(),
            leases_lost: self.leases_lost.get(),
            jobs_panicked: self.jobs_panicked.get(),
            orphans_deleted: self.orphans_deleted.get(),
            orphans_found: self.orphans_found.load(Ordering::Relaxed),
            health_checks: self.health_checks.get(),
            events_published: self.events_published.get(),
            publish_failures: self.publish_failures.get(),
            alerts: self.alerts.get(),
            backups_stored: self.backups_stored.get(),
            backup_bytes_stored: self.backup_bytes_stored.get(),
            backups_deleted: self.backups_deleted.get(),
            agents_connected: 0,
            agents_silent: 0,
            gateways_down: 0,
        }
    }
}

/// The engine's counters at one moment. All are totals since the engine was built.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetricsSnapshot {
    /// Provisionings that started (`pending → provisioning`).
    pub provisions_started: u64,
    /// Provisionings that reached `active`.
    pub provisions_succeeded: u64,
    /// Rollbacks started (automatic and requested).
    pub rollbacks_started: u64,
    /// Rollbacks that reached `rolled_back`.
    pub rollbacks_succeeded: u64,
    /// Rollbacks that ended `failed`.
    pub rollbacks_failed: u64,
    /// Time from `rolling_back` to the end of finished rollbacks, summed.
    pub rollback_seconds_total: f64,
    /// Jobs finished.
    pub jobs_completed: u64,
    /// Job attempts that failed and were scheduled again.
    pub jobs_retried: u64,
    /// Jobs dead-lettered.
    pub jobs_dead: u64,
    /// Jobs handed back at shutdown.
    pub jobs_interrupted: u64,
    /// Jobs stopped because their lease was lost (taken over, or run out while the worker
    /// stalled).
    pub leases_lost: u64,
    /// Job attempts that panicked (each counted as a failed attempt).
    pub jobs_panicked: u64,
    /// Orphaned resources the sweep deleted.
    pub orphans_deleted: u64,
    /// Orphaned servers and DNS records the last sweep of this engine found (deleted or
    /// not); 0 before the first sweep.
    pub orphans_found: u64,
    /// Health checks made.
    pub health_checks: u64,
    /// Events handed to the bus.
    pub events_published: u64,
    /// Events the bus refused (subscribers read them from the log).
    pub publish_failures: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Backup archives stored (uploads whole and checked).
    pub backups_stored: u64,
    /// Bytes of the backup archives stored.
    pub backup_bytes_stored: u64,
    /// Backups deleted by retention (count, age, ended instances) or by request.
    pub backups_deleted: u64,
    /// Whether `run_workers` is running in this process.
    pub workers_running: bool,
    /// Active instances whose agent is connected, at the last check.
    pub agents_connected: u64,
    /// Active instances whose agent is silent, at the last check.
    pub agents_silent: u64,
    /// Active instances whose agent reports the gateway down, at the last check.
    pub gateways_down: u64,
}
