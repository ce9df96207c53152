//! What each job kind does, and how its outcome becomes a status. A job always starts from
//! what the store says; a job whose instance has moved on (terminated, rolled back, deleted)
//! finishes without doing anything.

use chrono::{DateTime, Utc};

use super::config::Trigger;
use super::context::{Change, Engine};
use super::lease;
use super::saga::{self, Run, StepFailure};
use super::steps::health::wait_until_healthy;
use crate::domain::{
    Instance, InstanceId, InstanceStatus, Job, JobKind, LastError, NewEvent, Operation,
    PendingRequest, RollbackLevel, RollbackLogEntry,
};
use crate::error::{Error, Result};
use crate::ports::InstanceDelete;

/// What the worker does with a job after running it.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Finished (including "nothing to do").
    Done,
    /// Failed in a way another attempt may fix; run it again after a backoff.
    Retry(Error),
    /// Shutdown: hand the job back without counting the attempt.
    Interrupted,
}

/// Whether another attempt of the job may succeed: the cause of the error (looking through
/// retries that ran out inside this attempt) is transient. Job attempts back off far longer
/// than provider retries, so an outage of minutes is waited out here.
fn worth_retrying(error: &Error) -> bool {
    error.root().is_retryable()
}

/// Whether `error` means the job's lease is gone (the job must stop and settle nothing).
pub(crate) fn is_lease_lost(error: &Error) -> bool {
    matches!(error.root(), Error::LeaseLost { .. })
}

/// Runs one job. An `Err` is an unexpected failure (the store is down): the job is retried.
pub(crate) async fn execute(run: &Run<'_>, job: &Job) -> Result<Outcome> {
    let result = match job.kind {
        JobKind::Provision => provision(run, job.instance_id).await,
        JobKind::Suspend => suspend(run, job.instance_id).await,
        JobKind::Unsuspend => unsuspend(run, job.instance_id).await,
        JobKind::Terminate => terminate(run, job.instance_id).await,
        JobKind::Rollback { level } => rollback(run, job.instance_id, level).await,
        JobKind::ChangePlan => super::resize::change_plan(run, job.instance_id).await,
        // Created running by the sweep, which does its work under it; a rescued one has
        // nothing left to do (the next sweep looks again).
        JobKind::Sweep => Ok(Outcome::Done),
    };
    match result {
        // The row is gone (a full rollback finished): nothing left to do.
        Err(Error::NotFound {
            kind: "instance", ..
        }) => Ok(Outcome::Done),
        other => other,
    }
}

/// Applies `change` to the current version of the instance if its status is one of `from`;
/// `None` when it is not (or the row is gone). Retries version conflicts.
pub(crate) async fn transition_latest(
    engine: &Engine,
    id: InstanceId,
    from: &[InstanceStatus],
    change: Change,
) -> Result<Option<Instance>> {
    transition_latest_with(engine, id, from, |_| change.clone()).await
}

/// As [`transition_latest`], with the change decided from the instance as it is now.
pub(crate) async fn transition_latest_with(
    engine: &Engine,
    id: InstanceId,
    from: &[InstanceStatus],
    change: impl Fn(&Instance) -> Change,
) -> Result<Option<Instance>> {
    for _ in 0..8 {
        let Some(current) = engine.load(id).await? else {
            return Ok(None);
        };
        if !from.contains(&current.status) {
            return Ok(None);
        }
        match engine.transition(&current, change(&current)).await {
            Ok(stored) => return Ok(Some(stored)),
            Err(Error::Conflict { .. }) => continue,
            Err(other) => return Err(other),
        }
    }
    Err(Error::conflict(format!(
        "instance {id} kept changing; try again"
    )))
}

fn last_error(
    engine: &Engine,
    operation: Operation,
    level: Option<RollbackLevel>,
    error: &Error,
) -> LastError {
    LastError {
        operation,
        rollback_level: level,
        code: error.root().code().to_string(),
        message: error.to_string(),
        at: engine.now(),
    }
}

