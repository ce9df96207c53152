//! Instances: compare-and-swap writes that carry their event, alert and job in the same
//! transaction on the one writing connection, fenced by the lease of the job that makes
//! them (checked in the statement that writes, by this store's clock).

use openclaw_core::domain::{
    Event, ExternalRef, Instance, InstanceFilter, InstanceId, JobId, Page,
};
use openclaw_core::ports::{InstanceDelete, InstanceWrite, NewInstance};
use openclaw_core::Result;
use openclaw_store_sql::{
    check_alert, instance_from, instance_listing, page_of, to_i64, Details, Found,
    INSTANCE_COLUMNS, NOT_LIVE,
};
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Sqlite, SqliteConnection, Transaction};

use crate::connect::SqliteStore;
use crate::convert::{json, ts};
use crate::error;
use crate::events::append_on;
use crate::jobs::{insert_job_on, lease_row};
use crate::row::{bound, get, SqliteColumns};

/// The fence of a write, for its `WHERE`: `?f1` the job, `?f2` its lease token (both `NULL`:
/// no fence), `?f3` this store's now. It holds while the token is the job's current lease
/// and the lease has not run out.
fn fence(job: usize, token: usize, now: usize) -> String {
    format!(
        "(?{job} IS NULL OR EXISTS (SELECT 1 FROM jobs \
             WHERE id = ?{job} AND lease_token = ?{token} AND state = 'running' \
               AND lease_expires_at > ?{now}))"
    )
}

/// Binds the columns of `instance` that a write sets (`?1` to `?9`), in the order of
/// [`INSTANCE_COLUMNS`] without `version` (which the statement computes).
fn bind_instance<'q>(
    query: Query<'q, Sqlite, SqliteArguments<'q>>,
    instance: &'q Instance,
    details: String,
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    query
        .bind(instance.id.to_string())
        .bind(instance.customer_id.as_str())
        .bind(instance.external_ref.as_ref().map(ExternalRef::as_str))
        .bind(&instance.fqdn)
        .bind(instance.status.as_str())
        .bind(ts(instance.created_at))
        .bind(ts(instance.updated_at))
        .bind(ts(instance.status_changed_at))
        .bind(details)
}

