//! Chaos: 500 provisions through several worker processes sharing one store and one set of
//! providers, with random rate limits, server errors, timeouts and lost responses, while
//! processes are killed mid-step and replaced, and others stall (frozen, as by SIGSTOP) for
//! spans shorter and longer than their lease and then carry on. Afterwards every order is settled, no instance
//! ever had two servers or two records of a kind, and the providers hold nothing that no live
//! instance claims.
#![allow(clippy::print_stderr)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::stall::{Freezer, FrozenCompute, FrozenDns, FrozenHealth, FrozenStore};
use std::sync::Arc;
use std::time::Duration;

use openclaw_core::domain::{Event, InstanceFilter, InstanceStatus, TRANSITIONS};
use openclaw_core::engine::{Provisioner, SweepMode};
use openclaw_core::memory::{
    InMemoryCompute, InMemoryDns, InMemoryHealth, InMemoryStore, LocalBus, RandomFaults,
};
use openclaw_core::ports::{Compute, Dns, EventBus, Health, Store};
use openclaw_core::{Error, TokioClock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;

const ORDERS: usize = 500;
const SEED: u64 = 20_261_123;

struct World {
    store: InMemoryStore,
    bus: Arc<dyn EventBus>,
    compute: InMemoryCompute,
    dns: InMemoryDns,
    health: InMemoryHealth,
    clock: TokioClock,
}

impl World {
    /// One "process": its own engine over the shared store and providers, every call
    /// through its own freezer.
    fn process(&self, n: u64, freezer: &Arc<Freezer>) -> Provisioner {
        let mut config = common::config();
        config.seed = Some(SEED ^ n);
        config.workers.name = format!("process-{n}");
        let f = || freezer.clone();
        Provisioner::builder()
            .compute(Arc::new(FrozenCompute(Arc::new(self.compute.clone()), f())))
            .dns(Arc::new(FrozenDns(Arc::new(self.dns.clone()), f())))
            .health(Arc::new(FrozenHealth(Arc::new(self.health.clone()), f())))
            .store(Arc::new(FrozenStore(Arc::new(self.store.clone()), f())))
            .bus(self.bus.clone())
            .clock(Arc::new(self.clock))
            .retry_policy(common::fast_retries())
            .config(config)
            .build()
            .unwrap()
    }
}

fn start(p: Provisioner) -> JoinHandle<()> {
    tokio::spawn(async move {
        let _ = p.run_workers(std::future::pending()).await;
    })
}

fn faults(seed: u64) -> RandomFaults {
    RandomFaults {
        seed,
        failure_rate: 0.15,
        lost_response_rate: 0.05,
        errors: vec![
            Error::RateLimited {
                provider: "provider".into(),
                retry_after: Some(Duration::from_secs(1)),
            },
            Error::Unavailable {
                service: "provider".into(),
                message: "bad gateway".into(),
                status: Some(502),
            },
            Error::Unavailable {
                service: "provider".into(),
                message: "service unavailable".into(),
                status: Some(503),
            },
            Error::ambiguous("call", "timed out"),
        ],
    }
}

#[tokio::test(start_paused = true)]
async fn five_hundred_provisions_under_chaos() {
    let clock = TokioClock::default();
    let store = InMemoryStore::with_clock(Arc::new(clock));
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let compute = InMemoryCompute::new(common::deployment());
    let world = World {
        bus: Arc::new(LocalBus::new(shared)),
        dns: InMemoryDns::new(common::deployment(), common::ZONE),
        health: InMemoryHealth::following(compute.clone()),
        compute,
        store,
        clock,
    };
    world.compute.faults().set_random(Some(faults(SEED)));
    world.dns.faults().set_random(Some(faults(SEED + 1)));
    world
        .compute
        .faults()
        .set_latency(Duration::from_millis(200));
    world.dns.faults().set_latency(Duration::from_millis(100));

    let mut rng = StdRng::seed_from_u64(SEED);
    let front = world.process(0, &Freezer::new());
    let mut next_process = 1;
    let mut freezers: Vec<Arc<Freezer>> = (0..3).map(|_| Freezer::new()).collect();
    let mut processes: Vec<JoinHandle<()>> = freezers
        .iter()
        .map(|freezer| {
            next_process += 1;
            start(world.process(next_process, freezer))
        })
        .collect();

    let mut ids = Vec::new();
    let mut killed = 0;
    let mut stalled = 0;
    let mut stalls: Vec<JoinHandle<()>> = Vec::new();
    for n in 0..ORDERS {
        let order = common::request(&format!("chaos-{n}"));
        let instance = front.create(order).await.unwrap();
        if rng.random_bool(0.04) {
            world.health.script(
                instance.id,
                vec![
                    Health::Unhealthy {
                        reason: "chaos".into()
                    };
                    3
                ],
            );
        }
        ids.push(instance.id);
        if n % 10 == 9 {
            tokio::time::sleep(Duration::from_secs(rng.random_range(1..6))).await;
            if rng.random_bool(0.5) {
                // Kill a process mid-whatever and start a fresh one in its place.
                let victim = rng.random_range(0..processes.len());
                processes[victim].abort();
                killed += 1;
                next_process += 1;
                freezers[victim] = Freezer::new();
                processes[victim] = start(world.process(next_process, &freezers[victim]));
            } else if rng.random_bool(0.6) {
                // Freeze a process for a while — sometimes past its lease — then let it go on.
                let victim = rng.random_range(0..processes.len());
                let freezer = freezers[victim].clone();
                if !freezer.is_frozen() {
                    stalled += 1;
                    let span = Duration::from_secs(rng.random_range(5..150));
                    freezer.freeze();
                    stalls.push(tokio::spawn(async move {
                        tokio::time::sleep(span).await;
                        freezer.thaw();
                    }));
                }
            }
        }
    }

    // Let the chaos run on a while, then calm the providers and let everything settle.
    tokio::time::sleep(Duration::from_secs(120)).await;
    for stall in stalls {
        stall.await.unwrap();
    }
    world.compute.faults().clear();
    world.dns.faults().clear();
    let mut settled = false;
    for _ in 0..200 {
        let unsettled = all_instances(&front)
            .await
            .iter()
            .filter(|i| !i.status.is_settled())
            .count();
        if unsettled == 0 {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    for p in &processes {
        p.abort();
    }
    assert!(
        killed >= 10,
        "the test must actually kill processes ({killed})"
    );
    assert!(
        stalled >= 5,
        "the test must actually stall processes ({stalled})"
    );
    assert!(
        settled,
        "every accepted order reaches active, rolled_back or failed"
    );

    let instances = all_instances(&front).await;
    assert_eq!(instances.len(), ORDERS);
    let count = |s: InstanceStatus| instances.iter().filter(|i| i.status == s).count();
    let (active, rolled_back, failed) = (
        count(InstanceStatus::Active),
        count(InstanceStatus::RolledBack),
        count(InstanceStatus::Failed),
    );
    let jobs = world.store.list_jobs(&Default::default()).await.unwrap();
    let rescued = jobs.iter().filter(|j| j.attempts > 1).count();
    eprintln!(
        "chaos: {active} active, {rolled_back} rolled back, {failed} failed; {killed} processes \
         killed, {stalled} stalled, {rescued} jobs ran more than once; compute calls {}, dns \
         calls {}, servers ever created {}",
        world.compute.faults().total_calls(),
        world.dns.faults().total_calls(),
        world.compute.created_total(),
    );
    assert!(
        rescued > 0,
        "some jobs must have been interrupted and run again"
    );
    assert_eq!(active + rolled_back + failed, ORDERS);
    assert!(active > ORDERS / 2, "most orders succeed: {active} active");
    assert!(rolled_back > 0, "the unhealthy ones were rolled back");

    // Nothing created twice.
    assert_eq!(world.compute.max_concurrent_servers_per_instance(), 1);
    assert!(world.dns.max_concurrent_records_per_name() <= 1);

    // Nothing left behind: every server and record belongs to a live instance that claims it.
    let report = front.sweep(SweepMode::DryRun).await.unwrap();
    assert!(
        report.orphan_servers.is_empty(),
        "{:?}",
        report.orphan_servers
    );
    assert!(
        report.orphan_records.is_empty(),
        "{:?}",
        report.orphan_records
    );
    let live_with_server = instances
        .iter()
        .filter(|i| i.status == InstanceStatus::Active)
        .count();
    assert!(world.compute.servers().len() >= live_with_server);
    assert_eq!(
        world.compute.list_owned().await.unwrap().len(),
        world.compute.servers().len()
    );
    assert!(world.dns.list_owned().await.unwrap().len() >= 2 * active);

    // Every status change in the log is allowed by the table.
    for instance in &instances {
        let changes: Vec<_> = front
            .events(instance.id)
            .await
            .unwrap()
            .iter()
            .filter_map(Event::status_change)
            .collect();
        for (from, to) in changes.iter().skip(1) {
            let from = from.unwrap();
            assert!(TRANSITIONS.contains(&(from, *to)), "{from} -> {to}");
        }
    }
}

async fn all_instances(p: &Provisioner) -> Vec<openclaw_core::domain::Instance> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = p
            .list(&InstanceFilter {
                after,
                limit: Some(500),
                ..Default::default()
            })
            .await
            .unwrap();
        out.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return out,
        }
    }
}
