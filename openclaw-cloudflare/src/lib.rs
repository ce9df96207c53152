//! # openclaw-cloudflare
//!
//! The [`Dns`](openclaw_core::ports::Dns) port of openclaw on Cloudflare's API v4: the A and
//! AAAA records that point an instance's name at its server.
//!
//! - **Never clobber.** Every record this crate writes carries the ownership mark
//!   `openclaw:<deployment>:<instance>` in its comment. `ensure_records` looks the exact name
//!   up first, adopts (and if needed updates) a record carrying the instance's mark, and
//!   refuses with [`Error::Conflict`](openclaw_core::Error::Conflict) any record at the name
//!   that is not the instance's — unmarked, another deployment's, or another instance's —
//!   without touching it.
//! - **Never trip the lockout.** Cloudflare allows 1200 requests per 5 minutes per token and
//!   blocks every call for 5 minutes past that. Every HTTP request takes one permit from a
//!   [`RateLimiter`](openclaw_core::ports::RateLimiter) shared by the process; the
//!   `Ratelimit`/`Ratelimit-Policy` headers correct it, and a 429's `Retry-After` pauses every
//!   Cloudflare call of the process until it has passed.
//! - **Classified errors.** Cloudflare's codes (81057 and friends, beyond `u16`) are kept;
//!   each error says whether a retry can help; a body that does not parse names the endpoint
//!   and the field.
//!
//! With the `fake` feature, `fake::FakeCloudflare` serves the same API from memory for tests
//! and the sandbox. The crate's README documents configuration, the ownership mark, what
//! happens on a conflict, rate limiting and the fake's fault injection.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use openclaw_cloudflare::{CloudflareConfig, CloudflareDns};
//! use openclaw_core::domain::{DeploymentName, InstanceId};
//! use openclaw_core::ports::ownership::Ownership;
//! use openclaw_core::ports::{Dns, RateLimiter, RecordSpec};
//! use openclaw_core::TokenBucket;
//!
//! # async fn demo() -> openclaw_core::Result<()> {
//! // One limiter per token per process, shared by every adapter that uses the token.
//! let limiter: Arc<dyn RateLimiter> = Arc::new(TokenBucket::cloudflare());
//! let owner = DeploymentName::parse("prod-eu")?;
//! // The token comes from CLOUDFLARE_API_TOKEN.
//! let config = CloudflareConfig::new(
//!     "023e105f4ecef8ad9ca31a8372d0c353",
//!     "claw.example.com",
//!     owner.clone(),
//! );
//! let dns = CloudflareDns::new(config, limiter)?;
//! let records = dns
//!     .ensure_records(&RecordSpec {
//!         ownership: Ownership { owner, instance: InstanceId::new() },
//!         name: "alice.claw.example.com".into(),
//!         ipv4: "192.0.2.10".parse().expect("an address"),
//!         ipv6: None,
//!         ttl: 300,
//!         proxied: false,
//!     })
//!     .await?;
//! assert_eq!(records.len(), 1);
//! # Ok(()) }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
pub mod config;
mod dns;
pub mod error;
pub mod model;
pub mod rate_limit;

#[cfg(feature = "fake")]
#[cfg_attr(docsrs, doc(cfg(feature = "fake")))]
pub mod fake;

pub use client::USER_AGENT_VALUE;
pub use config::CloudflareConfig;
pub use dns::CloudflareDns;