/// Stops work on the instance for manual intervention: `failed`, with the error kept and an
/// alert raised in the same write. Does nothing if the instance is no longer in one of
/// `from`.
pub(crate) async fn fail_instance(
    engine: &Engine,
    id: InstanceId,
    from: &[InstanceStatus],
    operation: Operation,
    level: Option<RollbackLevel>,
    error: &Error,
    alert_code: &str,
) -> Result<()> {
    let reason = format!("{operation} failed: {error}");
    let change = Change::to(InstanceStatus::Failed, reason)
        .with_error(last_error(engine, operation, level, error))
        .with_alert(alert_code);
    transition_latest(engine, id, from, change).await?;
    Ok(())
}

async fn provision(run: &Run<'_>, id: InstanceId) -> Result<Outcome> {
    let engine = run.engine;
    let mut instance = engine.load_existing(id).await?;
    if instance.status == InstanceStatus::Pending {
        let change = Change::to(InstanceStatus::Provisioning, "provisioning started");
        match transition_latest(engine, id, &[InstanceStatus::Pending], change).await? {
            Some(started) => {
                engine.metrics.provisions_started.incr();
                instance = started;
            }
            None => instance = engine.load_existing(id).await?,
        }
    }
    if instance.status != InstanceStatus::Provisioning {
        return Ok(Outcome::Done);
    }
    match saga::provision(run, instance).await {
        Ok(_) | Err(StepFailure::Superseded) => Ok(Outcome::Done),
        Err(StepFailure::Interrupted) => Ok(Outcome::Interrupted),
        Err(StepFailure::LeaseLost(error)) => Err(*error),
        Err(StepFailure::Failed { error, triggers }) => {
            let error = *error;
            let policy = &engine.config.rollback;
            if let Some(trigger) = triggers.into_iter().find(|t| policy.enabled(*t)) {
                start_rollback(engine, id, trigger, &error).await?;
                Ok(Outcome::Done)
            } else if worth_retrying(&error) {
                Ok(Outcome::Retry(error))
            } else {
                provisioning_cannot_finish(engine, id, Trigger::PermanentError, &error).await?;
                Ok(Outcome::Done)
            }
        }
    }
}

/// A provisioning that cannot finish: rolled back through `trigger` when it is enabled,
/// else `failed` with an alert.
pub(crate) async fn provisioning_cannot_finish(
    engine: &Engine,
    id: InstanceId,
    trigger: Trigger,
    error: &Error,
) -> Result<()> {
    if engine.config.rollback.enabled(trigger) {
        return start_rollback(engine, id, trigger, error).await;
    }
    fail_instance(
        engine,
        id,
        &[InstanceStatus::Pending, InstanceStatus::Provisioning],
        Operation::Provision,
        None,
        error,
        "provision_failed",
    )
    .await
}

/// An automatic rollback: soft marks `failed` (with its alert); partial and full enqueue
/// the compensation.
pub(crate) async fn start_rollback(
    engine: &Engine,
    id: InstanceId,
    trigger: Trigger,
    error: &Error,
) -> Result<()> {
    let level = engine.config.rollback.level;
    tracing::warn!(instance = %id, %trigger, %level, %error, "automatic rollback");
    let mut recorded = last_error(engine, Operation::Provision, None, error);
    recorded.message = format!("{trigger}: {error}");
    let reason = format!("automatic rollback ({trigger}): {error}");
    let from = [InstanceStatus::Pending, InstanceStatus::Provisioning];
    let change = match level {
        RollbackLevel::Soft => Change::to(InstanceStatus::Failed, reason)
            .with_error(recorded)
            .with_alert("manual_intervention_required"),
        RollbackLevel::Partial | RollbackLevel::Full => {
            Change::to(InstanceStatus::RollingBack, reason)
                .with_job(JobKind::Rollback { level })
                .with_error(recorded)
        }
    };
    if transition_latest(engine, id, &from, change)
        .await?
        .is_some()
        && level != RollbackLevel::Soft
    {
        engine.metrics.rollbacks_started.incr();
    }
    Ok(())
}

