//! What the workers do besides jobs, each on its own schedule: settle instances whose job
//! died, enforce provisioning deadlines whether or not a worker still runs them, purge what
//! has served its time, and sweep orphans. Every process running workers does all of it;
//! every write is a compare-and-swap or idempotent, so doing it twice is harmless.

use std::time::Duration;

use tokio::time::Instant;

use super::config::Trigger;
use super::context::Engine;
use super::jobs;
use super::sweep::{self, SweepMode};
use super::worker::Shutdown;
use crate::domain::{Instance, InstanceFilter, InstanceStatus};
use crate::error::{Error, Result};

/// How many stranded dead jobs one pass of the reaper takes at a time.
const REAP_BATCH: usize = 100;

/// One periodic task: when it last ran.
struct Every {
    interval: Duration,
    next: Instant,
}

impl Every {
    fn new(interval: Duration, first: Instant) -> Self {
        Every {
            interval,
            next: first,
        }
    }

    /// Whether it is due at `now`; if so, schedules the next run.
    fn due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + self.interval;
        true
    }
}

/// Runs the periodic tasks until shutdown.
pub(crate) async fn run(shared: &std::sync::Arc<Engine>, shutdown: &Shutdown) {
    let engine: &Engine = shared;
    let provisioner = super::provisioner::Provisioner {
        engine: shared.clone(),
    };
    let config = &engine.config;
    let start = Instant::now();
    let mut reap = Every::new(config.workers.reap_interval, start);
    let mut deadlines = Every::new(config.workers.deadline_check_interval, start);
    let mut purge = Every::new(config.workers.purge_interval, start);
    // The first sweep waits one interval: right after a start, other replicas may still be
    // finishing work the sweep would otherwise have to skip.
    let mut sweeps = Every::new(config.sweep.interval, start + config.sweep.interval);
    let mut fleet = Every::new(super::fleet::DRIVE_INTERVAL, start);
    let mut agents = Every::new(config.agent.heartbeat, start + config.agent.heartbeat);
    let mut backups = Every::new(
        config.backups.check_interval,
        start + config.backups.check_interval,
    );
    loop {
        let now = Instant::now();
        if deadlines.due(now) {
            if let Err(error) = enforce_deadlines(engine).await {
                tracing::warn!(%error, "checking provisioning deadlines failed");
            }
        }
        if reap.due(now) {
            if let Err(error) = reap_dead_jobs(engine).await {
                tracing::warn!(%error, "looking for dead jobs failed");
            }
        }
        if purge.due(now) {
            if let Err(error) = purge_finished(engine).await {
                tracing::warn!(%error, "purging finished jobs failed");
            }
        }
        if config.sweep.enabled && sweeps.due(now) {
            match sweep::sweep(engine, SweepMode::Delete).await {
                Ok(report) if !report.is_empty() => {
                    tracing::info!(
                        deleted_servers = report.deleted_servers.len(),
                        deleted_records = report.deleted_records.len(),
                        skipped = report.skipped.len(),
                        errors = report.errors.len(),
                        "scheduled sweep"
                    );
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "scheduled sweep failed"),
            }
        }
        if fleet.due(now) {
            if let Err(error) = super::fleet::drive(engine).await {
                tracing::warn!(%error, "moving the fleet upgrade on failed");
            }
        }
        if agents.due(now) {
            if let Err(error) = super::agent_watch::check(engine).await {
                tracing::warn!(%error, "checking the instance agents failed");
            }
        }
        if backups.due(now) {
            match provisioner.backup_pass().await {
                Ok((0, 0)) => {}
                Ok((deleted, queued)) => {
                    tracing::info!(deleted, queued, "backup pass");
                }
                Err(error) => tracing::warn!(%error, "the backup pass failed"),
            }
        }
        let next = [
            agents.next,
            backups.next,
            deadlines.next,
            reap.next,
            purge.next,
            sweeps.next,
            fleet.next,
        ]
        .into_iter()
        .min()
        .unwrap_or(now + config.workers.reap_interval);
        let wait = next.saturating_duration_since(Instant::now());
        if shutdown.sleep(wait.max(Duration::from_millis(10))).await {
            return;
        }
    }
}

