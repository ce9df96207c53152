//! The saga's steps, one file each.

pub(crate) mod activate;
pub(crate) mod dns;
pub(crate) mod health;
pub(crate) mod server;
