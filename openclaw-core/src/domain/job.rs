//! Jobs: the durable queue entries workers claim. A job says which operation to run on which
//! instance; the instance's stored state says how far it got.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ids::{InstanceId, JobId};
use super::instance::Operation;
use super::rollback::RollbackLevel;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobKind {
    /// Create server, DNS record, wait for health, activate.
    Provision,
    /// Power the server off.
    Suspend,
    /// Power the server on and wait for health.
    Unsuspend,
    /// Delete records and server.
    Terminate,
    /// Undo a provisioning at `level`.
    Rollback {
        /// How far to undo.
        level: RollbackLevel,
    },
    /// Holds the instance's job slot while the orphan sweep deletes a resource of the
    /// instance that nothing claims. It is created already running by the sweep; a rescued
    /// one has nothing left to do (the next sweep looks again).
    Sweep,
    /// Move the server to the plan the instance's `plan_change` names.
    ChangePlan,
}

impl JobKind {
    /// The operation this job performs.
    pub fn operation(self) -> Operation {
        match self {
            JobKind::Provision => Operation::Provision,
            JobKind::Suspend => Operation::Suspend,
            JobKind::Unsuspend => Operation::Unsuspend,
            JobKind::Terminate => Operation::Terminate,
            JobKind::Rollback { .. } => Operation::Rollback,
            JobKind::Sweep => Operation::Sweep,
            JobKind::ChangePlan => Operation::ChangePlan,
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobKind::Rollback { level } => write!(f, "rollback({level})"),
            other => f.write_str(other.operation().as_str()),
        }
    }
}

/// Where a job is in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its `run_at` and a free worker.
    Queued,
    /// Held by a worker under a lease.
    Running,
    /// Finished.
    Done,
    /// Out of attempts: kept for inspection with its last error.
    Dead,
}

impl JobState {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewJob {
    /// Its id.
    pub id: JobId,
    /// The instance it works on.
    pub instance_id: InstanceId,
    /// What it does.
    pub kind: JobKind,
    /// Not before this time.
    pub run_at: DateTime<Utc>,
    /// Claims allowed before it is dead-lettered.
    pub max_attempts: u32,
}

impl NewJob {
    /// A job for `instance_id` that may run at `run_at`.
    pub fn new(
        instance_id: InstanceId,
        kind: JobKind,
        run_at: DateTime<Utc>,
        max_attempts: u32,
    ) -> Self {
        NewJob {
            id: JobId::new(),
            instance_id,
            kind,
            run_at,
            max_attempts: max_attempts.max(1),
        }
    }
}

/// Proof that a worker holds a job. Every later call about the job presents it, and so does
/// every write the job makes to its instance; a store refuses a lease that has been taken
/// over or has run out by the store's clock ([`Error::LeaseLost`](crate::Error::LeaseLost)),
/// which fences off a worker that stalled past its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lease {
    /// The job.
    pub job_id: JobId,
    /// Unique per claim.
    pub token: Uuid,
    /// When it runs out unless extended by a heartbeat.
    pub expires_at: DateTime<Utc>,
}

/// A job as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// The instance it works on.
    pub instance_id: InstanceId,
    /// What it does.
    pub kind: JobKind,
    /// Where it is in the queue.
    pub state: JobState,
    /// How many times it has been claimed (a rescued expired lease counts).
    pub attempts: u32,
    /// Claims allowed before it is dead-lettered.
    pub max_attempts: u32,
    /// Not before this time.
    pub run_at: DateTime<Utc>,
    /// The current lease while running.
    pub lease: Option<Lease>,
    /// Who holds the lease (a worker name, for operators).
    pub worker: Option<String>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// What a worker asks the store for when it claims a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    /// The worker's name (shown to operators).
    pub worker: String,
    /// The current time as the engine's clock says: compared with `run_at` (which callers
    /// write from their own clocks). Lease expiry is never computed from it: the store reads
    /// its own clock for that.
    pub now: DateTime<Utc>,
    /// How long the lease lasts, by the store's clock, before it must be extended.
    pub lease_for: chrono::Duration,
}

/// Selects jobs for [`Store::list_jobs`](crate::ports::Store::list_jobs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only in this state.
    pub state: Option<JobState>,
    /// Only for this instance.
    pub instance_id: Option<InstanceId>,
    /// At most this many (oldest first).
    pub limit: Option<usize>,
}

impl JobFilter {
    /// Whether `job` passes the conditions (ignoring the limit).
    pub fn matches(&self, job: &Job) -> bool {
        self.state.is_none_or(|s| s == job.state)
            && self.instance_id.is_none_or(|i| i == job.instance_id)
    }
}
