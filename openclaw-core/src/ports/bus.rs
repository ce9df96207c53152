//! The `EventBus` port: fan-out of the store's event log to subscribers.

use async_trait::async_trait;
use futures_util::stream::BoxStream;

use crate::domain::{Event, Topic};
use crate::error::Result;

/// A live stream of events.
pub type EventStream = BoxStream<'static, Result<Event>>;

/// Fans events out to subscribers. The store's event log is the source of truth; the bus
/// delivers it fast.
///
/// # Contract
///
/// - `publish` hands an event (already in the store's log) to current subscribers. Publishing
///   the same event twice, or events out of order, is allowed: subscribers see neither.
/// - `subscribe(topic, after)` yields the events of `topic` (all topics when `None`) in
///   strictly increasing sequence. With `after = Some(n)` it first yields every stored event
///   with sequence > `n`, then live ones; a subscriber that reconnects with the last sequence it
///   saw misses nothing and sees nothing twice. With `after = None` it yields only events
///   published from now on.
/// - A stream ends only when the bus is closed; a transient failure is an `Err` item, after
///   which the stream continues from where it was.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Delivers `event` to subscribers.
    async fn publish(&self, event: &Event) -> Result<()>;
    /// Subscribes to `topic` (every topic when `None`), resuming after sequence `after`.
    async fn subscribe(&self, topic: Option<Topic>, after: Option<u64>) -> Result<EventStream>;
}