/// Maps the error of a compensating job (rollback, terminate) to an outcome: retry while
/// retrying may help, else `failed` with an alert.
async fn compensation_failed(
    engine: &Engine,
    instance: &Instance,
    operation: Operation,
    level: Option<RollbackLevel>,
    error: Error,
) -> Result<Outcome> {
    if worth_retrying(&error) {
        return Ok(Outcome::Retry(error));
    }
    let code = match operation {
        Operation::Rollback => "rollback_failed",
        _ => "terminate_failed",
    };
    if operation == Operation::Rollback {
        engine
            .metrics
            .rollback_finished(false, elapsed_since(engine, instance.status_changed_at));
    }
    fail_instance(
        engine,
        instance.id,
        &[instance.status],
        operation,
        level,
        &error,
        code,
    )
    .await?;
    Ok(Outcome::Done)
}

fn elapsed_since(engine: &Engine, since: DateTime<Utc>) -> std::time::Duration {
    (engine.now() - since).to_std().unwrap_or_default()
}

async fn rollback(run: &Run<'_>, id: InstanceId, level: RollbackLevel) -> Result<Outcome> {
    let engine = run.engine;
    let instance = engine.load_existing(id).await?;
    if instance.status != InstanceStatus::RollingBack {
        return Ok(Outcome::Done);
    }
    let started = instance.status_changed_at;
    let (cleared, deleted) = match saga::compensate(run, instance.clone()).await {
        Ok(done) => done,
        Err(error) if is_lease_lost(&error) => return Err(error),
        Err(error) => {
            return compensation_failed(engine, &instance, Operation::Rollback, Some(level), error)
                .await
        }
    };
    let summary = if deleted.is_empty() {
        "nothing to delete".to_string()
    } else {
        format!("deleted {}", deleted.join(", "))
    };
    match level {
        RollbackLevel::Full => finish_full_rollback(engine, cleared, deleted, &summary).await?,
        RollbackLevel::Partial | RollbackLevel::Soft => {
            let change = Change::to(
                InstanceStatus::RolledBack,
                format!("rolled back ({level}): {summary}"),
            );
            if transition_latest(engine, id, &[InstanceStatus::RollingBack], change)
                .await?
                .is_none()
            {
                return Ok(Outcome::Done);
            }
        }
    }
    engine
        .metrics
        .rollback_finished(true, elapsed_since(engine, started));
    Ok(Outcome::Done)
}

/// Deletes the row, writing the final event and the rollback log entry in the same
/// transaction.
async fn finish_full_rollback(
    engine: &Engine,
    instance: Instance,
    deleted: Vec<String>,
    summary: &str,
) -> Result<()> {
    let mut current = instance;
    for _ in 0..8 {
        let now = engine.now();
        let reason = format!("rolled back (full, record deleted): {summary}");
        let event = NewEvent::status_changed(
            current.id,
            Some(current.status),
            InstanceStatus::RolledBack,
            reason.clone(),
            now,
        );
        let log = RollbackLogEntry {
            instance_id: current.id,
            level: RollbackLevel::Full,
            reason: current
                .last_error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_else(|| "requested".to_string()),
            deleted: deleted.clone(),
            instance: current.clone(),
            at: now,
        };
        let delete = InstanceDelete {
            id: current.id,
            expected_version: current.version,
            event,
            log,
            fence: lease::current_fence(),
        };
        match engine.store.delete_instance(&delete).await {
            Ok(stored) => {
                engine.publish(&stored).await;
                return Ok(());
            }
            Err(Error::Conflict { .. }) => match engine.load(current.id).await? {
                Some(fresh) if fresh.status == InstanceStatus::RollingBack => current = fresh,
                _ => return Ok(()),
            },
            Err(other) => return Err(other),
        }
    }
    Err(Error::conflict(
        "instance kept changing while it was deleted",
    ))
}

