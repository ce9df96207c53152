//! Model-based: two replicas on one in-memory store, driven by random billing requests while
//! either replica freezes at random points for random spans (longer or shorter than its
//! lease), on tokio's paused clock. Whatever the schedule, once everything has settled there
//! is at most one server and one record of each type per instance, none for a terminated or
//! rolled-back instance, and no instance ever had two servers at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::stall::{Freezer, World};
use openclaw_core::domain::{InstanceId, InstanceStatus, JobState, RollbackLevel};
use openclaw_core::engine::EngineConfig;
use openclaw_core::ports::{RecordType, Store};
use proptest::prelude::*;

/// Where a replica freezes: at once, or on the way back from its next call of an operation.
#[derive(Debug, Clone, Copy)]
enum Point {
    Now,
    After(&'static str),
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Create(usize),
    Terminate(usize),
    Rollback(usize),
    Suspend(usize),
    Unsuspend(usize),
    Retry(usize),
    Freeze { replica: usize, at: Point },
    Thaw(usize),
    Wait(Duration),
}

const INSTANCES: usize = 3;
const POINTS: [&str; 7] = [
    "find_server",
    "create_server",
    "ensure_records",
    "health_check",
    "delete_server",
    "delete_record",
    "heartbeat_job",
];

fn op() -> impl Strategy<Value = Op> {
    let n = 0..INSTANCES;
    prop_oneof![
        3 => n.clone().prop_map(Op::Create),
        2 => n.clone().prop_map(Op::Terminate),
        1 => n.clone().prop_map(Op::Rollback),
        1 => n.clone().prop_map(Op::Suspend),
        1 => n.clone().prop_map(Op::Unsuspend),
        1 => n.prop_map(Op::Retry),
        4 => (0..2usize, prop::option::weighted(0.8, 0..POINTS.len())).prop_map(|(replica, point)| {
            Op::Freeze {
                replica,
                at: point.map_or(Point::Now, |p| Point::After(POINTS[p])),
            }
        }),
        2 => (0..2usize).prop_map(Op::Thaw),
        4 => (0u64..40).prop_map(|s| Op::Wait(Duration::from_secs(s))),
    ]
}

fn config(name: &str) -> EngineConfig {
    let mut config = common::config();
    config.workers.name = name.to_string();
    config.workers.lease = Duration::from_secs(8);
    config.workers.heartbeat = Duration::from_secs(2);
    config.workers.lease_margin = Duration::from_secs(1);
    config.workers.concurrency = 2;
    // The scheduled sweep would legitimately act after the end; it has tests of its own.
    config.sweep.enabled = false;
    config
}

async fn run(ops: Vec<Op>, late: usize) {
    let world = World::new();
    let front = world.replica(config("front"), None);
    let freezers = [Freezer::new(), Freezer::new()];
    let replicas = [
        world.replica(config("a"), Some(freezers[0].clone())),
        world.replica(config("b"), Some(freezers[1].clone())),
    ];
    let workers: Vec<_> = replicas
        .iter()
        .map(|p| {
            let p = p.clone();
            tokio::spawn(async move { p.run_workers(std::future::pending()).await })
        })
        .collect();

    let mut ids: [Option<InstanceId>; INSTANCES] = [None; INSTANCES];
    for op in ops {
        match op {
            Op::Create(n) => {
                if ids[n].is_none() {
                    let request = common::request(&format!("model-{n}"));
                    ids[n] = Some(front.create(request).await.unwrap().id);
                }
            }
            // Requests billing may make at any time; refusals (an invalid transition) are
            // part of the model, not failures.
            Op::Terminate(n) => {
                if let Some(id) = ids[n] {
                    front.terminate(id).await.unwrap();
                }
            }
            Op::Rollback(n) => {
                if let Some(id) = ids[n] {
                    let _ = front.rollback(id, RollbackLevel::Partial).await;
                }
            }
            Op::Suspend(n) => {
                if let Some(id) = ids[n] {
                    let _ = front.suspend(id).await;
                }
            }
            Op::Unsuspend(n) => {
                if let Some(id) = ids[n] {
                    let _ = front.unsuspend(id).await;
                }
            }
            Op::Retry(n) => {
                if let Some(id) = ids[n] {
                    let _ = front.retry(id).await;
                }
            }
            Op::Freeze { replica, at } => match at {
                Point::Now => freezers[replica].freeze(),
                Point::After(op) => freezers[replica].freeze_after(op),
            },
            Op::Thaw(replica) => freezers[replica].thaw(),
            Op::Wait(span) => tokio::time::sleep(span).await,
        }
    }

    // One replica wakes; every instance is ended and everything settles while the other
    // may still be frozen (its jobs are rescued once its leases run out). Only then does the
    // late one wake, to find its world gone.
    let early = 1 - late;
    freezers[early].freeze_after("never");
    freezers[early].thaw();
    let ids: Vec<InstanceId> = ids.into_iter().flatten().collect();
    for id in &ids {
        front.terminate(*id).await.unwrap();
    }
    let mut settled = false;
    for _ in 0..400 {
        let jobs = world.store.list_jobs(&Default::default()).await.unwrap();
        let busy = jobs
            .iter()
            .any(|j| matches!(j.state, JobState::Queued | JobState::Running));
        let mut all_ended = true;
        for id in &ids {
            let status = front.get(*id).await.unwrap().status;
            all_ended &= matches!(status, InstanceStatus::Terminated | InstanceStatus::Failed);
        }
        if all_ended && !busy {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    const ACTS: [&str; 8] = [
        "create_server",
        "delete_server",
        "power_off",
        "power_on",
        "ensure_records",
        "delete_record",
        "update_instance",
        "delete_instance",
    ];
    let acts = |f: &Freezer| ACTS.iter().map(|op| f.calls(op)).sum::<u64>();
    let before = acts(&freezers[late]);
    freezers[late].freeze_after("never");
    freezers[late].thaw();
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(
        acts(&freezers[late]),
        before,
        "a replica acted after waking in a world where nothing was left to do"
    );
    for worker in workers {
        worker.abort();
    }
    assert!(settled, "the instances did not settle");

    assert!(
        world.compute.max_concurrent_servers_per_instance() <= 1,
        "an instance had two servers at once"
    );
    assert!(world.dns.max_concurrent_records_per_name() <= 1);
    for id in &ids {
        let instance = front.get(*id).await.unwrap();
        let servers = world
            .compute
            .servers()
            .into_iter()
            .filter(|s| s.ownership().is_some_and(|o| o.instance == *id))
            .count();
        let records: Vec<_> = world
            .dns
            .records()
            .into_iter()
            .filter(|r| r.instance_id() == Some(*id))
            .collect();
        assert!(servers <= 1, "{id}: {servers} servers");
        for kind in [RecordType::A, RecordType::Aaaa] {
            let n = records.iter().filter(|r| r.record_type == kind).count();
            assert!(n <= 1, "{id}: {n} {kind} records");
        }
        if matches!(
            instance.status,
            InstanceStatus::Terminated | InstanceStatus::RolledBack
        ) {
            assert_eq!(servers, 0, "{id} is {} but has a server", instance.status);
            assert!(
                records.is_empty(),
                "{id} is {} but has records",
                instance.status
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn stalls_never_leave_two_or_a_stray(
        ops in prop::collection::vec(op(), 1..24),
        late in 0..2usize,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(run(ops, late));
    }
}
