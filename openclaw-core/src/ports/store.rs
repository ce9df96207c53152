//! The `Store` port: durable state — instances, the event log, the job queue, idempotency keys
//! and the rollback log.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    ClaimRequest, Event, ExternalRef, IdempotencyRecord, Instance, InstanceFilter, InstanceId,
    InstanceStatus, Job, JobFilter, JobState, Lease, NewEvent, NewJob, Page, RollbackLogEntry,
    StoredResponse,
};
use crate::error::Result;
use crate::instance_secrets::SealedSecrets;

/// A new instance with everything written in the same transaction: its creation event, its
/// first job, and its sealed secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstance {
    /// The instance (version 1).
    pub instance: Instance,
    /// Its creation event.
    pub event: NewEvent,
    /// Its first job.
    pub job: Option<NewJob>,
    /// Its secrets, sealed by the engine (the store never sees them in the clear).
    pub secrets: Option<SealedSecrets>,
}

impl NewInstance {
    /// A new instance without secrets.
    pub fn new(instance: &Instance, event: &NewEvent, job: Option<NewJob>) -> Self {
        NewInstance {
            instance: instance.clone(),
            event: event.clone(),
            job,
            secrets: None,
        }
    }
}

/// A write of an instance: its new content plus, in the same transaction, an optional event,
/// an optional alert and an optional job — fenced by the lease of the job that makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceWrite {
    /// The new content. Its `version` must be the version that was read; the store writes
    /// `version + 1`.
    pub instance: Instance,
    /// The event recording the change (required when the status changes).
    pub event: Option<NewEvent>,
    /// An alert raised with the change (a move to `failed`), appended in the same
    /// transaction right after `event` — with the next sequence number — so a crash cannot
    /// keep one and lose the other. Only written together with an `event`.
    pub alert: Option<NewEvent>,
    /// A job to enqueue with the change.
    pub job: Option<NewJob>,
    /// The lease of the job making this write, if a job makes it. The write happens only
    /// while that lease is its job's current lease and has not run out by the store's
    /// clock; otherwise nothing is written and the result is
    /// [`Error::LeaseLost`](crate::Error::LeaseLost).
    pub fence: Option<Lease>,
}

impl InstanceWrite {
    /// A write of `instance` alone (no event, alert, job or fence).
    pub fn new(instance: Instance) -> Self {
        InstanceWrite {
            instance,
            event: None,
            alert: None,
            job: None,
            fence: None,
        }
    }
}

/// What a store holds, counted (for metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Instances per status.
    pub instances_by_status: BTreeMap<InstanceStatus, u64>,
    /// Jobs per state.
    pub jobs_by_state: BTreeMap<&'static str, u64>,
    /// The highest event sequence written.
    pub last_event_sequence: u64,
}

/// The removal of an instance's row at the end of a full rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceDelete {
    /// The instance.
    pub id: InstanceId,
    /// The version that was read.
    pub expected_version: u64,
    /// The last event of the instance.
    pub event: NewEvent,
    /// What the rollback log keeps of it.
    pub log: RollbackLogEntry,
    /// The lease of the job deleting it (see [`InstanceWrite::fence`]).
    pub fence: Option<Lease>,
}

