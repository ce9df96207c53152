//! [`BusObserver`]: how a [`RedisBus`](crate::RedisBus) reports what it measures, so the
//! embedding process can put it into its own metrics.

use std::time::Duration;

/// Receives the bus's measurements as they happen. Every method has an empty default; calls
/// come from the publishing task or the bus's listener and must return at once (no I/O).
pub trait BusObserver: Send + Sync + 'static {
    /// An event reached Redis (stream and channel) after `took`.
    fn published(&self, took: Duration) {
        let _ = took;
    }

    /// An event did not reach Redis (it is in the store's log; subscribers read it there).
    fn publish_failed(&self) {}

    /// An event published by any replica arrived on this replica's channel subscription,
    /// `lag` after it was written (its `at`; zero when the clocks disagree).
    fn delivered(&self, lag: Duration) {
        let _ = lag;
    }
}

/// Observes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl BusObserver for NoObserver {}
