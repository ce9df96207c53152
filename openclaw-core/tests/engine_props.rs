//! Property test of the engine: random sequences of operations, faults and elapsed time
//! never produce a status change outside the transition table, never give an instance two
//! servers, and always settle.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::Harness;
use openclaw_core::domain::{Event, InstanceId, InstanceStatus, RollbackLevel, TRANSITIONS};
use openclaw_core::ports::Health;
use openclaw_core::Error;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Create(usize),
    Suspend(usize),
    Unsuspend(usize),
    Terminate(usize),
    Rollback(usize, RollbackLevel),
    Retry(usize),
    ChangePlan(usize, usize),
    RunJobs,
    Unhealthy(usize),
    ComputeFault(u8),
    LoseCreate,
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..3usize;
    let level = prop_oneof![
        Just(RollbackLevel::Soft),
        Just(RollbackLevel::Partial),
        Just(RollbackLevel::Full)
    ];
    prop_oneof![
        3 => slot.clone().prop_map(Op::Create),
        2 => slot.clone().prop_map(Op::Suspend),
        2 => slot.clone().prop_map(Op::Unsuspend),
        2 => slot.clone().prop_map(Op::Terminate),
        1 => (slot.clone(), level).prop_map(|(s, l)| Op::Rollback(s, l)),
        2 => slot.clone().prop_map(Op::Retry),
        2 => (slot.clone(), 0..3usize).prop_map(|(s, p)| Op::ChangePlan(s, p)),
        4 => Just(Op::RunJobs),
        1 => slot.prop_map(Op::Unhealthy),
        1 => (0u8..5).prop_map(Op::ComputeFault),
        1 => Just(Op::LoseCreate),
        2 => (1u16..400).prop_map(Op::Advance),
    ]
}

fn fault(kind: u8) -> Error {
    match kind {
        0 => Error::RateLimited {
            provider: "hetzner".into(),
            retry_after: Some(Duration::from_secs(2)),
        },
        1 => Error::Unavailable {
            service: "hetzner".into(),
            message: "bad gateway".into(),
            status: Some(502),
        },
        2 => Error::ambiguous("call", "timed out"),
        _ => Error::invalid("server_type", "unknown"),
    }
}

/// Errors an operation may legitimately answer with; anything else is a bug.
fn acceptable(result: Result<(), Error>) {
    match result {
        Ok(())
        | Err(Error::InvalidTransition { .. })
        | Err(Error::NotFound { .. })
        | Err(Error::Conflict { .. }) => {}
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

async fn run(ops: Vec<Op>) {
    let h = Harness::new();
    let mut slots: [Option<InstanceId>; 3] = [None; 3];
    for op in ops {
        let id = |s: usize| slots[s];
        match op {
            Op::Create(s) => {
                if slots[s].is_none() {
                    slots[s] = Some(h.create(&format!("slot{s}")).await.id);
                }
            }
            Op::Suspend(s) => {
                if let Some(i) = id(s) {
                    acceptable(h.provisioner.suspend(i).await.map(drop));
                }
            }
            Op::Unsuspend(s) => {
                if let Some(i) = id(s) {
                    acceptable(h.provisioner.unsuspend(i).await.map(drop));
                }
            }
            Op::Terminate(s) => {
                if let Some(i) = id(s) {
                    acceptable(h.provisioner.terminate(i).await.map(drop));
                }
            }
            Op::Rollback(s, level) => {
                if let Some(i) = id(s) {
                    acceptable(h.provisioner.rollback(i, level).await.map(drop));
                }
            }
            Op::Retry(s) => {
                if let Some(i) = id(s) {
                    acceptable(h.provisioner.retry(i).await.map(drop));
                }
            }
            Op::ChangePlan(s, plan) => {
                if let Some(i) = id(s) {
                    let plan = ["starter", "professional", "enterprise"][plan];
                    acceptable(h.provisioner.change_plan(i, plan).await.map(drop));
                }
            }
            Op::RunJobs => {
                h.provisioner.run_pending_jobs().await.unwrap();
            }
            Op::Unhealthy(s) => {
                if let Some(i) = id(s) {
                    h.health
                        .script(i, vec![Health::Unhealthy { reason: "x".into() }; 3]);
                }
            }
            Op::ComputeFault(kind) => {
                let op = [
                    "create_server",
                    "find_server",
                    "delete_server",
                    "power_off",
                    "change_type",
                ][usize::from(kind)];
                h.compute.faults().fail_next(op, 1, fault(kind));
            }
            Op::LoseCreate => h.compute.faults().lose_next_responses("create_server", 1),
            Op::Advance(secs) => tokio::time::sleep(Duration::from_secs(secs.into())).await,
        }
    }
    h.compute.faults().clear();
    h.settle().await;

    for id in slots.into_iter().flatten() {
        let events = h.provisioner.events(id).await.unwrap();
        let changes: Vec<_> = events.iter().filter_map(Event::status_change).collect();
        assert_eq!(changes[0], (None, InstanceStatus::Pending));
        for (from, to) in &changes[1..] {
            let from = from.expect("only creation has no origin");
            assert!(
                TRANSITIONS.contains(&(from, *to)),
                "{from} -> {to} is not in the table"
            );
        }
        // Consecutive changes chain: each starts where the previous ended.
        for pair in changes.windows(2) {
            assert_eq!(pair[1].0, Some(pair[0].1), "{changes:?}");
        }
        if let Ok(instance) = h.provisioner.get(id).await {
            assert!(
                instance.status.is_settled(),
                "{} still {}",
                id,
                instance.status
            );
            assert_eq!(Some(&instance.status), changes.last().map(|c| &c.1));
            if matches!(
                instance.status,
                InstanceStatus::Active | InstanceStatus::Suspended
            ) {
                // Settled on a plan: no change under way, and the server is of its type
                // (a plan change that went back left the old type and the old plan).
                assert_eq!(instance.plan_change, None);
                let wanted = openclaw_core::domain::Catalog::default()
                    .plan(instance.plan.as_str())
                    .unwrap()
                    .1
                    .server_type
                    .clone();
                for server in h.compute.servers() {
                    if server.ownership().is_some_and(|o| o.instance == id) {
                        assert_eq!(server.server_type.as_deref(), Some(wanted.as_str()));
                    }
                }
            }
        }
    }
    assert!(h.compute.max_concurrent_servers_per_instance() <= 1);
    assert!(h.dns.max_concurrent_records_per_name() <= 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn random_operations_follow_the_table(ops in proptest::collection::vec(op(), 1..30)) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(run(ops));
    }
}