/// Durable state of the provisioner.
///
/// # Contract
///
/// Time
/// - Lease expiry (set by a claim or a heartbeat, compared by a rescue or a fence) is read
///   from the store's own clock — the database server's for a store on a server — never
///   from a caller's, so workers on hosts whose clocks disagree still agree on who holds a
///   lease. Every other time (`run_at`, timestamps) is the caller's.
///
/// Instances
/// - `insert_instance` writes a new instance (version 1), its creation event, and optionally
///   its first job and its sealed secrets, in one transaction. An existing id, or an `external_ref` or `fqdn` already
///   carried by a live instance (status not `terminated`/`rolled_back`), is `Conflict` and
///   writes nothing.
/// - `update_instance` writes `write.instance` only if the stored version equals
///   `write.instance.version` (else `Conflict`, nothing written); it stores `version + 1` and
///   returns the stored instance and the event, written with the alert (sequence: the
///   event's + 1) and the job in the same transaction. An unknown id is `NotFound`. An alert
///   without an event is `InvalidInput`.
/// - A write with a `fence` (an update or a delete) is checked in the same statement: if the
///   fence is not its job's current lease, or that lease has run out by the store's clock,
///   nothing is written and the result is `LeaseLost` (before any version check: a holder
///   that lost its lease must not re-read and try again).
/// - `delete_instance` removes the row and its secrets (at `expected_version`, else
///   `Conflict`) and in the same transaction appends `event` and `log`.
///
/// Secrets
/// - `instance_secrets` returns the sealed secrets stored with the instance, or `None`.
/// - `consume_bootstrap` is single use: the first call for an instance with secrets marks them
///   delivered and returns them; every later call returns `None` until `reset_bootstrap`.
///   Two concurrent calls never both get them. An instance without secrets is `NotFound`.
/// - `replace_instance_secrets` swaps the sealed secrets of an instance that has some (a
///   rotated gateway token, a new sealing key) if they are still byte for byte `expected`,
///   and returns whether it did (`false`: another writer changed them since they were read;
///   nothing is written). Whether they were handed out stays as it was; an instance without
///   secrets is `NotFound`.
///
/// Events
/// - Sequence numbers are global, start at 1 and strictly increase. An event becomes visible
///   only after every event with a smaller sequence is visible, so a reader that resumes after
///   sequence `n` never misses one.
/// - `events_after(n, limit)` returns events with sequence > `n`, ascending.
///
/// Jobs
/// - `claim_job` leases the oldest runnable job: `queued` with `run_at <= request.now`, or
///   `running` with a lease that has run out (rescued). Each claim counts one attempt; a job
///   whose attempts are used up is dead-lettered instead of claimed (with `last_error`
///   saying so). Never more than one job per instance is `running`, and two concurrent
///   claims never get the same job. Each claim gets a fresh lease token and a lease of
///   `lease_for` from the store's clock.
/// - `claim_new_job` inserts a job already running under a fresh lease for
///   `request.worker` — unless a job of its instance is running, in which case it writes
///   nothing and returns `None`. It is how a caller takes an instance's job slot for work
///   of its own (the sweep).
/// - `heartbeat_job` extends a lease to `lease_for` from the store's clock; `complete_job`,
///   `fail_job` and `release_job` end it. A lease that is not the job's current one is
///   `LeaseLost` for all four; a heartbeat of a lease that has run out is `LeaseLost` too,
///   even before another worker rescued the job.
/// - `fail_job` requeues at `retry_at` while attempts remain (or dead-letters with the error
///   when they do not, or when `retry_at` is `None`) and returns the new state. `release_job`
///   requeues without counting the attempt (graceful shutdown).
/// - `stranded_dead_jobs` returns dead jobs whose instance still waits on them: the instance
///   exists, is in a status in progress, and has no queued or running job. Oldest first.
/// - `purge_jobs` deletes `done` and `dead` jobs last changed before `before`, except the
///   stranded ones; it returns how many.
/// - `wait_for_jobs` returns when a job may have become runnable (a notification) or after
///   `timeout`, whichever comes first.
///
/// Idempotency keys
/// - `put_idempotency` stores the record if the key is absent or expired and returns `None`;
///   otherwise it returns the stored record unchanged (the caller compares the request hash).
///
/// Counts
/// - `stats` is read on every metrics scrape: it must not scan whole tables (keep counts as
///   you write, or read bounded indexes).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the store is reachable.
    async fn ping(&self) -> Result<()>;

    /// Inserts a new instance with its creation event and optional first job.
    async fn insert_instance(&self, new: &NewInstance) -> Result<Event>;
    /// Compare-and-swap update of an instance, with event and job in the same transaction.
    async fn update_instance(&self, write: &InstanceWrite) -> Result<(Instance, Option<Event>)>;
    /// Deletes an instance (full rollback), appending its event and rollback log entry in
    /// the same transaction.
    async fn delete_instance(&self, delete: &InstanceDelete) -> Result<Event>;
    /// One instance.
    async fn get_instance(&self, id: InstanceId) -> Result<Option<Instance>>;
    /// The sealed secrets of an instance, if it has any.
    async fn instance_secrets(&self, id: InstanceId) -> Result<Option<SealedSecrets>>;
    /// Hands out the sealed secrets of an instance once: `None` if already handed out.
    async fn consume_bootstrap(
        &self,
        id: InstanceId,
        now: DateTime<Utc>,
    ) -> Result<Option<SealedSecrets>>;
    /// Allows one more `consume_bootstrap` (the instance gets a new server).
    async fn reset_bootstrap(&self, id: InstanceId) -> Result<()>;
    /// Replaces the sealed secrets of an instance if they are still `expected`.
    async fn replace_instance_secrets(
        &self,
        id: InstanceId,
        expected: &SealedSecrets,
        sealed: &SealedSecrets,
    ) -> Result<bool>;
    /// The live instance carrying `external_ref`, if any.
    async fn find_live_by_external_ref(
        &self,
        external_ref: &ExternalRef,
    ) -> Result<Option<Instance>>;
    /// A page of instances matching `filter`, ordered by id.
    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Page<Instance>>;

    /// Appends an event that changes no instance (an alert, an audit record).
    async fn append_event(&self, event: &NewEvent) -> Result<Event>;
    /// Events with sequence greater than `after`, ascending, at most `limit`.
    async fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>>;
    /// Every event of one instance, ascending.
    async fn instance_events(&self, id: InstanceId) -> Result<Vec<Event>>;
    /// The highest sequence written so far (0 for an empty log). Subscribers that start
    /// "from now" read it; stores should answer it without counting anything.
    async fn last_event_sequence(&self) -> Result<u64> {
        Ok(self.stats().await?.last_event_sequence)
    }

    /// Enqueues a job on its own.
    async fn enqueue_job(&self, job: &NewJob) -> Result<Job>;
    /// Leases the oldest runnable job, if any.
    async fn claim_job(&self, request: &ClaimRequest) -> Result<Option<Job>>;
    /// Inserts `job` already leased to `request.worker`, unless a job of its instance is
    /// running (`None`).
    async fn claim_new_job(&self, job: &NewJob, request: &ClaimRequest) -> Result<Option<Job>>;
    /// Extends a lease to `lease_for` from the store's clock; returns the new lease.
    async fn heartbeat_job(&self, lease: &Lease, lease_for: chrono::Duration) -> Result<Lease>;
    /// Marks a job done.
    async fn complete_job(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()>;
    /// Records a failed attempt; requeues at `retry_at` or dead-letters.
    async fn fail_job(
        &self,
        lease: &Lease,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<JobState>;
    /// Gives a job back without counting the attempt.
    async fn release_job(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()>;
    /// One job.
    async fn get_job(&self, id: crate::domain::JobId) -> Result<Option<Job>>;
    /// Jobs matching `filter`, oldest first.
    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>>;
    /// Dead jobs whose instance still waits on them, oldest first, at most `limit`.
    async fn stranded_dead_jobs(&self, limit: usize) -> Result<Vec<Job>>;
    /// Deletes finished jobs last changed before `before`; returns how many.
    async fn purge_jobs(&self, before: DateTime<Utc>) -> Result<u64>;
    /// Waits until a job may be runnable, at most `timeout`.
    async fn wait_for_jobs(&self, timeout: Duration) -> Result<()> {
        tokio::time::sleep(timeout).await;
        Ok(())
    }

    /// Stores an idempotency record unless a live one exists; returns the existing one.
    async fn put_idempotency(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>>;
    /// Attaches the response to a stored key.
    async fn complete_idempotency(&self, key: &str, response: &StoredResponse) -> Result<()>;
    /// Removes a key (the first request failed in a way that must not be replayed).
    async fn delete_idempotency(&self, key: &str) -> Result<()>;
    /// The live record of `key`, if any.
    async fn get_idempotency(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>>;
    /// Removes expired keys; returns how many.
    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<u64>;

    /// Rollback log entries, newest first, at most `limit`.
    async fn rollback_log(&self, limit: usize) -> Result<Vec<RollbackLogEntry>>;

    /// Counts for metrics.
    async fn stats(&self) -> Result<StoreStats>;
}
