//! Redis for several `openclaw` replicas.
//!
//! [`RedisRateLimiter`] is core's [`RateLimiter`](openclaw_core::ports::RateLimiter) shared by
//! every replica: the provider's budget is one GCRA state in Redis, moved by one Lua script
//! that reads the time from Redis (`TIME`), never from the caller, so replicas with drifting
//! clocks still share one budget. Provider headers observed by one replica lower it for all.
//! When Redis does not answer, each replica falls back to a local bucket at `1/replicas` of
//! the rate — a provisioning never fails because Redis is down — and goes back to Redis by
//! itself once it answers again.
//!
//! The `openclaw` binary uses it for its providers when `redis_url` is set. The event bus
//! across replicas (`RedisBus`) is still to come; see the crate's README.

mod limiter;
mod scripts;

pub use limiter::{RedisLimiterConfig, RedisRateLimiter};
