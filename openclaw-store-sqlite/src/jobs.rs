//! The job queue's rows: enqueueing, reading, listing, and its upkeep (stranded dead jobs,
//! the purge). Claims and everything done under a lease are in `leases.rs`.

use chrono::{DateTime, Utc};
use openclaw_core::domain::{Job, JobFilter, JobId, NewJob};
use openclaw_core::Result;
use openclaw_store_sql::{
    job_from, job_listing, job_state, limit, purge_batch_sql, purge_in_batches,
    stranded_dead_jobs_sql, Columns, LeaseRow, JOB_COLUMNS, PURGE_BATCH,
};
use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;

use crate::connect::SqliteStore;
use crate::convert::{json, ts};
use crate::error;
use crate::row::{bound, get, SqliteColumns};

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

/// A job's lease as a row of `state, lease_token, live` says it is.
pub(crate) fn lease_row(row: &SqliteRow) -> Result<LeaseRow> {
    Ok(LeaseRow {
        state: job_state(&get::<String>(row, "state")?)?,
        token: SqliteColumns(row).opt_uuid("lease_token")?,
        live: get(row, "live")?,
    })
}

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
        let stored = job_from(&SqliteColumns(&row))?;
        self.wake_workers();
        Ok(stored)
    }

    pub(crate) async fn job(&self, id: JobId) -> Result<Option<Job>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))
            .bind(id.to_string())
            .fetch_optional(&self.inner.readers)
            .await
            .map_err(|e| error::map("get_job", e))?;
        row.map(|r| job_from(&SqliteColumns(&r))).transpose()
    }

    pub(crate) async fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        let rows = bound(&job_listing(filter, |n| format!("?{n}")))
            .fetch_all(&self.inner.readers)
            .await
            .map_err(|e| error::map("list_jobs", e))?;
        rows.iter().map(|r| job_from(&SqliteColumns(r))).collect()
    }

    pub(crate) async fn stranded(&self, max: usize) -> Result<Vec<Job>> {
        let rows = sqlx::query(&stranded_dead_jobs_sql("?1"))
            .bind(limit(max))
            .fetch_all(&self.inner.readers)
            .await
            .map_err(|e| error::map("stranded_dead_jobs", e))?;
        rows.iter().map(|r| job_from(&SqliteColumns(r))).collect()
    }

    pub(crate) async fn purge(&self, before: DateTime<Utc>) -> Result<u64> {
        let before = ts(before);
        purge_in_batches(|state| {
            let before = before.clone();
            async move {
                let purged = sqlx::query(&purge_batch_sql(state, "?1", "?2"))
                    .bind(before)
                    .bind(limit(PURGE_BATCH))
                    .execute(&self.inner.writer)
                    .await
                    .map_err(|e| error::map("purge_jobs", e))?;
                Ok(purged.rows_affected())
            }
        })
        .await
    }
}
