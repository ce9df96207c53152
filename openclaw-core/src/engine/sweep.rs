//! The orphan sweep: resources the providers say this deployment owns that no live instance
//! claims. Invariant 2 ("nothing is left behind") rests on it.

use serde::Serialize;

use super::context::Engine;
use crate::domain::{Instance, InstanceId, RecordId, ServerId};
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
    /// Deletions that failed, with why.
    pub errors: Vec<String>,
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
    if mode == SweepMode::DryRun {
        return Ok(report);
    }
    // Re-check each orphan just before deleting it: an instance may have been retried (and
    // adopted the resource) since the listing.
    for record in report.orphan_records.clone() {
        let instance = instance_of(engine, record.instance_id()).await?;
        if claims_record(instance.as_ref(), &record.id) {
            continue;
        }
        match engine.dns.delete_record(&record.id).await {
            Ok(()) => report.deleted_records.push(record.id.clone()),
            Err(e) => report.errors.push(format!("dns record {}: {e}", record.id)),
        }
    }
    for server in report.orphan_servers.clone() {
        let instance = instance_of(engine, server.ownership().map(|o| o.instance)).await?;
        if claims_server(instance.as_ref(), &server.id) {
            continue;
        }
        match engine.compute.delete_server(&server.id).await {
            Ok(()) => report.deleted_servers.push(server.id.clone()),
            Err(e) => report.errors.push(format!("server {}: {e}", server.id)),
        }
    }
    tracing::info!(
        servers = report.deleted_servers.len(),
        records = report.deleted_records.len(),
        errors = report.errors.len(),
        "sweep deleted orphans"
    );
    Ok(report)
}
