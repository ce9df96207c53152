//! Step 2: the DNS records. Ensure them (the adapter adopts ours and refuses others'), record
//! their ids.

use std::net::Ipv4Addr;

use crate::domain::{Instance, RecordId};
use crate::engine::config::Trigger;
use crate::engine::context::Engine;
use crate::engine::saga::{Run, StepFailure};
use crate::error::{Error, Result};
use crate::ports::ownership::Ownership;
use crate::ports::RecordSpec;

pub(crate) fn ownership(engine: &Engine, instance: &Instance) -> Ownership {
    Ownership {
        owner: engine.config.deployment.clone(),
        instance: instance.id,
    }
}

fn record_spec(engine: &Engine, instance: &Instance, ipv4: Ipv4Addr) -> RecordSpec {
    RecordSpec {
        ownership: ownership(engine, instance),
        name: instance.fqdn.clone(),
        ipv4,
        ipv6: if engine.config.enable_ipv6 {
            instance.resources.ipv6
        } else {
            None
        },
        ttl: engine.config.dns_ttl,
        proxied: engine.config.dns_proxied,
    }
}

pub(crate) async fn execute(run: &Run<'_>, instance: Instance) -> Result<Instance, StepFailure> {
    let engine = run.engine;
    let Some(ipv4) = instance.resources.ipv4 else {
        return Err(StepFailure::from_error(
            Error::internal("the server has no public IPv4 address"),
            None,
        ));
    };
    let spec = record_spec(engine, &instance, ipv4);
    if instance.resources.dns_record_ids.len() == spec.wanted().len() {
        return Ok(instance);
    }
    let dns_limit = engine.config.rollback.dns_timeout;
    let remaining = run.remaining(&instance);
    let (limit, trigger) = if dns_limit <= remaining {
        (dns_limit, Trigger::DnsTimeout)
    } else {
        (remaining, Trigger::ProvisionTimeout)
    };
    let records = match tokio::time::timeout(limit, engine.dns.ensure_records(&spec)).await {
        Err(_elapsed) => {
            return Err(StepFailure::triggered(
                trigger,
                Error::Cancelled {
                    reason: format!("the DNS step took longer than {}s", limit.as_secs()),
                },
            ))
        }
        Ok(Err(error)) => return Err(StepFailure::from_error(error, None)),
        Ok(Ok(records)) => records,
    };
    let ids: Vec<RecordId> = records.into_iter().map(|r| r.id).collect();
    let recorded = engine
        .record_resources(&instance, |r| r.dns_record_ids = ids.clone())
        .await?;
    run.still_provisioning(recorded)
}

/// Deletes the recorded records and any other record at the instance's name that carries its
/// mark, then clears the record.
pub(crate) async fn compensate(
    run: &Run<'_>,
    instance: Instance,
    deleted: &mut Vec<String>,
) -> Result<Instance> {
    let engine = run.engine;
    let mark = ownership(engine, &instance);
    let mut ids = instance.resources.dns_record_ids.clone();
    for record in engine.dns.find_records(&instance.fqdn).await? {
        if record.belongs_to(&mark) && !ids.contains(&record.id) {
            ids.push(record.id);
        }
    }
    for id in &ids {
        engine.dns.delete_record(id).await?;
        deleted.push(format!("dns record {id}"));
    }
    engine
        .record_resources(&instance, |r| r.dns_record_ids.clear())
        .await?
        .ok_or_else(|| Error::not_found("instance", instance.id))
}
