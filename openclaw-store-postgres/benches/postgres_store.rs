//! Scenario benchmark of the PostgreSQL store: state transitions per second
//! (`update_instance` with its event) and jobs claimed and completed per second with four
//! workers, next to baselines measured in the same run (raw `SELECT 1` round trips on the
//! same server, and the in-memory store), so the figures can be read as ratios.
//!
//! `cargo bench -p openclaw-store-postgres` against `DATABASE_URL` (default: the local test
//! server). `OPENCLAW_BENCH_SCALE` multiplies the amount of work (default 1).

// A benchmark reports on stdout and stops on the first failure.
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use openclaw_core::conformance::store::sample_instance;
use openclaw_core::domain::{ClaimRequest, CustomerId, InstanceStatus, JobKind, NewEvent, NewJob};
use openclaw_core::ports::{InstanceWrite, NewInstance, Store};
use openclaw_core::InMemoryStore;
use openclaw_store_postgres::{PgConfig, PgStore};

const WRITERS: usize = 8;
/// Enough concurrent writers for one disk flush to cover many commits (group commit).
const CROWD: usize = 32;
const WORKERS: usize = 4;

fn scale() -> usize {
    std::env::var("OPENCLAW_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// Transitions per second: `writers` tasks, each moving an instance of its own back and
/// forth `each` times, every change written with its event.
async fn transitions(store: Arc<dyn Store>, writers: usize, each: usize) -> f64 {
    let mut instances = Vec::new();
    for w in 0..writers {
        let customer = CustomerId::parse(format!("bench-{w}")).unwrap();
        let instance = sample_instance(&customer, None);
        let created = NewEvent::status_changed(
            instance.id,
            None,
            InstanceStatus::Pending,
            "created",
            instance.created_at,
        );
        store
            .insert_instance(&NewInstance::new(&instance, &created, None))
            .await
            .unwrap();
        instances.push(instance);
    }
    let started = Instant::now();
    let tasks: Vec<_> = instances
        .into_iter()
        .map(|mut instance| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for _ in 0..each {
                    let to = if instance.status == InstanceStatus::Pending {
                        InstanceStatus::Provisioning
                    } else {
                        InstanceStatus::Pending
                    };
                    let now = Utc::now();
                    let mut next = instance.clone();
                    next.status = to;
                    next.updated_at = now;
                    next.status_changed_at = now;
                    let write = InstanceWrite {
                        event: Some(NewEvent::status_changed(
                            instance.id,
                            Some(instance.status),
                            to,
                            "bench",
                            now,
                        )),
                        instance: next,
                        job: None,
                    };
                    instance = store.update_instance(&write).await.unwrap().0;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (writers * each) as f64 / started.elapsed().as_secs_f64()
}

/// Jobs per second: `jobs` queued jobs (one per instance), claimed and completed by
/// `workers` concurrent workers until none is left.
async fn jobs(store: Arc<dyn Store>, workers: usize, jobs: usize) -> f64 {
    for _ in 0..jobs {
        let job = NewJob::new(
            openclaw_core::domain::InstanceId::new(),
            JobKind::Provision,
            Utc::now(),
            3,
        );
        store.enqueue_job(&job).await.unwrap();
    }
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let request = |now| ClaimRequest {
                    worker: format!("bench-{w}"),
                    now,
                    lease_for: chrono::Duration::seconds(60),
                };
                let mut done = 0usize;
                while let Some(job) = store.claim_job(&request(Utc::now())).await.unwrap() {
                    store
                        .complete_job(&job.lease.unwrap(), Utc::now())
                        .await
                        .unwrap();
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut done = 0;
    for task in tasks {
        done += task.await.unwrap();
    }
    assert_eq!(done, jobs, "every job claimed and completed once");
    jobs as f64 / started.elapsed().as_secs_f64()
}

/// Raw `SELECT 1` round trips per second over `connections` concurrent connections.
async fn select_one(store: &PgStore, connections: usize, each: usize) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let pool = store.pool().clone();
            tokio::spawn(async move {
                let mut conn = pool.acquire().await.unwrap();
                for _ in 0..each {
                    sqlx::query("SELECT 1").execute(&mut *conn).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (connections * each) as f64 / started.elapsed().as_secs_f64()
}

fn line(what: &str, rate: f64, baseline: Option<(f64, &str)>) {
    match baseline {
        Some((base, name)) => {
            println!("{what:<58} {rate:>10.0} /s   {:>5.2} x {name}", rate / base);
        }
        None => println!("{what:<58} {rate:>10.0} /s"),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/test".into());
        let config = PgConfig::new(url)
            .ephemeral_schema()
            .max_connections(CROWD as u32 + 4);
        let store = PgStore::connect(&config)
            .await
            .expect("PostgreSQL at DATABASE_URL");
        let version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let n = scale();
        println!(
            "openclaw-store-postgres: PostgreSQL {version} at {}, {} cores, scale {n}",
            config.redacted_url(),
            std::thread::available_parallelism().map_or(0, |p| p.get())
        );

        let rtt1 = select_one(&store, 1, 5_000 * n).await;
        let rtt8 = select_one(&store, WRITERS, 2_000 * n).await;
        line("baseline: SELECT 1 round trips, 1 connection", rtt1, None);
        line("baseline: SELECT 1 round trips, 8 connections", rtt8, None);
        let memory: Arc<dyn Store> = Arc::new(InMemoryStore::new());
        let mem_transitions = transitions(Arc::clone(&memory), WRITERS, 5_000 * n).await;
        let mem_jobs = jobs(memory, WORKERS, 4_000 * n).await;
        line(
            "baseline: in-memory store, transitions, 8 writers",
            mem_transitions,
            None,
        );
        line(
            "baseline: in-memory store, jobs claimed+completed, 4 workers",
            mem_jobs,
            None,
        );

        let pg: Arc<dyn Store> = Arc::new(store.clone());
        let one = transitions(Arc::clone(&pg), 1, 1_000 * n).await;
        line(
            "postgres: transitions (update + event), 1 writer",
            one,
            Some((rtt1, "SELECT 1 (1 conn)")),
        );
        let many = transitions(Arc::clone(&pg), WRITERS, 1_000 * n).await;
        line(
            "postgres: transitions (update + event), 8 writers",
            many,
            Some((rtt8, "SELECT 1 (8 conns)")),
        );
        let crowd = transitions(Arc::clone(&pg), CROWD, 250 * n).await;
        line(
            "postgres: transitions (update + event), 32 writers",
            crowd,
            Some((rtt8, "SELECT 1 (8 conns)")),
        );
        let claimed = jobs(Arc::clone(&pg), WORKERS, 4_000 * n).await;
        line(
            "postgres: jobs claimed+completed, 4 workers",
            claimed,
            Some((rtt8 / 2.0, "SELECT 1 pairs (8 conns)")),
        );

        // The same with PostgreSQL's synchronous commit everywhere: bound by disk flushes.
        let strict = PgStore::connect(&config.clone().durable_before_visible(true))
            .await
            .unwrap();
        let strict: Arc<dyn Store> = Arc::new(strict);
        let many = transitions(Arc::clone(&strict), WRITERS, 250 * n).await;
        line(
            "postgres, durable_before_visible: transitions, 8 writers",
            many,
            Some((rtt8, "SELECT 1 (8 conns)")),
        );
        let claimed = jobs(strict, WORKERS, 1_000 * n).await;
        line(
            "postgres, durable_before_visible: jobs, 4 workers",
            claimed,
            Some((rtt8 / 2.0, "SELECT 1 pairs (8 conns)")),
        );
    });
}