async fn terminate(run: &Run<'_>, id: InstanceId) -> Result<Outcome> {
    let engine = run.engine;
    let instance = engine.load_existing(id).await?;
    if instance.status != InstanceStatus::Terminating {
        return Ok(Outcome::Done);
    }
    let deleted = match saga::compensate(run, instance.clone()).await {
        Ok((_, deleted)) => deleted,
        Err(error) if is_lease_lost(&error) => return Err(error),
        Err(error) => {
            return compensation_failed(engine, &instance, Operation::Terminate, None, error).await
        }
    };
    let reason = if deleted.is_empty() {
        "terminated; nothing was left to delete".to_string()
    } else {
        format!("terminated; deleted {}", deleted.join(", "))
    };
    let change = Change::to(InstanceStatus::Terminated, reason);
    transition_latest(engine, id, &[InstanceStatus::Terminating], change).await?;
    Ok(Outcome::Done)
}

/// The instance's server id: the recorded one, or the one its label finds.
pub(crate) async fn server_of(
    engine: &Engine,
    instance: &Instance,
) -> Result<Option<crate::domain::ServerId>> {
    if let Some(id) = &instance.resources.server_id {
        return Ok(Some(id.clone()));
    }
    Ok(engine.compute.find_server(instance.id).await?.map(|s| s.id))
}

/// Maps the error of a power operation to an outcome.
async fn power_failed(
    engine: &Engine,
    instance: &Instance,
    operation: Operation,
    error: Error,
) -> Result<Outcome> {
    if is_lease_lost(&error) {
        return Err(error);
    }
    if worth_retrying(&error) {
        return Ok(Outcome::Retry(error));
    }
    let code = format!("{operation}_failed");
    fail_instance(
        engine,
        instance.id,
        &[instance.status],
        operation,
        None,
        &error,
        &code,
    )
    .await?;
    Ok(Outcome::Done)
}

async fn suspend(run: &Run<'_>, id: InstanceId) -> Result<Outcome> {
    let engine = run.engine;
    let mut instance = engine.load_existing(id).await?;
    if instance.status == InstanceStatus::Active
        && instance.pending_request == Some(PendingRequest::Suspend)
    {
        // Billing asked for this while the instance was still being provisioned.
        let change =
            Change::to(InstanceStatus::Suspending, "suspend requested earlier").with_pending(None);
        match transition_latest(engine, id, &[InstanceStatus::Active], change).await? {
            Some(suspending) => instance = suspending,
            None => return Ok(Outcome::Done),
        }
    }
    if instance.status != InstanceStatus::Suspending {
        return Ok(Outcome::Done);
    }
    let powered_off = async {
        if let Some(server) = server_of(engine, &instance).await? {
            engine.compute.power_off(&server).await?;
        }
        Ok::<_, Error>(())
    };
    if let Err(error) = powered_off.await {
        return power_failed(engine, &instance, Operation::Suspend, error).await;
    }
    transition_latest_with(engine, id, &[InstanceStatus::Suspending], |current| {
        let unsuspend = current.pending_request == Some(PendingRequest::Unsuspend);
        Change::to(InstanceStatus::Suspended, "powered off")
            .with_job_if(unsuspend, JobKind::Unsuspend)
    })
    .await?;
    Ok(Outcome::Done)
}

