//! The [`Store`] port on [`SqliteStore`]: writes go to the one writing connection, reads to
//! the reading ones.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openclaw_core::domain::{
    ClaimRequest, Event, ExternalRef, IdempotencyRecord, Instance, InstanceFilter, InstanceId, Job,
    JobFilter, JobId, JobState, Lease, NewEvent, NewJob, Page, RollbackLogEntry, StoredResponse,
};
use openclaw_core::instance_secrets::SealedSecrets;
use openclaw_core::ports::{InstanceDelete, InstanceWrite, NewInstance, Store, StoreStats};
use openclaw_core::Result;
use openclaw_store_sql::{stats_from, to_u64};

use crate::connect::SqliteStore;
use crate::error;

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.inner.readers)
            .await
            .map_err(|e| error::map("ping", e))?;
        Ok(())
    }

    async fn insert_instance(&self, new: &NewInstance) -> Result<Event> {
        self.insert(new).await
    }

    async fn update_instance(&self, write: &InstanceWrite) -> Result<(Instance, Option<Event>)> {
        self.update(write).await
    }

    async fn delete_instance(&self, delete: &InstanceDelete) -> Result<Event> {
        self.delete(delete).await
    }

    async fn get_instance(&self, id: InstanceId) -> Result<Option<Instance>> {
        self.get(id).await
    }

    async fn instance_secrets(&self, id: InstanceId) -> Result<Option<SealedSecrets>> {
        self.secrets(id).await
    }

    async fn consume_bootstrap(
        &self,
        id: InstanceId,
        now: DateTime<Utc>,
    ) -> Result<Option<SealedSecrets>> {
        self.consume(id, now).await
    }

    async fn reset_bootstrap(&self, id: InstanceId) -> Result<()> {
        self.reset(id).await
    }

    async fn replace_instance_secrets(
        &self,
        id: InstanceId,
        expected: &SealedSecrets,
        sealed: &SealedSecrets,
    ) -> Result<bool> {
        self.replace_secrets(id, expected, sealed).await
    }

    async fn find_live_by_external_ref(
        &self,
        external_ref: &ExternalRef,
    ) -> Result<Option<Instance>> {
        self.find_live(external_ref).await
    }

    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Page<Instance>> {
        self.list(filter).await
    }

    async fn append_event(&self, event: &NewEvent) -> Result<Event> {
        self.append(event).await
    }

    async fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>> {
        self.read_events_after(after, limit).await
    }

    async fn instance_events(&self, id: InstanceId) -> Result<Vec<Event>> {
        self.read_instance_events(id).await
    }

    async fn last_event_sequence(&self) -> Result<u64> {
        // AUTOINCREMENT keeps the highest sequence ever given out here.
        let last: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
                .fetch_optional(&self.inner.readers)
                .await
                .map_err(|e| error::map("last_event_sequence", e))?;
        to_u64(last.unwrap_or(0), "the last event sequence")
    }

    async fn enqueue_job(&self, job: &NewJob) -> Result<Job> {
        self.enqueue(job).await
    }

    async fn claim_job(&self, request: &ClaimRequest) -> Result<Option<Job>> {
        self.claim(request).await
    }

    async fn claim_new_job(&self, job: &NewJob, request: &ClaimRequest) -> Result<Option<Job>> {
        self.claim_new(job, request).await
    }

    async fn heartbeat_job(&self, lease: &Lease, lease_for: chrono::Duration) -> Result<Lease> {
        self.heartbeat(lease, lease_for).await
    }

    async fn complete_job(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()> {
        self.complete(lease, now).await
    }

    async fn fail_job(
        &self,
        lease: &Lease,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<JobState> {
        self.fail(lease, error, retry_at, now).await
    }

    async fn release_job(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()> {
        self.release(lease, now).await
    }

    async fn get_job(&self, id: JobId) -> Result<Option<Job>> {
        self.job(id).await
    }

    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        self.jobs(filter).await
    }

    async fn stranded_dead_jobs(&self, limit: usize) -> Result<Vec<Job>> {
        self.stranded(limit).await
    }

    async fn purge_jobs(&self, before: DateTime<Utc>) -> Result<u64> {
        self.purge(before).await
    }

    async fn wait_for_jobs(&self, timeout: Duration) -> Result<()> {
        // Either outcome is fine: the caller looks for work in both cases.
        let _ = tokio::time::timeout(timeout, self.inner.jobs_changed.notified()).await;
        Ok(())
    }

    async fn put_idempotency(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>> {
        self.put_key(record).await
    }

    async fn complete_idempotency(&self, key: &str, response: &StoredResponse) -> Result<()> {
        self.complete_key(key, response).await
    }

    async fn delete_idempotency(&self, key: &str) -> Result<()> {
        self.delete_key(key).await
    }

    async fn get_idempotency(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>> {
        self.get_key(key, now).await
    }

    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<u64> {
        self.purge_keys(now).await
    }

    async fn rollback_log(&self, limit: usize) -> Result<Vec<RollbackLogEntry>> {
        self.rollback_entries(limit).await
    }

    async fn stats(&self) -> Result<StoreStats> {
        // A few rows whatever the size of the tables: the counts are kept by triggers in
        // the transaction of every write (`0008_store_counts.sql`). One statement, one
        // snapshot: the counts agree with each other.
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT kind, name, n FROM store_counts \
             UNION ALL SELECT 'events', 'last', \
                 coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
        )
        .fetch_all(&self.inner.readers)
        .await
        .map_err(|e| error::map("stats", e))?;
        stats_from(
            rows.iter()
                .map(|(k, name, n)| (k.as_str(), name.as_str(), *n)),
        )
    }
}
