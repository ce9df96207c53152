//! Instances: compare-and-swap writes that carry their event (and job) in the same
//! statement, so a state change and its event commit together or not at all.
//!
//! Each write is one statement of data-modifying CTEs: one round trip, one implicit
//! transaction. The instance row is locked first and the event head last, so every write
//! takes its locks in the same order and holds the head (which serializes all appends) only
//! for the end of the statement and its commit.

use openclaw_core::domain::{
    CustomerId, Event, ExternalRef, Instance, InstanceFilter, InstanceId, InstanceStatus,
    LastError, NewEvent, Page, PlanName, RegionName, Resources, RollbackLogEntry, Subdomain,
};
use openclaw_core::instance_secrets::SealedSecrets;
use openclaw_core::ports::{InstanceWrite, NewInstance};
use openclaw_core::{Error, Result};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};

use crate::connect::PgStore;
use crate::convert::{get, limit, to_i64, to_u64};
use crate::error::{self, corrupt};
use crate::events::{event_columns, stored_event};
use crate::jobs::new_job_columns;

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

impl Details {
    fn of(instance: &Instance) -> Self {
        Details {
            subdomain: instance.subdomain.clone(),
            plan: instance.plan.clone(),
            region: instance.region.clone(),
            resources: instance.resources.clone(),
            last_error: instance.last_error.clone(),
        }
    }
}

const INSTANCE_COLUMNS: &str = "id, customer_id, external_ref, fqdn, status, version, \
                                created_at, updated_at, status_changed_at, details";

/// The statuses whose instances are not live; must match the partial unique indexes.
const NOT_LIVE: &str = "('terminated', 'rolled_back')";

fn instance_from_row(row: &PgRow) -> Result<Instance> {
    let Json(details): Json<Details> = get(row, "details")?;
    let status: String = get(row, "status")?;
    let customer: String = get(row, "customer_id")?;
    let external_ref: Option<String> = get(row, "external_ref")?;
    // Every field is named, so a field added to `Instance` fails to compile here until
    // the store decides where to keep it.
    Ok(Instance {
        id: InstanceId::from_uuid(get(row, "id")?),
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
        version: to_u64(get(row, "version")?, "instances.version")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        status_changed_at: get(row, "status_changed_at")?,
        last_error: details.last_error,
    })
}

