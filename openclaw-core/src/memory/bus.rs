//! A bus inside one process: tokio's broadcast channel for the live feed, the store's log for
//! replay and for whatever the live feed loses.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::{self, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::domain::{Event, Topic};
use crate::error::Result;
use crate::event_feed::{resume_from_log, LiveEvent};
use crate::ports::{EventBus, EventStream, Store};

/// How long a subscriber waits without live events before it looks at the log itself.
const DEFAULT_IDLE_POLL: Duration = Duration::from_secs(1);
/// Events a slow subscriber may fall behind before it is told it lagged (and reads the log).
const CAPACITY: usize = 1024;

/// An [`EventBus`] for one process. Clones share subscribers; subscriber streams end when
/// the last clone is dropped.
#[derive(Clone)]
pub struct LocalBus {
    store: Arc<dyn Store>,
    sender: broadcast::Sender<Event>,
    idle_poll: Duration,
}

impl fmt::Debug for LocalBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalBus")
            .field("subscribers", &self.sender.receiver_count())
            .field("idle_poll", &self.idle_poll)
            .finish_non_exhaustive()
    }
}

impl LocalBus {
    /// A bus replaying from `store`'s log, polling it after 1 s without live events.
    pub fn new(store: Arc<dyn Store>) -> Self {
        LocalBus {
            store,
            sender: broadcast::channel(CAPACITY).0,
            idle_poll: DEFAULT_IDLE_POLL,
        }
    }

    /// Sets how long subscribers wait without a live event before they read the log (which
    /// delivers events whose publish was lost).
    pub fn with_idle_poll(mut self, idle_poll: Duration) -> Self {
        self.idle_poll = idle_poll;
        self
    }
}

#[async_trait]
impl EventBus for LocalBus {
    async fn publish(&self, event: &Event) -> Result<()> {
        // With no subscriber there is nobody to tell; the log has the event.
        let _ = self.sender.send(event.clone());
        Ok(())
    }

    async fn subscribe(&self, topic: Option<Topic>, after: Option<u64>) -> Result<EventStream> {
        // Subscribe to the live feed first: whatever is published from here on is either
        // in the receiver or already in the log when we read it.
        let receiver = self.sender.subscribe();
        let after = match after {
            Some(after) => after,
            None => self.store.last_event_sequence().await?,
        };
        let live = stream::unfold(receiver, |mut receiver| async move {
            let item = match receiver.recv().await {
                Ok(event) => LiveEvent::Event(event),
                Err(RecvError::Lagged(_)) => LiveEvent::Lagged,
                Err(RecvError::Closed) => return None,
            };
            Some((item, receiver))
        })
        .boxed();
        Ok(resume_from_log(
            Arc::clone(&self.store),
            live,
            topic,
            Some(after),
            self.idle_poll,
        ))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::NewEvent;
    use crate::memory::InMemoryStore;

    #[tokio::test(start_paused = true)]
    async fn an_event_published_before_the_first_poll_is_delivered() {
        let store = Arc::new(InMemoryStore::new());
        let bus = LocalBus::new(store.clone());
        let mut stream = bus.subscribe(None, None).await.unwrap();
        let event = store
            .append_event(&NewEvent::alert(None, "t", "t", Utc::now()))
            .await
            .unwrap();
        bus.publish(&event).await.unwrap();
        let start = tokio::time::Instant::now();
        assert_eq!(stream.next().await.unwrap().unwrap(), event);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn streams_end_when_the_bus_is_dropped() {
        let store = Arc::new(InMemoryStore::new());
        let bus = LocalBus::new(store);
        let mut stream = bus.subscribe(None, None).await.unwrap();
        assert!(format!("{bus:?}").contains("subscribers: 1"));
        drop(bus);
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn publishing_without_subscribers_succeeds() {
        let store = Arc::new(InMemoryStore::new());
        let bus = LocalBus::new(store.clone()).with_idle_poll(Duration::from_millis(10));
        let event = store
            .append_event(&NewEvent::alert(None, "t", "t", Utc::now()))
            .await
            .unwrap();
        bus.publish(&event).await.unwrap();
    }
}
