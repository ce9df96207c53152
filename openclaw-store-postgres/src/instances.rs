//! Instances: compare-and-swap writes that carry their event, alert and job in the same
//! statement, fenced by the lease of the job that makes them, so a state change and its
//! event commit together or not at all, and never after the writer lost its lease.
//!
//! Each write is one statement of data-modifying CTEs: one round trip, one implicit
//! transaction. Locks are taken in one order by every write: the instance row, the fencing
//! job's row (`FOR SHARE`, so no claim can rescue the job until the write commits), the
//! event head, then the count rows (triggers at the end of the statement). The head, which
//! serializes all appends, is held only for the end of the statement and its commit.

use openclaw_core::domain::JobId;
use openclaw_core::domain::{Event, ExternalRef, Instance, InstanceFilter, InstanceId, Page};
use openclaw_core::instance_secrets::SealedSecrets;
use openclaw_core::ports::{InstanceDelete, InstanceWrite, NewInstance};
use openclaw_core::Result;
use openclaw_store_sql::{
    check_alert, instance_from, instance_listing, page_of, to_i64, Details, Found,
    INSTANCE_COLUMNS, NOT_LIVE,
};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::Postgres;
use uuid::Uuid;

use crate::connect::PgStore;
use crate::error;
use crate::events::{event_values, stored_event};
use crate::jobs::{lease_row, new_job_values};
use crate::row::{bound, get, PgColumns};

/// Binds the columns of `instance` that a write sets, in the order of [`INSTANCE_COLUMNS`]
/// without `version` (which the statement computes).
fn bind_instance<'q>(
    query: Query<'q, Postgres, PgArguments>,
    instance: &'q Instance,
) -> Query<'q, Postgres, PgArguments> {
    query
        .bind(instance.id.as_uuid())
        .bind(instance.customer_id.as_str())
        .bind(instance.external_ref.as_ref().map(ExternalRef::as_str))
        .bind(&instance.fqdn)
        .bind(instance.status.as_str())
        .bind(instance.created_at)
        .bind(instance.updated_at)
        .bind(instance.status_changed_at)
        .bind(Json(Details::of(instance)))
}

/// The fence of a write: `$1` the job, `$2` its lease token (both `NULL`: no fence). It
/// holds while the token is the job's current lease and the lease has not run out by the
/// database's clock; `FOR SHARE` makes a concurrent rescue of the job wait for this write.
const FENCE: &str = "SELECT 1 FROM jobs \
                     WHERE id = $1 AND lease_token = $2 AND state = 'running' \
                       AND lease_expires_at > now() \
                     FOR SHARE";

impl PgStore {
    pub(crate) async fn insert(&self, new: &NewInstance) -> Result<Event> {
        let (instance, event, job) = (&new.instance, &new.event, new.job.as_ref());
        let (topic, event_instance, at, body) = event_values(event);
        let job_values = new_job_values(job);
        let query = sqlx::query(
            "WITH inserted AS ( \
                 INSERT INTO instances (id, customer_id, external_ref, fqdn, status, version, \
                     created_at, updated_at, status_changed_at, details) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9) \
                 RETURNING id), \
             job AS ( \
                 INSERT INTO jobs (id, instance_id, kind, state, attempts, max_attempts, run_at, \
                     created_at, updated_at) \
                 SELECT $14, $15, $16, 'queued', 0, $17, $18, $19, $19 FROM inserted \
                 WHERE $14::uuid IS NOT NULL), \
             secrets AS ( \
                 INSERT INTO instance_secrets (instance_id, sealed) \
                 SELECT id, $21 FROM inserted WHERE $21::bytea IS NOT NULL), \
             head AS ( \
                 UPDATE event_log_head SET last_sequence = last_sequence + 1 \
                 WHERE EXISTS (SELECT 1 FROM inserted) \
                   AND set_config('synchronous_commit', $20, true) IS NOT NULL \
                 RETURNING last_sequence) \
             INSERT INTO events (sequence, topic, instance_id, at, body) \
             SELECT last_sequence, $10, $11, $12, $13 FROM head \
             RETURNING sequence, at",
        );
        let row = bind_instance(query, instance)
            .bind(topic)
            .bind(event_instance)
            .bind(at)
            .bind(body)
            .bind(job_values.id)
            .bind(job_values.instance_id)
            .bind(job_values.kind)
            .bind(job_values.max_attempts)
            .bind(job_values.run_at)
            .bind(self.clock.now())
            .bind(self.commit_setting())
            .bind(new.secrets.as_ref().map(SealedSecrets::as_bytes))
            .fetch_one(self.pool_ref())
            .await
            .map_err(|e| error::map("insert_instance", e))?;
        self.make_durable("insert_instance").await?;
        let stored = stored_event(event, &row)?;
        if job.is_some() {
            self.jobs_changed().await;
        }
        Ok(stored)
    }

