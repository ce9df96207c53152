//! Domain types: instances and their lifecycle, the catalog, events, jobs, rollbacks.

mod agent;
mod api_key;
mod backup;
mod catalog;
mod event;
mod idempotency;
mod ids;
mod instance;
mod job;
mod provider_keys;
mod rollback;
mod status;
mod subdomain;

pub use agent::{is_sha256_hex, sha256_hex, to_hex};
pub use agent::{
    AgentPresence, AgentReport, AgentTask, AgentTaskId, AgentTaskKind, AgentTaskOutcome,
    AgentTaskState, Capacity, FleetUpgrade, FleetUpgradeState, GatewayProbe, NewAgentTask,
    MAX_REPORT_VERSION_LEN, MAX_TASK_ARG_LEN, MAX_TASK_ERROR_LEN,
};
pub use api_key::{validate_uid, ApiKey, CustomerLink, Scope};
pub use backup::Backup;
pub use catalog::{
    server_type_disk_gb, Catalog, Plan, PlanName, Region, RegionName, SERVER_TYPE_DISKS,
};
pub use event::{Event, EventKind, NewEvent, Topic, ALL_TOPICS};
pub use idempotency::{IdempotencyRecord, StoredResponse};
pub use ids::{CustomerId, DeploymentName, ExternalRef, InstanceId, JobId, RecordId, ServerId};
pub use instance::{
    validate_limit, CreateInstance, Instance, InstanceFilter, LastError, Operation, Page,
    PendingRequest, PlanChange, Resources, ValidCreate,
};
pub use job::{ClaimRequest, Job, JobFilter, JobKind, JobState, Lease, NewJob};
pub use provider_keys::{
    is_forbidden_variable, is_variable_name, ProviderKeyPolicy, KNOWN_PROVIDER_KEYS,
};
pub use rollback::{RollbackLevel, RollbackLogEntry};
pub use status::{InstanceStatus, ALL_STATUSES, TRANSITIONS};
pub use subdomain::{Subdomain, RESERVED_SUBDOMAINS};
