//! Watches the agents of active instances: an alert when one goes silent for the configured
//! number of heartbeats or reports its gateway down (once per episode, per process), and
//! gauges of how many are connected, silent, or have their gateway down.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::context::Engine;
use crate::domain::{InstanceFilter, InstanceId, InstanceStatus, NewEvent};
use crate::error::Result;

/// Alert code: an active instance's agent stopped sending heartbeats.
pub const AGENT_SILENT: &str = "agent_silent";
/// Alert code: an active instance's agent reports its gateway down.
pub const GATEWAY_DOWN: &str = "gateway_down";

/// What the last check found.
#[derive(Debug, Default)]
pub(crate) struct AgentWatch {
    /// Instances alerted for and not yet well again: (instance, code).
    alerted: Mutex<HashSet<(InstanceId, &'static str)>>,
    pub(crate) connected: AtomicU64,
    pub(crate) silent: AtomicU64,
    pub(crate) gateways_down: AtomicU64,
}

/// Checks every active instance's agent once.
pub(crate) async fn check(engine: &Engine) -> Result<()> {
    let agent = &engine.config.agent;
    let within =
        chrono::Duration::from_std(agent.connected_within()).unwrap_or(chrono::Duration::MAX);
    let now = engine.now();
    let (mut connected, mut silent, mut down) = (0u64, 0u64, 0u64);
    let mut problems: Vec<(InstanceId, &'static str, String)> = Vec::new();
    let mut well: Vec<InstanceId> = Vec::new();
    let mut filter = InstanceFilter {
        search: None,
        status: Some(InstanceStatus::Active),
        limit: Some(InstanceFilter::MAX_LIMIT),
        ..InstanceFilter::default()
    };
    loop {
        let page = engine.store.list_instances(&filter).await?;
        for instance in &page.items {
            // A server that just became active gets its grace: its agent starts with it.
            let since = instance.activated_at.unwrap_or(instance.status_changed_at);
            match engine.agents.agent_presence(instance.id).await? {
                Some(p) if now.signed_duration_since(p.last_seen) < within => {
                    connected += 1;
                    if p.report.gateway.is_up() {
                        well.push(instance.id);
                    } else {
                        down += 1;
                        problems.push((
                            instance.id,
                            GATEWAY_DOWN,
                            "the agent reports the gateway down (its /healthz or /startupz \
                             does not answer 200)"
                                .to_string(),
                        ));
                    }
                }
                Some(p) => {
                    silent += 1;
                    problems.push((
                        instance.id,
                        AGENT_SILENT,
                        format!(
                            "no heartbeat from the agent since {}",
                            p.last_seen
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        ),
                    ));
                }
                None if now.signed_duration_since(since) >= within => {
                    silent += 1;
                    problems.push((
                        instance.id,
                        AGENT_SILENT,
                        "the agent never sent a heartbeat".to_string(),
                    ));
                }
                None => {}
            }
        }
        match page.next {
            Some(next) => filter.after = Some(next),
            None => break,
        }
    }
    let watch = &engine.agent_watch;
    watch.connected.store(connected, Ordering::Relaxed);
    watch.silent.store(silent, Ordering::Relaxed);
    watch.gateways_down.store(down, Ordering::Relaxed);
    let fresh: Vec<_> = {
        let mut alerted = watch.alerted.lock().unwrap_or_else(PoisonError::into_inner);
        alerted.retain(|(id, code)| {
            !well.contains(id) && problems.iter().any(|(p, c, _)| p == id && c == code)
        });
        problems
            .into_iter()
            .filter(|(id, code, _)| alerted.insert((*id, code)))
            .collect()
    };
    for (id, code, reason) in fresh {
        let event = NewEvent::alert(Some(id), code, reason, engine.now());
        let stored = engine.store.append_event(&event).await?;
        engine.metrics.alerts.incr();
        engine.publish(&stored).await;
    }
    Ok(())
}