    pub(crate) async fn update(&self, write: &InstanceWrite) -> Result<(Instance, Option<Event>)> {
        check_alert(write)?;
        let instance = &write.instance;
        let event = write.event.as_ref().map(event_values);
        let alert = write.alert.as_ref().map(event_values);
        let job_values = new_job_values(write.job.as_ref());
        let sql = format!(
            "WITH fence AS ({FENCE}), \
             updated AS ( \
                 UPDATE instances SET customer_id = $4, external_ref = $5, fqdn = $6, \
                     status = $7, version = version + 1, created_at = $8, updated_at = $9, \
                     status_changed_at = $10, details = $11 \
                 WHERE id = $3 AND version = $12 AND (status = $7 OR $13) \
                   AND ($1::uuid IS NULL OR EXISTS (SELECT 1 FROM fence)) \
                 RETURNING {INSTANCE_COLUMNS}), \
             job AS ( \
                 INSERT INTO jobs (id, instance_id, kind, state, attempts, max_attempts, run_at, \
                     created_at, updated_at) \
                 SELECT $14, $15, $16, 'queued', 0, $17, $18, $19, $19 FROM updated \
                 WHERE $14::uuid IS NOT NULL), \
             head AS ( \
                 UPDATE event_log_head \
                 SET last_sequence = last_sequence + CASE WHEN $21 THEN 2 ELSE 1 END \
                 WHERE $13 AND EXISTS (SELECT 1 FROM updated) \
                   AND set_config('synchronous_commit', \
                                  CASE WHEN $13 THEN $20 ELSE 'on' END, true) IS NOT NULL \
                 RETURNING last_sequence), \
             event AS ( \
                 INSERT INTO events (sequence, topic, instance_id, at, body) \
                 SELECT last_sequence - CASE WHEN $21 THEN 1 ELSE 0 END, $22, $23, $24, $25 \
                 FROM head \
                 RETURNING sequence, at), \
             alert AS ( \
                 INSERT INTO events (sequence, topic, instance_id, at, body) \
                 SELECT last_sequence, $26, $27, $28, $29 FROM head WHERE $21) \
             SELECT updated.*, event.sequence, event.at \
             FROM updated LEFT JOIN event ON true"
        );
        let query = sqlx::query(&sql)
            .bind(write.fence.map(|f| f.job_id.as_uuid()))
            .bind(write.fence.map(|f| f.token));
        let row = bind_instance(query, instance)
            .bind(to_i64(instance.version, "version")?)
            .bind(event.is_some())
            .bind(job_values.id)
            .bind(job_values.instance_id)
            .bind(job_values.kind)
            .bind(job_values.max_attempts)
            .bind(job_values.run_at)
            .bind(self.clock.now())
            .bind(self.commit_setting())
            .bind(alert.is_some())
            .bind(event.as_ref().map(|e| e.0))
            .bind(event.as_ref().and_then(|e| e.1))
            .bind(event.as_ref().map(|e| e.2))
            .bind(event.as_ref().map(|e| &e.3))
            .bind(alert.as_ref().map(|e| e.0))
            .bind(alert.as_ref().and_then(|e| e.1))
            .bind(alert.as_ref().map(|e| e.2))
            .bind(alert.as_ref().map(|e| &e.3))
            .fetch_optional(self.pool_ref())
            .await
            .map_err(|e| error::map("update_instance", e))?;
        let Some(row) = row else {
            let fence_job = write.fence.map(|f| f.job_id);
            let found = self
                .found("update_instance", instance.id, fence_job)
                .await?;
            return Err(found.update_refusal(write));
        };
        // Only a write with an event commits without waiting for the disk (the planner may
        // evaluate `set_config` whatever the `WHERE`, hence the `CASE`): a write without one,
        // such as the record of a server just created, is durable when it returns.
        if write.event.is_some() {
            self.make_durable("update_instance").await?;
        }
        let stored = instance_from(&PgColumns(&row))?;
        let event = match &write.event {
            Some(event) => Some(stored_event(event, &row)?),
            None => None,
        };
        if write.job.is_some() {
            self.jobs_changed().await;
        }
        Ok((stored, event))
    }

