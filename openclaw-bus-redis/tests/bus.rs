//! `RedisBus` against a real Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`;
//! `scripts/test` starts one): core's bus conformance suite with events published by one
//! replica and followed on another, replays served by the stream, the stream recreated, and
//! the message format as any Redis client reads it. A Redis that cannot be reached fails these
//! tests; they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures_util::StreamExt;
use openclaw_bus_redis::{BusMessage, RedisBus, RedisBusConfig};
use openclaw_core::domain::{Event, NewEvent, Topic};
use openclaw_core::ports::{EventBus, EventStream, Store};
use openclaw_core::InMemoryStore;

mod common;
use common::redis_url;

/// A deployment name no other test (or run) uses.
fn fresh_deployment() -> String {
    common::unique("test-bus")
}

fn replica(store: &Arc<dyn Store>, deployment: &str, idle_poll: Duration) -> RedisBus {
    let mut config = RedisBusConfig::new(redis_url(), deployment);
    config.idle_poll = idle_poll;
    RedisBus::new(config, Arc::clone(store)).unwrap()
}

/// Two replicas of one deployment on one store: events are published by `a` and followed on
/// `b`, so everything the suite sees came through Redis or the log, never through `b`'s own
/// process.
struct TwoReplicas {
    a: RedisBus,
    b: RedisBus,
}

#[async_trait]
impl EventBus for TwoReplicas {
    async fn publish(&self, event: &Event) -> openclaw_core::Result<()> {
        self.a.publish(event).await
    }

    async fn subscribe(
        &self,
        topic: Option<Topic>,
        after: Option<u64>,
    ) -> openclaw_core::Result<EventStream> {
        self.b.subscribe(topic, after).await
    }
}

async fn across_replicas() -> (Arc<dyn Store>, Arc<dyn EventBus>) {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
    let deployment = fresh_deployment();
    // The idle poll only matters for events whose publish was lost.
    let idle = Duration::from_millis(200);
    let bus = TwoReplicas {
        a: replica(&store, &deployment, idle),
        b: replica(&store, &deployment, idle),
    };
    (store, Arc::new(bus))
}

async fn one_replica() -> (Arc<dyn Store>, Arc<dyn EventBus>) {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
    let bus = replica(&store, &fresh_deployment(), Duration::from_millis(200));
    (store, Arc::new(bus))
}

openclaw_core::bus_conformance_tests!(across_replicas);

mod same_process {
    use super::*;
    openclaw_core::bus_conformance_tests!(one_replica);
}

const HOUR: Duration = Duration::from_secs(3600);

async fn alert(store: &Arc<dyn Store>, label: &str) -> Event {
    store
        .append_event(&NewEvent::alert(None, "test", label, Utc::now()))
        .await
        .unwrap()
}

async fn next(stream: &mut EventStream) -> Event {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream is open")
        .expect("no error")
}

