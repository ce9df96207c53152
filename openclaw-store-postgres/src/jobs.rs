//! The job queue: claims under leases with `FOR UPDATE SKIP LOCKED`, fencing by lease token,
//! rescue of expired leases, dead letters.
//!
//! "At most one running job per instance" is the partial unique index
//! `jobs_one_running_per_instance`: a claim skips jobs of busy instances, and when two claims
//! race for two jobs of one instance the index refuses the second, which then claims again.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use openclaw_core::domain::{
    ClaimRequest, InstanceId, Job, JobFilter, JobId, JobKind, JobState, Lease, NewJob,
};
use openclaw_core::{Error, Result};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::connect::PgStore;
use crate::convert::{get, limit, to_u32};
use crate::error::{self, corrupt};
use crate::notify::JOBS_CHANNEL;

/// How many candidates one `claim_job` call may dead-letter or lose to a racing claim before
/// it reports "nothing to claim" (the worker then simply asks again after its poll).
const CLAIM_ROUNDS: usize = 32;

const JOB_COLUMNS: &str = "id, instance_id, kind, state, attempts, max_attempts, run_at, \
                           lease_token, lease_expires_at, worker, last_error, created_at, \
                           updated_at";

/// The values of an optional new job, bound as NULLs when there is none.
pub(crate) struct NewJobColumns<'a> {
    pub(crate) id: Option<Uuid>,
    pub(crate) instance_id: Option<Uuid>,
    pub(crate) kind: Option<Json<&'a JobKind>>,
    pub(crate) max_attempts: Option<i64>,
    pub(crate) run_at: Option<DateTime<Utc>>,
}

pub(crate) fn new_job_columns(job: Option<&NewJob>) -> Result<NewJobColumns<'_>> {
    Ok(NewJobColumns {
        id: job.map(|j| j.id.as_uuid()),
        instance_id: job.map(|j| j.instance_id.as_uuid()),
        kind: job.map(|j| Json(&j.kind)),
        max_attempts: job.map(|j| i64::from(j.max_attempts)),
        run_at: job.map(|j| j.run_at),
    })
}

fn state_from_str(state: &str) -> Result<JobState> {
    match state {
        "queued" => Ok(JobState::Queued),
        "running" => Ok(JobState::Running),
        "done" => Ok(JobState::Done),
        "dead" => Ok(JobState::Dead),
        other => Err(corrupt(format!("unknown job state {other:?}"))),
    }
}

