//! The [`EventBus`] contract as checks. Each takes the store whose log feeds the bus, and
//! the bus; events are appended to the store first and then published, as the engine does.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::{now, unique};
use crate::domain::{Event, EventKind, NewEvent, Topic};
use crate::ports::{EventBus, EventStream, Store};

/// How long a check waits for an event it is owed. Generous: an event whose publish was
/// lost arrives only when the subscriber next reads the log.
const PATIENCE: Duration = Duration::from_secs(10);
/// How long a check watches for an event it must not get.
const QUIET: Duration = Duration::from_millis(300);

/// Runs every check on one store and bus.
pub async fn run_all(store: Arc<dyn Store>, bus: Arc<dyn EventBus>) {
    replays_then_follows_live(Arc::clone(&store), Arc::clone(&bus)).await;
    resume_after_reconnect(Arc::clone(&store), Arc::clone(&bus)).await;
    duplicates_and_reordering_are_hidden(Arc::clone(&store), Arc::clone(&bus)).await;
    topic_filter(Arc::clone(&store), Arc::clone(&bus)).await;
    subscribe_without_after_sees_only_new(Arc::clone(&store), Arc::clone(&bus)).await;
    unpublished_event_still_arrives(Arc::clone(&store), Arc::clone(&bus)).await;
    long_replay_in_order(store, bus).await;
}

/// A subscriber under test: asserts that sequences strictly increase across everything it
/// receives, and that every event is of its topic.
struct Subscriber {
    stream: EventStream,
    topic: Option<Topic>,
    last: Option<u64>,
}

impl Subscriber {
    async fn new(bus: &Arc<dyn EventBus>, topic: Option<Topic>, after: Option<u64>) -> Self {
        let stream = bus
            .subscribe(topic, after)
            .await
            .unwrap_or_else(|e| panic!("subscribe({topic:?}, {after:?}) failed: {e}"));
        Subscriber {
            stream,
            topic,
            last: None,
        }
    }

    /// Appends and publishes a marker event and waits for it, so the stream has replayed
    /// the log and is following the live feed: what the check does next is seen live.
    async fn catch_up(&mut self, store: &Arc<dyn Store>, bus: &Arc<dyn EventBus>) {
        let marker = append(
            store,
            &on_topic(self.topic.unwrap_or(Topic::Alerts), "marker"),
        )
        .await;
        publish(bus, &marker).await;
        self.expect(&[marker]).await;
    }

    async fn next(&mut self) -> Event {
        let item = tokio::time::timeout(PATIENCE, self.stream.next())
            .await
            .unwrap_or_else(|_| {
                panic!("no event within {PATIENCE:?} (last seen: {:?})", self.last)
            });
        let event = match item {
            Some(Ok(event)) => event,
            Some(Err(e)) => panic!("the stream yielded an error: {e}"),
            None => panic!("the stream ended while the bus is open"),
        };
        if let Some(topic) = self.topic {
            assert_eq!(event.topic, topic, "an event of another topic: {event:?}");
        }
        if let Some(last) = self.last {
            assert!(
                event.sequence > last,
                "sequence {} after {last}: seen twice or out of order",
                event.sequence
            );
        }
        self.last = Some(event.sequence);
        event
    }

    /// Receives `expected` in order, each once, skipping events that are not among them
    /// (another writer's), and failing if one is skipped over.
    async fn expect(&mut self, expected: &[Event]) {
        for wanted in expected {
            loop {
                let event = self.next().await;
                if event.sequence == wanted.sequence {
                    assert_eq!(&event, wanted, "event changed on its way");
                    break;
                }
                assert!(
                    event.sequence < wanted.sequence,
                    "missed event {} (got {} next)",
                    wanted.sequence,
                    event.sequence
                );
            }
        }
    }

    /// Asserts nothing arrives for a while.
    async fn quiet(&mut self) {
        if let Ok(item) = tokio::time::timeout(QUIET, self.stream.next()).await {
            panic!("expected nothing more, got {item:?}");
        }
    }
}

fn alert(label: &str) -> NewEvent {
    NewEvent::alert(None, "conformance", format!("{label} {}", unique()), now())
}

fn on_topic(topic: Topic, label: &str) -> NewEvent {
    let kind = match topic {
        Topic::Provisioning | Topic::Alerts => EventKind::Alert {
            code: "conformance".into(),
        },
        Topic::Audit => EventKind::Audit {
            action: "conformance".into(),
            actor: "conformance".into(),
        },
    };
    NewEvent {
        topic,
        instance_id: None,
        kind,
        reason: format!("{label} {}", unique()),
        at: now(),
    }
}

async fn append(store: &Arc<dyn Store>, event: &NewEvent) -> Event {
    store.append_event(event).await.expect("append_event")
}

async fn publish(bus: &Arc<dyn EventBus>, event: &Event) {
    bus.publish(event).await.expect("publish");
}

/// Appends and publishes `n` alerts.
async fn append_and_publish(
    store: &Arc<dyn Store>,
    bus: &Arc<dyn EventBus>,
    n: usize,
) -> Vec<Event> {
    let mut events = Vec::with_capacity(n);
    for i in 0..n {
        let event = append(store, &alert(&format!("event {i}"))).await;
        publish(bus, &event).await;
        events.push(event);
    }
    events
}

