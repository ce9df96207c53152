//! Fleet upgrades on tokio's paused clock: canary first, then batches, stop at the first
//! failure, resume after a restart of the control plane, never queue a task twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Harness;
use openclaw_core::domain::{AgentTaskState, FleetUpgradeState, InstanceId};
use openclaw_core::memory::{InProcessAgent, SimulatedMachine};
use openclaw_core::Error;

const BEAT: Duration = Duration::from_secs(30);

/// `n` active instances, each with an agent; `broken` lists the ones whose upgrade fails.
async fn fleet(h: &Harness, n: usize, broken: &[usize]) -> Vec<(InstanceId, InProcessAgent)> {
    let mut out = Vec::new();
    for i in 0..n {
        let id = h.create(&format!("fleet-{i}")).await.id;
        out.push(id);
    }
    h.settle().await;
    out.into_iter()
        .enumerate()
        .map(|(i, id)| {
            let mut machine = SimulatedMachine::new(format!("gw-{i}"));
            if broken.contains(&i) {
                machine.available_versions.clear();
            }
            (
                id,
                InProcessAgent::spawn(h.provisioner.clone(), id, machine, BEAT),
            )
        })
        .collect()
}

fn version(agent: &InProcessAgent) -> String {
    agent.machine.lock().unwrap().openclaw_version.clone()
}

/// Drives until the fleet upgrade ends, letting agents work between steps.
async fn drive_to_end(h: &Harness) -> openclaw_core::domain::FleetUpgrade {
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Some(u) = h.provisioner.drive_fleet_upgrade().await.unwrap() {
            if u.state != FleetUpgradeState::Running {
                return u;
            }
        } else {
            return h.provisioner.fleet_upgrades(1).await.unwrap().remove(0);
        }
    }
    panic!("the fleet upgrade never ended");
}

#[tokio::test(start_paused = true)]
async fn the_canary_goes_first_then_batches() {
    let h = Harness::new();
    let fleet = fleet(&h, 5, &[]).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let started = h
        .provisioner
        .start_fleet_upgrade("2026.10.1", 1, 2, "operator")
        .await
        .unwrap();
    assert_eq!(started.state, FleetUpgradeState::Running);
    let sizes: Vec<usize> = started.waves.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![1, 2, 2]);
    assert_eq!(
        started.waves[0][0], fleet[0].0,
        "the oldest instance is the canary"
    );
    // Only the canary's task exists until the canary is done.
    let canary_task = started.task_id(fleet[0].0);
    let others: Vec<_> = started.waves[1..].iter().flatten().copied().collect();
    for id in &others {
        assert!(h
            .provisioner
            .agent_task(started.task_id(*id))
            .await
            .unwrap()
            .is_none());
    }
    let canary = h
        .provisioner
        .wait_agent_task(canary_task, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(canary.state, AgentTaskState::Succeeded);

    // A second fleet upgrade waits for this one.
    let err = h
        .provisioner
        .start_fleet_upgrade("2026.10.1", 1, 2, "operator")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");

    let done = drive_to_end(&h).await;
    assert_eq!(done.state, FleetUpgradeState::Succeeded, "{}", done.message);
    assert!(
        done.message.starts_with("5 instances upgraded"),
        "{}",
        done.message
    );
    for (_, agent) in &fleet {
        assert_eq!(version(agent), "2026.10.1");
    }
    // Each instance got exactly one upgrade task.
    for (id, _) in &fleet {
        assert_eq!(h.provisioner.agent_tasks(*id, 10).await.unwrap().len(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn the_first_failure_stops_the_fleet() {
    let h = Harness::new();
    // The third instance (second wave) cannot upgrade.
    let fleet = fleet(&h, 6, &[2]).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let started = h
        .provisioner
        .start_fleet_upgrade("2026.10.1", 1, 2, "operator")
        .await
        .unwrap();
    let done = drive_to_end(&h).await;
    assert_eq!(done.state, FleetUpgradeState::Failed);
    assert!(
        done.message.contains(&fleet[2].0.to_string()),
        "{}",
        done.message
    );
    assert!(
        done.message.contains("rolled back to 2026.9.6"),
        "{}",
        done.message
    );
    assert!(done.message.contains("wave 2 of"), "{}", done.message);
    assert_eq!(
        version(&fleet[2].1),
        "2026.9.6",
        "the failed one rolled back"
    );
    // Nothing after the failing wave was touched.
    for (id, agent) in &fleet[3..] {
        let later_wave = started.waves[2..].iter().flatten().any(|w| w == id);
        if later_wave {
            assert_eq!(version(agent), "2026.9.6");
            assert!(h
                .provisioner
                .agent_task(started.task_id(*id))
                .await
                .unwrap()
                .is_none());
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_restarted_control_plane_resumes_where_it_stood() {
    let h = Harness::new();
    let fleet = fleet(&h, 4, &[]).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    h.provisioner
        .start_fleet_upgrade("2026.10.1", 1, 1, "operator")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    h.provisioner.drive_fleet_upgrade().await.unwrap();
    // A new control plane on the same store (the old one is gone, its agents reconnect).
    drop(fleet);
    let restarted = openclaw_core::Provisioner::builder()
        .compute(Arc::new(h.compute.clone()))
        .dns(Arc::new(h.dns.clone()))
        .health(Arc::new(h.health.clone()))
        .store(Arc::new(h.store.clone()))
        .agents(Arc::new(h.store.clone()))
        .clock(Arc::new(openclaw_core::TokioClock::default()))
        .config(common::config())
        .build()
        .unwrap();
    let ids: Vec<InstanceId> = restarted
        .fleet_upgrades(1)
        .await
        .unwrap()
        .remove(0)
        .waves
        .concat();
    let agents: Vec<_> = ids
        .iter()
        .map(|id| InProcessAgent::spawn(restarted.clone(), *id, SimulatedMachine::new("gw"), BEAT))
        .collect();
    let mut done = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        match restarted.drive_fleet_upgrade().await.unwrap() {
            Some(u) if u.state == FleetUpgradeState::Running => {}
            _ => {
                done = Some(restarted.fleet_upgrades(1).await.unwrap().remove(0));
                break;
            }
        }
    }
    let done = done.expect("the fleet upgrade ended");
    assert_eq!(done.state, FleetUpgradeState::Succeeded, "{}", done.message);
    for id in &ids {
        let tasks = restarted.agent_tasks(*id, 10).await.unwrap();
        assert_eq!(tasks.len(), 1, "one task per instance across the restart");
    }
    // The instances whose upgrade ran after the restart report the new version.
    assert!(agents.iter().any(|a| version(a) == "2026.10.1"));
}

#[tokio::test(start_paused = true)]
async fn bad_requests_start_nothing() {
    let h = Harness::new();
    fleet(&h, 1, &[]).await;
    for (version, canary, batch) in [
        ("1.0; reboot", 1, 1),
        ("2026.10.1", 1, 0),
        ("2026.10.1", 5000, 1),
    ] {
        let err = h
            .provisioner
            .start_fleet_upgrade(version, canary, batch, "operator")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_input", "{version} {canary} {batch}");
    }
    assert!(h.provisioner.fleet_upgrades(10).await.unwrap().is_empty());
}
