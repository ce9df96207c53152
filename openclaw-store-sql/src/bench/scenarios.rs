//! The scenarios: state transitions (plain and fenced by a job's lease), jobs claimed and
//! completed, and `stats` read, each on a store of the caller's.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use openclaw_core::conformance::store::sample_instance;
use openclaw_core::domain::{
    ClaimRequest, CustomerId, Instance, InstanceId, InstanceStatus, JobKind, Lease, NewEvent,
    NewJob,
};
use openclaw_core::ports::{InstanceWrite, NewInstance, Store};
use openclaw_core::InMemoryStore;

use super::{report, WORKERS, WRITERS};

/// Inserts one pending instance per writer.
async fn instances(store: &Arc<dyn Store>, writers: usize) -> Vec<Instance> {
    let mut instances = Vec::new();
    for w in 0..writers {
        let customer = CustomerId::parse(format!("bench-{w}")).expect("a customer id");
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
            .expect("insert_instance");
        instances.push(instance);
    }
    instances
}

/// `instance` moved between pending and provisioning, with its event.
fn flip(instance: &Instance, fence: Option<Lease>) -> InstanceWrite {
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
    InstanceWrite {
        event: Some(NewEvent::status_changed(
            instance.id,
            Some(instance.status),
            to,
            "bench",
            now,
        )),
        fence,
        ..InstanceWrite::new(next)
    }
}

/// Moves each instance `each` times (each writer its own), fenced by `leases[i]` if given;
/// returns transitions per second.
async fn run_transitions(
    store: &Arc<dyn Store>,
    instances: Vec<Instance>,
    leases: Vec<Option<Lease>>,
    each: usize,
) -> f64 {
    let writers = instances.len();
    let started = Instant::now();
    let tasks: Vec<_> = instances
        .into_iter()
        .zip(leases)
        .map(|(mut instance, fence)| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                for _ in 0..each {
                    let write = flip(&instance, fence);
                    instance = store.update_instance(&write).await.expect("update").0;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a writer");
    }
    (writers * each) as f64 / started.elapsed().as_secs_f64()
}

/// Transitions per second: `writers` tasks, each moving an instance of its own back and
/// forth `each` times, every change written with its event.
pub async fn transitions(store: Arc<dyn Store>, writers: usize, each: usize) -> f64 {
    let instances = instances(&store, writers).await;
    run_transitions(&store, instances, vec![None; writers], each).await
}

/// The same as [`transitions`], each write fenced by the lease of a job its writer holds
/// (taken with `claim_new_job`, as the sweep takes a slot): what a worker's writes cost.
pub async fn fenced_transitions(store: Arc<dyn Store>, writers: usize, each: usize) -> f64 {
    let instances = instances(&store, writers).await;
    let mut leases = Vec::new();
    for instance in &instances {
        let job = NewJob::new(instance.id, JobKind::Sweep, Utc::now(), 1);
        let request = ClaimRequest {
            worker: "bench".into(),
            now: Utc::now(),
            lease_for: chrono::Duration::hours(1),
        };
        let held = store
            .claim_new_job(&job, &request)
            .await
            .expect("claim_new_job")
            .expect("a free slot");
        leases.push(Some(held.lease.expect("a running job's lease")));
    }
    let rate = run_transitions(&store, instances, leases.clone(), each).await;
    for lease in leases.into_iter().flatten() {
        store
            .complete_job(&lease, Utc::now())
            .await
            .expect("complete_job");
    }
    rate
}

/// Jobs per second: `jobs` queued jobs (one per instance), claimed and completed by
/// `workers` concurrent workers until none is left.
pub async fn jobs(store: Arc<dyn Store>, workers: usize, jobs: usize) -> f64 {
    for _ in 0..jobs {
        let job = NewJob::new(InstanceId::new(), JobKind::Provision, Utc::now(), 3);
        store.enqueue_job(&job).await.expect("enqueue_job");
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
                while let Some(job) = store
                    .claim_job(&request(Utc::now()))
                    .await
                    .expect("claim_job")
                {
                    let lease = job.lease.expect("a claimed job's lease");
                    store
                        .complete_job(&lease, Utc::now())
                        .await
                        .expect("complete_job");
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut done = 0;
    for task in tasks {
        done += task.await.expect("a worker");
    }
    assert_eq!(done, jobs, "every job claimed and completed once");
    jobs as f64 / started.elapsed().as_secs_f64()
}

/// `stats` calls per second, one after another (what metrics scrapes do).
pub async fn stats_reads(store: Arc<dyn Store>, reads: usize) -> f64 {
    let started = Instant::now();
    for _ in 0..reads {
        store.stats().await.expect("stats");
    }
    reads as f64 / started.elapsed().as_secs_f64()
}

/// Prints the in-memory store's figures: a baseline for the harness itself.
pub async fn in_memory_baselines(scale: usize) {
    let memory: Arc<dyn Store> = Arc::new(InMemoryStore::new());
    let rate = transitions(Arc::clone(&memory), WRITERS, 5_000 * scale).await;
    report(
        "baseline: in-memory store, transitions, 8 writers",
        rate,
        None,
    );
    let rate = jobs(memory, WORKERS, 4_000 * scale).await;
    report(
        "baseline: in-memory store, jobs claimed+completed, 4 workers",
        rate,
        None,
    );
}
