//! The job queue's rows: enqueueing, reading, listing, and its upkeep (stranded dead jobs,
//! the purge). Claims and everything done under a lease are in `leases.rs`.

use chrono::{DateTime, Utc};
use openclaw_core::domain::{Job, JobFilter, JobId, JobKind, NewJob};
use openclaw_core::Result;
use openclaw_store_sql::{
    job_from, job_listing, job_state, limit, purge_batch_sql, purge_in_batches,
    stranded_dead_jobs_sql, LeaseRow, JOB_COLUMNS, PURGE_BATCH,
};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::connect::PgStore;
use crate::error;
use crate::notify::JOBS_CHANNEL;
use crate::row::{bound, get, PgColumns};

/// The values of an optional new job, bound as NULLs when there is none.
pub(crate) struct NewJobValues<'a> {
    pub(crate) id: Option<Uuid>,
    pub(crate) instance_id: Option<Uuid>,
    pub(crate) kind: Option<Json<&'a JobKind>>,
    pub(crate) max_attempts: Option<i64>,
    pub(crate) run_at: Option<DateTime<Utc>>,
}

pub(crate) fn new_job_values(job: Option<&NewJob>) -> NewJobValues<'_> {
    NewJobValues {
        id: job.map(|j| j.id.as_uuid()),
        instance_id: job.map(|j| j.instance_id.as_uuid()),
        kind: job.map(|j| Json(&j.kind)),
        max_attempts: job.map(|j| i64::from(j.max_attempts)),
        run_at: job.map(|j| j.run_at),
    }
}

/// A job's lease as a row of `state, lease_token, live` says it is.
pub(crate) fn lease_row(row: &PgRow) -> Result<LeaseRow> {
    Ok(LeaseRow {
        state: job_state(&get::<String>(row, "state")?)?,
        token: get(row, "lease_token")?,
        live: get(row, "live")?,
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
        let stored = job_from(&PgColumns(&row))?;
        self.jobs_changed().await;
        Ok(stored)
    }

    pub(crate) async fn job(&self, id: JobId) -> Result<Option<Job>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(self.pool_ref())
            .await
            .map_err(|e| error::map("get_job", e))?;
        row.map(|r| job_from(&PgColumns(&r))).transpose()
    }

    pub(crate) async fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        let rows = bound(&job_listing(filter, |n| format!("${n}")))
            .fetch_all(self.pool_ref())
            .await
            .map_err(|e| error::map("list_jobs", e))?;
        rows.iter().map(|r| job_from(&PgColumns(r))).collect()
    }

    pub(crate) async fn stranded(&self, max: usize) -> Result<Vec<Job>> {
        let rows = sqlx::query(&stranded_dead_jobs_sql("$1"))
            .bind(limit(max))
            .fetch_all(self.pool_ref())
            .await
            .map_err(|e| error::map("stranded_dead_jobs", e))?;
        rows.iter().map(|r| job_from(&PgColumns(r))).collect()
    }

    pub(crate) async fn purge(&self, before: DateTime<Utc>) -> Result<u64> {
        purge_in_batches(|state| async move {
            let purged = sqlx::query(&purge_batch_sql(state, "$1", "$2"))
                .bind(before)
                .bind(limit(PURGE_BATCH))
                .execute(self.pool_ref())
                .await
                .map_err(|e| error::map("purge_jobs", e))?;
            Ok(purged.rows_affected())
        })
        .await
    }
}
