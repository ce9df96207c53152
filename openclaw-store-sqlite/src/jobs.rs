//! The job queue. Every change is one statement on the one writing connection, so a claim
//! needs no row locks: nothing else writes between choosing a job and leasing it. The
//! partial unique index `jobs_one_running_per_instance` still guards "one running job per
//! instance" against another process writing the same file.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use openclaw_core::domain::{
    ClaimRequest, InstanceId, Job, JobFilter, JobId, JobKind, JobState, Lease, NewJob,
};
use openclaw_core::{Error, Result};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use uuid::Uuid;

use crate::connect::SqliteStore;
use crate::convert::{get, get_json, get_opt_ts, get_opt_uuid, get_ts, get_u32, json, limit, ts};
use crate::error::{self, corrupt};

/// How many candidates one `claim_job` call may dead-letter before it reports "nothing to
/// claim" (the worker then simply asks again after its poll).
const CLAIM_ROUNDS: usize = 32;

const JOB_COLUMNS: &str = "id, instance_id, kind, state, attempts, max_attempts, run_at, \
                           lease_token, lease_expires_at, worker, last_error, created_at, \
                           updated_at";

/// Enqueues `job` on `conn` (in the caller's transaction).
pub(crate) async fn insert_job_on(
    conn: &mut SqliteConnection,
    operation: &'static str,
    job: &NewJob,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (id, instance_id, kind, state, attempts, max_attempts, run_at, \
             created_at, updated_at) \
         VALUES (?1, ?2, ?3, 'queued', 0, ?4, ?5, ?6, ?6)",
    )
    .bind(job.id.to_string())
    .bind(job.instance_id.to_string())
    .bind(json(&job.kind)?)
    .bind(i64::from(job.max_attempts))
    .bind(ts(job.run_at))
    .bind(ts(now))
    .execute(conn)
    .await
    .map_err(|e| error::map(operation, e))?;
    Ok(())
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

fn job_from_row(row: &SqliteRow) -> Result<Job> {
    let id = JobId::from_uuid(crate::convert::get_uuid(row, "id")?);
    let kind: JobKind = get_json(row, "kind")?;
    let token = get_opt_uuid(row, "lease_token")?;
    let expires_at = get_opt_ts(row, "lease_expires_at")?;
    let state: String = get(row, "state")?;
    Ok(Job {
        id,
        instance_id: InstanceId::from_uuid(crate::convert::get_uuid(row, "instance_id")?),
        kind,
        state: state_from_str(&state)?,
        attempts: get_u32(row, "attempts")?,
        max_attempts: get_u32(row, "max_attempts")?,
        run_at: get_ts(row, "run_at")?,
        lease: token.zip(expires_at).map(|(token, expires_at)| Lease {
            job_id: id,
            token,
            expires_at,
        }),
        worker: get(row, "worker")?,
        last_error: get(row, "last_error")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

/// The oldest runnable job (a running job whose lease ran out, or a queued job that is due
/// and whose instance has no running job), leased, or dead-lettered when out of attempts.
static CLAIM_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs SET \
             state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'running' END, \
             attempts = CASE WHEN attempts >= max_attempts THEN attempts ELSE attempts + 1 END, \
             lease_token = CASE WHEN attempts >= max_attempts THEN NULL ELSE ?2 END, \
             lease_expires_at = CASE WHEN attempts >= max_attempts THEN NULL ELSE ?3 END, \
             worker = CASE WHEN attempts >= max_attempts THEN worker ELSE ?4 END, \
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
             updated_at = ?1 \
         WHERE id = ( \
             SELECT id FROM ( \
                 SELECT * FROM ( \
                     SELECT id, run_at, seq FROM jobs \
                     WHERE state = 'running' AND lease_expires_at <= ?1 \
                     ORDER BY run_at, seq LIMIT 1) \
                 UNION ALL \
                 SELECT * FROM ( \
                     SELECT id, run_at, seq FROM jobs AS j \
                     WHERE state = 'queued' AND run_at <= ?1 \
                       AND NOT EXISTS (SELECT 1 FROM jobs AS r \
                                       WHERE r.instance_id = j.instance_id \
                                         AND r.state = 'running') \
                     ORDER BY run_at, seq LIMIT 1)) \
             ORDER BY run_at, seq LIMIT 1) \
         RETURNING {JOB_COLUMNS}"
    )
});

