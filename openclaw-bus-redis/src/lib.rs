//! Redis for several `openclaw` replicas.
//!
//! [`RedisBus`] is core's [`EventBus`](openclaw_core::ports::EventBus) across replicas: every
//! event (already in the store's log) is appended to a Redis Stream per deployment under its
//! sequence and published on its topic's channel, `openclaw:<deployment>:provisioning`,
//! `…:alerts` or `…:audit` (the JSON is described in [`message`]). A subscriber on any replica
//! follows the channels and reads what they did not bring from the stream, or from the store's
//! log for anything older or lost (an epoch tells when the stream was recreated). It sees every
//! event of every replica once, in sequence order, with no gap; without Redis it still does,
//! a poll of the log later.
//!
//! [`RedisRateLimiter`] is core's [`RateLimiter`](openclaw_core::ports::RateLimiter) shared by
//! every replica: the provider's budget is one GCRA state in Redis, moved by one Lua script
//! that reads the time from Redis (`TIME`), never from the caller, so replicas with drifting
//! clocks still share one budget. Provider headers observed by one replica lower it for all.
//! When Redis does not answer, each replica falls back to a local bucket at `1/replicas` of
//! the rate — a provisioning never fails because Redis is down — and goes back to Redis by
//! itself once it answers again.
//!
//! The `openclaw` binary uses both when `redis_url` is set.

mod bus;
mod connection;
mod limiter;
mod live;
pub mod message;
mod observer;
mod scripts;
mod stream_log;

pub use bus::{RedisBus, RedisBusConfig, RedisBusStats};
pub use limiter::{RedisLimiterConfig, RedisRateLimiter};
pub use message::{BusMessage, RedisKeys};
pub use observer::{BusObserver, NoObserver};
