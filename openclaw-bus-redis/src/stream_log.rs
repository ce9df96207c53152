//! [`StreamFirstLog`]: a subscriber's replay read from the Redis stream where it holds the
//! events asked for, from the store's log for everything else.

use std::sync::Arc;

use async_trait::async_trait;
use openclaw_core::domain::Event;
use openclaw_core::event_feed::EventLog;
use openclaw_core::ports::Store;
use openclaw_core::Result;

use crate::bus::Shared;

/// The [`EventLog`] behind every [`RedisBus`](crate::RedisBus) subscriber.
///
/// Stream ids are the store's sequences, so the stream can say exactly which events it holds.
/// A read takes the stream's entries from `after + 1` on, keeps them only while each is the
/// next sequence (an entry missing — trimmed, lost with Redis, published late or never — ends
/// the run), and fills the rest of the read from the store. When the stream does not hold
/// `after + 1` at all, or Redis does not answer, the whole read goes to the store. The store
/// stays the truth: the stream only spares it the reads a crowd of reconnecting subscribers
/// would make.
pub(crate) struct StreamFirstLog {
    pub(crate) shared: Arc<Shared>,
    pub(crate) store: Arc<dyn Store>,
}

/// The longest run of `events` that starts at `first` and goes on without a gap.
pub(crate) fn contiguous_run(events: Vec<Event>, first: u64) -> Vec<Event> {
    let mut expected = first;
    let mut run = Vec::new();
    for event in events {
        if event.sequence != expected {
            break;
        }
        expected = expected.saturating_add(1);
        run.push(event);
    }
    run
}

#[async_trait]
impl EventLog for StreamFirstLog {
    async fn last_event_sequence(&self) -> Result<u64> {
        self.store.last_event_sequence().await
    }

    async fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>> {
        let first = after.saturating_add(1);
        if let Some(held) = self.shared.read_stream(first, limit).await {
            let found = held.len();
            let mut events = contiguous_run(held, first);
            if !events.is_empty() {
                self.shared.stats.stream_reads.incr();
                if events.len() < limit && found > events.len() {
                    // The stream has a hole: the store has what fell into it.
                    let last = events.last().map_or(after, |e| e.sequence);
                    self.shared.stats.store_reads.incr();
                    events.extend(self.store.events_after(last, limit - events.len()).await?);
                }
                return Ok(events);
            }
        }
        self.shared.stats.store_reads.incr();
        self.store.events_after(after, limit).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use openclaw_core::domain::NewEvent;

    use super::*;

    fn event(sequence: u64) -> Event {
        Event::from_new(sequence, NewEvent::alert(None, "t", "t", Utc::now()))
    }

    fn sequences(events: &[Event]) -> Vec<u64> {
        events.iter().map(|e| e.sequence).collect()
    }

    proptest::proptest! {
        /// Whatever the stream holds (any subset of the log, in any order a late publish
        /// leaves), the run is exactly the log from `first` up to the first sequence the
        /// stream does not hold in place: never a skipped event, never one out of order.
        #[test]
        fn a_run_is_the_longest_gapless_prefix(
            held in proptest::collection::vec(1u64..40, 0..40),
            first in 1u64..10,
        ) {
            let run = sequences(&contiguous_run(held.iter().copied().map(event).collect(), first));
            let expected: Vec<u64> = held
                .iter()
                .copied()
                .zip(first..)
                .take_while(|(got, want)| got == want)
                .map(|(got, _)| got)
                .collect();
            proptest::prop_assert_eq!(&run, &expected);
            for (i, sequence) in run.iter().enumerate() {
                proptest::prop_assert_eq!(*sequence, first + i as u64);
            }
        }
    }

    #[test]
    fn a_run_stops_at_the_first_hole() {
        let held = [5, 6, 8, 9].map(event).to_vec();
        assert_eq!(sequences(&contiguous_run(held.clone(), 5)), [5, 6]);
        assert!(contiguous_run(held, 4).is_empty(), "4 is not held");
        assert!(contiguous_run(Vec::new(), 1).is_empty());
        let late = [7, 6].map(event).to_vec();
        assert_eq!(sequences(&contiguous_run(late, 6)), Vec::<u64>::new());
    }
}
