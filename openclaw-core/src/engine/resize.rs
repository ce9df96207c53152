//! The plan-change job: move an instance's server to another plan's server type, keeping its
//! disk, and back to the old type if the new one fails.
//!
//! Every step is idempotent (power off, change type, power on, wait for health), so a job
//! attempt that was cut short simply runs them again. Once the new type has failed for good,
//! `plan_change.reverting` is stored before the way back begins: a later attempt (or a
//! `retry` of an instance that failed on the way back) continues back, never forward again.

use chrono::Duration;

use super::context::{Change, Engine};
use super::jobs::{self, Outcome};
use super::saga::{Run, StepFailure};
use super::steps::health::wait_until_healthy;
use crate::domain::{
    Instance, InstanceId, InstanceStatus, JobKind, LastError, NewEvent, Operation, PendingRequest,
    PlanChange, PlanName,
};
use crate::error::{Error, Result};

use InstanceStatus::Resizing;

/// How moving the server to a type ended short of success.
enum Stop {
    /// The job stops here with this outcome (retry later, interrupted, or nothing to do).
    Outcome(Outcome),
    /// The job's lease is gone: stop and settle nothing.
    LeaseLost(Error),
    /// The type (or the server on it) failed in a way another attempt would not fix.
    Failed(Error),
}

impl Stop {
    fn from_error(error: Error) -> Stop {
        if jobs::is_lease_lost(&error) {
            Stop::LeaseLost(error)
        } else if error.root().is_retryable() {
            Stop::Outcome(Outcome::Retry(error))
        } else {
            Stop::Failed(error)
        }
    }
}

/// Runs the `ChangePlan` job of instance `id`.
pub(crate) async fn change_plan(run: &Run<'_>, id: InstanceId) -> Result<Outcome> {
    let engine = run.engine;
    let instance = engine.load_existing(id).await?;
    if instance.status != Resizing {
        return Ok(Outcome::Done);
    }
    let Some(change) = instance.plan_change.clone() else {
        let error = Error::internal("the instance is resizing with no plan change recorded");
        return fail(engine, id, &error).await;
    };
    let instance = if change.reverting {
        instance
    } else {
        let deadline = instance.status_changed_at + timeout(engine);
        let error = match move_to(run, &instance, &change, &change.to, deadline).await {
            Ok(()) => {
                settle(engine, id, None).await?;
                return Ok(Outcome::Done);
            }
            Err(Stop::Outcome(outcome)) => return Ok(outcome),
            Err(Stop::LeaseLost(error)) => return Err(error),
            Err(Stop::Failed(error)) => error,
        };
        match mark_reverting(engine, id, &error).await? {
            Some(reverting) => reverting,
            None => return Ok(Outcome::Done),
        }
    };
    revert(run, instance).await
}

/// Moves the server back to the old plan's type and returns the instance to where it was,
/// on its old plan, with the error that made the change fail.
async fn revert(run: &Run<'_>, instance: Instance) -> Result<Outcome> {
    let engine = run.engine;
    let Some(change) = instance.plan_change.clone() else {
        return Ok(Outcome::Done);
    };
    let deadline = engine.now() + timeout(engine);
    match move_to(run, &instance, &change, &change.from, deadline).await {
        Ok(()) => {
            settle(engine, instance.id, instance.last_error.clone()).await?;
            Ok(Outcome::Done)
        }
        Err(Stop::Outcome(outcome)) => Ok(outcome),
        Err(Stop::LeaseLost(error)) => Err(error),
        Err(Stop::Failed(error)) => fail(engine, instance.id, &error).await,
    }
}

/// Stops the change for a person: `failed` with the error and an alert. The plan change
/// stays recorded, so `retry` knows where the instance was going (or coming back from).
async fn fail(engine: &Engine, id: InstanceId, error: &Error) -> Result<Outcome> {
    jobs::fail_instance(
        engine,
        id,
        &[Resizing],
        Operation::ChangePlan,
        None,
        error,
        "change_plan_failed",
    )
    .await?;
    Ok(Outcome::Done)
}

