//! The [`AgentStore`] contract as checks. Each check takes a store of its own (checks make
//! their own instance ids, so a shared store works too).

use std::sync::Arc;

use chrono::Duration;

use super::now;
use crate::domain::{
    AgentReport, AgentTaskKind, AgentTaskOutcome, AgentTaskState, Capacity, GatewayProbe,
    InstanceId, NewAgentTask, MAX_TASK_ERROR_LEN,
};
use crate::error::Error;
use crate::instance_secrets::SealedSecrets;
use crate::ports::AgentStore;

fn task(instance: InstanceId, kind: AgentTaskKind) -> NewAgentTask {
    NewAgentTask::new(instance, kind, "conformance", now())
}

fn sealed(bytes: &[u8]) -> SealedSecrets {
    SealedSecrets::from_bytes(bytes.to_vec())
}

const LEASE: i64 = 600;

/// A queued task reads back as queued with no attempts; a second task with the same id is
/// `Conflict` and changes nothing; an unknown id is `None`.
pub async fn enqueue_and_get(store: Arc<dyn AgentStore>) {
    let instance = InstanceId::new();
    let new = task(
        instance,
        AgentTaskKind::Upgrade {
            version: "2026.10.1".into(),
        },
    );
    let stored = store.enqueue_agent_task(&new).await.unwrap();
    assert_eq!(stored.id, new.id);
    assert_eq!(stored.instance_id, instance);
    assert_eq!(stored.kind, new.kind);
    assert_eq!(stored.state, AgentTaskState::Queued);
    assert_eq!(stored.attempts, 0);
    assert_eq!(stored.max_attempts, new.max_attempts);
    assert_eq!(stored.requested_by, "conformance");
    assert_eq!(stored.created_at, new.created_at);
    assert_eq!(stored.output, None);
    assert_eq!(
        store.get_agent_task(new.id).await.unwrap(),
        Some(stored.clone())
    );
    let mut clash = task(instance, AgentTaskKind::RestartGateway);
    clash.id = new.id;
    assert!(matches!(
        store.enqueue_agent_task(&clash).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(store.get_agent_task(new.id).await.unwrap(), Some(stored));
    assert_eq!(
        store
            .get_agent_task(crate::domain::AgentTaskId::new())
            .await
            .unwrap(),
        None
    );
}

/// Claims hand out an instance's tasks oldest first, only that instance's, each once while
/// its lease runs; nothing due is `None`.
pub async fn claims_are_per_instance_and_in_order(store: Arc<dyn AgentStore>) {
    let (a, b) = (InstanceId::new(), InstanceId::new());
    let first = store
        .enqueue_agent_task(&task(a, AgentTaskKind::AccessLink))
        .await
        .unwrap();
    let other = store
        .enqueue_agent_task(&task(b, AgentTaskKind::ListDevices))
        .await
        .unwrap();
    let second = store
        .enqueue_agent_task(&task(a, AgentTaskKind::RestartGateway))
        .await
        .unwrap();
    let lease = Duration::seconds(LEASE);
    let got = store.claim_agent_task(a, lease).await.unwrap().unwrap();
    assert_eq!(got.id, first.id);
    assert_eq!(got.state, AgentTaskState::Running);
    assert_eq!(got.attempts, 1);
    let expires = got.lease_expires_at.expect("a running task has a lease");
    assert!(expires > now() + Duration::seconds(LEASE - 60), "{expires}");
    let got = store.claim_agent_task(a, lease).await.unwrap().unwrap();
    assert_eq!(got.id, second.id);
    assert_eq!(store.claim_agent_task(a, lease).await.unwrap(), None);
    let got = store.claim_agent_task(b, lease).await.unwrap().unwrap();
    assert_eq!(got.id, other.id);
    assert_eq!(store.claim_agent_task(b, lease).await.unwrap(), None);
    assert_eq!(
        store
            .claim_agent_task(InstanceId::new(), lease)
            .await
            .unwrap(),
        None
    );
}

/// A task whose lease ran out is handed out again with one more attempt; once its attempts
/// are used up it fails instead, saying why.
pub async fn expired_leases_are_retaken_then_fail(store: Arc<dyn AgentStore>) {
    let instance = InstanceId::new();
    let mut new = task(instance, AgentTaskKind::RestartGateway);
    new.max_attempts = 2;
    store.enqueue_agent_task(&new).await.unwrap();
    let gone = Duration::milliseconds(1);
    let got = store
        .claim_agent_task(instance, gone)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.id, got.attempts), (new.id, 1));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let got = store
        .claim_agent_task(instance, gone)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.id, got.attempts), (new.id, 2));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(store.claim_agent_task(instance, gone).await.unwrap(), None);
    let failed = store.get_agent_task(new.id).await.unwrap().unwrap();
    assert_eq!(failed.state, AgentTaskState::Failed);
    assert!(
        failed
            .error
            .as_deref()
            .unwrap_or("")
            .contains("never reported"),
        "{:?}",
        failed.error
    );
}

