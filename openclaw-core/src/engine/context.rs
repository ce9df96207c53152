//! The engine's shared state and the few primitives every operation is built from: write an
//! instance (with its event and job) and publish the event, make a checked transition, record
//! resources, raise an alert.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use tokio::sync::Notify;

use super::config::EngineConfig;
use super::lease;
use super::metrics::EngineMetrics;
use crate::bootstrap::BootstrapKey;
use crate::clock::Clock;
use crate::domain::{
    Event, Instance, InstanceId, InstanceStatus, JobKind, LastError, NewEvent, NewJob,
    PendingRequest, PlanChange, PlanName, Resources,
};
use crate::error::{Error, Result};
use crate::ports::{AgentStore, Compute, Dns, EventBus, HealthProbe, InstanceWrite, Store};
use crate::sealing_keyring::SealingKeyring;

/// How many times a write is re-applied to a freshly read instance after a version conflict
/// before giving up: conflicts come from a concurrent API call, so a few are plenty.
const CAS_ATTEMPTS: usize = 8;

/// The ports and configuration one [`Provisioner`](super::Provisioner) drives.
pub(crate) struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) compute: Arc<dyn Compute>,
    pub(crate) dns: Arc<dyn Dns>,
    pub(crate) health: Arc<dyn HealthProbe>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: EngineConfig,
    pub(crate) bootstrap_key: BootstrapKey,
    pub(crate) secrets_key: SealingKeyring,
    /// Wakes idle workers of this process when a job is enqueued here.
    pub(crate) wake: Notify,
    /// Jitter of job retries; seeded from the config for reproducible tests.
    pub(crate) rng: Mutex<StdRng>,
    pub(crate) metrics: EngineMetrics,
    /// Whether `run_workers` is running in this process.
    pub(crate) workers_running: AtomicBool,
    /// The instance agents' tasks and heartbeats.
    pub(crate) agents: Arc<dyn AgentStore>,
    /// Where the instances' backups are kept.
    pub(crate) backups: Arc<dyn object_store::ObjectStore>,
    /// Wakes this process's agent long polls when a task is queued here.
    pub(crate) agent_wakers: super::agents::AgentWakers,
    /// What the last check of the agents found.
    pub(crate) agent_watch: super::agent_watch::AgentWatch,
}

/// A status change to make, with what goes along with it.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) to: InstanceStatus,
    pub(crate) reason: String,
    pub(crate) job: Option<JobKind>,
    pub(crate) last_error: Option<LastError>,
    /// An alert code raised in the same write (its reason is the change's).
    pub(crate) alert: Option<String>,
    /// The pending billing request after the change, when the change sets or clears it.
    pub(crate) pending: Option<Option<PendingRequest>>,
    /// The plan change after the change, when the change sets or clears it.
    pub(crate) plan_change: Option<Option<PlanChange>>,
    /// The instance's plan after the change, when the change moves it to another.
    pub(crate) plan: Option<PlanName>,
}

impl Change {
    pub(crate) fn to(to: InstanceStatus, reason: impl Into<String>) -> Self {
        Change {
            to,
            reason: reason.into(),
            job: None,
            last_error: None,
            alert: None,
            pending: None,
            plan_change: None,
            plan: None,
        }
    }

    pub(crate) fn with_plan_change(mut self, plan_change: Option<PlanChange>) -> Self {
        self.plan_change = Some(plan_change);
        self
    }

    pub(crate) fn with_plan(mut self, plan: PlanName) -> Self {
        self.plan = Some(plan);
        self
    }

    pub(crate) fn with_alert(mut self, code: impl Into<String>) -> Self {
        self.alert = Some(code.into());
        self
    }

    pub(crate) fn with_pending(mut self, pending: Option<PendingRequest>) -> Self {
        self.pending = Some(pending);
        self
    }

    pub(crate) fn with_job_if(self, condition: bool, job: JobKind) -> Self {
        if condition {
            self.with_job(job)
        } else {
            self
        }
    }

    pub(crate) fn with_job(mut self, job: JobKind) -> Self {
        self.job = Some(job);
        self
    }

    pub(crate) fn with_error(mut self, error: LastError) -> Self {
        self.last_error = Some(error);
        self
    }
}

impl Engine {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Hands a stored event to the bus. The log already has it, so a failed publish only
    /// delays subscribers (they fill gaps from the log); it is logged, not returned.
    pub(crate) async fn publish(&self, event: &Event) {
        match self.bus.publish(event).await {
            Ok(()) => self.metrics.events_published.incr(),
            Err(error) => {
                self.metrics.publish_failures.incr();
                tracing::warn!(sequence = event.sequence, %error, "event not published; subscribers will read it from the log");
            }
        }
    }

    /// Appends an audit event (`action` by `actor`, about `instance` if any) and publishes it.
    pub(crate) async fn audit(
        &self,
        instance: Option<InstanceId>,
        action: &str,
        actor: &str,
        reason: String,
    ) -> Result<()> {
        let event = NewEvent {
            topic: crate::domain::Topic::Audit,
            instance_id: instance,
            kind: crate::domain::EventKind::Audit {
                action: action.to_string(),
                actor: actor.to_string(),
            },
            reason,
            at: self.now(),
        };
        let stored = self.store.append_event(&event).await?;
        self.publish(&stored).await;
        Ok(())
    }

    pub(crate) async fn load(&self, id: InstanceId) -> Result<Option<Instance>> {
        self.store.get_instance(id).await
    }

    pub(crate) async fn load_existing(&self, id: InstanceId) -> Result<Instance> {
        self.load(id)
            .await?
            .ok_or_else(|| Error::not_found("instance", id))
    }

