//! Step 3: wait until the gateway is healthy. Checks hit the VPS, never the provider, so they
//! cost nothing against rate limits.

use chrono::{DateTime, Utc};

use crate::domain::{Instance, InstanceStatus};
use crate::engine::config::Trigger;
use crate::engine::saga::{Run, StepFailure};
use crate::error::Error;
use crate::ports::Health;

pub(crate) async fn execute(run: &Run<'_>, instance: Instance) -> Result<Instance, StepFailure> {
    let deadline = run.provision_deadline(&instance);
    wait_until_healthy(run, instance, InstanceStatus::Provisioning, deadline).await
}

/// Checks every `health.interval` until healthy. `Starting` answers are waited through until
/// `deadline`; `max_failed_health_checks` `Unhealthy` answers in a row fail the wait (a
/// `Starting` answer in between starts the count again: the gateway came back up). The instance is
/// re-read between checks so a terminate or rollback requested meanwhile stops the wait.
pub(crate) async fn wait_until_healthy(
    run: &Run<'_>,
    instance: Instance,
    status: InstanceStatus,
    deadline: DateTime<Utc>,
) -> Result<Instance, StepFailure> {
    let engine = run.engine;
    let max_failures = engine.config.rollback.max_failed_health_checks;
    let interval = engine.config.health.interval;
    let mut failures = 0u32;
    let mut instance = instance;
    loop {
        let enforced = status != InstanceStatus::Provisioning
            || engine.config.rollback.enabled(Trigger::ProvisionTimeout);
        if enforced && engine.now() >= deadline {
            return Err(StepFailure::triggered(
                Trigger::ProvisionTimeout,
                Error::Cancelled {
                    reason: format!("not healthy by {deadline}"),
                },
            ));
        }
        engine.metrics.health_checks.incr();
        match engine.health.check(&instance).await {
            Health::Healthy => return Ok(instance),
            Health::Starting => failures = 0,
            Health::Unhealthy { reason } => {
                failures += 1;
                tracing::warn!(instance = %instance.id, failures, %reason, "health check failed");
                if failures >= max_failures {
                    return Err(StepFailure::triggered(
                        Trigger::HealthChecksFailed,
                        Error::Unavailable {
                            service: "gateway".into(),
                            message: format!("{failures} failed health checks; last: {reason}"),
                            status: None,
                        },
                    ));
                }
            }
        }
        if run.shutdown.sleep(interval).await {
            return Err(StepFailure::Interrupted);
        }
        instance = run.still(&instance, status).await?;
    }
}