fn job_from_row(row: &PgRow) -> Result<Job> {
    let id = JobId::from_uuid(get(row, "id")?);
    let Json(kind): Json<JobKind> = get(row, "kind")?;
    let token: Option<Uuid> = get(row, "lease_token")?;
    let expires_at: Option<DateTime<Utc>> = get(row, "lease_expires_at")?;
    let state: String = get(row, "state")?;
    Ok(Job {
        id,
        instance_id: InstanceId::from_uuid(get(row, "instance_id")?),
        kind,
        state: state_from_str(&state)?,
        attempts: to_u32(get(row, "attempts")?, "jobs.attempts")?,
        max_attempts: to_u32(get(row, "max_attempts")?, "jobs.max_attempts")?,
        run_at: get(row, "run_at")?,
        lease: token.zip(expires_at).map(|(token, expires_at)| Lease {
            job_id: id,
            token,
            expires_at,
        }),
        worker: get(row, "worker")?,
        last_error: get(row, "last_error")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

impl PgStore {
    /// Wakes workers: this process's at once, other processes' through `NOTIFY`. Best
    /// effort: the write that made a job runnable has committed, and a missed wake-up only
    /// delays a worker until its next poll.
    pub(crate) async fn jobs_changed(&self) {
        self.inner.wakeups.wake();
        let notified = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(JOBS_CHANNEL)
            .bind(&self.inner.schema)
            .execute(self.pool_ref())
            .await;
        if let Err(error) = notified {
            tracing::debug!(%error, "job notification not sent; workers will poll");
        }
    }

    pub(crate) async fn enqueue(&self, job: &NewJob) -> Result<Job> {
        let now = self.clock.now();
        let row = sqlx::query(&format!(
            "INSERT INTO jobs (id, instance_id, kind, state, attempts, max_attempts, run_at, \
                 created_at, updated_at) \
             VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $6) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(job.id.as_uuid())
        .bind(job.instance_id.as_uuid())
        .bind(Json(&job.kind))
        .bind(i64::from(job.max_attempts))
        .bind(job.run_at)
        .bind(now)
        .fetch_one(self.pool_ref())
        .await
        .map_err(|e| error::map("enqueue_job", e))?;
        let stored = job_from_row(&row)?;
        self.jobs_changed().await;
        Ok(stored)
    }

    /// Unless [`PgConfig::durable_before_visible`](crate::PgConfig::durable_before_visible)
    /// is set, a claim returns without waiting for the disk. A claim lost in a server crash
    /// is a lease lost: the job is claimed again, and its first worker is fenced off at its
    /// next heartbeat, as when a lease runs out under a slow worker. The worker's next
    /// write flushes the claim along with itself (the log is written in order).
    pub(crate) async fn claim(&self, request: &ClaimRequest) -> Result<Option<Job>> {
        let expires_at = request
            .now
            .checked_add_signed(request.lease_for)
            .ok_or_else(|| Error::invalid("lease_for", "too long"))?;
        for _ in 0..CLAIM_ROUNDS {
            let claimed = sqlx::query(&CLAIM_SQL)
                .bind(request.now)
                .bind(Uuid::now_v7())
                .bind(expires_at)
                .bind(&request.worker)
                .bind(self.commit_setting())
                .fetch_optional(self.pool_ref())
                .await;
            match claimed {
                Ok(None) => return Ok(None),
                Ok(Some(row)) => {
                    let job = job_from_row(&row)?;
                    if job.state == JobState::Running {
                        return Ok(Some(job));
                    }
                    tracing::warn!(job = %job.id, instance = %job.instance_id,
                        attempts = job.attempts, "job dead-lettered: out of attempts");
                }
                // Another claim took a job of the same instance a moment earlier.
                Err(e) if error::violates(&e, "jobs_one_running_per_instance") => {}
                Err(e) => return Err(error::map("claim_job", e)),
            }
        }
        Ok(None)
    }

    pub(crate) async fn heartbeat(&self, lease: &Lease, until: DateTime<Utc>) -> Result<Lease> {
        let row = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $3, updated_at = $4 \
             WHERE id = $1 AND state = 'running' AND lease_token = $2 \
             RETURNING lease_expires_at",
        )
        .bind(lease.job_id.as_uuid())
        .bind(lease.token)
        .bind(until)
        .bind(self.clock.now())
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("heartbeat_job", e))?;
        match row {
            Some(row) => Ok(Lease {
                expires_at: get(&row, "lease_expires_at")?,
                ..*lease
            }),
            None => Err(self.fenced("heartbeat_job", lease).await),
        }
    }

    /// Unless [`PgConfig::durable_before_visible`](crate::PgConfig::durable_before_visible)
    /// is set, a completion returns without waiting for the disk: a server crash in that
    /// instant leaves the job running under its lease, and it runs again once the lease
    /// expires. That is safe because a job starts from the stored state, and what the job
    /// stored was flushed before its completion (the log is written in order), so the
    /// second run finds nothing left to do. It saves one disk flush per job.
    pub(crate) async fn complete(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()> {
        let more: Option<bool> = sqlx::query_scalar(
            "UPDATE jobs SET state = 'done', lease_token = NULL, lease_expires_at = NULL, \
                 updated_at = $3 \
             WHERE id = $1 AND state = 'running' AND lease_token = $2 \
               AND set_config('synchronous_commit', $4, true) IS NOT NULL \
             RETURNING EXISTS (SELECT 1 FROM jobs q WHERE q.instance_id = jobs.instance_id \
                               AND q.state = 'queued' AND q.run_at <= $3)",
        )
        .bind(lease.job_id.as_uuid())
        .bind(lease.token)
        .bind(now)
        .bind(self.commit_setting())
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("complete_job", e))?;
        match more {
            // The instance's next job has become claimable.
            Some(true) => {
                self.jobs_changed().await;
                Ok(())
            }
            Some(false) => Ok(()),
            None => Err(self.fenced("complete_job", lease).await),
        }
    }

    pub(crate) async fn fail(
        &self,
        lease: &Lease,
        message: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<JobState> {
        let state: Option<String> = sqlx::query_scalar(
            "UPDATE jobs SET \
                 state = CASE WHEN $4::timestamptz IS NOT NULL AND attempts < max_attempts \
                         THEN 'queued' ELSE 'dead' END, \
                 run_at = CASE WHEN $4::timestamptz IS NOT NULL AND attempts < max_attempts \
                          THEN $4 ELSE run_at END, \
                 worker = CASE WHEN $4::timestamptz IS NOT NULL AND attempts < max_attempts \
                          THEN NULL ELSE worker END, \
                 lease_token = NULL, lease_expires_at = NULL, last_error = $3, updated_at = $5 \
             WHERE id = $1 AND state = 'running' AND lease_token = $2 \
             RETURNING state",
        )
        .bind(lease.job_id.as_uuid())
        .bind(lease.token)
        .bind(message)
        .bind(retry_at)
        .bind(now)
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("fail_job", e))?;
        let Some(state) = state else {
            return Err(self.fenced("fail_job", lease).await);
        };
        // Either way the instance is free for its other jobs.
        self.jobs_changed().await;
        state_from_str(&state)
    }

    pub(crate) async fn release(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()> {
        let released = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = GREATEST(attempts - 1, 0), \
                 worker = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = $3 \
             WHERE id = $1 AND state = 'running' AND lease_token = $2",
        )
        .bind(lease.job_id.as_uuid())
        .bind(lease.token)
        .bind(now)
        .execute(self.pool_ref())
        .await
        .map_err(|e| error::map("release_job", e))?;
        if released.rows_affected() == 0 {
            return Err(self.fenced("release_job", lease).await);
        }
        self.jobs_changed().await;
        Ok(())
    }

    /// Why a call with `lease` matched nothing: the job is unknown (`NotFound`), or the lease
    /// is no longer its current one (`Conflict`: rescued, released or finished).
    async fn fenced(&self, operation: &'static str, lease: &Lease) -> Error {
        let exists = sqlx::query_scalar::<_, i32>("SELECT 1 FROM jobs WHERE id = $1")
            .bind(lease.job_id.as_uuid())
            .fetch_optional(self.pool_ref())
            .await;
        match exists {
            Ok(Some(_)) => Error::conflict(format!(
                "{operation}: the lease {} is no longer the current lease of job {}",
                lease.token, lease.job_id
            )),
            Ok(None) => Error::not_found("job", lease.job_id),
            Err(e) => error::map(operation, e),
        }
    }

    pub(crate) async fn job(&self, id: JobId) -> Result<Option<Job>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(self.pool_ref())
            .await
            .map_err(|e| error::map("get_job", e))?;
        row.as_ref().map(job_from_row).transpose()
    }

    pub(crate) async fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        let mut query: QueryBuilder<'_, Postgres> =
            QueryBuilder::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE true"));
        if let Some(state) = filter.state {
            query.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(instance) = filter.instance_id {
            query
                .push(" AND instance_id = ")
                .push_bind(instance.as_uuid());
        }
        query.push(" ORDER BY seq");
        if let Some(n) = filter.limit {
            query.push(" LIMIT ").push_bind(limit(n));
        }
        let rows = query
            .build()
            .fetch_all(self.pool_ref())
            .await
            .map_err(|e| error::map("list_jobs", e))?;
        rows.iter().map(job_from_row).collect()
    }
}

// Each arm walks its own partial index in claim order and stops at the first row it
// can lock, so a long queue (or a long history of done jobs) costs nothing here.
static CLAIM_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH rescue AS ( \
                 SELECT id, run_at, seq FROM jobs \
                 WHERE state = 'running' AND lease_expires_at <= $1 \
                 ORDER BY run_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED), \
             fresh AS ( \
                 SELECT id, run_at, seq FROM jobs j \
                 WHERE state = 'queued' AND run_at <= $1 \
                   AND NOT EXISTS (SELECT 1 FROM jobs r \
                                   WHERE r.instance_id = j.instance_id AND r.state = 'running') \
                 ORDER BY run_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED), \
             candidate AS ( \
                 SELECT id FROM (SELECT * FROM rescue UNION ALL SELECT * FROM fresh) c \
                 ORDER BY run_at, seq LIMIT 1) \
             UPDATE jobs SET \
                 state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'running' END, \
                 attempts = CASE WHEN attempts >= max_attempts THEN attempts \
                            ELSE attempts + 1 END, \
                 lease_token = CASE WHEN attempts >= max_attempts THEN NULL ELSE $2 END, \
                 lease_expires_at = CASE WHEN attempts >= max_attempts THEN NULL ELSE $3 END, \
                 worker = CASE WHEN attempts >= max_attempts THEN worker ELSE $4 END, \
                 last_error = CASE \
                     WHEN attempts >= max_attempts AND state = 'running' THEN \
                         'gave up after ' || attempts || ' attempts: the lease of ' \
                         || coalesce(worker, 'a worker') || ' expired' \
                     WHEN attempts >= max_attempts THEN \
                         'gave up after ' || attempts || ' attempts: ' \
                         || coalesce(last_error, 'no error recorded') \
                     WHEN state = 'running' THEN \
                         'the lease of ' || coalesce(worker, 'a worker') || ' expired' \
                     ELSE last_error END, \
                 updated_at = $1 \
             FROM candidate WHERE jobs.id = candidate.id \
               AND set_config('synchronous_commit', $5, true) IS NOT NULL \
             RETURNING {}",
        qualified_job_columns()
    )
});

/// `JOB_COLUMNS` qualified with the table, for statements that join.
fn qualified_job_columns() -> String {
    JOB_COLUMNS
        .split(',')
        .map(|c| format!("jobs.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
