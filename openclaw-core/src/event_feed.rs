//! The subscriber side every [`EventBus`](crate::ports::EventBus) shares: turn a live,
//! lossy, possibly reordered feed into the gapless, duplicate-free, strictly increasing
//! stream the bus contract promises, by going back to the store's event log whenever the
//! live feed cannot be trusted.
//!
//! The store's log is the truth and the live feed only a hint that something new is there.
//! So the stream tracks the last *global* sequence it has passed (all topics), accepts a live
//! event only when it is exactly the next one, and reads the log for everything else: a
//! jump in sequence (a publish was lost or is late), a lagged receiver, or a quiet spell
//! (a publish was lost and nothing followed it).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::{self, BoxStream, StreamExt};

use crate::domain::{Event, Topic};
use crate::error::{Error, Result};
use crate::ports::{EventStream, Store};

/// Where a subscriber stream reads what the live feed did not bring: the store's event log
/// itself, or something in front of it that answers the same (a bus's recent-events cache
/// that goes to the store for whatever it does not hold).
///
/// # Contract
///
/// `events_after(after, limit)` returns up to `limit` events with sequence > `after`, in
/// increasing sequence, *with no gap*: the first is `after + 1`'s successor in the store's log
/// and each next one follows the previous in the log. It may return fewer than the log holds
/// (a later call brings the rest) but never skips one. `last_event_sequence` is the store's.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// The sequence of the newest event in the log (0 when empty).
    async fn last_event_sequence(&self) -> Result<u64>;
    /// Up to `limit` events after `after`, in order, without a gap.
    async fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>>;
}

/// The store's log as an [`EventLog`].
#[derive(Clone)]
pub struct StoreLog(pub Arc<dyn Store>);

impl std::fmt::Debug for StoreLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreLog")
    }
}

#[async_trait]
impl EventLog for StoreLog {
    async fn last_event_sequence(&self) -> Result<u64> {
        self.0.last_event_sequence().await
    }

    async fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>> {
        self.0.events_after(after, limit).await
    }
}

/// How many events one read of the log asks for.
const READ_BATCH: usize = 256;
/// First wait after a failed read of the store; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a bus's live feed delivers to [`resume_from_log`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// An event as published (possibly a duplicate, possibly out of order).
    Event(Event),
    /// The feed dropped events it could not keep up with.
    Lagged,
}

/// A subscriber stream: first every stored event after `after`, then live ones.
///
/// It tracks the last global sequence seen (all topics), so a live event whose sequence jumps
/// past last + 1 triggers a read of the gap from the store; duplicates and older events are
/// dropped; [`LiveEvent::Lagged`] and an idle timer (`idle_poll` without any live event) also
/// re-read the store, which covers events whose publish was lost. `after = None` starts from
/// the store's last sequence, read when the stream is first polled; a bus whose `subscribe`
/// can wait should resolve it there instead (as [`LocalBus`](crate::LocalBus) does), so that
/// events published between `subscribe` and the first poll are not skipped. The caller
/// subscribes to `live` *before* calling this, so nothing falls between the log and the feed.
///
/// A failed read of the store becomes an `Err` item; the stream then backs off and goes on
/// where it was. Events are filtered by `topic` (`None` = all) after gap handling. The stream
/// ends when `live` ends (the bus was closed).
pub fn resume_from_log(
    store: Arc<dyn Store>,
    live: BoxStream<'static, LiveEvent>,
    topic: Option<Topic>,
    after: Option<u64>,
    idle_poll: Duration,
) -> EventStream {
    resume(Arc::new(StoreLog(store)), live, topic, after, idle_poll)
}

/// [`resume_from_log`] reading through `log` instead of the store itself.
pub fn resume(
    log: Arc<dyn EventLog>,
    live: BoxStream<'static, LiveEvent>,
    topic: Option<Topic>,
    after: Option<u64>,
    idle_poll: Duration,
) -> EventStream {
    let feed = Feed {
        log,
        live,
        topic,
        last: after,
        ready: VecDeque::new(),
        // Replay what is stored after `after` before anything live.
        read_needed: true,
        held: None,
        idle_poll,
        failures: 0,
        backoff_pending: false,
    };
    stream::unfold(feed, |mut feed| async move {
        let item = feed.next().await?;
        Some((item, feed))
    })
    .boxed()
}

struct Feed {
    log: Arc<dyn EventLog>,
    live: BoxStream<'static, LiveEvent>,
    topic: Option<Topic>,
    /// The last global sequence passed; `None` until resolved from the store.
    last: Option<u64>,
    /// Accepted events of our topic, in order, not yet yielded.
    ready: VecDeque<Event>,
    read_needed: bool,
    /// A live event that arrived past a gap; accepted after the gap is read, if it is then
    /// the next one.
    held: Option<Event>,
    idle_poll: Duration,
    failures: u32,
    backoff_pending: bool,
}

