//! # openclaw-core
//!
//! The provisioning engine of openclaw, the managed hosting for OpenClaw: the domain
//! ([`domain`]), the ports adapters implement ([`ports`]), and everything that drives them.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
pub mod domain;
mod error;
pub mod guarded;
pub mod limiter;
pub mod ports;
pub mod retry;
mod secret;

pub use clock::{Clock, SystemClock, TokioClock};
pub use error::{Error, ErrorClass, Result};
pub use guarded::{GuardedCompute, GuardedDns};
pub use limiter::TokenBucket;
pub use retry::{Retrier, RetryBudget, RetryPolicy};
pub use secret::SecretString;
