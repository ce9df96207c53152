//! The orphan sweep: resources the providers say this deployment owns that no live instance
//! claims. Invariant 2 ("nothing is left behind") rests on it.
//!
//! A deletion never races a job of the instance: the sweep first takes the instance's job
//! slot ([`Store::claim_new_job`](crate::ports::Store::claim_new_job), so no provisioning can
//! adopt the resource meanwhile), looks at the instance again under that lease, and deletes
//! only what it still does not claim. Resources younger than the grace period are left alone
//! (a job may be about to record them), and every deletion is recorded as an audit event.

use serde::Serialize;
use tokio::time::Instant;

use super::context::Engine;
use super::worker::{self, Leased};
use crate::domain::{ClaimRequest, Instance, InstanceId, JobKind, NewJob, RecordId, ServerId};
use crate::error::Result;
use crate::ports::{DnsRecord, Server};

/// Whether the sweep deletes what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepMode {
    /// Only report.
    DryRun,
    /// Report and delete.
    Delete,
}

/// What a sweep found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Servers no live instance claims.
    pub orphan_servers: Vec<Server>,
    /// DNS records no live instance claims.
    pub orphan_records: Vec<DnsRecord>,
    /// Servers deleted (empty in a dry run).
    pub deleted_servers: Vec<ServerId>,
    /// Records deleted (empty in a dry run).
    pub deleted_records: Vec<RecordId>,
    /// Orphans left alone this time, with why: younger than the grace period, or their
    /// instance had a job running (the next sweep looks again).
    pub skipped: Vec<String>,
    /// Deletions that failed, with why.
    pub errors: Vec<String>,
}

impl SweepReport {
    /// Whether the sweep found nothing at all.
    pub fn is_empty(&self) -> bool {
        self.orphan_servers.is_empty() && self.orphan_records.is_empty()
    }
}

/// Whether a live `instance` (if any) claims the server `id`: a live instance claims its
/// recorded server, or — while nothing is recorded, i.e. during its create step — any server
/// carrying its label.
fn claims_server(instance: Option<&Instance>, id: &ServerId) -> bool {
    match instance {
        Some(i) if i.status.is_live() => i.resources.server_id.as_ref().is_none_or(|s| s == id),
        _ => false,
    }
}

fn claims_record(instance: Option<&Instance>, id: &RecordId) -> bool {
    match instance {
        Some(i) if i.status.is_live() => {
            i.resources.dns_record_ids.is_empty() || i.resources.dns_record_ids.contains(id)
        }
        _ => false,
    }
}

async fn instance_of(engine: &Engine, id: Option<InstanceId>) -> Result<Option<Instance>> {
    match id {
        Some(id) => engine.load(id).await,
        None => Ok(None),
    }
}

/// One orphan, as the sweep handles it.
enum Orphan {
    Server(Server),
    Record(DnsRecord),
}

impl Orphan {
    fn instance(&self) -> Option<InstanceId> {
        match self {
            Orphan::Server(s) => s.ownership().map(|o| o.instance),
            Orphan::Record(r) => r.instance_id(),
        }
    }

    fn created_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Orphan::Server(s) => s.created_at,
            Orphan::Record(r) => r.created_at,
        }
    }

    fn describe(&self) -> String {
        match self {
            Orphan::Server(s) => format!("server {} ({})", s.id, s.name),
            Orphan::Record(r) => format!("dns record {} ({} {})", r.id, r.record_type, r.name),
        }
    }

    fn still_claimed(&self, instance: Option<&Instance>) -> bool {
        match self {
            Orphan::Server(s) => claims_server(instance, &s.id),
            Orphan::Record(r) => claims_record(instance, &r.id),
        }
    }

    async fn delete(&self, engine: &Engine) -> Result<()> {
        match self {
            Orphan::Server(s) => engine.compute.delete_server(&s.id).await,
            Orphan::Record(r) => engine.dns.delete_record(&r.id).await,
        }
    }
}

