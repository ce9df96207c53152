//! Store checks of the event log: global, strictly increasing sequences that a reader can
//! resume from without missing anything.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{created, insert_new, join, last_sequence, move_to, now};
use crate::domain::{Event, InstanceStatus, NewEvent};
use crate::ports::Store;

fn alert(reason: String) -> NewEvent {
    NewEvent::alert(None, "conformance", reason, now())
}

/// Appended events get strictly increasing sequences, starting at 1 in an empty store, and
/// `stats` reports the last one.
pub async fn event_sequences_strictly_increase(store: Arc<dyn Store>) {
    let start = last_sequence(&store).await;
    let mut previous = start;
    for n in 0..5 {
        let event = store
            .append_event(&alert(format!("event {n}")))
            .await
            .unwrap();
        if previous == 0 {
            assert_eq!(
                event.sequence, 1,
                "the first event of a store has sequence 1"
            );
        }
        assert!(
            event.sequence > previous,
            "sequence {} after {previous}",
            event.sequence
        );
        previous = event.sequence;
    }
    let instance = insert_new(&store, None).await;
    let events = store.instance_events(instance.id).await.unwrap();
    assert!(
        events[0].sequence > previous,
        "instance events share the sequence"
    );
    assert_eq!(last_sequence(&store).await, events[0].sequence);
    assert_eq!(
        store.last_event_sequence().await.unwrap(),
        events[0].sequence,
        "last_event_sequence is the highest sequence written"
    );
}

/// `events_after(n, limit)` returns the events after `n`, ascending, at most `limit`, as
/// they were appended.
pub async fn events_after_resumes(store: Arc<dyn Store>) {
    let mut appended = Vec::new();
    for n in 0..5 {
        appended.push(
            store
                .append_event(&alert(format!("resume {n}")))
                .await
                .unwrap(),
        );
    }
    let after_second = store.events_after(appended[1].sequence, 100).await.unwrap();
    assert_eq!(after_second, appended[2..].to_vec());
    let limited = store.events_after(appended[1].sequence, 2).await.unwrap();
    assert_eq!(limited, appended[2..4].to_vec());
    assert!(store
        .events_after(appended[4].sequence, 10)
        .await
        .unwrap()
        .is_empty());
    let from_start = store.events_after(0, 10_000).await.unwrap();
    assert!(from_start.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert!(appended.iter().all(|e| from_start.contains(e)));
}

/// `instance_events` returns one instance's events, ascending, whatever their topic.
pub async fn instance_events_in_order(store: Arc<dyn Store>) {
    let instance = insert_new(&store, None).await;
    let other = insert_new(&store, None).await;
    let current = move_to(&store, &instance, InstanceStatus::Provisioning, None).await;
    let alert = store
        .append_event(&NewEvent::alert(
            Some(instance.id),
            "conformance",
            "an alert about it",
            now(),
        ))
        .await
        .unwrap();
    move_to(&store, &other, InstanceStatus::Provisioning, None).await;
    move_to(&store, &current, InstanceStatus::Active, None).await;
    let events = store.instance_events(instance.id).await.unwrap();
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(events.iter().all(|e| e.instance_id == Some(instance.id)));
    assert!(events.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert_eq!(events[0].kind, created(&instance).kind);
    assert_eq!(events[2], alert);
    assert_eq!(
        events[3].status_change(),
        Some((Some(InstanceStatus::Provisioning), InstanceStatus::Active))
    );
}

/// Four tasks append 50 events each while a reader follows with `events_after` in small
/// batches: the reader sees sequences strictly increasing and every appended event, so a
/// reader that resumes from the last sequence it saw never misses one.
pub async fn concurrent_appends_read_gapless(store: Arc<dyn Store>) {
    const APPENDERS: usize = 4;
    const EACH: usize = 50;
    let start = last_sequence(&store).await;
    let finished = Arc::new(AtomicBool::new(false));
    let reader = {
        let store = Arc::clone(&store);
        let finished = Arc::clone(&finished);
        tokio::spawn(async move {
            let mut seen: Vec<Event> = Vec::new();
            let mut last = start;
            loop {
                // Read the flag first: an empty read after every append finished is the end.
                let done = finished.load(Ordering::SeqCst);
                let batch = store.events_after(last, 7).await.unwrap();
                for event in &batch {
                    assert!(
                        event.sequence > last,
                        "events_after({last}) returned sequence {}",
                        event.sequence
                    );
                    last = event.sequence;
                }
                if batch.is_empty() {
                    if done {
                        return seen;
                    }
                    tokio::task::yield_now().await;
                }
                seen.extend(batch);
            }
        })
    };
    let appenders: Vec<_> = (0..APPENDERS)
        .map(|a| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut sequences = Vec::new();
                for n in 0..EACH {
                    let event = store
                        .append_event(&alert(format!("appender {a} event {n}")))
                        .await
                        .unwrap();
                    sequences.push(event.sequence);
                }
                sequences
            })
        })
        .collect();
    let mut appended = BTreeSet::new();
    for task in appenders {
        appended.extend(join(task).await);
    }
    finished.store(true, Ordering::SeqCst);
    let seen = join(reader).await;
    assert_eq!(appended.len(), APPENDERS * EACH, "sequences must be unique");
    let seen: BTreeSet<u64> = seen.iter().map(|e| e.sequence).collect();
    let missed: Vec<_> = appended.difference(&seen).collect();
    assert!(
        missed.is_empty(),
        "a reader following events_after missed {missed:?}: an event became visible after a \
         later one"
    );
}
