//! Fleet upgrades: every active instance to one OpenClaw version, the canary wave first,
//! then batches, each wave only after the one before it upgraded (its agents report success
//! only once the gateway answers `/startupz` again), stopping at the first failure (the
//! failing instance rolled itself back).
//!
//! The whole state is in the store — the fleet upgrade with its waves fixed at the start,
//! and one upgrade task per instance whose id is derived from the two — so any replica's
//! maintenance loop drives it, a restart resumes it where it stood, and two replicas driving
//! at once queue each task once.

use std::time::Duration;

use super::context::Engine;
use super::provisioner::Provisioner;
use crate::domain::{
    AgentTaskKind, AgentTaskState, FleetUpgrade, FleetUpgradeState, InstanceFilter, InstanceId,
    InstanceStatus, NewAgentTask,
};
use crate::error::{Error, Result};

/// The most instances one wave may hold.
pub const MAX_BATCH_SIZE: usize = 1_000;

impl Provisioner {
    /// Starts upgrading every active instance to `version`: `canary` instances first (the
    /// oldest), then waves of `batch_size`. `Conflict` while another fleet upgrade runs.
    pub async fn start_fleet_upgrade(
        &self,
        version: &str,
        canary: usize,
        batch_size: usize,
        actor: &str,
    ) -> Result<FleetUpgrade> {
        AgentTaskKind::Upgrade {
            version: version.to_string(),
        }
        .validate()?;
        if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
            return Err(Error::invalid(
                "batch_size",
                format!("must be 1-{MAX_BATCH_SIZE}"),
            ));
        }
        if canary > MAX_BATCH_SIZE {
            return Err(Error::invalid(
                "canary",
                format!("must be 0-{MAX_BATCH_SIZE}"),
            ));
        }
        let engine = &self.engine;
        let instances = active_instances(self).await?;
        let (first, rest) = instances.split_at(canary.min(instances.len()));
        let mut waves: Vec<Vec<InstanceId>> = Vec::new();
        if !first.is_empty() {
            waves.push(first.to_vec());
        }
        waves.extend(rest.chunks(batch_size).map(<[InstanceId]>::to_vec));
        let now = engine.now();
        let upgrade = FleetUpgrade {
            id: crate::domain::AgentTaskId::new(),
            version: version.to_string(),
            state: FleetUpgradeState::Running,
            message: format!(
                "upgrading {} instances in {} waves",
                instances.len(),
                waves.len()
            ),
            waves,
            requested_by: actor.to_string(),
            created_at: now,
            updated_at: now,
        };
        engine.agents.insert_fleet_upgrade(&upgrade).await?;
        engine
            .audit(
                None,
                "fleet_upgrade_started",
                actor,
                format!(
                    "fleet upgrade {} to {version}: {}",
                    upgrade.id, upgrade.message
                ),
            )
            .await?;
        // An empty fleet is done at once.
        drive(engine).await?;
        Ok(engine
            .agents
            .fleet_upgrades(1)
            .await?
            .into_iter()
            .next()
            .unwrap_or(upgrade))
    }

    /// Fleet upgrades, newest first.
    pub async fn fleet_upgrades(&self, limit: usize) -> Result<Vec<FleetUpgrade>> {
        self.engine.agents.fleet_upgrades(limit).await
    }

    /// Moves the running fleet upgrade on by one step, if there is one (the maintenance loop
    /// calls this; tests and embedders without workers may call it themselves).
    pub async fn drive_fleet_upgrade(&self) -> Result<Option<FleetUpgrade>> {
        drive(&self.engine).await
    }
}

/// The active instances, oldest first.
async fn active_instances(provisioner: &Provisioner) -> Result<Vec<InstanceId>> {
    let mut all = Vec::new();
    let mut filter = InstanceFilter {
        search: None,
        status: Some(InstanceStatus::Active),
        limit: Some(InstanceFilter::MAX_LIMIT),
        ..InstanceFilter::default()
    };
    loop {
        let page = provisioner.list(&filter).await?;
        all.extend(page.items.iter().map(|i| i.id));
        match page.next {
            Some(next) => filter.after = Some(next),
            None => return Ok(all),
        }
    }
}

