//! Why a write was refused. A store's write is one conditional statement (lease, fence,
//! version, status); when it matches nothing the store reads what it found instead — the
//! instance's version and status, the fencing job's lease — and these functions name the
//! reason the way the `Store` contract does, in its order: the fence first (`LeaseLost`),
//! then the instance (`NotFound`, `Conflict`, `InvalidInput`).

use openclaw_core::domain::{JobState, Lease};
use openclaw_core::ports::{InstanceDelete, InstanceWrite};
use openclaw_core::{Error, Result};
use uuid::Uuid;

use crate::numbers::to_u64;

/// What a job's row says about its lease, read by a store after a call or a write that
/// presented a lease of that job matched nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// The job's state.
    pub state: JobState,
    /// The token of its current lease, if any.
    pub token: Option<Uuid>,
    /// Whether that lease is still live by the store's clock (`lease_expires_at > now`).
    pub live: bool,
}

/// Where a presented lease stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseCheck {
    /// It is the job's current lease and has not run out.
    Held,
    /// It is the job's current lease, but it has run out (nobody rescued the job yet).
    RanOut,
    /// The job is held under another lease, or by nobody (released, finished, rescued).
    NotHeld,
    /// The job does not exist.
    NoJob,
}

impl LeaseCheck {
    /// Where `lease` stands, given the row of its job (`None`: no such job).
    pub fn of(lease: &Lease, row: Option<&LeaseRow>) -> Self {
        match row {
            None => LeaseCheck::NoJob,
            Some(row) if row.state != JobState::Running || row.token != Some(lease.token) => {
                LeaseCheck::NotHeld
            }
            Some(row) if row.live => LeaseCheck::Held,
            Some(_) => LeaseCheck::RanOut,
        }
    }
}

/// Refuses an alert written without the event of its change (`InvalidInput`): checked
/// before anything is sent to the database.
pub fn check_alert(write: &InstanceWrite) -> Result<()> {
    if write.alert.is_some() && write.event.is_none() {
        return Err(Error::invalid(
            "alert",
            "an alert is written together with the event of its change",
        ));
    }
    Ok(())
}

/// Why `operation` (a heartbeat, a completion, a failure, a release) presenting `lease`
/// matched nothing: the job is unknown (`NotFound`), or the lease is lost (`LeaseLost`,
/// never retried: the worker must stop).
pub fn lease_refusal(operation: &str, lease: &Lease, row: Option<&LeaseRow>) -> Error {
    match LeaseCheck::of(lease, row) {
        LeaseCheck::NoJob => Error::not_found("job", lease.job_id),
        LeaseCheck::RanOut => lease_lost(operation, lease, "the lease ran out"),
        // Held: the call lost a race with a change of the same lease that has since been
        // undone, which fresh tokens make impossible; say what is safe to say.
        LeaseCheck::NotHeld | LeaseCheck::Held => lease_lost(
            operation,
            lease,
            "the job is no longer held under this lease",
        ),
    }
}

/// What a store found after a fenced or versioned write of an instance matched nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// The instance's stored version and status, if it exists.
    pub instance: Option<(i64, String)>,
    /// The row of the fencing job, if the write had a fence and the job exists.
    pub fence_job: Option<LeaseRow>,
}

impl Found {
    /// Why `write` was not written.
    pub fn update_refusal(&self, write: &InstanceWrite) -> Error {
        if let Some(lost) = self.fence_refusal(write.fence.as_ref(), "update_instance") {
            return lost;
        }
        let id = write.instance.id;
        match &self.instance {
            None => Error::not_found("instance", id),
            Some((version, status)) if self.is_version(*version, write.instance.version) => {
                Error::invalid(
                    "event",
                    format!(
                        "the change of instance {id} from {status} to {} must be written with \
                         its event",
                        write.instance.status
                    ),
                )
            }
            Some((version, _)) => Error::conflict(format!(
                "instance {id} is at version {version}, not {}",
                write.instance.version
            )),
        }
    }

    /// Why `delete` was not carried out.
    pub fn delete_refusal(&self, delete: &InstanceDelete) -> Error {
        if let Some(lost) = self.fence_refusal(delete.fence.as_ref(), "delete_instance") {
            return lost;
        }
        match &self.instance {
            None => Error::not_found("instance", delete.id),
            Some((version, _)) => Error::conflict(format!(
                "instance {} is at version {version}, not {}",
                delete.id, delete.expected_version
            )),
        }
    }

    /// `LeaseLost` when `fence` is what failed; `None` when there was no fence or it holds.
    fn fence_refusal(&self, fence: Option<&Lease>, operation: &str) -> Option<Error> {
        let fence = fence?;
        match LeaseCheck::of(fence, self.fence_job.as_ref()) {
            LeaseCheck::Held => None,
            LeaseCheck::RanOut => Some(lease_lost(
                operation,
                fence,
                "the lease ran out before the write",
            )),
            LeaseCheck::NotHeld | LeaseCheck::NoJob => Some(lease_lost(
                operation,
                fence,
                "the job is no longer held under this lease",
            )),
        }
    }

    fn is_version(&self, stored: i64, expected: u64) -> bool {
        to_u64(stored, "instances.version").ok() == Some(expected)
    }
}

fn lease_lost(operation: &str, lease: &Lease, why: &str) -> Error {
    Error::lease_lost(lease.job_id, format!("{operation}: {why}"))
}

#[cfg(test)]
mod tests;
