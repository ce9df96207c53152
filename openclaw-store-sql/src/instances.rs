//! Instances as rows: the columns both schemas give the `instances` table, the JSON
//! `details` column that holds the rest, and the assembly of an [`Instance`] from a row.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use openclaw_core::domain::{
    CustomerId, ExternalRef, Instance, InstanceId, InstanceStatus, LastError, PendingRequest,
    PlanChange, PlanName, RegionName, Resources, Subdomain, ALL_STATUSES,
};
use openclaw_core::Result;
use serde::{Deserialize, Serialize};

use crate::columns::Columns;
use crate::errors::corrupt;
use crate::numbers::to_u64;

/// The columns of `instances`, in the order the statements of both stores select them.
pub const INSTANCE_COLUMNS: &str = "id, customer_id, external_ref, fqdn, status, version, \
                                    created_at, updated_at, status_changed_at, details";

/// The statuses whose instances are not live, as an SQL list; it must match the partial
/// unique indexes `instances_live_external_ref` and `instances_live_fqdn`, whose predicate
/// a query repeats so the index answers.
pub const NOT_LIVE: &str = "('terminated', 'rolled_back')";

/// The statuses in progress (a worker is or should be acting), as an SQL list.
pub static IN_PROGRESS: LazyLock<String> = LazyLock::new(|| {
    let names: Vec<String> = ALL_STATUSES
        .into_iter()
        .filter(|s| s.is_in_progress())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", names.join(", "))
});

/// What of an instance is not a column: what only the engine reads. A field added here
/// needs no migration; one added later must have a serde default, so rows written before it
/// still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    /// See [`Instance::subdomain`].
    pub subdomain: Subdomain,
    /// See [`Instance::plan`].
    pub plan: PlanName,
    /// See [`Instance::region`].
    pub region: RegionName,
    /// See [`Instance::resources`].
    pub resources: Resources,
    /// See [`Instance::last_error`].
    #[serde(default)]
    pub last_error: Option<LastError>,
    /// See [`Instance::activated_at`].
    #[serde(default)]
    pub activated_at: Option<DateTime<Utc>>,
    /// See [`Instance::pending_request`].
    #[serde(default)]
    pub pending_request: Option<PendingRequest>,
    /// See [`Instance::plan_change`].
    #[serde(default)]
    pub plan_change: Option<PlanChange>,
}

impl Details {
    /// The details of `instance`, to store.
    pub fn of(instance: &Instance) -> Self {
        Details {
            subdomain: instance.subdomain.clone(),
            plan: instance.plan.clone(),
            region: instance.region.clone(),
            resources: instance.resources.clone(),
            last_error: instance.last_error.clone(),
            activated_at: instance.activated_at,
            pending_request: instance.pending_request,
            plan_change: instance.plan_change.clone(),
        }
    }
}

/// The instance in a row of [`INSTANCE_COLUMNS`].
pub fn instance_from(row: &impl Columns) -> Result<Instance> {
    let details: Details = row.json("details")?;
    let status = row.text("status")?;
    // Every field is named, so a field added to `Instance` fails to compile here until
    // someone decides where the stores keep it.
    Ok(Instance {
        id: InstanceId::from_uuid(row.uuid("id")?),
        customer_id: CustomerId::parse(row.text("customer_id")?).map_err(corrupt)?,
        external_ref: row
            .opt_text("external_ref")?
            .map(ExternalRef::parse)
            .transpose()
            .map_err(corrupt)?,
        subdomain: details.subdomain,
        fqdn: row.text("fqdn")?,
        plan: details.plan,
        region: details.region,
        status: status.parse::<InstanceStatus>().map_err(corrupt)?,
        resources: details.resources,
        version: to_u64(row.int("version")?, "instances.version")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        status_changed_at: row.time("status_changed_at")?,
        last_error: details.last_error,
        activated_at: details.activated_at,
        pending_request: details.pending_request,
        plan_change: details.plan_change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_written_before_the_new_fields_still_read() {
        let old = r#"{"subdomain":"a1","plan":"starter","region":"eu-west",
                      "resources":{"server_id":null,"ipv4":null,"ipv6":null,"dns_record_ids":[]}}"#;
        let details: Details = serde_json::from_str(old).unwrap();
        assert_eq!(details.activated_at, None);
        assert_eq!(details.pending_request, None);
        assert_eq!(details.plan_change, None);
        assert_eq!(details.resources.disk_gb, None);
        assert_eq!(details.resources.server_recorded_at, None);
    }

    #[test]
    fn in_progress_lists_the_statuses_a_worker_acts_on() {
        assert_eq!(
            IN_PROGRESS.as_str(),
            "('pending', 'provisioning', 'suspending', 'unsuspending', 'terminating', \
             'rolling_back', 'resizing')"
        );
    }
}
