//! Provisioning as a saga: steps run forward in order, each recording what it obtained before
//! the next side effect; compensation runs them backward. Every `execute` and `compensate` is
//! idempotent, so a worker that dies anywhere is replaced by one that resumes (or undoes) from
//! what the store says.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::config::Trigger;
use super::context::Engine;
use super::steps::{activate, dns, health, server};
use super::worker::Shutdown;
use crate::domain::{Instance, InstanceStatus};
use crate::error::{Error, ErrorClass};

/// One step of a provisioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Find the instance's server by label or create it; record id and addresses.
    CreateServer,
    /// Ensure the DNS records; record their ids.
    EnsureDns,
    /// Wait until the gateway answers healthy.
    WaitHealthy,
    /// `provisioning → active`.
    Activate,
}

/// The steps, in the order they run forward.
pub(crate) const STEPS: [Step; 4] = [
    Step::CreateServer,
    Step::EnsureDns,
    Step::WaitHealthy,
    Step::Activate,
];

/// Why a step did not finish.
#[derive(Debug)]
pub(crate) enum StepFailure {
    /// The instance moved on under us (terminated, rolled back, deleted): stop quietly.
    Superseded,
    /// Shutdown was requested at a step boundary: hand the job back.
    Interrupted,
    /// The job's lease is gone: stop at once, write nothing more, settle nothing.
    LeaseLost(Box<Error>),
    /// The step failed. `triggers` are the automatic-rollback triggers that apply, most
    /// specific first; the job uses the first one the policy enables.
    Failed {
        error: Box<Error>,
        triggers: Vec<Trigger>,
    },
}

impl StepFailure {
    /// A failure that may start a rollback through `trigger` regardless of the error.
    pub(crate) fn triggered(trigger: Trigger, error: Error) -> Self {
        StepFailure::Failed {
            error: Box::new(error),
            triggers: vec![trigger],
        }
    }

    /// Classifies a provider error of a step: an error no retry can fix (looking through
    /// retries that ran out) may fire the step's own trigger, and server errors that outlived
    /// their retries fire [`Trigger::ServerErrorsExhausted`]. Other errors whose retries ran
    /// out (rate limits, a name still held by a server being deleted) fire nothing: the job
    /// is tried again later, and rolls back once its attempts are used up.
    pub(crate) fn from_error(error: Error, step_trigger: Option<Trigger>) -> Self {
        if matches!(error.root(), Error::LeaseLost { .. }) {
            return StepFailure::LeaseLost(Box::new(error));
        }
        let mut triggers = Vec::new();
        if error.root().class() == ErrorClass::Permanent {
            triggers.extend(step_trigger);
        }
        if matches!(error, Error::RetriesExhausted { .. }) && error.is_server_error() {
            triggers.push(Trigger::ServerErrorsExhausted);
        }
        StepFailure::Failed {
            error: Box::new(error),
            triggers,
        }
    }
}

impl From<Error> for StepFailure {
    fn from(error: Error) -> Self {
        StepFailure::from_error(error, None)
    }
}

/// What one step run needs.
pub(crate) struct Run<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) shutdown: &'a Shutdown,
    /// The attempt of the job this is (1 for the first; a rescue or a retry counts).
    pub(crate) attempt: u32,
    /// The job this is: a new server's bootstrap token is bound to it.
    pub(crate) job: crate::domain::JobId,
}

impl Run<'_> {
    /// When the provisioning of `instance` (in `provisioning` since `status_changed_at`) must be
    /// done.
    pub(crate) fn provision_deadline(&self, instance: &Instance) -> DateTime<Utc> {
        let timeout = chrono::Duration::from_std(self.engine.config.rollback.provision_timeout)
            .unwrap_or(chrono::Duration::MAX);
        instance.status_changed_at + timeout
    }

    /// Time left until the provisioning deadline (zero when passed; unbounded when the
    /// deadline is not enforced).
    pub(crate) fn remaining(&self, instance: &Instance) -> Duration {
        if !self
            .engine
            .config
            .rollback
            .enabled(Trigger::ProvisionTimeout)
        {
            return Duration::MAX;
        }
        (self.provision_deadline(instance) - self.engine.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    }

    pub(crate) fn check_deadline(&self, instance: &Instance) -> Result<(), StepFailure> {
        let enforced = self
            .engine
            .config
            .rollback
            .enabled(Trigger::ProvisionTimeout);
        if enforced && self.remaining(instance).is_zero() {
            let limit = self.engine.config.rollback.provision_timeout;
            return Err(StepFailure::triggered(
                Trigger::ProvisionTimeout,
                Error::Cancelled {
                    reason: format!("provisioning took longer than {}s", limit.as_secs()),
                },
            ));
        }
        Ok(())
    }

    /// What a step recorded, if the instance is still being provisioned; `Superseded` if the
    /// row is gone or has moved on (its resources are recorded either way).
    pub(crate) fn still_provisioning(
        &self,
        recorded: Option<Instance>,
    ) -> Result<Instance, StepFailure> {
        match recorded {
            Some(stored) if stored.status == InstanceStatus::Provisioning => Ok(stored),
            _ => Err(StepFailure::Superseded),
        }
    }

    /// Re-reads the instance; `Superseded` unless it is still in `expected`.
    pub(crate) async fn still(
        &self,
        instance: &Instance,
        expected: InstanceStatus,
    ) -> Result<Instance, StepFailure> {
        match self.engine.load(instance.id).await? {
            Some(fresh) if fresh.status == expected => Ok(fresh),
            _ => Err(StepFailure::Superseded),
        }
    }
}

