//! The adapter against the fake Cloudflare API: core's `Dns` conformance suite, ownership
//! and conflict cases, paging, rate limiting, error handling, and the spec (every example
//! decodes, every request the adapter sends validates).
//!
//! One test binary with modules, so the workspace links one executable instead of seven.

// Helpers outside `#[test]` functions; a broken fixture should fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod conformance;
mod cost;
mod errors;
mod ownership;
mod paging;
mod rate_limit;
mod spec;
mod support;
