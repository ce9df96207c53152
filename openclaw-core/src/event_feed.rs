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

use futures_util::stream::{self, BoxStream, StreamExt};

use crate::domain::{Event, Topic};
use crate::error::Result;
use crate::ports::{EventStream, Store};

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
    let feed = Feed {
        store,
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
    store: Arc<dyn Store>,
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
                match self.store.stats().await {
                    Ok(stats) => {
                        self.failures = 0;
                        self.last = Some(stats.last_event_sequence);
                    }
                    Err(e) => return Some(Err(self.failed(e))),
                }
                continue;
            };
            if self.read_needed {
                match self.store.events_after(last, READ_BATCH).await {
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

    fn failed(&mut self, error: crate::Error) -> crate::Error {
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