impl Step {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Step::CreateServer => "create_server",
            Step::EnsureDns => "ensure_dns",
            Step::WaitHealthy => "wait_healthy",
            Step::Activate => "activate",
        }
    }

    async fn execute(self, run: &Run<'_>, instance: Instance) -> Result<Instance, StepFailure> {
        match self {
            Step::CreateServer => server::execute(run, instance).await,
            Step::EnsureDns => dns::execute(run, instance).await,
            Step::WaitHealthy => health::execute(run, instance).await,
            Step::Activate => activate::execute(run, instance).await,
        }
    }

    async fn compensate(
        self,
        run: &Run<'_>,
        instance: Instance,
        deleted: &mut Vec<String>,
    ) -> Result<Instance, Error> {
        match self {
            Step::CreateServer => server::compensate(run, instance, deleted).await,
            Step::EnsureDns => dns::compensate(run, instance, deleted).await,
            // Waiting and activating change nothing outside the store.
            Step::WaitHealthy | Step::Activate => Ok(instance),
        }
    }
}

/// Runs every step forward from wherever the stored instance got to.
pub(crate) async fn provision(run: &Run<'_>, instance: Instance) -> Result<Instance, StepFailure> {
    let mut instance = instance;
    for step in STEPS {
        if run.shutdown.is_requested() {
            return Err(StepFailure::Interrupted);
        }
        run.check_deadline(&instance)?;
        tracing::debug!(instance = %instance.id, step = step.name(), "step");
        instance = step.execute(run, instance).await?;
    }
    Ok(instance)
}

/// Undoes every step, last first. Returns the instance with its resources cleared and a
/// description of what was deleted.
pub(crate) async fn compensate(
    run: &Run<'_>,
    instance: Instance,
) -> Result<(Instance, Vec<String>), Error> {
    let mut instance = instance;
    let mut deleted = Vec::new();
    for step in STEPS.iter().rev() {
        instance = step.compensate(run, instance, &mut deleted).await?;
    }
    Ok((instance, deleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhausted_server_errors_fire_their_trigger() {
        let e = Error::RetriesExhausted {
            attempts: 5,
            last: Box::new(Error::Unavailable {
                service: "hetzner".into(),
                message: "502".into(),
                status: Some(502),
            }),
        };
        match StepFailure::from_error(e, Some(Trigger::ServerCreateFailed)) {
            StepFailure::Failed { triggers, .. } => {
                assert_eq!(triggers, vec![Trigger::ServerErrorsExhausted]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exhausted_rate_limits_fire_nothing_and_permanent_errors_the_step_trigger() {
        let limited = Error::RetriesExhausted {
            attempts: 5,
            last: Box::new(Error::RateLimited {
                provider: "hetzner".into(),
                retry_after: None,
            }),
        };
        match StepFailure::from_error(limited, Some(Trigger::ServerCreateFailed)) {
            StepFailure::Failed { triggers, .. } => assert!(triggers.is_empty()),
            other => panic!("{other:?}"),
        }
        let refused = Error::invalid("server_type", "unknown");
        match StepFailure::from_error(refused, Some(Trigger::ServerCreateFailed)) {
            StepFailure::Failed { triggers, .. } => {
                assert_eq!(triggers, vec![Trigger::ServerCreateFailed]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retryable_errors_fire_nothing() {
        let e = Error::unavailable("hetzner", "connection reset");
        match StepFailure::from_error(e, Some(Trigger::ServerCreateFailed)) {
            StepFailure::Failed { triggers, .. } => assert!(triggers.is_empty()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn compensation_undoes_dns_before_the_server() {
        let order: Vec<_> = STEPS.iter().rev().map(|s| s.name()).collect();
        let dns = order.iter().position(|s| *s == "ensure_dns");
        let server = order.iter().position(|s| *s == "create_server");
        assert!(
            dns < server,
            "a name must stop pointing at an address before it is freed"
        );
    }
}
