//! A worker that stalls past its lease — frozen between two provider calls, as by SIGSTOP —
//! while another worker rescues its job and the instance is terminated or rolled back. When
//! it wakes it must do nothing more: no provider call, no write. Afterwards there is at most
//! one server and one record per instance, and none for a terminated or rolled-back one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::stall::{Freezer, FrozenCompute, World};
use openclaw_core::domain::{ClaimRequest, InstanceStatus, RollbackLevel};
use openclaw_core::engine::{EngineConfig, Provisioner};
use openclaw_core::memory::{InMemoryHealth, InMemoryStore};
use openclaw_core::ports::Store;
use openclaw_core::TokioClock;
use tokio::task::JoinHandle;

/// `config()` for a replica named `name`.
fn named(name: &str) -> EngineConfig {
    let mut config = config();
    config.workers.name = name.to_string();
    config
}

/// The timings of the experiment: an 8 s lease, a heartbeat every 2 s.
fn config() -> EngineConfig {
    let mut config = common::config();
    config.workers.lease = Duration::from_secs(8);
    config.workers.heartbeat = Duration::from_secs(2);
    config.workers.lease_margin = Duration::from_secs(1);
    config.workers.concurrency = 1;
    config
}

pub(crate) fn start(p: &Provisioner) -> JoinHandle<()> {
    let p = p.clone();
    tokio::spawn(async move {
        p.run_workers(std::future::pending()).await.unwrap();
    })
}