    pub(crate) async fn delete(&self, delete: &InstanceDelete) -> Result<Event> {
        let (log, fence) = (&delete.log, delete.fence);
        let (topic, event_instance, at, body) = event_values(&delete.event);
        let row = sqlx::query(&format!(
            "WITH fence AS ({FENCE}), \
             deleted AS ( \
                 DELETE FROM instances WHERE id = $3 AND version = $4 \
                   AND ($1::uuid IS NULL OR EXISTS (SELECT 1 FROM fence)) \
                 RETURNING id), \
             logged AS ( \
                 INSERT INTO rollback_log (instance_id, level, at, entry) \
                 SELECT $5, $6, $7, $8 FROM deleted), \
             head AS ( \
                 UPDATE event_log_head SET last_sequence = last_sequence + 1 \
                 WHERE EXISTS (SELECT 1 FROM deleted) \
                   AND set_config('synchronous_commit', $13, true) IS NOT NULL \
                 RETURNING last_sequence) \
             INSERT INTO events (sequence, topic, instance_id, at, body) \
             SELECT last_sequence, $9, $10, $11, $12 FROM head \
             RETURNING sequence, at"
        ))
        .bind(fence.map(|f| f.job_id.as_uuid()))
        .bind(fence.map(|f| f.token))
        .bind(delete.id.as_uuid())
        .bind(to_i64(delete.expected_version, "expected_version")?)
        .bind(log.instance_id.as_uuid())
        .bind(log.level.as_str())
        .bind(log.at)
        .bind(Json(log))
        .bind(topic)
        .bind(event_instance)
        .bind(at)
        .bind(body)
        .bind(self.commit_setting())
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("delete_instance", e))?;
        let Some(row) = row else {
            let fence_job = fence.map(|f| f.job_id);
            let found = self.found("delete_instance", delete.id, fence_job).await?;
            return Err(found.delete_refusal(delete));
        };
        self.make_durable("delete_instance").await?;
        stored_event(&delete.event, &row)
    }

    /// What a refused write of instance `id` (fenced by a lease of `fence_job`) found: read
    /// in one round trip, the fence by the database's clock.
    async fn found(
        &self,
        operation: &'static str,
        id: InstanceId,
        fence_job: Option<JobId>,
    ) -> Result<Found> {
        let row = sqlx::query(
            "SELECT i.version, i.status, j.id AS job_id, j.state, j.lease_token, \
                 coalesce(j.lease_expires_at > now(), false) AS live \
             FROM (SELECT 1) AS one \
             LEFT JOIN instances i ON i.id = $1 \
             LEFT JOIN jobs j ON j.id = $2",
        )
        .bind(id.as_uuid())
        .bind(fence_job.map(|j| j.as_uuid()))
        .fetch_one(self.pool_ref())
        .await
        .map_err(|e| error::map(operation, e))?;
        let version: Option<i64> = get(&row, "version")?;
        let status: Option<String> = get(&row, "status")?;
        let job: Option<Uuid> = get(&row, "job_id")?;
        Ok(Found {
            instance: version.zip(status),
            fence_job: match job {
                Some(_) => Some(lease_row(&row)?),
                None => None,
            },
        })
    }

    pub(crate) async fn get(&self, id: InstanceId) -> Result<Option<Instance>> {
        let row = sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("get_instance", e))?;
        row.map(|r| instance_from(&PgColumns(&r))).transpose()
    }

    pub(crate) async fn find_live(&self, external_ref: &ExternalRef) -> Result<Option<Instance>> {
        // The predicate repeats the partial unique index's, so the index answers.
        let row = sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances \
             WHERE external_ref = $1 AND status NOT IN {NOT_LIVE}"
        ))
        .bind(external_ref.as_str())
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("find_live_by_external_ref", e))?;
        row.map(|r| instance_from(&PgColumns(&r))).transpose()
    }

    pub(crate) async fn list(&self, filter: &InstanceFilter) -> Result<Page<Instance>> {
        let listing = instance_listing(filter, |n| format!("${n}"));
        let rows = bound(&listing)
            .fetch_all(self.pool_ref())
            .await
            .map_err(|e| error::map("list_instances", e))?;
        let items = rows
            .iter()
            .map(|r| instance_from(&PgColumns(r)))
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, filter))
    }
}