    pub(crate) fn new_job(&self, instance: InstanceId, kind: JobKind) -> NewJob {
        let attempts = match kind {
            JobKind::Rollback { .. } | JobKind::Terminate => {
                self.config.rollback.compensation_attempts
            }
            _ => self.config.workers.max_attempts,
        };
        NewJob::new(instance, kind, self.now(), attempts)
    }

    /// Writes `instance` (read at its `version`) with an optional event, alert and job,
    /// publishes them, and wakes a worker if a job was enqueued. Inside a job the write is
    /// fenced by the job's lease.
    pub(crate) async fn write(
        &self,
        instance: Instance,
        event: Option<NewEvent>,
        alert: Option<NewEvent>,
        job: Option<NewJob>,
    ) -> Result<Instance> {
        let has_job = job.is_some();
        let alert_to_publish = alert.clone();
        let write = InstanceWrite {
            instance,
            event,
            alert,
            job,
            fence: lease::current_fence(),
        };
        let (stored, event) = self.store.update_instance(&write).await?;
        if let Some(event) = event {
            let sequence = event.sequence;
            self.publish(&event).await;
            if let Some(alert) = alert_to_publish {
                // The store appends the alert right after the change's own event.
                self.publish(&Event::from_new(sequence + 1, alert)).await;
            }
        }
        if write.alert.is_some() {
            self.metrics.alerts.incr();
        }
        if has_job {
            self.wake.notify_one();
        }
        Ok(stored)
    }

    /// Moves `instance` to `change.to` if the transition table allows it, writing the event
    /// (and alert and job) in the same transaction. A stale version is `Conflict`.
    pub(crate) async fn transition(&self, instance: &Instance, change: Change) -> Result<Instance> {
        let from = instance.status;
        from.check_transition(change.to)?;
        let now = self.now();
        let mut next = instance.clone();
        next.status = change.to;
        next.status_changed_at = now;
        next.updated_at = now;
        if change.to == InstanceStatus::Active && next.activated_at.is_none() {
            next.activated_at = Some(now);
        }
        if let Some(pending) = change.pending {
            next.pending_request = pending;
        }
        match change.plan_change {
            Some(plan_change) => next.plan_change = plan_change,
            // Whatever way the instance settled, no plan change is under way any more.
            None if change.to.is_settled() && change.to != InstanceStatus::Failed => {
                next.plan_change = None;
            }
            None => {}
        }
        if let Some(plan) = change.plan {
            next.plan = plan;
        }
        match change.last_error {
            Some(error) => next.last_error = Some(error),
            None if matches!(
                change.to,
                InstanceStatus::Active | InstanceStatus::Suspended | InstanceStatus::Terminated
            ) =>
            {
                next.last_error = None;
            }
            None => {}
        }
        let alert = change
            .alert
            .as_deref()
            .map(|code| NewEvent::alert(Some(instance.id), code, &change.reason, now));
        let event =
            NewEvent::status_changed(instance.id, Some(from), change.to, &change.reason, now);
        let job = change.job.map(|kind| self.new_job(instance.id, kind));
        let stored = self.write(next, Some(event), alert, job).await?;
        tracing::info!(instance = %instance.id, %from, to = %change.to, "status changed");
        if let Some(code) = &change.alert {
            tracing::warn!(instance = %instance.id, code = %code, reason = %change.reason, "alert");
        }
        Ok(stored)
    }

    /// Applies `update` to the instance's resources and stores them, re-reading and
    /// re-applying after a version conflict (a concurrent status change must not lose what a
    /// provider just gave us). Returns the stored instance, or `None` if the row is gone.
    pub(crate) async fn record_resources(
        &self,
        instance: &Instance,
        update: impl Fn(&mut Resources),
    ) -> Result<Option<Instance>> {
        let mut current = instance.clone();
        for _ in 0..CAS_ATTEMPTS {
            let mut next = current.clone();
            update(&mut next.resources);
            if next.resources == current.resources {
                return Ok(Some(current));
            }
            next.updated_at = self.now();
            match self.write(next, None, None, None).await {
                Ok(stored) => return Ok(Some(stored)),
                Err(Error::Conflict { .. }) => match self.load(instance.id).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(None),
                },
                Err(other) => return Err(other),
            }
        }
        Err(Error::conflict(format!(
            "instance {} kept changing while its resources were recorded",
            instance.id
        )))
    }

    /// Delay before a failed job runs again: full jitter over an exponential window.
    pub(crate) fn job_backoff(&self, attempt: u32) -> Duration {
        let w = &self.config.workers;
        let exp = attempt.saturating_sub(1).min(20);
        let window = w
            .retry_base
            .saturating_mul(1u32 << exp)
            .min(w.retry_max)
            .as_secs_f64();
        let draw: f64 = match self.rng.lock() {
            Ok(mut rng) => rng.random_range(0.0..=1.0),
            Err(poisoned) => poisoned.into_inner().random_range(0.0..=1.0),
        };
        Duration::from_secs_f64(window * draw)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::Operation;

    #[test]
    fn changes_carry_what_goes_with_them() {
        let c = Change::to(InstanceStatus::RollingBack, "dns timeout")
            .with_job(JobKind::Rollback {
                level: crate::domain::RollbackLevel::Partial,
            })
            .with_error(LastError {
                operation: Operation::Provision,
                rollback_level: None,
                code: "x".into(),
                message: "y".into(),
                at: Utc::now(),
            });
        assert_eq!(c.to, InstanceStatus::RollingBack);
        assert!(c.job.is_some());
        assert!(c.last_error.is_some());
    }
}