async fn unsuspend(run: &Run<'_>, id: InstanceId) -> Result<Outcome> {
    let engine = run.engine;
    let mut instance = engine.load_existing(id).await?;
    if instance.status == InstanceStatus::Suspended
        && instance.pending_request == Some(PendingRequest::Unsuspend)
    {
        // Billing asked for this while the instance was still being suspended.
        let change = Change::to(InstanceStatus::Unsuspending, "unsuspend requested earlier")
            .with_pending(None);
        match transition_latest(engine, id, &[InstanceStatus::Suspended], change).await? {
            Some(unsuspending) => instance = unsuspending,
            None => return Ok(Outcome::Done),
        }
    }
    if instance.status != InstanceStatus::Unsuspending {
        return Ok(Outcome::Done);
    }
    let powered_on = async {
        match server_of(engine, &instance).await? {
            Some(server) => engine.compute.power_on(&server).await,
            None => Err(Error::not_found("server", format!("of instance {id}"))),
        }
    };
    if let Err(error) = powered_on.await {
        return power_failed(engine, &instance, Operation::Unsuspend, error).await;
    }
    let timeout = chrono::Duration::from_std(engine.config.health.unsuspend_timeout)
        .unwrap_or(chrono::Duration::MAX);
    let deadline = instance.status_changed_at + timeout;
    match wait_until_healthy(
        run,
        instance.clone(),
        InstanceStatus::Unsuspending,
        deadline,
    )
    .await
    {
        Ok(_) => {}
        Err(StepFailure::Superseded) => return Ok(Outcome::Done),
        Err(StepFailure::Interrupted) => return Ok(Outcome::Interrupted),
        Err(StepFailure::LeaseLost(error)) => return Err(*error),
        Err(StepFailure::Failed { error, .. }) => {
            // Powered on but not healthy: retrying the job would only power on again.
            fail_instance(
                engine,
                id,
                &[InstanceStatus::Unsuspending],
                Operation::Unsuspend,
                None,
                &error,
                "unsuspend_failed",
            )
            .await?;
            return Ok(Outcome::Done);
        }
    }
    transition_latest_with(engine, id, &[InstanceStatus::Unsuspending], |current| {
        let suspend = current.pending_request == Some(PendingRequest::Suspend);
        Change::to(InstanceStatus::Active, "powered on and healthy")
            .with_job_if(suspend, JobKind::Suspend)
    })
    .await?;
    Ok(Outcome::Done)
}

/// A job ran out of attempts: what it drove moves on. A provisioning rolls back (or goes
/// `failed` when that trigger is off); any other operation goes `failed` with an alert.
/// Nothing happens if something else already moved the instance on.
pub(crate) async fn on_dead_job(engine: &Engine, job: &Job, error: &str) -> Result<()> {
    engine.metrics.jobs_dead.incr();
    let Some(instance) = engine.load(job.instance_id).await? else {
        return Ok(());
    };
    settle_dead_job(engine, job, &instance, error).await
}

/// Moves on `instance`, whose job `job` is dead, by the status the instance is in (a
/// stranded instance may be in a status another, older job left it in).
pub(crate) async fn settle_dead_job(
    engine: &Engine,
    job: &Job,
    instance: &Instance,
    error: &str,
) -> Result<()> {
    let error = Error::RetriesExhausted {
        attempts: job.attempts,
        last: Box::new(Error::internal(error.to_string())),
    };
    let (operation, level) = match instance.status {
        InstanceStatus::Pending | InstanceStatus::Provisioning => {
            return provisioning_cannot_finish(
                engine,
                instance.id,
                Trigger::AttemptsExhausted,
                &error,
            )
            .await;
        }
        InstanceStatus::Suspending => (Operation::Suspend, None),
        InstanceStatus::Unsuspending => (Operation::Unsuspend, None),
        InstanceStatus::Terminating => (Operation::Terminate, None),
        InstanceStatus::Resizing => (Operation::ChangePlan, None),
        InstanceStatus::RollingBack => {
            let level = match job.kind {
                JobKind::Rollback { level } => level,
                _ => engine.config.rollback.level,
            };
            engine
                .metrics
                .rollback_finished(false, elapsed_since(engine, instance.status_changed_at));
            (Operation::Rollback, Some(level))
        }
        // Settled already: nothing waits on the job.
        _ => return Ok(()),
    };
    fail_instance(
        engine,
        instance.id,
        &[instance.status],
        operation,
        level,
        &error,
        "job_dead",
    )
    .await
}