impl SqliteStore {
    pub(crate) async fn enqueue(&self, job: &NewJob) -> Result<Job> {
        let now = self.clock.now();
        let row = sqlx::query(&format!(
            "INSERT INTO jobs (id, instance_id, kind, state, attempts, max_attempts, run_at, \
                 created_at, updated_at) \
             VALUES (?1, ?2, ?3, 'queued', 0, ?4, ?5, ?6, ?6) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(job.id.to_string())
        .bind(job.instance_id.to_string())
        .bind(json(&job.kind)?)
        .bind(i64::from(job.max_attempts))
        .bind(ts(job.run_at))
        .bind(ts(now))
        .fetch_one(&self.inner.writer)
        .await
        .map_err(|e| error::map("enqueue_job", e))?;
        let stored = job_from_row(&row)?;
        self.wake_workers();
        Ok(stored)
    }

    pub(crate) async fn claim(&self, request: &ClaimRequest) -> Result<Option<Job>> {
        let expires_at = request
            .now
            .checked_add_signed(request.lease_for)
            .ok_or_else(|| Error::invalid("lease_for", "too long"))?;
        for _ in 0..CLAIM_ROUNDS {
            let claimed = sqlx::query(&CLAIM_SQL)
                .bind(ts(request.now))
                .bind(Uuid::now_v7().to_string())
                .bind(ts(expires_at))
                .bind(&request.worker)
                .fetch_optional(&self.inner.writer)
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
                // Another process claimed a job of the same instance a moment earlier.
                Err(sqlx::Error::Database(db))
                    if db.is_unique_violation() && db.message().contains("jobs.instance_id") => {}
                Err(e) => return Err(error::map("claim_job", e)),
            }
        }
        Ok(None)
    }

    pub(crate) async fn heartbeat(&self, lease: &Lease, until: DateTime<Utc>) -> Result<Lease> {
        let extended = sqlx::query(
            "UPDATE jobs SET lease_expires_at = ?3, updated_at = ?4 \
             WHERE id = ?1 AND state = 'running' AND lease_token = ?2",
        )
        .bind(lease.job_id.to_string())
        .bind(lease.token.to_string())
        .bind(ts(until))
        .bind(ts(self.clock.now()))
        .execute(&self.inner.writer)
        .await
        .map_err(|e| error::map("heartbeat_job", e))?;
        if extended.rows_affected() == 0 {
            return Err(self.fenced("heartbeat_job", lease).await);
        }
        Ok(Lease {
            expires_at: until,
            ..*lease
        })
    }

    pub(crate) async fn complete(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()> {
        let completed = sqlx::query(
            "UPDATE jobs SET state = 'done', lease_token = NULL, lease_expires_at = NULL, \
                 updated_at = ?3 \
             WHERE id = ?1 AND state = 'running' AND lease_token = ?2",
        )
        .bind(lease.job_id.to_string())
        .bind(lease.token.to_string())
        .bind(ts(now))
        .execute(&self.inner.writer)
        .await
        .map_err(|e| error::map("complete_job", e))?;
        if completed.rows_affected() == 0 {
            return Err(self.fenced("complete_job", lease).await);
        }
        // The instance's next job may have become claimable.
        self.wake_workers();
        Ok(())
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
                 state = CASE WHEN ?4 IS NOT NULL AND attempts < max_attempts \
                         THEN 'queued' ELSE 'dead' END, \
                 run_at = CASE WHEN ?4 IS NOT NULL AND attempts < max_attempts \
                          THEN ?4 ELSE run_at END, \
                 worker = CASE WHEN ?4 IS NOT NULL AND attempts < max_attempts \
                          THEN NULL ELSE worker END, \
                 lease_token = NULL, lease_expires_at = NULL, last_error = ?3, updated_at = ?5 \
             WHERE id = ?1 AND state = 'running' AND lease_token = ?2 \
             RETURNING state",
        )
        .bind(lease.job_id.to_string())
        .bind(lease.token.to_string())
        .bind(message)
        .bind(retry_at.map(ts))
        .bind(ts(now))
        .fetch_optional(&self.inner.writer)
        .await
        .map_err(|e| error::map("fail_job", e))?;
        let Some(state) = state else {
            return Err(self.fenced("fail_job", lease).await);
        };
        // Either way the instance is free for its other jobs.
        self.wake_workers();
        state_from_str(&state)
    }

    pub(crate) async fn release(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()> {
        let released = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = max(attempts - 1, 0), \
                 worker = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ?3 \
             WHERE id = ?1 AND state = 'running' AND lease_token = ?2",
        )
        .bind(lease.job_id.to_string())
        .bind(lease.token.to_string())
        .bind(ts(now))
        .execute(&self.inner.writer)
        .await
        .map_err(|e| error::map("release_job", e))?;
        if released.rows_affected() == 0 {
            return Err(self.fenced("release_job", lease).await);
        }
        self.wake_workers();
        Ok(())
    }

    /// Why a call with `lease` matched nothing: the job is unknown (`NotFound`), or the lease
    /// is no longer its current one (`Conflict`: rescued, released or finished).
    async fn fenced(&self, operation: &'static str, lease: &Lease) -> Error {
        let exists = sqlx::query_scalar::<_, i64>("SELECT 1 FROM jobs WHERE id = ?1")
            .bind(lease.job_id.to_string())
            .fetch_optional(&self.inner.readers)
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
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))
            .bind(id.to_string())
            .fetch_optional(&self.inner.readers)
            .await
            .map_err(|e| error::map("get_job", e))?;
        row.as_ref().map(job_from_row).transpose()
    }

    pub(crate) async fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        let mut query: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1"));
        if let Some(state) = filter.state {
            query.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(instance) = filter.instance_id {
            query
                .push(" AND instance_id = ")
                .push_bind(instance.to_string());
        }
        query.push(" ORDER BY seq");
        if let Some(n) = filter.limit {
            query.push(" LIMIT ").push_bind(limit(n));
        }
        let rows = query
            .build()
            .fetch_all(&self.inner.readers)
            .await
            .map_err(|e| error::map("list_jobs", e))?;
        rows.iter().map(job_from_row).collect()
    }
}
