//! # openclaw-core
//!
//! The provisioning engine of openclaw, the managed hosting for OpenClaw: the domain
//! ([`domain`]), the ports adapters implement ([`ports`]), and everything that drives them.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod bootstrap;
pub mod clock;
pub mod cloud_init;
pub mod domain;
mod error;
pub mod ports;
mod secret;

pub use bootstrap::BootstrapKey;
pub use clock::{Clock, SystemClock, TokioClock};
pub use cloud_init::{render_user_data, CloudInitConfig, MAX_USER_DATA_BYTES};
pub use error::{Error, ErrorClass, Result};
pub use secret::SecretString;
