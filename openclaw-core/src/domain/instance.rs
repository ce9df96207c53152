//! An instance: one customer's OpenClaw server, its DNS name, and where it is in its lifecycle.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::catalog::{Catalog, PlanName, RegionName};
use super::ids::{CustomerId, ExternalRef, InstanceId, RecordId, ServerId};
use super::rollback::RollbackLevel;
use super::status::InstanceStatus;
use super::subdomain::Subdomain;
use crate::error::{Error, Result};
use crate::secret::SecretString;

/// One managed OpenClaw instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Its id (UUIDv7).
    pub id: InstanceId,
    /// The billing customer it belongs to.
    pub customer_id: CustomerId,
    /// The billing system's reference (a WHMCS service id); unique among live instances.
    pub external_ref: Option<ExternalRef>,
    /// The DNS label under the deployment's zone.
    pub subdomain: Subdomain,
    /// `<subdomain>.<zone>`, fixed at creation.
    pub fqdn: String,
    /// The plan ordered.
    pub plan: PlanName,
    /// The region ordered.
    pub region: RegionName,
    /// Where it is in its lifecycle.
    pub status: InstanceStatus,
    /// What the providers gave it so far.
    pub resources: Resources,
    /// Optimistic-concurrency version: every write must name the version it read, and
    /// increments it.
    pub version: u64,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
    /// When its current status began (deadlines are measured from here).
    pub status_changed_at: DateTime<Utc>,
    /// The last error that stopped an operation, if any.
    pub last_error: Option<LastError>,
    /// When it first became `active`; `None` for an instance that never was (a `retry` of
    /// such a failed instance provisions it afresh, and it cannot be suspended).
    #[serde(default)]
    pub activated_at: Option<DateTime<Utc>>,
    /// A suspend or unsuspend billing asked for while the instance was on its way to the
    /// state where it applies (a suspend while it is still being provisioned, an unsuspend
    /// while it is being suspended). It is carried out as soon as the instance gets there;
    /// the opposite request before then withdraws it.
    #[serde(default)]
    pub pending_request: Option<PendingRequest>,
    /// The plan change under way (while `resizing`, or `failed` by one, so `retry` knows
    /// where it was going). `plan` stays the old plan until the change has succeeded.
    #[serde(default)]
    pub plan_change: Option<PlanChange>,
}

/// A plan change: where the instance is going, and where it returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlanChange {
    /// The plan it had.
    pub from: PlanName,
    /// The plan it is moving to.
    pub to: PlanName,
    /// The status it returns to: `active` (powered on again and healthy) or `suspended`
    /// (left off).
    pub resume: InstanceStatus,
    /// Set once the new type has failed: the server is being moved back to `from`'s type,
    /// and the instance returns to `resume` on its old plan with the error kept.
    #[serde(default)]
    pub reverting: bool,
}

/// A billing request waiting for the instance to reach the state where it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingRequest {
    /// Suspend once active.
    Suspend,
    /// Unsuspend once suspended.
    Unsuspend,
}

impl PendingRequest {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            PendingRequest::Suspend => "suspend",
            PendingRequest::Unsuspend => "unsuspend",
        }
    }
}

impl Instance {
    /// A new `pending` instance at version 1, from a validated request.
    pub fn new(id: InstanceId, request: ValidCreate, zone: &str, now: DateTime<Utc>) -> Self {
        let fqdn = request.subdomain.fqdn(zone);
        Instance {
            id,
            customer_id: request.customer_id,
            external_ref: request.external_ref,
            subdomain: request.subdomain,
            fqdn,
            plan: request.plan,
            region: request.region,
            status: InstanceStatus::Pending,
            resources: Resources::default(),
            version: 1,
            created_at: now,
            updated_at: now,
            status_changed_at: now,
            last_error: None,
            activated_at: None,
            pending_request: None,
            plan_change: None,
        }
    }
}

