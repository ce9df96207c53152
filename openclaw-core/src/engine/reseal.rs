//! Re-sealing: moving every sealed value (instance secrets, agent task outputs) to the
//! current sealing key, so a retired key can be dropped from the configuration.

use serde::Serialize;

use super::agents::RESEAL_ATTEMPTS;
use super::context::Engine;
use super::provisioner::Provisioner;
use crate::domain::{InstanceFilter, InstanceId};
use crate::error::{Error, Result};

/// Most tasks of one instance looked at (tasks are purged after their retention, so an
/// instance holds far fewer).
const TASKS_PER_INSTANCE: usize = 100_000;

/// What [`Provisioner::reseal_secrets`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ResealReport {
    /// Instances whose secrets were sealed again with the current key.
    pub instances_resealed: u64,
    /// Instances whose secrets were already sealed with it.
    pub instances_current: u64,
    /// Agent task outputs sealed again with the current key.
    pub task_outputs_resealed: u64,
    /// Agent task outputs already sealed with it.
    pub task_outputs_current: u64,
}

impl Provisioner {
    /// Seals every instance's secrets and every agent task output that another key sealed
    /// with the current key, page by page. Each value is replaced only if nobody changed it
    /// since it was read (a racing change is read again), so it is safe while servers run.
    /// Running it again finds nothing to do. A value no configured key opens stops it with
    /// that error (everything before stays re-sealed). Records one audit event.
    pub async fn reseal_secrets(&self, actor: &str) -> Result<ResealReport> {
        let engine = &self.engine;
        let mut report = ResealReport::default();
        let mut after = None;
        loop {
            let page = engine
                .store
                .list_instances(&InstanceFilter {
                    search: None,
                    after,
                    limit: Some(InstanceFilter::MAX_LIMIT),
                    ..InstanceFilter::default()
                })
                .await?;
            for instance in &page.items {
                reseal_instance(engine, instance.id, &mut report).await?;
                reseal_task_outputs(engine, instance.id, &mut report).await?;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        engine
            .audit(
                None,
                "secrets_resealed",
                actor,
                format!(
                    "sealed with key {}: {} instance secrets and {} task outputs re-sealed, \
                     {} and {} already were",
                    engine.secrets_key.current_id(),
                    report.instances_resealed,
                    report.task_outputs_resealed,
                    report.instances_current,
                    report.task_outputs_current
                ),
            )
            .await?;
        Ok(report)
    }
}

async fn reseal_instance(
    engine: &Engine,
    instance: InstanceId,
    report: &mut ResealReport,
) -> Result<()> {
    for _ in 0..RESEAL_ATTEMPTS {
        let Some(sealed) = engine.store.instance_secrets(instance).await? else {
            return Ok(());
        };
        if !engine.secrets_key.needs_reseal(&sealed) {
            report.instances_current += 1;
            return Ok(());
        }
        let secrets = engine.secrets_key.open(instance, &sealed)?;
        let resealed = engine.secrets_key.seal(instance, &secrets)?;
        match engine
            .store
            .replace_instance_secrets(instance, &sealed, &resealed)
            .await
        {
            Ok(true) => {
                report.instances_resealed += 1;
                return Ok(());
            }
            Ok(false) => continue,
            // Terminated between the read and the write: nothing left to re-seal.
            Err(Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Err(Error::conflict(format!(
        "the secrets of instance {instance} kept changing while they were being re-sealed; \
         run it again"
    )))
}

async fn reseal_task_outputs(
    engine: &Engine,
    instance: InstanceId,
    report: &mut ResealReport,
) -> Result<()> {
    for task in engine
        .agents
        .agent_tasks(instance, TASKS_PER_INSTANCE)
        .await?
    {
        let Some(sealed) = task.output else {
            continue;
        };
        if !engine.secrets_key.needs_reseal(&sealed) {
            report.task_outputs_current += 1;
            continue;
        }
        let output = engine.secrets_key.open_task_output(task.id, &sealed)?;
        let resealed = engine.secrets_key.seal_task_output(task.id, &output)?;
        // A task's output is written once, when it finishes: a `false` here means the task
        // was purged or replaced by another re-seal, and either way needs nothing more.
        match engine
            .agents
            .replace_agent_task_output(task.id, &sealed, &resealed)
            .await
        {
            Ok(true) => report.task_outputs_resealed += 1,
            Ok(false) | Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
