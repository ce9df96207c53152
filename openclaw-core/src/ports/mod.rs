//! The ports: small traits the engine drives and adapters implement.
//!
//! Every trait is `Send + Sync + 'static`, used as `Arc<dyn Trait>`, documented with a
//! `# Contract`, checked by the [`conformance`](crate::conformance) suites, and mocked with
//! mockall behind the `mock` feature (`MockCompute`, `MockDns`, …).

mod agents;
mod api_keys;
mod bus;
mod compute;
mod dns;
mod facts;
mod health;
pub mod ownership;
mod rate_limiter;
mod store;

pub use agents::AgentStore;
pub use api_keys::ApiKeyStore;
pub use bus::{EventBus, EventStream};
pub use compute::{Compute, Server, ServerSpec, ServerStatus};
pub use dns::{Dns, DnsRecord, RecordSpec, RecordType};
pub use facts::{check_fact, DeploymentFacts, MODE_FACT};
pub use health::{Health, HealthProbe};
pub use rate_limiter::{RateLimitObservation, RateLimiter};
pub use store::{InstanceDelete, InstanceWrite, NewInstance, Store, StoreStats};

#[cfg(feature = "mock")]
pub use agents::MockAgentStore;
#[cfg(feature = "mock")]
pub use api_keys::MockApiKeyStore;
#[cfg(feature = "mock")]
pub use bus::MockEventBus;
#[cfg(feature = "mock")]
pub use compute::MockCompute;
#[cfg(feature = "mock")]
pub use dns::MockDns;
#[cfg(feature = "mock")]
pub use facts::MockDeploymentFacts;
#[cfg(feature = "mock")]
pub use health::MockHealthProbe;
#[cfg(feature = "mock")]
pub use rate_limiter::MockRateLimiter;
#[cfg(feature = "mock")]
pub use store::MockStore;