impl Feed {
    async fn next(&mut self) -> Option<Result<Event>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(Ok(event));
            }
            if self.backoff_pending {
                self.backoff_pending = false;
                tokio::time::sleep(self.backoff()).await;
            }
            let Some(last) = self.last else {
                match self.log.last_event_sequence().await {
                    Ok(sequence) => {
                        self.failures = 0;
                        self.last = Some(sequence);
                    }
                    Err(e) => return Some(Err(self.failed(e))),
                }
                continue;
            };
            if self.read_needed {
                match self.log.events_after(last, READ_BATCH).await {
                    Ok(events) => {
                        self.failures = 0;
                        self.read_needed = events.len() >= READ_BATCH;
                        events.into_iter().for_each(|e| self.accept(e));
                        if !self.read_needed {
                            // Normally the read brought the held event too. If the log did not
                            // show it yet, taking it now could jump over events that become
                            // visible later; the idle poll will bring it instead.
                            if let Some(held) = self.held.take() {
                                if self.last.map(|l| l + 1) == Some(held.sequence) {
                                    self.accept(held);
                                }
                            }
                        }
                    }
                    Err(e) => return Some(Err(self.failed(e))),
                }
                continue;
            }
            tokio::select! {
                item = self.live.next() => match item {
                    Some(LiveEvent::Event(event)) => self.on_live(last, event),
                    Some(LiveEvent::Lagged) => self.read_needed = true,
                    None => return None,
                },
                () = tokio::time::sleep(self.idle_poll) => self.read_needed = true,
            }
        }
    }

    fn on_live(&mut self, last: u64, event: Event) {
        if event.sequence <= last {
            return;
        }
        if event.sequence == last + 1 {
            self.accept(event);
        } else {
            self.read_needed = true;
            self.held = Some(event);
        }
    }

    /// Passes `event` (read from the log, so nothing before it is missing) and queues it if
    /// it is of our topic; an event at or before the last one passed is a duplicate.
    fn accept(&mut self, event: Event) {
        if self.last.is_some_and(|last| event.sequence <= last) {
            return;
        }
        self.last = Some(event.sequence);
        if self.topic.is_none_or(|t| t == event.topic) {
            self.ready.push_back(event);
        }
    }

    fn failed(&mut self, error: Error) -> Error {
        self.failures = self.failures.saturating_add(1);
        self.backoff_pending = true;
        error
    }

    fn backoff(&self) -> Duration {
        let doublings = self.failures.saturating_sub(1).min(16);
        FIRST_BACKOFF
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF)
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;
    use tokio::time::Instant;

    use super::*;
    use crate::domain::NewEvent;
    use crate::memory::InMemoryStore;

    const HOUR: Duration = Duration::from_secs(3600);

    struct Harness {
        store: InMemoryStore,
        live: mpsc::UnboundedSender<LiveEvent>,
        stream: EventStream,
    }

    impl Harness {
        fn new(topic: Option<Topic>, after: Option<u64>, idle_poll: Duration) -> Self {
            Self::on(InMemoryStore::new(), topic, after, idle_poll)
        }

        fn on(
            store: InMemoryStore,
            topic: Option<Topic>,
            after: Option<u64>,
            idle: Duration,
        ) -> Self {
            let (live, receiver) = mpsc::unbounded_channel();
            let live_stream = stream::unfold(receiver, |mut r| async move {
                r.recv().await.map(|item| (item, r))
            })
            .boxed();
            let stream = resume_from_log(Arc::new(store.clone()), live_stream, topic, after, idle);
            Harness {
                store,
                live,
                stream,
            }
        }

        async fn append(&self, topic: Topic) -> Event {
            let mut event = NewEvent::alert(None, "test", "test", chrono::Utc::now());
            event.topic = topic;
            self.store.append_event(&event).await.unwrap()
        }

        fn send(&self, event: &Event) {
            self.live.send(LiveEvent::Event(event.clone())).unwrap();
        }

        async fn next(&mut self) -> Event {
            self.stream.next().await.unwrap().unwrap()
        }

        async fn sequences(&mut self, n: usize) -> Vec<u64> {
            let mut out = Vec::new();
            for _ in 0..n {
                out.push(self.next().await.sequence);
            }
            out
        }

        fn reads(&self) -> u64 {
            self.store.faults().calls("events_after")
        }
    }

    #[tokio::test(start_paused = true)]
    async fn replays_the_log_then_follows_live_events() {
        let mut h = Harness::new(None, Some(1), HOUR);
        for _ in 0..3 {
            h.append(Topic::Alerts).await;
        }
        let start = Instant::now();
        assert_eq!(h.sequences(2).await, [2, 3]);
        let fourth = h.append(Topic::Alerts).await;
        h.send(&fourth);
        assert_eq!(h.next().await, fourth);
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "nothing waited for the idle poll"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_after_it_starts_at_the_end_of_the_log() {
        let mut h = Harness::new(None, None, HOUR);
        h.append(Topic::Alerts).await;
        let second = h.append(Topic::Alerts).await;
        // The first poll resolves the start; nothing stored is replayed.
        let first_poll = tokio::time::timeout(Duration::from_secs(1), h.stream.next()).await;
        assert!(first_poll.is_err(), "{first_poll:?}");
        h.send(&second);
        let third = h.append(Topic::Alerts).await;
        h.send(&third);
        assert_eq!(h.next().await, third);
    }

    #[tokio::test(start_paused = true)]
    async fn a_jump_in_sequence_reads_the_gap_from_the_log() {
        let mut h = Harness::new(None, Some(0), HOUR);
        let first = h.append(Topic::Alerts).await;
        assert_eq!(h.next().await, first);
        let reads = h.reads();
        h.append(Topic::Alerts).await;
        let third = h.append(Topic::Alerts).await;
        h.send(&third);
        let start = Instant::now();
        assert_eq!(h.sequences(2).await, [2, 3]);
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(h.reads(), reads + 1, "one read fills the gap");
    }

    #[tokio::test(start_paused = true)]
    async fn duplicates_and_older_events_are_dropped() {
        let mut h = Harness::new(None, Some(0), HOUR);
        let events = [h.append(Topic::Alerts).await, h.append(Topic::Alerts).await];
        assert_eq!(h.sequences(2).await, [1, 2]);
        for event in [&events[1], &events[0], &events[1]] {
            h.send(event);
        }
        let third = h.append(Topic::Alerts).await;
        h.send(&third);
        let start = Instant::now();
        assert_eq!(h.next().await, third);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn the_idle_poll_finds_events_whose_publish_was_lost() {
        let idle = Duration::from_secs(2);
        let mut h = Harness::new(None, Some(0), idle);
        let first = h.append(Topic::Alerts).await;
        assert_eq!(h.next().await, first);
        let lost = h.append(Topic::Alerts).await;
        let start = Instant::now();
        assert_eq!(h.next().await, lost);
        assert_eq!(start.elapsed(), idle);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lagged_feed_reads_the_log() {
        let mut h = Harness::new(None, Some(0), HOUR);
        let first = h.append(Topic::Alerts).await;
        assert_eq!(h.next().await, first);
        let missed = h.append(Topic::Alerts).await;
        h.live.send(LiveEvent::Lagged).unwrap();
        let start = Instant::now();
        assert_eq!(h.next().await, missed);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_replay_reads_batch_after_batch_without_waiting() {
        let mut h = Harness::new(None, Some(0), HOUR);
        for _ in 0..(2 * READ_BATCH + 10) {
            h.append(Topic::Audit).await;
        }
        let start = Instant::now();
        let got = h.sequences(2 * READ_BATCH + 10).await;
        assert!(got.windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(got.last(), Some(&(2 * READ_BATCH as u64 + 10)));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn other_topics_advance_the_sequence_without_being_yielded() {
        let mut h = Harness::new(Some(Topic::Alerts), Some(0), HOUR);
        h.append(Topic::Provisioning).await;
        let alert = h.append(Topic::Alerts).await;
        assert_eq!(h.next().await, alert);
        let reads = h.reads();
        let other = h.append(Topic::Provisioning).await;
        let wanted = h.append(Topic::Alerts).await;
        h.send(&other);
        h.send(&wanted);
        assert_eq!(h.next().await, wanted);
        assert_eq!(h.reads(), reads, "consecutive live events need no read");
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_failure_is_an_item_then_the_stream_backs_off_and_goes_on() {
        let store = InMemoryStore::new();
        store
            .faults()
            .fail_next("events_after", 2, Error::unavailable("store", "down"));
        let mut h = Harness::on(store, None, Some(0), HOUR);
        let first = h.append(Topic::Alerts).await;
        let start = Instant::now();
        assert!(h.stream.next().await.unwrap().is_err());
        assert!(h.stream.next().await.unwrap().is_err());
        assert_eq!(h.next().await, first);
        assert_eq!(start.elapsed(), FIRST_BACKOFF + FIRST_BACKOFF * 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_stream_ends_with_the_live_feed() {
        let mut h = Harness::new(None, Some(0), HOUR);
        let first = h.append(Topic::Alerts).await;
        assert_eq!(h.next().await, first);
        drop(h.live);
        assert!(h.stream.next().await.is_none());
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let delay = |failures| {
            Feed {
                log: Arc::new(StoreLog(Arc::new(InMemoryStore::new()))),
                live: stream::empty().boxed(),
                topic: None,
                last: None,
                ready: VecDeque::new(),
                read_needed: false,
                held: None,
                idle_poll: HOUR,
                failures,
                backoff_pending: false,
            }
            .backoff()
        };
        assert_eq!(delay(1), FIRST_BACKOFF);
        assert_eq!(delay(2), FIRST_BACKOFF * 2);
        assert_eq!(delay(10), MAX_BACKOFF);
        assert_eq!(delay(u32::MAX), MAX_BACKOFF);
    }
}