/// A running task takes one outcome: success keeps the sealed output, failure the error
/// (cut to the limit); the same report again is accepted unchanged, another is `Conflict`;
/// another instance's or an unknown task is `NotFound`; a queued task takes no report.
pub async fn finish_records_one_outcome(store: Arc<dyn AgentStore>) {
    let instance = InstanceId::new();
    let lease = Duration::seconds(LEASE);
    let ok = store
        .enqueue_agent_task(&task(instance, AgentTaskKind::AccessLink))
        .await
        .unwrap();
    let bad = store
        .enqueue_agent_task(&task(instance, AgentTaskKind::ListDevices))
        .await
        .unwrap();
    let queued = store
        .enqueue_agent_task(&task(instance, AgentTaskKind::RestartGateway))
        .await
        .unwrap();
    assert!(matches!(
        store
            .finish_agent_task(queued.id, instance, &AgentTaskOutcome::Failed("x".into()))
            .await,
        Err(Error::Conflict { .. })
    ));
    store
        .claim_agent_task(instance, lease)
        .await
        .unwrap()
        .unwrap();
    store
        .claim_agent_task(instance, lease)
        .await
        .unwrap()
        .unwrap();

    let success = AgentTaskOutcome::Succeeded(sealed(b"\x01sealed output"));
    assert!(matches!(
        store
            .finish_agent_task(ok.id, InstanceId::new(), &success)
            .await,
        Err(Error::NotFound { .. })
    ));
    let done = store
        .finish_agent_task(ok.id, instance, &success)
        .await
        .unwrap();
    assert_eq!(done.state, AgentTaskState::Succeeded);
    assert_eq!(done.output, Some(sealed(b"\x01sealed output")));
    assert_eq!(done.lease_expires_at, None);
    assert_eq!(
        store.get_agent_task(ok.id).await.unwrap(),
        Some(done.clone())
    );
    assert_eq!(
        store
            .finish_agent_task(ok.id, instance, &success)
            .await
            .unwrap(),
        done
    );
    assert!(matches!(
        store
            .finish_agent_task(ok.id, instance, &AgentTaskOutcome::Failed("late".into()))
            .await,
        Err(Error::Conflict { .. })
    ));

    let long = "é".repeat(MAX_TASK_ERROR_LEN);
    let failed = store
        .finish_agent_task(bad.id, instance, &AgentTaskOutcome::Failed(long.clone()))
        .await
        .unwrap();
    assert_eq!(failed.state, AgentTaskState::Failed);
    let kept = failed.error.unwrap();
    assert!(
        kept.len() <= MAX_TASK_ERROR_LEN && long.starts_with(&kept),
        "{}",
        kept.len()
    );
    assert!(kept.len() > MAX_TASK_ERROR_LEN - 4);
    assert!(matches!(
        store
            .finish_agent_task(
                crate::domain::AgentTaskId::new(),
                instance,
                &AgentTaskOutcome::Failed("x".into())
            )
            .await,
        Err(Error::NotFound { .. })
    ));
}

/// A task's sealed output is replaced only while it is still what the caller read; a task
/// without output, or an unknown task, keeps what it has.
pub async fn outputs_are_replaced_only_if_unchanged(store: Arc<dyn AgentStore>) {
    let instance = InstanceId::new();
    let lease = Duration::seconds(LEASE);
    let with = store
        .enqueue_agent_task(&task(instance, AgentTaskKind::AccessLink))
        .await
        .unwrap();
    let without = store
        .enqueue_agent_task(&task(instance, AgentTaskKind::ListDevices))
        .await
        .unwrap();
    store
        .claim_agent_task(instance, lease)
        .await
        .unwrap()
        .unwrap();
    store
        .finish_agent_task(
            with.id,
            instance,
            &AgentTaskOutcome::Succeeded(sealed(b"\x02old")),
        )
        .await
        .unwrap();
    assert!(!store
        .replace_agent_task_output(with.id, &sealed(b"\x02other"), &sealed(b"\x02new"))
        .await
        .unwrap());
    assert!(store
        .replace_agent_task_output(with.id, &sealed(b"\x02old"), &sealed(b"\x02new"))
        .await
        .unwrap());
    let read = store.get_agent_task(with.id).await.unwrap().unwrap();
    assert_eq!(read.output, Some(sealed(b"\x02new")));
    assert_eq!(read.state, AgentTaskState::Succeeded);
    assert!(!store
        .replace_agent_task_output(without.id, &sealed(b"\x02old"), &sealed(b"\x02new"))
        .await
        .unwrap());
    assert_eq!(
        store
            .get_agent_task(without.id)
            .await
            .unwrap()
            .unwrap()
            .output,
        None
    );
    assert!(matches!(
        store
            .replace_agent_task_output(
                crate::domain::AgentTaskId::new(),
                &sealed(b"\x02old"),
                &sealed(b"\x02new")
            )
            .await,
        Err(Error::NotFound { .. })
    ));
}

