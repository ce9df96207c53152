//! Instances: compare-and-swap writes that carry their event (and job) in the same
//! transaction, on the one writing connection.

use openclaw_core::domain::{
    CustomerId, Event, ExternalRef, Instance, InstanceFilter, InstanceId, InstanceStatus,
    LastError, NewEvent, Page, PlanName, RegionName, Resources, RollbackLogEntry, Subdomain,
};
use openclaw_core::ports::{InstanceWrite, NewInstance};
use openclaw_core::{Error, Result};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, Transaction};

use crate::connect::SqliteStore;
use crate::convert::{get, get_json, get_ts, get_u64, get_uuid, json, limit, to_i64, ts};
use crate::error::{self, corrupt};
use crate::events::append_on;
use crate::jobs::insert_job_on;

/// What of an instance is not a column.
#[derive(Serialize, Deserialize)]
struct Details {
    subdomain: Subdomain,
    plan: PlanName,
    region: RegionName,
    resources: Resources,
    #[serde(default)]
    last_error: Option<LastError>,
}

fn details_json(instance: &Instance) -> Result<String> {
    json(&Details {
        subdomain: instance.subdomain.clone(),
        plan: instance.plan.clone(),
        region: instance.region.clone(),
        resources: instance.resources.clone(),
        last_error: instance.last_error.clone(),
    })
}

const INSTANCE_COLUMNS: &str = "id, customer_id, external_ref, fqdn, status, version, \
                                created_at, updated_at, status_changed_at, details";

/// The statuses whose instances are not live; must match the partial unique indexes.
const NOT_LIVE: &str = "('terminated', 'rolled_back')";