/// What the providers gave an instance. Each field is written to the store right after the
/// side effect that produced it, before anything else happens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// The server's id at the compute provider.
    pub server_id: Option<ServerId>,
    /// The server's public IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// The server's public IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// The ids of its DNS records (A, and AAAA when it has IPv6).
    #[serde(default)]
    pub dns_record_ids: Vec<RecordId>,
    /// When the server was recorded, which is when the DNS step began: the DNS deadline
    /// counts from here, whichever worker runs the step.
    #[serde(default)]
    pub server_recorded_at: Option<DateTime<Utc>>,
    /// The server's disk in GB as the provider reported it. Plan changes keep the disk, so
    /// this is the smallest disk a later plan may have.
    #[serde(default)]
    pub disk_gb: Option<u32>,
}

impl Resources {
    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.server_id.is_none() && self.dns_record_ids.is_empty()
    }
}

/// The long-running operations the engine performs on an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Create server, DNS record, wait for health, activate.
    Provision,
    /// Power off.
    Suspend,
    /// Power on and wait for health.
    Unsuspend,
    /// Delete DNS records and server.
    Terminate,
    /// Undo a provisioning.
    Rollback,
    /// Delete a resource of the instance that nothing claims (the orphan sweep).
    Sweep,
    /// Move the server to another plan's server type.
    ChangePlan,
}

