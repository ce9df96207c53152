//! Local rate limiting: the permits openclaw takes before it calls a provider.
//!
//! [`TokenBucket`] is the in-process [`RateLimiter`](crate::ports::RateLimiter): first come
//! first served, cancel-safe, correctable from a provider's rate-limit headers, and driven by
//! `tokio::time` so tests run on tokio's paused clock. The distributed limiter (Redis) lives in
//! its own crate and implements the same port.

mod token_bucket;

pub use token_bucket::TokenBucket;
