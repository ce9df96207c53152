//! # openclaw-hetzner
//!
//! The [`Compute`](openclaw_core::ports::Compute) port of openclaw on the Hetzner Cloud API,
//! and (behind the `fake` feature) a local fake of that API for tests and sandboxes.
//!
//! The transport is our own (reqwest with rustls) because we need what general-purpose
//! clients drop: the `RateLimit-*` headers, which correct the shared limiter after every
//! response, and `X-Correlation-Id`, which every error keeps for support tickets.
//!
//! ## What it guarantees
//! - **Never two servers for one instance.** Hetzner has no idempotency keys, so a create is
//!   made safe by the deterministic name ([`server_name`](openclaw_core::ports::ownership::server_name)),
//!   which Hetzner refuses to duplicate, and the ownership labels `openclaw/owner` and
//!   `openclaw/instance`: a `uniqueness_error` makes the adapter look the name up and adopt
//!   the server if its labels are this instance's (else `Conflict`), and a create whose
//!   response was lost (timeout, reset, a 5xx) is `Ambiguous`, which tells the caller to look
//!   up before creating again.
//! - **Errors say what to do.** Every Hetzner error code is classified (retryable,
//!   rate-limited with the wait the headers give, permanent, ambiguous); see
//!   [`error::classify`]. A response that does not have the spec's shape is an error naming
//!   the endpoint and the field.
//! - **Few requests.** A provision costs two requests (find by label, create): the create
//!   response carries the server's addresses. Power actions are awaited by one watcher that
//!   polls every pending action of every caller in one request per tick.
//!
//! ## Example
//! ```no_run
//! # async fn example() -> openclaw_core::Result<()> {
//! use openclaw_core::domain::DeploymentName;
//! use openclaw_core::ports::Compute;
//! use openclaw_hetzner::{HetznerCompute, HetznerConfig};
//!
//! // HCLOUD_TOKEN (and optionally HCLOUD_ENDPOINT) from the environment.
//! let config = HetznerConfig::from_env(DeploymentName::parse("prod-eu")?)?;
//! let compute = HetznerCompute::new(config)?;
//! for server in compute.list_owned().await? {
//!     println!("{} {} {:?}", server.id, server.name, server.ipv4);
//! }
//! # Ok(())
//! # }
//! ```

mod actions;
mod client;
mod compute;
mod config;
pub mod error;
pub mod model;
pub mod rate_limit;

#[cfg(feature = "fake")]
pub mod fake;

pub use actions::MAX_IDS_PER_POLL;
pub use client::USER_AGENT;
pub use compute::{HetznerCompute, HetznerComputeBuilder, PAGE_SIZE};
pub use config::{HetznerConfig, DEFAULT_ENDPOINT, ENV_ENDPOINT, ENV_TOKEN};
