//! Leases: claims with `FOR UPDATE SKIP LOCKED`, jobs inserted already held, heartbeats,
//! and the calls that end a lease, all matched on the lease token. Lease expiry is the
//! database's clock (`now()`), set by claims and heartbeats and compared by rescues,
//! heartbeats and fences, so workers whose hosts' clocks disagree still agree on who holds a
//! job.
//!
//! "At most one running job per instance" is the partial unique index
//! `jobs_one_running_per_instance`: a claim skips jobs of busy instances, and when two claims
//! race for two jobs of one instance the index refuses the second, which then claims again.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use openclaw_core::domain::{ClaimRequest, Job, JobState, Lease, NewJob};
use openclaw_core::{Error, Result};
use openclaw_store_sql::{
    claim_assignments, claim_in_rounds, job_from, job_state, lease_refusal, ClaimValues, Round,
    JOB_COLUMNS,
};
use sqlx::types::Json;
use uuid::Uuid;

use crate::connect::PgStore;
use crate::error;
use crate::jobs::lease_row;
use crate::row::{get, interval, PgColumns};

impl PgStore {
    /// Unless [`PgConfig::durable_before_visible`](crate::PgConfig::durable_before_visible)
    /// is set, a claim returns without waiting for the disk. A claim lost in a server crash
    /// is a lease lost: the job is claimed again, and its first worker is fenced off at its
    /// next heartbeat or write, as when a lease runs out under a slow worker. The worker's
    /// next write flushes the claim along with itself (the log is written in order).
    pub(crate) async fn claim(&self, request: &ClaimRequest) -> Result<Option<Job>> {
        let lease_for = interval(request.lease_for)?;
        claim_in_rounds(|| async move {
            let claimed = sqlx::query(&CLAIM_SQL)
                .bind(request.now)
                .bind(Uuid::now_v7())
                .bind(lease_for)
                .bind(&request.worker)
                .bind(self.commit_setting())
                .fetch_optional(self.pool_ref())
                .await;
            match claimed {
                Ok(None) => Ok(Round::Nothing),
                Ok(Some(row)) => job_from(&PgColumns(&row)).map(Round::Took),
                Err(e) if error::violates(&e, "jobs_one_running_per_instance") => Ok(Round::Raced),
                Err(e) => Err(error::map("claim_job", e)),
            }
        })
        .await
    }

    /// Inserts `job` running under a fresh lease, unless a job of its instance runs: the
    /// one-running-job index is the arbiter, so a racing claim cannot slip in between.
    pub(crate) async fn claim_new(
        &self,
        job: &NewJob,
        request: &ClaimRequest,
    ) -> Result<Option<Job>> {
        let row = sqlx::query(&format!(
            "INSERT INTO jobs (id, instance_id, kind, state, attempts, max_attempts, run_at, \
                 lease_token, lease_expires_at, worker, created_at, updated_at) \
             VALUES ($1, $2, $3, 'running', 1, $4, $5, $6, now() + $7, $8, $9, $9) \
             ON CONFLICT (instance_id) WHERE state = 'running' DO NOTHING \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(job.id.as_uuid())
        .bind(job.instance_id.as_uuid())
        .bind(Json(&job.kind))
        .bind(i64::from(job.max_attempts))
        .bind(job.run_at)
        .bind(Uuid::now_v7())
        .bind(interval(request.lease_for)?)
        .bind(&request.worker)
        .bind(request.now)
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("claim_new_job", e))?;
        row.map(|r| job_from(&PgColumns(&r))).transpose()
    }

    pub(crate) async fn heartbeat(
        &self,
        lease: &Lease,
        lease_for: chrono::Duration,
    ) -> Result<Lease> {
        let row = sqlx::query(
            "UPDATE jobs SET lease_expires_at = now() + $3, updated_at = $4 \
             WHERE id = $1 AND state = 'running' AND lease_token = $2 \
               AND lease_expires_at > now() \
             RETURNING lease_expires_at",
        )
        .bind(lease.job_id.as_uuid())
        .bind(lease.token)
        .bind(interval(lease_for)?)
        .bind(self.clock.now())
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("heartbeat_job", e))?;
        match row {
            Some(row) => Ok(Lease {
                expires_at: get(&row, "lease_expires_at")?,
                ..*lease
            }),
            None => Err(self.refused("heartbeat_job", lease).await),
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
            None => Err(self.refused("complete_job", lease).await),
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
            return Err(self.refused("fail_job", lease).await);
        };
        // Either way the instance is free for its other jobs.
        self.jobs_changed().await;
        job_state(&state)
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
            return Err(self.refused("release_job", lease).await);
        }
        self.jobs_changed().await;
        Ok(())
    }

    /// Why `operation` with `lease` matched nothing: the job is unknown (`NotFound`), or the
    /// lease is lost (`LeaseLost`: rescued, released, finished, or run out).
    async fn refused(&self, operation: &'static str, lease: &Lease) -> Error {
        let row = sqlx::query(
            "SELECT state, lease_token, coalesce(lease_expires_at > now(), false) AS live \
             FROM jobs WHERE id = $1",
        )
        .bind(lease.job_id.as_uuid())
        .fetch_optional(self.pool_ref())
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

// Each arm walks its own partial index in claim order and stops at the first row it can
// lock, so a long queue (or a long history of done jobs) costs nothing here. Expired
// leases are found by the database's clock; due jobs by the caller's (`run_at` is the
// caller's time).
static CLAIM_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH rescue AS ( \
                 SELECT id, run_at, seq FROM jobs \
                 WHERE state = 'running' AND lease_expires_at <= now() \
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
             UPDATE jobs SET {} \
             FROM candidate WHERE jobs.id = candidate.id \
               AND set_config('synchronous_commit', $5, true) IS NOT NULL \
             RETURNING {}",
        claim_assignments(ClaimValues {
            token: "$2",
            lease_expires_at: "now() + $3",
            worker: "$4",
            now: "$1",
        }),
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