/// Waits until `bus`'s channel subscription is up.
async fn until_listening(bus: &RedisBus) {
    for _ in 0..200 {
        if bus.stats().live_connected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the channel subscription did not come up: {:?}",
        bus.stats()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_replica_sees_an_event_through_redis_not_the_idle_poll() {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
    let deployment = fresh_deployment();
    let a = replica(&store, &deployment, HOUR);
    let b = replica(&store, &deployment, HOUR);
    let mut stream = b.subscribe(None, None).await.unwrap();
    until_listening(&b).await;
    for i in 0..20 {
        let event = alert(&store, &format!("live {i}")).await;
        let started = tokio::time::Instant::now();
        a.publish(&event).await.unwrap();
        assert_eq!(next(&mut stream).await, event);
        // With an hour's idle poll, only the channel can bring it this soon.
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    assert_eq!(a.stats().published, 20);
    assert_eq!(a.stats().publish_failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_is_read_from_the_stream_and_the_store_fills_its_holes() {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
    let deployment = fresh_deployment();
    let a = replica(&store, &deployment, HOUR);
    let b = replica(&store, &deployment, HOUR);
    let mut events = Vec::new();
    for i in 0..10 {
        let event = alert(&store, &format!("stored {i}")).await;
        // Event 6's publish is lost: the stream has a hole there.
        if i != 5 {
            a.publish(&event).await.unwrap();
        }
        events.push(event);
    }
    let store_reads = b.stats().store_reads;
    let mut stream = b.subscribe(None, Some(0)).await.unwrap();
    for event in &events {
        assert_eq!(&next(&mut stream).await, event);
    }
    let stats = b.stats();
    assert!(stats.stream_reads >= 1, "{stats:?}");
    // The run 1..=5 came from the stream, 6..=10 from one read of the store.
    assert_eq!(stats.store_reads, store_reads + 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_older_than_the_stream_comes_from_the_store() {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
    let deployment = fresh_deployment();
    let mut config = RedisBusConfig::new(redis_url(), &deployment);
    config.idle_poll = HOUR;
    config.stream_length = 1;
    let a = RedisBus::new(config, Arc::clone(&store)).unwrap();
    let mut events = Vec::new();
    for i in 0..300 {
        let event = alert(&store, &format!("old {i}")).await;
        a.publish(&event).await.unwrap();
        events.push(event);
    }
    let b = replica(&store, &deployment, HOUR);
    let mut stream = b.subscribe(None, Some(0)).await.unwrap();
    for event in &events {
        assert_eq!(&next(&mut stream).await, event);
    }
    assert!(b.stats().store_reads >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_stream_has_a_new_epoch_and_subscribers_miss_nothing() {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
    let deployment = fresh_deployment();
    let a = replica(&store, &deployment, HOUR);
    let b = replica(&store, &deployment, HOUR);
    let mut stream = b.subscribe(None, None).await.unwrap();
    until_listening(&b).await;
    let first = alert(&store, "before").await;
    a.publish(&first).await.unwrap();
    assert_eq!(next(&mut stream).await, first);
    let epoch = a.stats().epoch.expect("an epoch after a publish");

    // Redis loses the stream (as a restart without persistence would).
    let client = redis::Client::open(redis_url()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let keys = openclaw_bus_redis::RedisKeys::for_deployment(&deployment);
    let _: i64 = redis::cmd("DEL")
        .arg(keys.stream())
        .arg(keys.epoch())
        .query_async(&mut admin)
        .await
        .unwrap();
    // One event whose publish is lost in the meantime, then the next one.
    let lost = alert(&store, "lost").await;
    let after = alert(&store, "after").await;
    a.publish(&after).await.unwrap();
    assert_eq!(next(&mut stream).await, lost);
    assert_eq!(next(&mut stream).await, after);
    let new_epoch = a.stats().epoch.unwrap();
    assert_ne!(new_epoch, epoch, "the recreated stream has a new epoch");
    assert!(b.stats().epoch_changes >= 1, "{:?}", b.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_redis_client_reads_the_channel_as_json() {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
    let deployment = fresh_deployment();
    let bus = replica(&store, &deployment, HOUR);
    let channel = bus.channel(Topic::Provisioning);
    assert_eq!(channel, format!("openclaw:{deployment}:provisioning"));
    let client = redis::Client::open(redis_url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(&channel).await.unwrap();
    let mut messages = pubsub.into_on_message();

    let instance = openclaw_core::domain::InstanceId::new();
    let event = store
        .append_event(&NewEvent::status_changed(
            instance,
            None,
            openclaw_core::domain::InstanceStatus::Pending,
            "ordered",
            Utc::now(),
        ))
        .await
        .unwrap();
    bus.publish(&event).await.unwrap();
    // Published twice: the channel carries it once.
    bus.publish(&event).await.unwrap();
    // An alert goes to its own channel, not this one.
    let other = alert(&store, "elsewhere").await;
    bus.publish(&other).await.unwrap();

    let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .unwrap()
        .unwrap();
    let text: String = message.get_payload().unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["sequence"], event.sequence);
    assert_eq!(json["topic"], "provisioning");
    assert_eq!(json["instance_id"], instance.to_string());
    assert_eq!(json["kind"]["type"], "status_changed");
    assert_eq!(json["kind"]["to"], "pending");
    assert!(json["epoch"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(BusMessage::parse(&text).unwrap().event, event);
    let again = tokio::time::timeout(Duration::from_millis(300), messages.next()).await;
    assert!(again.is_err(), "a duplicate publish reached the channel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_end_when_the_bus_is_dropped() {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
    let bus = replica(&store, &fresh_deployment(), HOUR);
    let mut stream = bus.subscribe(None, None).await.unwrap();
    until_listening(&bus).await;
    drop(bus);
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert!(matches!(end, Ok(None)), "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_delays_nothing_the_log_can_bring() {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
    let mut config = RedisBusConfig::new("redis://127.0.0.1:1", "nowhere");
    config.idle_poll = Duration::from_millis(100);
    let a = RedisBus::new(config.clone(), Arc::clone(&store)).unwrap();
    let b = RedisBus::new(config, Arc::clone(&store)).unwrap();
    assert!(a.ping().await.is_err());
    let mut local = a.subscribe(None, None).await.unwrap();
    let mut remote = b.subscribe(None, None).await.unwrap();
    let event = alert(&store, "no redis").await;
    let error = a.publish(&event).await.unwrap_err();
    assert_eq!(error.code(), "unavailable", "{error}");
    // This process's subscriber has it at once; the other replica's from the log.
    assert_eq!(next(&mut local).await, event);
    assert_eq!(next(&mut remote).await, event);
    assert_eq!(a.stats().publish_failures, 1);
    assert!(!b.stats().live_connected);
}
