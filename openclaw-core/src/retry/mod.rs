//! Retrying provider calls without making things worse.
//!
//! - [`RetryPolicy`] is the pure decision: exponential backoff with full jitter, a maximum
//!   number of attempts, an overall deadline, and `Retry-After` honoured up to a cap.
//! - [`RetryBudget`] is shared per provider, so that during an outage retries stop instead of
//!   multiplying the load.
//! - [`Retrier`] runs an operation under both, with a seeded RNG so tests are deterministic.
//!   Its [`run_with_lookup`](Retrier::run_with_lookup) never repeats a create whose outcome is
//!   unknown without looking the resource up first.
//! - [`parse_retry_after`] reads a `Retry-After` header for adapters.
//!
//! Decisions read [`Error::class`](crate::Error::class) only; nothing here parses messages.

mod budget;
mod policy;
mod retrier;
mod retry_after;

pub use budget::RetryBudget;
pub use policy::{RetryDecision, RetryPolicy};
pub use retrier::Retrier;
pub use retry_after::parse_retry_after;