/// `agent_tasks` lists an instance's tasks newest first, at most `limit`; the purge deletes
/// only finished tasks older than its bound.
pub async fn list_and_purge(store: Arc<dyn AgentStore>) {
    let instance = InstanceId::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let t = store
            .enqueue_agent_task(&task(instance, AgentTaskKind::ListDevices))
            .await
            .unwrap();
        ids.push(t.id);
    }
    let listed = store.agent_tasks(instance, 10).await.unwrap();
    let listed_ids: Vec<_> = listed.iter().map(|t| t.id).collect();
    assert_eq!(listed_ids, ids.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(store.agent_tasks(instance, 2).await.unwrap().len(), 2);
    assert!(store
        .agent_tasks(InstanceId::new(), 10)
        .await
        .unwrap()
        .is_empty());

    let lease = Duration::seconds(LEASE);
    let first = store
        .claim_agent_task(instance, lease)
        .await
        .unwrap()
        .unwrap();
    store
        .finish_agent_task(first.id, instance, &AgentTaskOutcome::Failed("no".into()))
        .await
        .unwrap();
    store
        .claim_agent_task(instance, lease)
        .await
        .unwrap()
        .unwrap();
    let purged = store
        .purge_agent_tasks(now() + Duration::seconds(60))
        .await
        .unwrap();
    assert!(purged >= 1);
    let left: Vec<_> = store
        .agent_tasks(instance, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(left, vec![ids[2], ids[1]], "only the finished task goes");
    assert_eq!(
        store
            .purge_agent_tasks(now() - Duration::seconds(3600))
            .await
            .unwrap(),
        0
    );
}

/// The latest report is kept per instance with the store's time; none before the first.
pub async fn reports_keep_the_latest(store: Arc<dyn AgentStore>) {
    let instance = InstanceId::new();
    assert_eq!(store.agent_presence(instance).await.unwrap(), None);
    let mut report = AgentReport {
        agent_version: "1".into(),
        openclaw_version: Some("2026.9.6".into()),
        gateway: GatewayProbe {
            healthz: true,
            startupz: false,
        },
        memory: Capacity {
            total_kb: 4_000_000,
            available_kb: 3_000_000,
        },
        disk: Capacity {
            total_kb: 40_000_000,
            available_kb: 30_000_000,
        },
        uptime_s: 12,
    };
    let before = now() - Duration::seconds(5);
    let first = store.record_agent_report(instance, &report).await.unwrap();
    assert!(first.last_seen >= before, "{}", first.last_seen);
    assert_eq!(
        store.agent_presence(instance).await.unwrap(),
        Some(first.clone())
    );
    report.gateway.startupz = true;
    report.openclaw_version = None;
    report.uptime_s = 42;
    let second = store.record_agent_report(instance, &report).await.unwrap();
    assert!(second.last_seen >= first.last_seen);
    let read = store.agent_presence(instance).await.unwrap().unwrap();
    assert_eq!(read.report, report);
    assert_eq!(read, second);
    assert_eq!(store.agent_presence(InstanceId::new()).await.unwrap(), None);
}

fn fleet(version: &str, waves: Vec<Vec<InstanceId>>) -> crate::domain::FleetUpgrade {
    crate::domain::FleetUpgrade {
        id: crate::domain::AgentTaskId::new(),
        version: version.into(),
        waves,
        state: crate::domain::FleetUpgradeState::Running,
        message: "started".into(),
        requested_by: "conformance".into(),
        created_at: now(),
        updated_at: now(),
    }
}

/// Fleet upgrades read back as stored, newest first; one runs at a time; only a running one
/// can be finished, once; an unknown one is `NotFound`.
pub async fn fleet_upgrades_run_one_at_a_time(store: Arc<dyn AgentStore>) {
    use crate::domain::FleetUpgradeState::{Failed, Running, Succeeded};
    let first = fleet(
        "2026.10.1",
        vec![
            vec![InstanceId::new()],
            vec![InstanceId::new(), InstanceId::new()],
        ],
    );
    store.insert_fleet_upgrade(&first).await.unwrap();
    assert_eq!(store.fleet_upgrades(10).await.unwrap(), vec![first.clone()]);
    let second = fleet("2026.10.2", vec![vec![InstanceId::new()]]);
    assert!(matches!(
        store.insert_fleet_upgrade(&second).await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        store.insert_fleet_upgrade(&first).await,
        Err(Error::Conflict { .. })
    ));
    let done = store
        .finish_fleet_upgrade(first.id, Succeeded, "3 of 3 upgraded")
        .await
        .unwrap();
    assert_eq!(done.state, Succeeded);
    assert_eq!(done.message, "3 of 3 upgraded");
    assert_eq!(done.waves, first.waves);
    assert!(matches!(
        store.finish_fleet_upgrade(first.id, Failed, "late").await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        store
            .finish_fleet_upgrade(crate::domain::AgentTaskId::new(), Failed, "x")
            .await,
        Err(Error::NotFound { .. })
    ));
    store.insert_fleet_upgrade(&second).await.unwrap();
    let listed = store.fleet_upgrades(10).await.unwrap();
    assert_eq!(
        listed.iter().map(|u| (u.id, u.state)).collect::<Vec<_>>(),
        vec![(second.id, Running), (first.id, Succeeded)]
    );
    assert_eq!(store.fleet_upgrades(1).await.unwrap().len(), 1);
}