/// Moves on every instance whose dead job it still waits on; returns how many. Pages until
/// none is left, so no number of dead jobs hides a newer one.
pub(crate) async fn reap_dead_jobs(engine: &Engine) -> Result<usize> {
    let mut settled = 0;
    loop {
        let stranded = engine.store.stranded_dead_jobs(REAP_BATCH).await?;
        let mut progress = false;
        for job in &stranded {
            let Some(instance) = engine.load(job.instance_id).await? else {
                continue;
            };
            let before = (instance.status, instance.version);
            let error = job
                .last_error
                .clone()
                .unwrap_or_else(|| "out of attempts".into());
            engine.metrics.jobs_dead.incr();
            jobs::settle_dead_job(engine, job, &instance, &error).await?;
            let after = engine.load(job.instance_id).await?;
            if after.map(|i| (i.status, i.version)) != Some(before) {
                settled += 1;
                progress = true;
            }
        }
        if stranded.len() < REAP_BATCH || !progress {
            return Ok(settled);
        }
    }
}

/// Rolls back every provisioning past its deadline — the whole provisioning, or the DNS step
/// — whether or not a worker still runs it (its worker may have died and its lease not yet
/// run out). Returns how many were rolled back.
pub(crate) async fn enforce_deadlines(engine: &Engine) -> Result<usize> {
    let policy = &engine.config.rollback;
    let provision = policy.enabled(Trigger::ProvisionTimeout);
    let dns = policy.enabled(Trigger::DnsTimeout);
    if !provision && !dns {
        return Ok(0);
    }
    let mut fired = 0;
    let mut filter = InstanceFilter {
        search: None,
        status: Some(InstanceStatus::Provisioning),
        limit: Some(500),
        ..InstanceFilter::default()
    };
    loop {
        let page = engine.store.list_instances(&filter).await?;
        for instance in &page.items {
            if let Some((trigger, error)) = overdue(engine, instance, provision, dns) {
                jobs::start_rollback(engine, instance.id, trigger, &error).await?;
                fired += 1;
            }
        }
        match page.next {
            Some(after) => filter.after = Some(after),
            None => return Ok(fired),
        }
    }
}

/// The deadline `instance` is past, if any.
fn overdue(
    engine: &Engine,
    instance: &Instance,
    provision: bool,
    dns: bool,
) -> Option<(Trigger, Error)> {
    let policy = &engine.config.rollback;
    let now = engine.now();
    let whole = chrono::Duration::from_std(policy.provision_timeout).ok()?;
    if provision && now >= instance.status_changed_at + whole {
        return Some((
            Trigger::ProvisionTimeout,
            Error::Cancelled {
                reason: format!(
                    "provisioning took longer than {}s",
                    policy.provision_timeout.as_secs()
                ),
            },
        ));
    }
    let dns_step = chrono::Duration::from_std(policy.dns_timeout).ok()?;
    let resources = &instance.resources;
    let in_dns_step = resources.server_id.is_some() && resources.dns_record_ids.is_empty();
    match resources.server_recorded_at {
        Some(began) if dns && in_dns_step && now >= began + dns_step => Some((
            Trigger::DnsTimeout,
            Error::Cancelled {
                reason: format!(
                    "the DNS step took longer than {}s",
                    policy.dns_timeout.as_secs()
                ),
            },
        )),
        _ => None,
    }
}

/// Deletes finished jobs, finished agent tasks and expired idempotency keys past their
/// retention.
pub(crate) async fn purge_finished(engine: &Engine) -> Result<(u64, u64)> {
    let retention = chrono::Duration::from_std(engine.config.workers.retention)
        .unwrap_or(chrono::Duration::MAX);
    let now = engine.now();
    let jobs = engine
        .store
        .purge_jobs(now.checked_sub_signed(retention).unwrap_or(now))
        .await?;
    let keys = engine.store.purge_idempotency(now).await?;
    let task_retention =
        chrono::Duration::from_std(engine.config.agent.retention).unwrap_or(chrono::Duration::MAX);
    let tasks = engine
        .agents
        .purge_agent_tasks(now.checked_sub_signed(task_retention).unwrap_or(now))
        .await?;
    if jobs + keys + tasks > 0 {
        tracing::info!(jobs, idempotency_keys = keys, agent_tasks = tasks, "purged");
    }
    Ok((jobs, keys))
}