impl Operation {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Provision => "provision",
            Operation::Suspend => "suspend",
            Operation::Unsuspend => "unsuspend",
            Operation::Terminate => "terminate",
            Operation::Rollback => "rollback",
            Operation::Sweep => "sweep",
            Operation::ChangePlan => "change_plan",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error that stopped an operation, kept on the instance for operators and for `retry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    /// The operation that failed; `retry` runs it again.
    pub operation: Operation,
    /// For a failed rollback: the level it was run at, so `retry` repeats the same one.
    #[serde(default)]
    pub rollback_level: Option<RollbackLevel>,
    /// The error's stable code.
    pub code: String,
    /// What happened.
    pub message: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A request to create an instance, as it arrives (unvalidated strings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateInstance {
    /// The billing customer.
    pub customer_id: String,
    /// The billing system's reference (optional; creates with the same live reference return
    /// the existing instance).
    #[serde(default)]
    pub external_ref: Option<String>,
    /// The wanted DNS label.
    pub subdomain: String,
    /// A plan name from the catalog.
    pub plan: String,
    /// A region name from the catalog.
    pub region: String,
    /// Model-provider keys for the instance's environment (`ANTHROPIC_API_KEY`, …). Sealed
    /// before they are stored; never serialized back out.
    #[serde(default, skip_serializing)]
    pub provider_keys: BTreeMap<String, SecretString>,
}

/// A [`CreateInstance`] whose every field passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCreate {
    /// Validated customer id.
    pub customer_id: CustomerId,
    /// Validated external reference.
    pub external_ref: Option<ExternalRef>,
    /// Validated subdomain.
    pub subdomain: Subdomain,
    /// A plan that exists in the catalog.
    pub plan: PlanName,
    /// A region that exists in the catalog.
    pub region: RegionName,
}

impl CreateInstance {
    /// Validates every field; the first invalid one is reported as `InvalidInput` naming it.
    pub fn validate(&self, catalog: &Catalog) -> Result<ValidCreate> {
        let customer_id = CustomerId::parse(self.customer_id.as_str())?;
        let external_ref = self
            .external_ref
            .as_deref()
            .map(ExternalRef::parse)
            .transpose()?;
        let subdomain = Subdomain::parse(self.subdomain.as_str())?;
        let (plan, _) = catalog.plan(&self.plan)?;
        let (region, _) = catalog.region(&self.region)?;
        crate::instance_secrets::validate_provider_keys(&self.provider_keys)?;
        Ok(ValidCreate {
            customer_id,
            external_ref,
            subdomain,
            plan,
            region,
        })
    }
}

/// Selects instances for [`Store::list_instances`](crate::ports::Store::list_instances).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceFilter {
    /// Only this customer's.
    pub customer_id: Option<CustomerId>,
    /// Only in this status.
    pub status: Option<InstanceStatus>,
    /// Only with this external reference.
    pub external_ref: Option<ExternalRef>,
    /// Only those whose subdomain (so whose FQDN, `<subdomain>.<zone>`) starts with this, or
    /// whose external reference is this (what a person types into a search box).
    pub search: Option<String>,
    /// Only ids greater than this (the cursor of the previous page).
    pub after: Option<InstanceId>,
    /// At most this many (stores cap it at [`InstanceFilter::MAX_LIMIT`]).
    pub limit: Option<usize>,
}

impl InstanceFilter {
    /// Page size when none is given.
    pub const DEFAULT_LIMIT: usize = 50;
    /// Largest page size.
    pub const MAX_LIMIT: usize = 500;

    /// The page size to use: the requested one, bounded to `1..=MAX_LIMIT`.
    pub fn effective_limit(&self) -> usize {
        self.limit
            .unwrap_or(Self::DEFAULT_LIMIT)
            .clamp(1, Self::MAX_LIMIT)
    }

    /// Whether `instance` passes the filter's conditions (ignoring cursor and limit).
    pub fn matches(&self, instance: &Instance) -> bool {
        self.customer_id
            .as_ref()
            .is_none_or(|c| *c == instance.customer_id)
            && self.status.is_none_or(|s| s == instance.status)
            && self
                .external_ref
                .as_ref()
                .is_none_or(|r| instance.external_ref.as_ref() == Some(r))
            && self.search.as_ref().is_none_or(|text| {
                instance.fqdn.starts_with(text.as_str())
                    || instance
                        .external_ref
                        .as_ref()
                        .is_some_and(|r| r.as_str() == text)
            })
    }
}

/// One page of a listing, ordered by id; `next` is the cursor for the following page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next: Option<InstanceId>,
}

/// Checks a page-size parameter given by a client.
pub fn validate_limit(limit: Option<usize>) -> Result<Option<usize>> {
    match limit {
        Some(0) => Err(Error::invalid("limit", "must be at least 1")),
        Some(n) if n > InstanceFilter::MAX_LIMIT => Err(Error::invalid(
            "limit",
            format!("must be at most {}", InstanceFilter::MAX_LIMIT),
        )),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CreateInstance {
        CreateInstance {
            customer_id: "c-1".into(),
            external_ref: Some("svc-1".into()),
            subdomain: "alice".into(),
            plan: "starter".into(),
            region: "eu-west".into(),
            provider_keys: BTreeMap::new(),
        }
    }

    fn field_of(err: Error) -> String {
        match err {
            Error::InvalidInput { field, .. } => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn validation_names_the_bad_field() {
        let catalog = Catalog::default();
        assert!(request().validate(&catalog).is_ok());
        let mut r = request();
        r.subdomain = "www".into();
        assert_eq!(field_of(r.validate(&catalog).unwrap_err()), "subdomain");
        let mut r = request();
        r.plan = "gold".into();
        assert_eq!(field_of(r.validate(&catalog).unwrap_err()), "plan");
        let mut r = request();
        r.region = "mars".into();
        assert_eq!(field_of(r.validate(&catalog).unwrap_err()), "region");
        let mut r = request();
        r.customer_id = "x".repeat(100);
        assert_eq!(field_of(r.validate(&catalog).unwrap_err()), "customer_id");
        let mut r = request();
        r.external_ref = Some("a\"b".into());
        assert_eq!(field_of(r.validate(&catalog).unwrap_err()), "external_ref");
    }

    #[test]
    fn new_instances_start_pending_at_version_one() {
        let valid = request().validate(&Catalog::default()).unwrap();
        let now = Utc::now();
        let i = Instance::new(InstanceId::new(), valid, "claw.example", now);
        assert_eq!(i.status, InstanceStatus::Pending);
        assert_eq!(i.version, 1);
        assert_eq!(i.fqdn, "alice.claw.example");
        assert!(i.resources.is_empty());
    }

    #[test]
    fn limits_are_bounded() {
        assert!(validate_limit(Some(0)).is_err());
        assert!(validate_limit(Some(501)).is_err());
        assert_eq!(validate_limit(Some(10)).unwrap(), Some(10));
        let f = InstanceFilter {
            limit: Some(10_000),
            ..Default::default()
        };
        assert_eq!(f.effective_limit(), InstanceFilter::MAX_LIMIT);
    }
}