/// Polls (on the paused clock) until `done` holds; panics with `what` after `limit`.
async fn wait_for<F, Fut>(limit: Duration, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = tokio::time::Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[derive(Clone, Copy, Debug)]
enum Then {
    Terminate,
    Rollback,
}

/// Instance provisioned by `a`, which freezes on the way back from its `point` call; `b`
/// rescues the job; the instance is ended by `then`; `a` thaws. Nothing may be left.
async fn stalled_at(point: &'static str, then: Then) {
    let world = World::new();
    let front = world.replica(named("front"), None);
    let freezer = Freezer::new();
    let a = world.replica(named("a"), Some(freezer.clone()));
    let b = world.replica(named("b"), None);

    let instance = front.create(common::request("stall")).await.unwrap();
    if point == "find_server" {
        // A first worker died right after its claim: the job `a` gets is a resumed one,
        // whose server step looks up before it creates.
        let dead = world
            .store
            .claim_job(&ClaimRequest {
                worker: "dead".into(),
                now: openclaw_core::Clock::now(&*world.clock),
                lease_for: chrono::Duration::seconds(1),
            })
            .await
            .unwrap();
        assert!(dead.is_some());
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    freezer.freeze_after(point);
    let a_workers = start(&a);
    wait_for(Duration::from_secs(120), "a to stall", || async {
        freezer.has_frozen()
    })
    .await;

    // `b` takes over once `a`'s lease has run out, and gets the instance going.
    let b_workers = start(&b);
    let id = instance.id;
    wait_for(Duration::from_secs(600), "b to provision", || async {
        front.get(id).await.unwrap().status == InstanceStatus::Active
    })
    .await;
    match then {
        Then::Terminate => {
            front.terminate(id).await.unwrap();
        }
        Then::Rollback => {
            front.rollback(id, RollbackLevel::Partial).await.unwrap();
        }
    }
    let end = match then {
        Then::Terminate => InstanceStatus::Terminated,
        Then::Rollback => InstanceStatus::RolledBack,
    };
    wait_for(Duration::from_secs(600), "the instance to end", || async {
        front.get(id).await.unwrap().status == end
    })
    .await;
    let version = front.get(id).await.unwrap().version;

    // `a` wakes up.
    freezer.thaw();
    tokio::time::sleep(Duration::from_secs(120)).await;
    a_workers.abort();
    b_workers.abort();

    let after = front.get(id).await.unwrap();
    assert_eq!(after.status, end);
    assert_eq!(
        after.version, version,
        "the stalled worker wrote after waking"
    );
    assert_eq!(
        freezer.side_effects_after_freeze(),
        0,
        "the stalled worker called a provider after it woke"
    );
    assert_eq!(world.servers_of(id), 0, "a server was left behind");
    assert_eq!(world.records_of(id), 0, "a record was left behind");
    assert_eq!(world.compute.max_concurrent_servers_per_instance(), 1);
    assert!(world.dns.max_concurrent_records_per_name() <= 1);
    assert!(
        a.metrics().leases_lost >= 1,
        "the stalled worker noticed it lost its lease"
    );
}

#[tokio::test(start_paused = true)]
async fn stalled_between_find_and_create_then_terminated() {
    stalled_at("find_server", Then::Terminate).await;
}

#[tokio::test(start_paused = true)]
async fn stalled_between_find_and_create_then_rolled_back() {
    stalled_at("find_server", Then::Rollback).await;
}

#[tokio::test(start_paused = true)]
async fn stalled_between_create_and_record_then_terminated() {
    stalled_at("create_server", Then::Terminate).await;
}

#[tokio::test(start_paused = true)]
async fn stalled_between_create_and_record_then_rolled_back() {
    stalled_at("create_server", Then::Rollback).await;
}

#[tokio::test(start_paused = true)]
async fn stalled_inside_the_dns_step_then_terminated() {
    stalled_at("ensure_records", Then::Terminate).await;
}

#[tokio::test(start_paused = true)]
async fn stalled_inside_the_dns_step_then_rolled_back() {
    stalled_at("ensure_records", Then::Rollback).await;
}

#[tokio::test(start_paused = true)]
async fn stalled_inside_the_health_wait_then_terminated() {
    stalled_at("health_check", Then::Terminate).await;
}

#[tokio::test(start_paused = true)]
async fn stalled_inside_the_health_wait_then_rolled_back() {
    stalled_at("health_check", Then::Rollback).await;
}

/// The store's clock: tokio's, moved ahead on demand — the database's clock running on while
/// the worker's host was paused (a paused VM whose monotonic clock stood still too).
#[derive(Debug, Default)]
struct StoreClock {
    base: TokioClock,
    ahead_ms: std::sync::atomic::AtomicI64,
}

impl StoreClock {
    fn jump(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap();
        self.ahead_ms
            .fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl openclaw_core::Clock for StoreClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let ahead = self.ahead_ms.load(std::sync::atomic::Ordering::SeqCst);
        openclaw_core::Clock::now(&self.base) + chrono::Duration::milliseconds(ahead)
    }
}

/// The worker's own clock did not notice the stall, so only the store can stop it: its lease
/// ran out by the store's clock and another worker took the job. On waking between its
/// look-up and its create, the confirmation every side effect asks the store for is refused,
/// so no server is created.
#[tokio::test(start_paused = true)]
async fn a_lease_that_ran_out_by_the_store_clock_stops_the_next_side_effect() {
    let store_clock = Arc::new(StoreClock::default());
    let world = World {
        store: InMemoryStore::with_clock(store_clock.clone()),
        health: InMemoryHealth::healthy(),
        ..World::new()
    };
    let front = world.replica(named("front"), None);
    let freezer = Freezer::new();
    // Only the provider calls of `a` stall; its store calls do not.
    let a = {
        let mut config = config();
        config.workers.name = "a".into();
        Provisioner::builder()
            .store(Arc::new(world.store.clone()))
            .compute(Arc::new(FrozenCompute(
                Arc::new(world.compute.clone()),
                freezer.clone(),
            )))
            .dns(Arc::new(world.dns.clone()))
            .health(Arc::new(world.health.clone()))
            .clock(world.clock.clone())
            .retry_policy(common::fast_retries())
            .config(config)
            .build()
            .unwrap()
    };
    let b = world.replica(named("b"), None);
    let instance = front.create(common::request("paused")).await.unwrap();
    // A first worker died right after its claim, so `a` resumes: it looks up first.
    world
        .store
        .claim_job(&ClaimRequest {
            worker: "dead".into(),
            now: openclaw_core::Clock::now(&*world.clock),
            lease_for: chrono::Duration::seconds(1),
        })
        .await
        .unwrap()
        .unwrap();
    store_clock.jump(Duration::from_secs(2));
    freezer.freeze_after("find_server");
    let started = tokio::time::Instant::now();
    let a_workers = start(&a);
    while !freezer.has_frozen() {
        tokio::task::yield_now().await;
    }
    // The store's clock runs on past `a`'s lease; `b` takes the job over and finishes it,
    // and the instance is terminated — all before `a`'s next heartbeat would be due.
    store_clock.jump(Duration::from_secs(10));
    let b_workers = start(&b);
    let id = instance.id;
    while front.get(id).await.unwrap().status != InstanceStatus::Active {
        tokio::task::yield_now().await;
    }
    front.terminate(id).await.unwrap();
    while front.get(id).await.unwrap().status != InstanceStatus::Terminated {
        tokio::task::yield_now().await;
    }
    assert!(
        started.elapsed() < config().workers.heartbeat,
        "the scenario must run before `a` heartbeats again ({:?})",
        started.elapsed()
    );
    freezer.thaw();
    tokio::time::sleep(Duration::from_secs(60)).await;
    a_workers.abort();
    b_workers.abort();

    assert_eq!(freezer.calls("create_server"), 0, "`a` created a server");
    assert_eq!(world.servers_of(id), 0);
    assert_eq!(world.compute.created_total(), 1, "only `b`'s server");
    assert!(a.metrics().leases_lost >= 1);
}
