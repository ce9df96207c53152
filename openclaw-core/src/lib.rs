//! # openclaw-core
//!
//! The provisioning engine of openclaw, the managed hosting for OpenClaw: a customer's order
//! becomes a Hetzner server, a Cloudflare DNS name and a healthy OpenClaw gateway behind TLS,
//! and billing's suspend, unsuspend and terminate follow it — with every half-done step rolled
//! back and nothing created twice or left behind.
//!
//! This crate holds everything that does not talk to a provider:
//!
//! - [`domain`]: instances, their statuses and the one transition table, the catalog of plans
//!   and regions, events, jobs, rollback levels; validation at the boundary.
//! - [`ports`]: the small traits adapters implement (`Compute`, `Dns`, `Store`, `EventBus`,
//!   `HealthProbe`, `RateLimiter`), each with a written `# Contract`.
//! - [`engine`]: the [`Provisioner`] — operations, the provisioning saga, automatic
//!   rollback, job workers, the orphan sweep.
//! - [`limiter`], [`retry`], [`guarded`]: the token bucket, the retry policy and budget, and
//!   wrappers that put them in front of any adapter.
//! - [`cloud_init`] and [`bootstrap`]: the user data that installs OpenClaw, and the
//!   single-use tokens that replace secrets in it.
//! - [`memory`] and [`conformance`]: in-memory adapters with fault injection, and the suites
//!   every adapter (these included) must pass.
//!
//! ```
//! use std::sync::Arc;
//!
//! use openclaw_core::domain::{CreateInstance, DeploymentName, InstanceStatus};
//! use openclaw_core::memory::{InMemoryCompute, InMemoryDns, InMemoryHealth};
//! use openclaw_core::{EngineConfig, Provisioner};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> openclaw_core::Result<()> {
//! let owner = DeploymentName::parse("demo")?;
//! let compute = InMemoryCompute::new(owner.clone());
//! let provisioner = Provisioner::builder()
//!     .compute(Arc::new(compute.clone()))
//!     .dns(Arc::new(InMemoryDns::new(owner.clone(), "claw.example.com")))
//!     .health(Arc::new(InMemoryHealth::following(compute)))
//!     .config(EngineConfig::new(owner, "claw.example.com"))
//!     .build()?;
//! let order = CreateInstance {
//!     customer_id: "client-7".into(),
//!     external_ref: None,
//!     subdomain: "alice".into(),
//!     plan: "starter".into(),
//!     region: "eu-west".into(),
//!     ..Default::default()
//! };
//! let instance = provisioner.create(order).await?;
//! provisioner.run_pending_jobs().await?;
//! assert_eq!(provisioner.get(instance.id).await?.status, InstanceStatus::Active);
//! # Ok(())
//! # }
//! ```

pub mod bootstrap;
pub mod clock;
pub mod cloud_init;
pub mod conformance;
pub mod domain;
pub mod engine;
mod error;
pub mod event_feed;
pub mod guarded;
pub mod instance_secrets;
pub mod limiter;
pub mod memory;
pub mod ports;
pub mod retry;
pub mod sealing_keyring;
mod secret;

pub use bootstrap::BootstrapKey;
pub use clock::{Clock, SystemClock, TokioClock};
pub use cloud_init::{
    agent_script, agent_script_sha256, render_files, render_user_data, CloudInitConfig,
    InstanceFile, MAX_USER_DATA_BYTES,
};
pub use engine::{EngineConfig, Provisioner};
pub use error::{Error, ErrorClass, Result};
pub use guarded::{GuardedCompute, GuardedDns};
pub use limiter::TokenBucket;
pub use memory::{
    Fault, FaultInjector, InMemoryCompute, InMemoryDns, InMemoryHealth, InMemoryStore, LocalBus,
    RandomFaults,
};
pub use retry::{Retrier, RetryBudget, RetryPolicy};
pub use sealing_keyring::SealingKeyring;
pub use secret::SecretString;

/// The repository README's Rust examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