fn instance_from_row(row: &SqliteRow) -> Result<Instance> {
    let details: Details = get_json(row, "details")?;
    let status: String = get(row, "status")?;
    let customer: String = get(row, "customer_id")?;
    let external_ref: Option<String> = get(row, "external_ref")?;
    // Every field is named, so a field added to `Instance` fails to compile here until
    // the store decides where to keep it.
    Ok(Instance {
        id: InstanceId::from_uuid(get_uuid(row, "id")?),
        customer_id: CustomerId::parse(customer).map_err(corrupt)?,
        external_ref: external_ref
            .map(ExternalRef::parse)
            .transpose()
            .map_err(corrupt)?,
        subdomain: details.subdomain,
        fqdn: get(row, "fqdn")?,
        plan: details.plan,
        region: details.region,
        status: status.parse::<InstanceStatus>().map_err(corrupt)?,
        resources: details.resources,
        version: get_u64(row, "version")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        status_changed_at: get_ts(row, "status_changed_at")?,
        last_error: details.last_error,
    })
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
        const OP: &str = "insert_instance";
        let (instance, event, job) = (&new.instance, &new.event, new.job.as_ref());
        let details = details_json(instance)?;
        let now = self.clock.now();
        let mut tx = self.write_tx(OP).await?;
        sqlx::query(
            "INSERT INTO instances (id, customer_id, external_ref, fqdn, status, version, \
                 created_at, updated_at, status_changed_at, details) \
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9)",
        )
        .bind(instance.id.to_string())
        .bind(instance.customer_id.as_str())
        .bind(instance.external_ref.as_ref().map(ExternalRef::as_str))
        .bind(&instance.fqdn)
        .bind(instance.status.as_str())
        .bind(ts(instance.created_at))
        .bind(ts(instance.updated_at))
        .bind(ts(instance.status_changed_at))
        .bind(details)
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
        let instance = &write.instance;
        let details = details_json(instance)?;
        let version = to_i64(instance.version, "version")?;
        let now = self.clock.now();
        let mut tx = self.write_tx(OP).await?;
        let updated = sqlx::query(
            "UPDATE instances SET customer_id = ?2, external_ref = ?3, fqdn = ?4, status = ?5, \
                 version = version + 1, created_at = ?6, updated_at = ?7, \
                 status_changed_at = ?8, details = ?9 \
             WHERE id = ?1 AND version = ?10 AND (status = ?5 OR ?11)",
        )
        .bind(instance.id.to_string())
        .bind(instance.customer_id.as_str())
        .bind(instance.external_ref.as_ref().map(ExternalRef::as_str))
        .bind(&instance.fqdn)
        .bind(instance.status.as_str())
        .bind(ts(instance.created_at))
        .bind(ts(instance.updated_at))
        .bind(ts(instance.status_changed_at))
        .bind(details)
        .bind(version)
        .bind(write.event.is_some())
        .execute(&mut *tx)
        .await
        .map_err(|e| error::map(OP, e))?;
        if updated.rows_affected() == 0 {
            return Err(why_not_written(&mut tx, write).await);
        }
        if let Some(job) = &write.job {
            insert_job_on(&mut tx, OP, job, now).await?;
        }
        let event = match &write.event {
            Some(event) => Some(append_on(&mut tx, OP, event).await?),
            None => None,
        };
        tx.commit().await.map_err(|e| error::map(OP, e))?;
        if write.job.is_some() {
            self.wake_workers();
        }
        let mut stored = instance.clone();
        stored.version = instance.version + 1;
        Ok((stored, event))
    }

    pub(crate) async fn delete(
        &self,
        id: InstanceId,
        expected_version: u64,
        event: &NewEvent,
        log: &RollbackLogEntry,
    ) -> Result<Event> {
        let result = self.write_delete(id, expected_version, event, log).await;
        self.inner.cache.forget(id);
        result
    }

    async fn write_delete(
        &self,
        id: InstanceId,
        expected_version: u64,
        event: &NewEvent,
        log: &RollbackLogEntry,
    ) -> Result<Event> {
        const OP: &str = "delete_instance";
        let entry = json(log)?;
        let mut tx = self.write_tx(OP).await?;
        let deleted = sqlx::query("DELETE FROM instances WHERE id = ?1 AND version = ?2")
            .bind(id.to_string())
            .bind(to_i64(expected_version, "expected_version")?)
            .execute(&mut *tx)
            .await
            .map_err(|e| error::map(OP, e))?;
        if deleted.rows_affected() == 0 {
            let current: Option<i64> =
                sqlx::query_scalar("SELECT version FROM instances WHERE id = ?1")
                    .bind(id.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| error::map(OP, e))?;
            return Err(match current {
                Some(version) => Error::conflict(format!(
                    "instance {id} is at version {version}, not {expected_version}"
                )),
                None => Error::not_found("instance", id),
            });
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
        let stored = append_on(&mut tx, OP, event).await?;
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
        let instance = row.as_ref().map(instance_from_row).transpose()?;
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
        row.as_ref().map(instance_from_row).transpose()
    }

    pub(crate) async fn list(&self, filter: &InstanceFilter) -> Result<Page<Instance>> {
        let page_size = filter.effective_limit();
        let mut query: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new(format!("SELECT {INSTANCE_COLUMNS} FROM instances WHERE 1"));
        if let Some(customer) = &filter.customer_id {
            query
                .push(" AND customer_id = ")
                .push_bind(customer.as_str());
        }
        if let Some(status) = filter.status {
            query.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(reference) = &filter.external_ref {
            query
                .push(" AND external_ref = ")
                .push_bind(reference.as_str());
        }
        if let Some(after) = filter.after {
            query.push(" AND id > ").push_bind(after.to_string());
        }
        // One more than a page tells whether another page follows.
        query
            .push(" ORDER BY id LIMIT ")
            .push_bind(limit(page_size + 1));
        let rows = query
            .build()
            .fetch_all(&self.inner.readers)
            .await
            .map_err(|e| error::map("list_instances", e))?;
        let mut items = rows
            .iter()
            .map(instance_from_row)
            .collect::<Result<Vec<_>>>()?;
        let next = if items.len() > page_size {
            items.truncate(page_size);
            items.last().map(|i| i.id)
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

/// Why an update matched no row: an unknown id, a stale version, or a status change
/// without its event. Read in the writing transaction, so the answer is exact.
async fn why_not_written(conn: &mut SqliteConnection, write: &InstanceWrite) -> Error {
    let id = write.instance.id;
    let current =
        sqlx::query_as::<_, (i64, String)>("SELECT version, status FROM instances WHERE id = ?1")
            .bind(id.to_string())
            .fetch_optional(conn)
            .await;
    match current {
        Err(e) => error::map("update_instance", e),
        Ok(None) => Error::not_found("instance", id),
        Ok(Some((version, status)))
            if u64::try_from(version).ok() == Some(write.instance.version) =>
        {
            Error::invalid(
                "event",
                format!(
                    "the change of instance {id} from {status} to {} must be written with its \
                     event",
                    write.instance.status
                ),
            )
        }
        Ok(Some((version, _))) => Error::conflict(format!(
            "instance {id} is at version {version}, not {}",
            write.instance.version
        )),
    }
}
