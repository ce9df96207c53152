//! # openclaw-core
//!
//! The provisioning engine of openclaw, the managed hosting for OpenClaw: the domain
//! ([`domain`]), the ports adapters implement ([`ports`]), and everything that drives them.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
pub mod conformance;
pub mod domain;
mod error;
pub mod event_feed;
pub mod memory;
pub mod ports;
mod secret;

pub use clock::{Clock, SystemClock, TokioClock};
pub use error::{Error, ErrorClass, Result};
pub use memory::{
    Fault, FaultInjector, InMemoryCompute, InMemoryDns, InMemoryHealth, InMemoryStore, LocalBus,
    RandomFaults,
};
pub use secret::SecretString;