async fn last_sequence(store: &Arc<dyn Store>) -> u64 {
    store.stats().await.expect("stats").last_event_sequence
}

/// `subscribe(None, Some(n))` first yields what is stored after `n`, then live events, each
/// once.
pub async fn replays_then_follows_live(store: Arc<dyn Store>, bus: Arc<dyn EventBus>) {
    let before = last_sequence(&store).await;
    let stored = append_and_publish(&store, &bus, 3).await;
    let mut subscriber = Subscriber::new(&bus, None, Some(before)).await;
    subscriber.expect(&stored).await;
    let live = append_and_publish(&store, &bus, 2).await;
    subscriber.expect(&live).await;
    subscriber.quiet().await;
}

/// A subscriber that drops its stream and resubscribes with the last sequence it saw gets
/// the rest, including what was published while it was away, and nothing twice.
pub async fn resume_after_reconnect(store: Arc<dyn Store>, bus: Arc<dyn EventBus>) {
    let before = last_sequence(&store).await;
    let mut subscriber = Subscriber::new(&bus, None, Some(before)).await;
    let mut events = append_and_publish(&store, &bus, 6).await;
    subscriber.expect(&events[..3]).await;
    let seen = subscriber.last.expect("events were seen");
    drop(subscriber);
    events.extend(append_and_publish(&store, &bus, 3).await);
    let mut resumed = Subscriber::new(&bus, None, Some(seen)).await;
    resumed.expect(&events[3..]).await;
    let live = append_and_publish(&store, &bus, 2).await;
    resumed.expect(&live).await;
    resumed.quiet().await;
}

/// Publishing an event twice or out of order shows each event once, in order.
pub async fn duplicates_and_reordering_are_hidden(store: Arc<dyn Store>, bus: Arc<dyn EventBus>) {
    let before = last_sequence(&store).await;
    let mut subscriber = Subscriber::new(&bus, None, Some(before)).await;
    subscriber.catch_up(&store, &bus).await;
    let mut events = Vec::new();
    for i in 0..3 {
        events.push(append(&store, &alert(&format!("reordered {i}"))).await);
    }
    for i in [0, 0, 2, 1, 2, 0, 1] {
        publish(&bus, &events[i]).await;
    }
    subscriber.expect(&events).await;
    subscriber.quiet().await;
}

/// A subscriber to one topic gets that topic's events only.
pub async fn topic_filter(store: Arc<dyn Store>, bus: Arc<dyn EventBus>) {
    let before = last_sequence(&store).await;
    let mut alerts = Subscriber::new(&bus, Some(Topic::Alerts), Some(before)).await;
    alerts.catch_up(&store, &bus).await;
    let mut wanted = Vec::new();
    for topic in [
        Topic::Provisioning,
        Topic::Alerts,
        Topic::Audit,
        Topic::Alerts,
    ] {
        let event = append(&store, &on_topic(topic, "topic")).await;
        publish(&bus, &event).await;
        if topic == Topic::Alerts {
            wanted.push(event);
        }
    }
    alerts.expect(&wanted).await;
    alerts.quiet().await;
}

/// `subscribe(_, None)` yields only events appended and published after it.
pub async fn subscribe_without_after_sees_only_new(store: Arc<dyn Store>, bus: Arc<dyn EventBus>) {
    append_and_publish(&store, &bus, 2).await;
    let mut subscriber = Subscriber::new(&bus, None, None).await;
    let new = append_and_publish(&store, &bus, 2).await;
    let first = subscriber.next().await;
    assert_eq!(
        first, new[0],
        "the first event after subscribing is the first new one"
    );
    subscriber.expect(&new[1..]).await;
    subscriber.quiet().await;
}

/// An event written to the log whose publish was lost still reaches subscribers: alone
/// (found when the subscriber next reads the log), or before a later published event.
pub async fn unpublished_event_still_arrives(store: Arc<dyn Store>, bus: Arc<dyn EventBus>) {
    let before = last_sequence(&store).await;
    let mut subscriber = Subscriber::new(&bus, None, Some(before)).await;
    subscriber.catch_up(&store, &bus).await;
    let lost = append(&store, &alert("never published")).await;
    subscriber.expect(&[lost]).await;
    let also_lost = append(&store, &alert("never published either")).await;
    let published = append(&store, &alert("published")).await;
    publish(&bus, &published).await;
    subscriber.expect(&[also_lost, published]).await;
    subscriber.quiet().await;
}

/// A replay longer than any read batch arrives whole and in order.
pub async fn long_replay_in_order(store: Arc<dyn Store>, bus: Arc<dyn EventBus>) {
    let before = last_sequence(&store).await;
    let mut events = Vec::new();
    for i in 0..600 {
        events.push(append(&store, &alert(&format!("replay {i}"))).await);
    }
    let mut subscriber = Subscriber::new(&bus, None, Some(before)).await;
    subscriber.expect(&events).await;
    subscriber.quiet().await;
}
