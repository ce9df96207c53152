//! The event log under concurrent writers: a reader that follows `events_after` from the
//! last sequence it saw gets every event exactly once, in order. With a plain sequence the
//! reader would skip an event whose transaction took its number first but committed last.

// Helpers outside `#[test]` functions stop the test on failure, as the tests themselves do.
#![allow(clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use openclaw_core::conformance::store::sample_instance;
use openclaw_core::domain::{CustomerId, InstanceStatus, NewEvent};
use openclaw_core::ports::{InstanceWrite, NewInstance, Store};
use openclaw_core::Error;
use openclaw_store_postgres::PgStore;

const WRITERS: usize = 6;
const WRITES_EACH: usize = 120;

async fn follow(store: PgStore, start: u64, batch: usize, done: Arc<AtomicBool>) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut last = start;
    loop {
        let finished = done.load(Ordering::SeqCst);
        let events = store.events_after(last, batch).await.expect("events_after");
        for event in &events {
            assert!(
                event.sequence > last,
                "sequence {} after {last}",
                event.sequence
            );
            last = event.sequence;
            seen.push(event.sequence);
        }
        if events.is_empty() {
            if finished {
                return seen;
            }
            tokio::task::yield_now().await;
        }
    }
}

/// One writer: status changes of its own instance with their events, alternating with
/// alerts, so both kinds of append race.
async fn write(store: PgStore, writer: usize) -> Vec<u64> {
    let customer = CustomerId::parse(format!("events-{writer}")).expect("customer id");
    let mut instance = sample_instance(&customer, None);
    let created = NewEvent::status_changed(
        instance.id,
        None,
        InstanceStatus::Pending,
        "created",
        instance.created_at,
    );
    let mut sequences = vec![
        store
            .insert_instance(&NewInstance::new(&instance, &created, None))
            .await
            .expect("insert")
            .sequence,
    ];
    for n in 0..WRITES_EACH {
        let at = Utc::now().trunc_subsecs(6);
        if n % 2 == 0 {
            let to = if instance.status == InstanceStatus::Pending {
                InstanceStatus::Failed
            } else {
                InstanceStatus::Pending
            };
            let mut next = instance.clone();
            next.status = to;
            next.updated_at = at;
            let write = InstanceWrite {
                event: Some(NewEvent::status_changed(
                    instance.id,
                    Some(instance.status),
                    to,
                    "flip",
                    at,
                )),
                ..InstanceWrite::new(next)
            };
            let (stored, event) = store.update_instance(&write).await.expect("update");
            instance = stored;
            sequences.push(event.expect("event").sequence);
        } else {
            let alert = NewEvent::alert(Some(instance.id), "test", format!("alert {n}"), at);
            sequences.push(store.append_event(&alert).await.expect("append").sequence);
        }
    }
    sequences
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_read_in_order_without_gaps() {
    readers_see_every_event_in_order(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_read_in_order_when_durable_before_visible() {
    readers_see_every_event_in_order(true).await;
}

async fn readers_see_every_event_in_order(durable_before_visible: bool) {
    let config = common::config()
        .max_connections(12)
        .durable_before_visible(durable_before_visible);
    let store = PgStore::connect(&config).await.expect("connect");
    let start = store.stats().await.expect("stats").last_event_sequence;
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = [1, 4, 16]
        .into_iter()
        .map(|batch| tokio::spawn(follow(store.clone(), start, batch, Arc::clone(&done))))
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(write(store.clone(), w)))
        .collect();
    let mut written = BTreeSet::new();
    for writer in writers {
        written.extend(writer.await.expect("writer"));
    }
    done.store(true, Ordering::SeqCst);
    let total = WRITERS * (WRITES_EACH + 1);
    assert_eq!(written.len(), total, "every append got its own sequence");
    // The head row hands out consecutive numbers: no gaps at all, not only none seen.
    let expected: BTreeSet<u64> = (start + 1..=start + total as u64).collect();
    assert_eq!(written, expected);
    for reader in readers {
        let seen = reader.await.expect("reader");
        assert_eq!(
            seen,
            expected.iter().copied().collect::<Vec<_>>(),
            "a following reader must see every event once, in order"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_leaves_no_gap() {
    let store = common::store().await;
    let customer = CustomerId::parse("gaps").expect("customer id");
    let first = sample_instance(&customer, None);
    let created = |i: &openclaw_core::domain::Instance| {
        NewEvent::status_changed(i.id, None, InstanceStatus::Pending, "created", i.created_at)
    };
    let a = store
        .insert_instance(&NewInstance::new(&first, &created(&first), None))
        .await
        .expect("insert");
    let mut clash = sample_instance(&customer, None);
    clash.fqdn = first.fqdn.clone();
    assert!(matches!(
        store
            .insert_instance(&NewInstance::new(&clash, &created(&clash), None))
            .await,
        Err(Error::Conflict { .. })
    ));
    let b = store
        .append_event(&NewEvent::alert(
            None,
            "test",
            "after a refusal",
            Utc::now(),
        ))
        .await
        .expect("append");
    assert_eq!(b.sequence, a.sequence + 1);
}