/// Powers the server off, changes it to `plan`'s server type, and — when the instance returns
/// to `active` — powers it on and waits until it is healthy by `deadline`.
async fn move_to(
    run: &Run<'_>,
    instance: &Instance,
    change: &PlanChange,
    plan: &PlanName,
    deadline: chrono::DateTime<chrono::Utc>,
) -> std::result::Result<(), Stop> {
    let engine = run.engine;
    let server_type = engine
        .config
        .catalog
        .plans
        .get(plan.as_str())
        .map(|p| p.server_type.clone())
        .ok_or_else(|| {
            Stop::Failed(Error::invalid(
                "plan",
                format!("plan {plan} is no longer in the catalog"),
            ))
        })?;
    let server = match jobs::server_of(engine, instance).await {
        Ok(Some(server)) => server,
        Ok(None) => {
            return Err(Stop::Failed(Error::not_found(
                "server",
                format!("of instance {}", instance.id),
            )))
        }
        Err(error) => return Err(Stop::from_error(error)),
    };
    engine
        .compute
        .power_off(&server)
        .await
        .map_err(Stop::from_error)?;
    engine
        .compute
        .change_type(&server, &server_type)
        .await
        .map_err(Stop::from_error)?;
    tracing::info!(instance = %instance.id, %plan, %server_type, "server type changed");
    if change.resume != InstanceStatus::Active {
        // A suspended instance stays powered off.
        return Ok(());
    }
    engine
        .compute
        .power_on(&server)
        .await
        .map_err(Stop::from_error)?;
    match wait_until_healthy(run, instance.clone(), Resizing, deadline).await {
        Ok(_) => Ok(()),
        Err(StepFailure::Superseded) => Err(Stop::Outcome(Outcome::Done)),
        Err(StepFailure::Interrupted) => Err(Stop::Outcome(Outcome::Interrupted)),
        Err(StepFailure::LeaseLost(error)) => Err(Stop::LeaseLost(*error)),
        Err(StepFailure::Failed { error, .. }) => Err(Stop::Failed(*error)),
    }
}

/// Stores that the change failed for good (`reverting`, with the error in `last_error`) and
/// raises an alert, in one write. `None` when the instance is no longer resizing.
async fn mark_reverting(
    engine: &Engine,
    id: InstanceId,
    error: &Error,
) -> Result<Option<Instance>> {
    for _ in 0..8 {
        let Some(current) = engine.load(id).await? else {
            return Ok(None);
        };
        let Some(change) = current.plan_change.clone() else {
            return Ok(None);
        };
        if current.status != Resizing {
            return Ok(None);
        }
        let now = engine.now();
        let reason = format!(
            "the change to plan {} failed; moving back to plan {}: {error}",
            change.to, change.from
        );
        let mut next = current.clone();
        next.plan_change = Some(PlanChange {
            reverting: true,
            ..change
        });
        next.last_error = Some(LastError {
            operation: Operation::ChangePlan,
            rollback_level: None,
            code: error.root().code().to_string(),
            message: error.to_string(),
            at: now,
        });
        next.updated_at = now;
        let alert = NewEvent::alert(Some(id), "plan_change_failed", &reason, now);
        match engine.write(next, Some(alert), None, None).await {
            Ok(stored) => {
                engine.metrics.alerts.incr();
                tracing::warn!(instance = %id, %reason, "plan change failed; reverting");
                return Ok(Some(stored));
            }
            Err(Error::Conflict { .. }) => continue,
            Err(other) => return Err(other),
        }
    }
    Err(Error::conflict(format!(
        "instance {id} kept changing; try again"
    )))
}

/// Returns the instance to the status its plan change came from: on the new plan, or — with
/// `error`, after a revert — on the old one. A billing request that waited for the change
/// to end is carried out next.
async fn settle(engine: &Engine, id: InstanceId, error: Option<LastError>) -> Result<()> {
    jobs::transition_latest_with(engine, id, &[Resizing], |current| {
        let Some(change) = current.plan_change.clone() else {
            return Change::to(InstanceStatus::Failed, "no plan change recorded");
        };
        let follow_up = match (change.resume, current.pending_request) {
            (InstanceStatus::Active, Some(PendingRequest::Suspend)) => Some(JobKind::Suspend),
            (InstanceStatus::Suspended, Some(PendingRequest::Unsuspend)) => {
                Some(JobKind::Unsuspend)
            }
            _ => None,
        };
        let settled = match &error {
            None => Change::to(change.resume, format!("moved to plan {}", change.to))
                .with_plan(change.to),
            Some(error) => Change::to(
                change.resume,
                format!(
                    "back on plan {} after the change to plan {} failed",
                    change.from, change.to
                ),
            )
            .with_error(error.clone()),
        };
        let settled = settled.with_plan_change(None);
        match follow_up {
            Some(job) => settled.with_job(job),
            None => settled,
        }
    })
    .await?;
    Ok(())
}

fn timeout(engine: &Engine) -> Duration {
    Duration::from_std(engine.config.health.resize_timeout).unwrap_or(Duration::MAX)
}