pub(crate) async fn sweep(engine: &Engine, mode: SweepMode) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    for server in engine.compute.list_owned().await? {
        let instance_id = server.ownership().map(|o| o.instance);
        if !claims_server(instance_of(engine, instance_id).await?.as_ref(), &server.id) {
            report.orphan_servers.push(server);
        }
    }
    for record in engine.dns.list_owned().await? {
        if !claims_record(
            instance_of(engine, record.instance_id()).await?.as_ref(),
            &record.id,
        ) {
            report.orphan_records.push(record);
        }
    }
    let found = report.orphan_servers.len() + report.orphan_records.len();
    engine.metrics.orphans_found.store(
        u64::try_from(found).unwrap_or(u64::MAX),
        std::sync::atomic::Ordering::Relaxed,
    );
    if mode == SweepMode::DryRun {
        return Ok(report);
    }
    // Records first: a name must stop pointing at an address before the address is freed.
    let orphans: Vec<Orphan> = report
        .orphan_records
        .iter()
        .cloned()
        .map(Orphan::Record)
        .chain(report.orphan_servers.iter().cloned().map(Orphan::Server))
        .collect();
    for orphan in orphans {
        if let Some(reason) = too_young(engine, &orphan) {
            report
                .skipped
                .push(format!("{}: {reason}", orphan.describe()));
            continue;
        }
        match remove(engine, &orphan).await {
            Ok(Removal::Deleted) => match &orphan {
                Orphan::Server(s) => report.deleted_servers.push(s.id.clone()),
                Orphan::Record(r) => report.deleted_records.push(r.id.clone()),
            },
            Ok(Removal::Skipped(reason)) => {
                report
                    .skipped
                    .push(format!("{}: {reason}", orphan.describe()));
            }
            Err(e) => report.errors.push(format!("{}: {e}", orphan.describe())),
        }
    }
    if !report.deleted_servers.is_empty() || !report.deleted_records.is_empty() {
        tracing::info!(
            servers = report.deleted_servers.len(),
            records = report.deleted_records.len(),
            skipped = report.skipped.len(),
            errors = report.errors.len(),
            "sweep deleted orphans"
        );
    }
    Ok(report)
}

/// Why `orphan` is too young to touch, if it is.
fn too_young(engine: &Engine, orphan: &Orphan) -> Option<String> {
    if engine.config.sweep.grace.is_zero() {
        return None;
    }
    let grace = chrono::Duration::from_std(engine.config.sweep.grace).ok()?;
    let created = orphan.created_at()?;
    let age = engine.now() - created;
    (age < grace).then(|| {
        format!(
            "created {}s ago, inside the {}s grace period",
            age.num_seconds().max(0),
            grace.num_seconds()
        )
    })
}

enum Removal {
    Deleted,
    Skipped(String),
}

/// Deletes one orphan under its instance's job slot, after looking at the instance again.
async fn remove(engine: &Engine, orphan: &Orphan) -> Result<Removal> {
    let Some(instance_id) = orphan.instance() else {
        // No instance could ever claim it.
        orphan.delete(engine).await?;
        record_deletion(engine, orphan, None).await;
        return Ok(Removal::Deleted);
    };
    let requested_at = Instant::now();
    let slot = NewJob::new(instance_id, JobKind::Sweep, engine.now(), 1);
    let claimed = engine
        .store
        .claim_new_job(
            &slot,
            &ClaimRequest {
                worker: format!("{}-sweep", engine.config.workers.name),
                now: engine.now(),
                lease_for: worker::lease_for(engine)?,
            },
        )
        .await?;
    let Some(lease) = claimed.and_then(|job| job.lease) else {
        return Ok(Removal::Skipped(format!(
            "instance {instance_id} has a job running"
        )));
    };
    let guard = worker::guard(engine, lease, requested_at);
    let work = async {
        let instance = engine.load(instance_id).await?;
        if orphan.still_claimed(instance.as_ref()) {
            return Ok(Removal::Skipped(format!(
                "instance {instance_id} claims it now"
            )));
        }
        orphan.delete(engine).await?;
        Ok(Removal::Deleted)
    };
    let outcome = worker::under_lease(guard.clone(), work).await;
    let held = guard.lease();
    let finished = engine.store.complete_job(&held, engine.now());
    let result = match outcome {
        Leased::Finished(result) => result,
        Leased::Panicked(message) => Err(crate::Error::internal(format!(
            "the sweep panicked: {message}"
        ))),
        Leased::Lost(error) => Err(error),
    };
    if let Err(error) = finished.await {
        tracing::debug!(%error, "sweep slot not released; its lease will run out");
    }
    if matches!(result, Ok(Removal::Deleted)) {
        record_deletion(engine, orphan, Some(instance_id)).await;
    }
    result
}

/// Records a deletion as an audit event.
async fn record_deletion(engine: &Engine, orphan: &Orphan, instance: Option<InstanceId>) {
    let created = orphan
        .created_at()
        .map(|at| format!(", created {}", at.to_rfc3339()))
        .unwrap_or_default();
    let reason = format!(
        "deleted orphan {}{created}: no live instance claims it",
        orphan.describe()
    );
    if let Err(error) = engine
        .audit(instance, "orphan_deleted", "sweep", reason)
        .await
    {
        tracing::error!(%error, "a sweep deletion could not be recorded");
    }
    engine.metrics.orphans_deleted.incr();
}
