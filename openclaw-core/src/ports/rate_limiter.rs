//! The `RateLimiter` port: permits to call a provider.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// What a provider's response said about its rate limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitObservation {
    /// The provider's limit (`RateLimit-Limit`).
    pub limit: Option<u32>,
    /// Requests left (`RateLimit-Remaining`, or `r=` of Cloudflare's `Ratelimit`).
    pub remaining: Option<u32>,
    /// Time until the provider lets requests through again: the reset of a windowed limit
    /// (Cloudflare's `t=`), or for a continuously refilled one (Hetzner) the time until the
    /// next request is allowed — not `RateLimit-Reset`, which is when it is *fully* refilled.
    /// Only read when `remaining` is 0.
    pub reset_after: Option<Duration>,
    /// The provider refused a call and asked to wait this long (`Retry-After` on a 429).
    pub retry_after: Option<Duration>,
}

/// Hands out permits to call a rate-limited provider.
///
/// # Contract
///
/// - `acquire(n)` waits until `n` permits are granted, first come first served: a waiter is
///   never overtaken by a later one. Dropping the future before it completes takes nothing.
///   Asking for more permits than the limiter can ever hold is `InvalidInput`.
/// - `try_acquire(n)` grants at once or returns `false`, taking nothing.
/// - `observe` corrects the limiter from what the provider said: it may lower the permits
///   available (never raise them above the configured rate), and a `retry_after` pauses every
///   grant until it has passed.
/// - Over any window of length `t`, no more than `capacity + rate × t` permits are granted.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Waits for `permits` permits.
    async fn acquire(&self, permits: u32) -> Result<()>;
    /// Takes `permits` permits if they are available now.
    async fn try_acquire(&self, permits: u32) -> Result<bool>;
    /// Applies what a provider said about its limit.
    async fn observe(&self, observation: &RateLimitObservation) -> Result<()>;
}
