//! # openclaw-core
//!
//! The provisioning engine of openclaw, the managed hosting for OpenClaw: the domain
//! ([`domain`]), the ports adapters implement ([`ports`]), and everything that drives them.

pub mod bootstrap;
pub mod clock;
pub mod cloud_init;
pub mod conformance;
pub mod domain;
pub mod engine;
mod error;
pub mod event_feed;
pub mod guarded;
pub mod limiter;
pub mod memory;
pub mod ports;
pub mod retry;
mod secret;

pub use bootstrap::BootstrapKey;
pub use clock::{Clock, SystemClock, TokioClock};
pub use cloud_init::{render_user_data, CloudInitConfig, MAX_USER_DATA_BYTES};
pub use error::{Error, ErrorClass, Result};
pub use guarded::{GuardedCompute, GuardedDns};
pub use limiter::TokenBucket;
pub use memory::{
    Fault, FaultInjector, InMemoryCompute, InMemoryDns, InMemoryHealth, InMemoryStore, LocalBus,
    RandomFaults,
};
pub use retry::{Retrier, RetryBudget, RetryPolicy};
pub use secret::SecretString;