/// One step of the running fleet upgrade: queue what the current wave lacks, end it on a
/// failure, or end it when every wave is done.
pub(crate) async fn drive(engine: &Engine) -> Result<Option<FleetUpgrade>> {
    let Some(upgrade) = engine
        .agents
        .fleet_upgrades(1)
        .await?
        .into_iter()
        .find(|u| u.state == FleetUpgradeState::Running)
    else {
        return Ok(None);
    };
    // A task the agent never takes (a machine that stays offline) must not stall the fleet
    // for ever: past twice the task lease, it counts as a failure.
    let patience = chrono::Duration::from_std(engine.config.agent.task_lease * 2)
        .unwrap_or(chrono::Duration::MAX);
    let mut upgraded = 0usize;
    let mut skipped = 0usize;
    for (n, wave) in upgrade.waves.iter().enumerate() {
        let mut wave_done = true;
        for &instance in wave {
            let id = upgrade.task_id(instance);
            match engine.agents.get_agent_task(id).await? {
                None => {
                    let live = engine
                        .load(instance)
                        .await?
                        .is_some_and(|i| i.status == InstanceStatus::Active);
                    if !live {
                        // Terminated or suspended since the start: nothing to upgrade.
                        skipped += 1;
                        continue;
                    }
                    let task = NewAgentTask {
                        id,
                        ..NewAgentTask::new(
                            instance,
                            AgentTaskKind::Upgrade {
                                version: upgrade.version.clone(),
                            },
                            format!("fleet upgrade {}", upgrade.id),
                            engine.now(),
                        )
                    };
                    match engine.agents.enqueue_agent_task(&task).await {
                        Ok(_) | Err(Error::Conflict { .. }) => {}
                        Err(e) => return Err(e),
                    }
                    engine.agent_wakers.wake(instance);
                    wave_done = false;
                }
                Some(t) if t.state == AgentTaskState::Succeeded => upgraded += 1,
                Some(t) if t.state == AgentTaskState::Failed => {
                    let why = t.error.unwrap_or_default();
                    let message = format!(
                        "stopped in wave {} of {}: instance {instance} failed ({why}); \
                         {upgraded} upgraded before it",
                        n + 1,
                        upgrade.waves.len()
                    );
                    return finish(engine, &upgrade, FleetUpgradeState::Failed, message).await;
                }
                Some(t) => {
                    if engine.now().signed_duration_since(t.created_at) > patience {
                        let message = format!(
                            "stopped in wave {} of {}: the agent of instance {instance} did \
                             not finish its upgrade in time; {upgraded} upgraded before it",
                            n + 1,
                            upgrade.waves.len()
                        );
                        return finish(engine, &upgrade, FleetUpgradeState::Failed, message).await;
                    }
                    wave_done = false;
                }
            }
        }
        if !wave_done {
            return Ok(Some(upgrade));
        }
    }
    let message = format!(
        "{upgraded} instances upgraded to {} in {} waves{}",
        upgrade.version,
        upgrade.waves.len(),
        if skipped > 0 {
            format!(" ({skipped} no longer active, skipped)")
        } else {
            String::new()
        }
    );
    finish(engine, &upgrade, FleetUpgradeState::Succeeded, message).await
}

async fn finish(
    engine: &Engine,
    upgrade: &FleetUpgrade,
    state: FleetUpgradeState,
    message: String,
) -> Result<Option<FleetUpgrade>> {
    match engine
        .agents
        .finish_fleet_upgrade(upgrade.id, state, &message)
        .await
    {
        Ok(done) => {
            let action = match state {
                FleetUpgradeState::Failed => "fleet_upgrade_failed",
                _ => "fleet_upgrade_succeeded",
            };
            engine
                .audit(
                    None,
                    action,
                    "fleet upgrade",
                    format!("fleet upgrade {}: {message}", upgrade.id),
                )
                .await?;
            Ok(Some(done))
        }
        // Another replica ended it a moment earlier.
        Err(Error::Conflict { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// How often the maintenance loop moves a running fleet upgrade on.
pub(crate) const DRIVE_INTERVAL: Duration = Duration::from_secs(2);