impl SqliteStore {
    /// A transaction on the writing connection that holds SQLite's write lock from its
    /// first statement, so it can never fail half-way because another process wrote first.
    pub(crate) async fn write_tx(
        &self,
        operation: &'static str,
    ) -> Result<Transaction<'static, Sqlite>> {
        self.inner
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| error::map(operation, e))
    }

    pub(crate) async fn insert(&self, new: &NewInstance) -> Result<Event> {
        self.inner.cache.begin_write(new.instance.id);
        let result = self.write_insert(new).await;
        if result.is_err() {
            self.inner.cache.forget(new.instance.id);
        }
        result
    }

    async fn write_insert(&self, new: &NewInstance) -> Result<Event> {
        const OP: &str = "insert_instance";
        let (instance, event, job) = (&new.instance, &new.event, new.job.as_ref());
        let details = json(&Details::of(instance))?;
        let now = self.clock.now();
        let mut tx = self.write_tx(OP).await?;
        let sql = format!(
            "INSERT INTO instances ({INSTANCE_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9)"
        );
        bind_instance(sqlx::query(&sql), instance, details)
            .execute(&mut *tx)
            .await
            .map_err(|e| error::map(OP, e))?;
        if let Some(job) = job {
            insert_job_on(&mut tx, OP, job, now).await?;
        }
        if let Some(secrets) = &new.secrets {
            sqlx::query("INSERT INTO instance_secrets (instance_id, sealed) VALUES (?1, ?2)")
                .bind(instance.id.to_string())
                .bind(secrets.as_bytes())
                .execute(&mut *tx)
                .await
                .map_err(|e| error::map(OP, e))?;
        }
        let stored = append_on(&mut tx, OP, event).await?;
        tx.commit().await.map_err(|e| error::map(OP, e))?;
        let mut written = instance.clone();
        written.version = 1;
        self.inner.cache.wrote(&written);
        if job.is_some() {
            self.wake_workers();
        }
        Ok(stored)
    }

    pub(crate) async fn update(&self, write: &InstanceWrite) -> Result<(Instance, Option<Event>)> {
        self.inner.cache.begin_write(write.instance.id);
        let result = self.write_update(write).await;
        match &result {
            Ok((stored, _)) => self.inner.cache.wrote(stored),
            // A newer version elsewhere (or an outcome we cannot be sure of): the caller's
            // next read must come from the file.
            Err(_) => self.inner.cache.forget(write.instance.id),
        }
        result
    }

    async fn write_update(&self, write: &InstanceWrite) -> Result<(Instance, Option<Event>)> {
        const OP: &str = "update_instance";
        check_alert(write)?;
        let instance = &write.instance;
        let details = json(&Details::of(instance))?;
        let version = to_i64(instance.version, "version")?;
        let now = self.clock.now();
        let mut tx = self.write_tx(OP).await?;
        let sql = format!(
            "UPDATE instances SET customer_id = ?2, external_ref = ?3, fqdn = ?4, status = ?5, \
                 version = version + 1, created_at = ?6, updated_at = ?7, \
                 status_changed_at = ?8, details = ?9 \
             WHERE id = ?1 AND version = ?10 AND (status = ?5 OR ?11) AND {}",
            fence(12, 13, 14)
        );
        let updated = bind_instance(sqlx::query(&sql), instance, details)
            .bind(version)
            .bind(write.event.is_some())
            .bind(write.fence.map(|f| f.job_id.to_string()))
            .bind(write.fence.map(|f| f.token.to_string()))
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| error::map(OP, e))?;
        if updated.rows_affected() == 0 {
            let fence_job = write.fence.map(|f| f.job_id);
            let found = found_on(&mut tx, OP, instance.id, fence_job, now).await?;
            return Err(found.update_refusal(write));
        }
        if let Some(job) = &write.job {
            insert_job_on(&mut tx, OP, job, now).await?;
        }
        let event = match &write.event {
            Some(event) => Some(append_on(&mut tx, OP, event).await?),
            None => None,
        };
        if let Some(alert) = &write.alert {
            // The next sequence: nothing else writes in between on the one writer.
            append_on(&mut tx, OP, alert).await?;
        }
        tx.commit().await.map_err(|e| error::map(OP, e))?;
        if write.job.is_some() {
            self.wake_workers();
        }
        let mut stored = instance.clone();
        stored.version = instance.version + 1;
        Ok((stored, event))
    }

    pub(crate) async fn delete(&self, delete: &InstanceDelete) -> Result<Event> {
        self.inner.cache.begin_write(delete.id);
        let result = self.write_delete(delete).await;
        self.inner.cache.forget(delete.id);
        result
    }

    async fn write_delete(&self, delete: &InstanceDelete) -> Result<Event> {
        const OP: &str = "delete_instance";
        let (id, log) = (delete.id, &delete.log);
        let entry = json(log)?;
        let now = self.clock.now();
        let mut tx = self.write_tx(OP).await?;
        let deleted = sqlx::query(&format!(
            "DELETE FROM instances WHERE id = ?1 AND version = ?2 AND {}",
            fence(3, 4, 5)
        ))
        .bind(id.to_string())
        .bind(to_i64(delete.expected_version, "expected_version")?)
        .bind(delete.fence.map(|f| f.job_id.to_string()))
        .bind(delete.fence.map(|f| f.token.to_string()))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| error::map(OP, e))?;
        if deleted.rows_affected() == 0 {
            let fence_job = delete.fence.map(|f| f.job_id);
            let found = found_on(&mut tx, OP, id, fence_job, now).await?;
            return Err(found.delete_refusal(delete));
        }
        sqlx::query(
            "INSERT INTO rollback_log (instance_id, level, at, entry) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(log.instance_id.to_string())
        .bind(log.level.as_str())
        .bind(ts(log.at))
        .bind(entry)
        .execute(&mut *tx)
        .await
        .map_err(|e| error::map(OP, e))?;
        let stored = append_on(&mut tx, OP, &delete.event).await?;
        tx.commit().await.map_err(|e| error::map(OP, e))?;
        Ok(stored)
    }

    pub(crate) async fn get(&self, id: InstanceId) -> Result<Option<Instance>> {
        let cache = &self.inner.cache;
        if let Some(instance) = cache.get(id) {
            return Ok(Some(instance));
        }
        let start = cache.read_start();
        let row = sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances WHERE id = ?1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.inner.readers)
        .await
        .map_err(|e| error::map("get_instance", e))?;
        let instance = row.map(|r| instance_from(&SqliteColumns(&r))).transpose()?;
        if let Some(found) = &instance {
            cache.fill(start, found);
        }
        Ok(instance)
    }

    pub(crate) async fn find_live(&self, external_ref: &ExternalRef) -> Result<Option<Instance>> {
        // The predicate repeats the partial unique index's, so the index answers.
        let row = sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances \
             WHERE external_ref = ?1 AND external_ref IS NOT NULL AND status NOT IN {NOT_LIVE}"
        ))
        .bind(external_ref.as_str())
        .fetch_optional(&self.inner.readers)
        .await
        .map_err(|e| error::map("find_live_by_external_ref", e))?;
        row.map(|r| instance_from(&SqliteColumns(&r))).transpose()
    }

    pub(crate) async fn list(&self, filter: &InstanceFilter) -> Result<Page<Instance>> {
        let listing = instance_listing(filter, |n| format!("?{n}"));
        let rows = bound(&listing)
            .fetch_all(&self.inner.readers)
            .await
            .map_err(|e| error::map("list_instances", e))?;
        let items = rows
            .iter()
            .map(|r| instance_from(&SqliteColumns(r)))
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, filter))
    }
}

/// What a refused write of instance `id` (fenced by a lease of `fence_job`) found, read in
/// the writing transaction, so the answer is exact.
async fn found_on(
    conn: &mut SqliteConnection,
    operation: &'static str,
    id: InstanceId,
    fence_job: Option<JobId>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Found> {
    let row = sqlx::query(
        "SELECT i.version, i.status, j.id AS job_id, j.state, j.lease_token, \
             coalesce(j.lease_expires_at > ?3, 0) AS live \
         FROM (SELECT 1) AS one \
         LEFT JOIN instances i ON i.id = ?1 \
         LEFT JOIN jobs j ON j.id = ?2",
    )
    .bind(id.to_string())
    .bind(fence_job.map(|j| j.to_string()))
    .bind(ts(now))
    .fetch_one(conn)
    .await
    .map_err(|e| error::map(operation, e))?;
    let version: Option<i64> = get(&row, "version")?;
    let status: Option<String> = get(&row, "status")?;
    let job: Option<String> = get(&row, "job_id")?;
    Ok(Found {
        instance: version.zip(status),
        fence_job: match job {
            Some(_) => Some(lease_row(&row)?),
            None => None,
        },
    })
}
