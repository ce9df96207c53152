//! Step 2: the DNS records. Ensure them (the adapter adopts ours and refuses others'), record
//! their ids.

use std::net::Ipv4Addr;
use std::time::Duration;

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
    let dns_left = dns_remaining(run, &instance);
    let remaining = run.remaining(&instance);
    let (limit, trigger) = if dns_left <= remaining {
        (dns_left, Trigger::DnsTimeout)
    } else {
        (remaining, Trigger::ProvisionTimeout)
    };
    if limit.is_zero() {
        return Err(StepFailure::triggered(
            trigger,
            Error::Cancelled {
                reason: format!("the {trigger} deadline passed before the DNS step ran"),
            },
        ));
    }
    let records = match tokio::time::timeout(limit, engine.dns.ensure_records(&spec)).await {
        Err(_elapsed) => {
            return Err(StepFailure::triggered(
                trigger,
                Error::Cancelled {
                    reason: format!(
                        "the DNS step took longer than {}s",
                        engine.config.rollback.dns_timeout.as_secs()
                    ),
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

/// Time left for the DNS step: it began when the server was recorded, whichever worker runs
/// it now. Unbounded when the DNS deadline is not enforced.
pub(crate) fn dns_remaining(run: &Run<'_>, instance: &Instance) -> Duration {
    let engine = run.engine;
    if !engine.config.rollback.enabled(Trigger::DnsTimeout) {
        return Duration::MAX;
    }
    let limit = engine.config.rollback.dns_timeout;
    let Some(began) = instance.resources.server_recorded_at else {
        return limit;
    };
    let spent = (engine.now() - began).to_std().unwrap_or_default();
    limit.saturating_sub(spent)
}

/// Deletes the records, then clears the record of them. Recorded records are deleted by
/// their ids (one request each; already gone is success). Only when none are recorded — a
/// worker that died between the provider's answer and the store — are the records at the
/// instance's name looked up, and those carrying its mark deleted.
pub(crate) async fn compensate(
    run: &Run<'_>,
    instance: Instance,
    deleted: &mut Vec<String>,
) -> Result<Instance> {
    let engine = run.engine;
    let mut ids = instance.resources.dns_record_ids.clone();
    if ids.is_empty() {
        let mark = ownership(engine, &instance);
        for record in engine.dns.find_records(&instance.fqdn).await? {
            if record.belongs_to(&mark) {
                ids.push(record.id);
            }
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
