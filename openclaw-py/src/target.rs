//! What a Python object drives: the embedded provisioner or a remote server, behind the same
//! asynchronous operations, each answering with the API's JSON (the Python layer turns it
//! into `Instance`, `Event`, …).

use std::sync::Arc;
use std::time::{Duration, Instant};

use openclaw_core::domain::{CustomerId, InstanceFilter, InstanceStatus, RollbackLevel};
use openclaw_core::Error;
use serde::Serialize;

use crate::embedded::{Embedded, Operation};
use crate::errors::{Failure, Outcome};
use crate::events::Cursor;
use crate::remote::Remote;

/// The embedded provisioner or a server.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// In this process.
    Embedded(Arc<Embedded>),
    /// Over HTTP.
    Remote(Arc<Remote>),
}

fn json<T: Serialize>(value: &T) -> Outcome<String> {
    serde_json::to_string(value)
        .map_err(|e| Failure::Core(Error::internal(format!("cannot write JSON: {e}"))))
}

/// Parses a status name.
pub(crate) fn status(text: &str) -> Outcome<InstanceStatus> {
    text.parse::<InstanceStatus>()
        .map_err(|_| Failure::Core(Error::invalid("status", format!("unknown status {text:?}"))))
}

/// Parses an operation's name and arguments.
pub(crate) fn operation(name: &str, id: String, argument: Option<String>) -> Outcome<Operation> {
    Ok(match (name, argument) {
        ("suspend", _) => Operation::Suspend(id),
        ("unsuspend", _) => Operation::Unsuspend(id),
        ("terminate", _) => Operation::Terminate(id),
        ("retry", _) => Operation::Retry(id),
        ("rollback", level) => {
            let level = level.unwrap_or_else(|| "partial".to_string());
            let level = level.parse::<RollbackLevel>().map_err(|_| {
                Failure::Core(Error::invalid(
                    "level",
                    format!("unknown rollback level {level:?}; use soft, partial or full"),
                ))
            })?;
            Operation::Rollback(id, level)
        }
        ("change_plan", Some(plan)) => Operation::ChangePlan(id, plan),
        (other, _) => {
            return Err(Failure::Core(Error::invalid(
                "operation",
                format!("unknown operation {other:?}"),
            )))
        }
    })
}

impl Target {
    /// The embedded provisioner, or `InvalidInput` naming what needs one.
    pub(crate) fn embedded(&self, what: &str) -> Outcome<&Arc<Embedded>> {
        match self {
            Target::Embedded(embedded) => Ok(embedded),
            Target::Remote(_) => Err(Failure::Core(Error::invalid(
                "operation",
                format!("{what} runs on an embedded Provisioner, not a Client"),
            ))),
        }
    }

    /// Accepts an order.
    pub(crate) async fn create(
        &self,
        order: openclaw_core::domain::CreateInstance,
    ) -> Outcome<String> {
        let view = match self {
            Target::Embedded(e) => e.create(order).await?,
            Target::Remote(r) => r.create(order).await?,
        };
        json(&view)
    }

    /// One instance.
    pub(crate) async fn get(&self, id: &str) -> Outcome<String> {
        let view = match self {
            Target::Embedded(e) => e.get(id).await?,
            Target::Remote(r) => r.get(id).await?,
        };
        json(&view)
    }

    /// Every instance matching.
    pub(crate) async fn list(
        &self,
        customer_id: Option<String>,
        status_name: Option<String>,
    ) -> Outcome<String> {
        let views = match self {
            Target::Embedded(e) => {
                let filter = InstanceFilter {
                    customer_id: customer_id.as_deref().map(CustomerId::parse).transpose()?,
                    status: status_name.as_deref().map(status).transpose()?,
                    ..InstanceFilter::default()
                };
                e.list(filter).await?
            }
            Target::Remote(r) => {
                if let Some(name) = &status_name {
                    status(name)?;
                }
                r.list(customer_id, status_name).await?
            }
        };
        json(&views)
    }

    /// An instance operation.
    pub(crate) async fn operate(&self, operation: Operation) -> Outcome<String> {
        let view = match self {
            Target::Embedded(e) => e.operate(operation).await?,
            Target::Remote(r) => r.operate(operation).await?,
        };
        json(&view)
    }

    /// An instance's events.
    pub(crate) async fn instance_events(&self, id: &str) -> Outcome<String> {
        let views = match self {
            Target::Embedded(e) => e.instance_events(id).await?,
            Target::Remote(r) => r.instance_events(id).await?,
        };
        json(&views)
    }

    /// A sweep.
    pub(crate) async fn sweep(&self, dry_run: bool) -> Outcome<String> {
        let view = match self {
            Target::Embedded(e) => e.sweep(dry_run).await?,
            Target::Remote(r) => r.sweep(dry_run).await?,
        };
        json(&view)
    }

    /// An event cursor.
    pub(crate) async fn events(&self, after: u64, follow: bool) -> Outcome<Cursor> {
        match self {
            Target::Embedded(e) => Cursor::embedded(e, after, follow).await,
            Target::Remote(r) => Cursor::remote(r.clone(), after, follow).await,
        }
    }

    /// Polls the instance until it is in `wanted`; `Timeout` after `timeout`. An instance
    /// that settles in another status it cannot leave on its own (failed, rolled back,
    /// terminated) ends the wait early with `InvalidTransition`.
    pub(crate) async fn wait(&self, id: &str, wanted: &str, timeout: Duration) -> Outcome<String> {
        let wanted = status(wanted)?;
        let deadline = Instant::now() + timeout;
        let pause = match self {
            Target::Embedded(_) => Duration::from_millis(20),
            Target::Remote(_) => Duration::from_millis(100),
        };
        loop {
            let text = self.get(id).await?;
            let now: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Failure::Core(Error::internal(e.to_string())))?;
            let current = status(now["status"].as_str().unwrap_or_default())?;
            if current == wanted {
                return Ok(text);
            }
            let settled_elsewhere = matches!(
                current,
                InstanceStatus::Failed | InstanceStatus::RolledBack | InstanceStatus::Terminated
            );
            if settled_elsewhere {
                return Err(Failure::Core(Error::InvalidTransition {
                    from: current,
                    to: wanted,
                }));
            }
            if Instant::now() >= deadline {
                return Err(Failure::Timeout(format!(
                    "instance {id} is {current}, not {wanted}, after {:.1} s",
                    timeout.as_secs_f64()
                )));
            }
            tokio::time::sleep(pause).await;
        }
    }
}
