//! Leases: claims, jobs inserted already held, heartbeats, and the calls that end a lease,
//! all matched on the lease token. Every change is one statement on the one writing
//! connection, so a claim needs no row locks: nothing else writes between choosing a job and
//! leasing it. The partial unique index `jobs_one_running_per_instance` still guards "one
//! running job per instance" against another process writing the same file.
//!
//! Lease expiry is this store's clock ([`SqliteStore::with_clock`], the system clock by
//! default), set by claims and heartbeats and compared by rescues, heartbeats and fences;
//! `run_at` is compared with the caller's time.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use openclaw_core::domain::{ClaimRequest, Job, JobState, Lease, NewJob};
use openclaw_core::{Error, Result};
use openclaw_store_sql::{
    claim_assignments, claim_in_rounds, job_from, job_state, lease_refusal, ClaimValues, Round,
    JOB_COLUMNS,
};
use uuid::Uuid;

use crate::connect::SqliteStore;
use crate::convert::{json, lease_end, ts};
use crate::error;
use crate::jobs::lease_row;
use crate::row::SqliteColumns;

/// The oldest runnable job (a running job whose lease ran out by this store's clock, `?5`,
/// or a queued job that is due by the caller's, `?1`, and whose instance has no running
/// job), leased, or dead-lettered when out of attempts.
static CLAIM_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs SET {} \
         WHERE id = ( \
             SELECT id FROM ( \
                 SELECT * FROM ( \
                     SELECT id, run_at, seq FROM jobs \
                     WHERE state = 'running' AND lease_expires_at <= ?5 \
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
         RETURNING {JOB_COLUMNS}",
        claim_assignments(ClaimValues {
            token: "?2",
            lease_expires_at: "?3",
            worker: "?4",
            now: "?1",
        })
    )
});

impl SqliteStore {
    pub(crate) async fn claim(&self, request: &ClaimRequest) -> Result<Option<Job>> {
        claim_in_rounds(|| async move {
            let now = self.clock.now();
            let claimed = sqlx::query(&CLAIM_SQL)
                .bind(ts(request.now))
                .bind(Uuid::now_v7().to_string())
                .bind(ts(lease_end(now, request.lease_for)?))
                .bind(&request.worker)
                .bind(ts(now))
                .fetch_optional(&self.inner.writer)
                .await;
            match claimed {
                Ok(None) => Ok(Round::Nothing),
                Ok(Some(row)) => job_from(&SqliteColumns(&row)).map(Round::Took),
                // Another process claimed a job of the same instance a moment earlier.
                Err(sqlx::Error::Database(db))
                    if db.is_unique_violation() && db.message().contains("jobs.instance_id") =>
                {
                    Ok(Round::Raced)
                }
                Err(e) => Err(error::map("claim_job", e)),
            }
        })
        .await
    }

    /// Inserts `job` running under a fresh lease, unless a job of its instance runs: the
    /// one-running-job index is the arbiter, also against another process.
    pub(crate) async fn claim_new(
        &self,
        job: &NewJob,
        request: &ClaimRequest,
    ) -> Result<Option<Job>> {
        let row = sqlx::query(&format!(
            "INSERT INTO jobs (id, instance_id, kind, state, attempts, max_attempts, run_at, \
                 lease_token, lease_expires_at, worker, created_at, updated_at) \
             VALUES (?1, ?2, ?3, 'running', 1, ?4, ?5, ?6, ?7, ?8, ?9, ?9) \
             ON CONFLICT (instance_id) WHERE state = 'running' DO NOTHING \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(job.id.to_string())
        .bind(job.instance_id.to_string())
        .bind(json(&job.kind)?)
        .bind(i64::from(job.max_attempts))
        .bind(ts(job.run_at))
        .bind(Uuid::now_v7().to_string())
        .bind(ts(lease_end(self.clock.now(), request.lease_for)?))
        .bind(&request.worker)
        .bind(ts(request.now))
        .fetch_optional(&self.inner.writer)
        .await
        .map_err(|e| error::map("claim_new_job", e))?;
        row.map(|r| job_from(&SqliteColumns(&r))).transpose()
    }

    pub(crate) async fn heartbeat(
        &self,
        lease: &Lease,
        lease_for: chrono::Duration,
    ) -> Result<Lease> {
        let now = self.clock.now();
        let until = lease_end(now, lease_for)?;
        let extended = sqlx::query(
            "UPDATE jobs SET lease_expires_at = ?3, updated_at = ?4 \
             WHERE id = ?1 AND state = 'running' AND lease_token = ?2 \
               AND lease_expires_at > ?4",
        )
        .bind(lease.job_id.to_string())
        .bind(lease.token.to_string())
        .bind(ts(until))
        .bind(ts(now))
        .execute(&self.inner.writer)
        .await
        .map_err(|e| error::map("heartbeat_job", e))?;
        if extended.rows_affected() == 0 {
            return Err(self.refused("heartbeat_job", lease).await);
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
            return Err(self.refused("complete_job", lease).await);
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
            return Err(self.refused("fail_job", lease).await);
        };
        // Either way the instance is free for its other jobs.
        self.wake_workers();
        job_state(&state)
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
            return Err(self.refused("release_job", lease).await);
        }
        self.wake_workers();
        Ok(())
    }

    /// Why `operation` with `lease` matched nothing: the job is unknown (`NotFound`), or the
    /// lease is lost (`LeaseLost`: rescued, released, finished, or run out). Read on the
    /// writer, which made the refused change: it sees its own commits.
    async fn refused(&self, operation: &'static str, lease: &Lease) -> Error {
        let row = sqlx::query(
            "SELECT state, lease_token, coalesce(lease_expires_at > ?2, 0) AS live \
             FROM jobs WHERE id = ?1",
        )
        .bind(lease.job_id.to_string())
        .bind(ts(self.clock.now()))
        .fetch_optional(&self.inner.writer)
        .await;
        match row {
            Ok(row) => match row.as_ref().map(lease_row).transpose() {
                Ok(found) => lease_refusal(operation, lease, found.as_ref()),
                Err(e) => e,
            },
            Err(e) => error::map(operation, e),
        }
    }
}