impl PgStore {
    pub(crate) async fn insert(&self, new: &NewInstance) -> Result<Event> {
        let (instance, event, job) = (&new.instance, &new.event, new.job.as_ref());
        let (topic, event_instance, at, body) = event_columns(event);
        let job_columns = new_job_columns(job)?;
        let row = sqlx::query(
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
        )
        .bind(instance.id.as_uuid())
        .bind(instance.customer_id.as_str())
        .bind(instance.external_ref.as_ref().map(ExternalRef::as_str))
        .bind(&instance.fqdn)
        .bind(instance.status.as_str())
        .bind(instance.created_at)
        .bind(instance.updated_at)
        .bind(instance.status_changed_at)
        .bind(Json(Details::of(instance)))
        .bind(topic)
        .bind(event_instance)
        .bind(at)
        .bind(body)
        .bind(job_columns.id)
        .bind(job_columns.instance_id)
        .bind(job_columns.kind)
        .bind(job_columns.max_attempts)
        .bind(job_columns.run_at)
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
        let instance = &write.instance;
        let event = write.event.as_ref().map(event_columns);
        let job_columns = new_job_columns(write.job.as_ref())?;
        let row = sqlx::query(
            "WITH updated AS ( \
                 UPDATE instances SET customer_id = $2, external_ref = $3, fqdn = $4, \
                     status = $5, version = version + 1, created_at = $6, updated_at = $7, \
                     status_changed_at = $8, details = $9 \
                 WHERE id = $1 AND version = $10 AND (status = $5 OR $11) \
                 RETURNING id, customer_id, external_ref, fqdn, status, version, created_at, \
                     updated_at, status_changed_at, details), \
             job AS ( \
                 INSERT INTO jobs (id, instance_id, kind, state, attempts, max_attempts, run_at, \
                     created_at, updated_at) \
                 SELECT $16, $17, $18, 'queued', 0, $19, $20, $21, $21 FROM updated \
                 WHERE $16::uuid IS NOT NULL), \
             head AS ( \
                 UPDATE event_log_head SET last_sequence = last_sequence + 1 \
                 WHERE $11 AND EXISTS (SELECT 1 FROM updated) \
                   AND set_config('synchronous_commit', \
                                  CASE WHEN $11 THEN $22 ELSE 'on' END, true) IS NOT NULL \
                 RETURNING last_sequence), \
             event AS ( \
                 INSERT INTO events (sequence, topic, instance_id, at, body) \
                 SELECT last_sequence, $12, $13, $14, $15 FROM head \
                 RETURNING sequence, at) \
             SELECT updated.*, event.sequence, event.at \
             FROM updated LEFT JOIN event ON true",
        )
        .bind(instance.id.as_uuid())
        .bind(instance.customer_id.as_str())
        .bind(instance.external_ref.as_ref().map(ExternalRef::as_str))
        .bind(&instance.fqdn)
        .bind(instance.status.as_str())
        .bind(instance.created_at)
        .bind(instance.updated_at)
        .bind(instance.status_changed_at)
        .bind(Json(Details::of(instance)))
        .bind(to_i64(instance.version, "version")?)
        .bind(event.is_some())
        .bind(event.as_ref().map(|e| e.0))
        .bind(event.as_ref().and_then(|e| e.1))
        .bind(event.as_ref().map(|e| e.2))
        .bind(event.as_ref().map(|e| &e.3))
        .bind(job_columns.id)
        .bind(job_columns.instance_id)
        .bind(job_columns.kind)
        .bind(job_columns.max_attempts)
        .bind(job_columns.run_at)
        .bind(self.clock.now())
        .bind(self.commit_setting())
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("update_instance", e))?;
        let Some(row) = row else {
            return Err(self.why_not_written(write).await);
        };
        // Only a write with an event commits without waiting for the disk (the planner may
        // evaluate `set_config` whatever the `WHERE`, hence the `CASE`): a write without one,
        // such as the record of a server just created, is durable when it returns.
        if write.event.is_some() {
            self.make_durable("update_instance").await?;
        }
        let stored = instance_from_row(&row)?;
        let event = match &write.event {
            Some(event) => Some(stored_event(event, &row)?),
            None => None,
        };
        if write.job.is_some() {
            self.jobs_changed().await;
        }
        Ok((stored, event))
    }

    /// Why an update matched no row: an unknown id, a stale version, or a status change
    /// without its event.
    async fn why_not_written(&self, write: &InstanceWrite) -> Error {
        let id = write.instance.id;
        let current = sqlx::query_as::<_, (i64, String)>(
            "SELECT version, status FROM instances WHERE id = $1",
        )
        .bind(id.as_uuid())
        .fetch_optional(self.pool_ref())
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
                        "the change of instance {id} from {status} to {} must be written with \
                         its event",
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

    pub(crate) async fn delete(
        &self,
        id: InstanceId,
        expected_version: u64,
        event: &NewEvent,
        log: &RollbackLogEntry,
    ) -> Result<Event> {
        let (topic, event_instance, at, body) = event_columns(event);
        let row = sqlx::query(
            "WITH deleted AS ( \
                 DELETE FROM instances WHERE id = $1 AND version = $2 RETURNING id), \
             logged AS ( \
                 INSERT INTO rollback_log (instance_id, level, at, entry) \
                 SELECT $3, $4, $5, $6 FROM deleted), \
             head AS ( \
                 UPDATE event_log_head SET last_sequence = last_sequence + 1 \
                 WHERE EXISTS (SELECT 1 FROM deleted) \
                   AND set_config('synchronous_commit', $11, true) IS NOT NULL \
                 RETURNING last_sequence) \
             INSERT INTO events (sequence, topic, instance_id, at, body) \
             SELECT last_sequence, $7, $8, $9, $10 FROM head \
             RETURNING sequence, at",
        )
        .bind(id.as_uuid())
        .bind(to_i64(expected_version, "expected_version")?)
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
        match row {
            Some(row) => {
                self.make_durable("delete_instance").await?;
                stored_event(event, &row)
            }
            None => match self.get(id).await? {
                Some(current) => Err(Error::conflict(format!(
                    "instance {id} is at version {}, not {expected_version}",
                    current.version
                ))),
                None => Err(Error::not_found("instance", id)),
            },
        }
    }

    pub(crate) async fn get(&self, id: InstanceId) -> Result<Option<Instance>> {
        let row = sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.pool_ref())
        .await
        .map_err(|e| error::map("get_instance", e))?;
        row.as_ref().map(instance_from_row).transpose()
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
        row.as_ref().map(instance_from_row).transpose()
    }

    pub(crate) async fn list(&self, filter: &InstanceFilter) -> Result<Page<Instance>> {
        let page_size = filter.effective_limit();
        let mut query: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances WHERE true"
        ));
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
            query.push(" AND id > ").push_bind(after.as_uuid());
        }
        // One more than a page tells whether another page follows.
        query
            .push(" ORDER BY id LIMIT ")
            .push_bind(limit(page_size + 1));
        let rows = query
            .build()
            .fetch_all(self.pool_ref())
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
