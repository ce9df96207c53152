//! Backups on tokio's paused clock: an agent's archive is stored, listed and restored; uploads
//! are checked before anything is kept; retention, ended instances and the schedule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use common::Harness;
use futures_util::stream;
use openclaw_core::domain::{
    sha256_hex, AgentTaskKind, AgentTaskState, InstanceId, InstanceStatus,
};
use openclaw_core::engine::{AgentTaskResult, BACKUP_SCHEDULE_ACTOR};
use openclaw_core::memory::{InProcessAgent, SimulatedMachine};
use openclaw_core::Error;
use serde_json::json;

const BEAT: Duration = Duration::from_secs(30);
const DAY: Duration = Duration::from_secs(24 * 3600);

fn agent(h: &Harness, id: InstanceId) -> InProcessAgent {
    let mut machine = SimulatedMachine::new("gateway-token-of-the-machine");
    machine
        .workspace
        .insert("MEMORY.md".into(), "likes green tea".into());
    machine.devices.push("device-laptop".into());
    InProcessAgent::spawn(h.provisioner.clone(), id, machine, BEAT)
}

/// Takes a backup through the agent and returns its id.
async fn back_up(h: &Harness, id: InstanceId) -> openclaw_core::domain::AgentTaskId {
    let task = h.provisioner.request_backup(id, "operator").await.unwrap();
    let done = h
        .provisioner
        .wait_agent_task(task.id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.state, AgentTaskState::Succeeded, "{:?}", done.error);
    task.id
}

fn one_chunk(data: &[u8]) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> {
    stream::iter([Ok(Bytes::copy_from_slice(data))])
}

#[tokio::test(start_paused = true)]
async fn a_backup_is_stored_listed_and_restored() {
    let h = Harness::new();
    let id = h.active("keep").await;
    let a = agent(&h, id);
    tokio::time::sleep(Duration::from_millis(10)).await;

    let backup = back_up(&h, id).await;
    let archive = a.machine.lock().unwrap().archive();
    let listed = h.provisioner.backups(id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, backup);
    assert_eq!(listed[0].instance_id, id);
    assert_eq!(listed[0].sha256, sha256_hex(&archive));
    assert_eq!(listed[0].bytes, archive.len() as u64);
    assert_eq!(listed[0].openclaw_version.as_deref(), Some("2026.9.6"));
    let task = h.provisioner.agent_task(backup).await.unwrap().unwrap();
    let output = h.provisioner.agent_task_output(&task).unwrap().unwrap();
    assert_eq!(output["sha256"], json!(sha256_hex(&archive)));

    // The customer's state changes; the restore brings the backup's back.
    {
        let mut machine = a.machine.lock().unwrap();
        machine.workspace.clear();
        machine.devices.clear();
    }
    let restore = h
        .provisioner
        .request_restore(id, backup, "operator")
        .await
        .unwrap();
    assert_eq!(
        restore.kind,
        AgentTaskKind::Restore {
            backup: backup.to_string(),
            sha256: sha256_hex(&archive),
        }
    );
    let done = h
        .provisioner
        .wait_agent_task(restore.id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.state, AgentTaskState::Succeeded, "{:?}", done.error);
    let machine = a.machine.lock().unwrap().clone();
    assert_eq!(machine.workspace["MEMORY.md"], "likes green tea");
    assert_eq!(machine.devices, vec!["device-laptop".to_string()]);

    let trail = h.audits(id).await;
    let requested = trail
        .iter()
        .filter(|(action, actor, _)| action == "agent_task_requested" && actor == "operator")
        .count();
    assert_eq!(requested, 2, "{trail:?}");
    assert_eq!(h.provisioner.metrics().backups_stored, 1);
}

#[tokio::test(start_paused = true)]
async fn a_restore_names_a_backup_of_its_own_instance() {
    let h = Harness::new();
    let one = h.active("one").await;
    let other = h.active("other").await;
    let _a = agent(&h, one);
    let _b = agent(&h, other);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let backup = back_up(&h, one).await;

    for (instance, id) in [
        (other, backup),
        (one, openclaw_core::domain::AgentTaskId::new()),
    ] {
        let err = h
            .provisioner
            .request_restore(instance, id, "operator")
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::NotFound { kind: "backup", .. }),
            "{err:?}"
        );
        assert!(h.provisioner.open_backup(instance, id).await.is_err());
    }
    // Nothing was queued for the refused restores.
    let tasks = h.provisioner.agent_tasks(other, 10).await.unwrap();
    assert!(tasks.is_empty(), "{tasks:?}");
}

#[tokio::test(start_paused = true)]
async fn uploads_are_checked_before_anything_is_kept() {
    let h = Harness::with(
        |mut c| {
            c.backups.max_bytes = 64;
            c
        },
        |b| b,
    );
    let id = h.active("check").await;
    let good = b"an archive of the state".to_vec();
    let sha = sha256_hex(&good);

    // No running backup task: refused.
    let task = h.provisioner.request_backup(id, "operator").await.unwrap();
    let err = h
        .provisioner
        .store_backup(id, task.id, &sha, one_chunk(&good))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    // The agent takes it (by hand here).
    let taken = h
        .provisioner
        .next_agent_task(id, Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.id, task.id);

    let cut = stream::iter([Ok(Bytes::from_static(b"half an ")), Err("connection reset")]);
    let refused: Vec<(Error, &str)> = vec![
        (
            h.provisioner
                .store_backup(id, task.id, &sha256_hex(b"other"), one_chunk(&good))
                .await
                .unwrap_err(),
            "sha256",
        ),
        (
            h.provisioner
                .store_backup(id, task.id, &sha, one_chunk(&[7; 65]))
                .await
                .unwrap_err(),
            "archive",
        ),
        (
            h.provisioner
                .store_backup(id, task.id, &sha, one_chunk(b""))
                .await
                .unwrap_err(),
            "archive",
        ),
        (
            h.provisioner
                .store_backup(id, task.id, &sha, cut)
                .await
                .unwrap_err(),
            "archive",
        ),
        (
            h.provisioner
                .store_backup(id, task.id, "NOT-HEX", one_chunk(&good))
                .await
                .unwrap_err(),
            "sha256",
        ),
    ];
    for (err, field) in refused {
        match err {
            Error::InvalidInput { field: f, .. } => assert_eq!(f, field),
            other => panic!("expected invalid {field}, got {other:?}"),
        }
    }
    assert!(h.provisioner.backups(id).await.unwrap().is_empty());

    // A success reported before the archive is refused; after it, taken.
    let report =
        |sha: &str| AgentTaskResult::Ok(json!({"backup": task.id.to_string(), "sha256": sha}));
    let err = h
        .provisioner
        .report_agent_task(id, task.id, report(&sha))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    let stored = h
        .provisioner
        .store_backup(
            id,
            task.id,
            &sha,
            stream::iter(
                good.chunks(5)
                    .map(|c| Ok::<_, Infallible>(Bytes::copy_from_slice(c))),
            ),
        )
        .await
        .unwrap();
    assert_eq!(stored.bytes, good.len() as u64);
    let err = h
        .provisioner
        .report_agent_task(id, task.id, report(&sha256_hex(b"other")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    let done = h
        .provisioner
        .report_agent_task(id, task.id, report(&sha))
        .await
        .unwrap();
    assert_eq!(done.state, AgentTaskState::Succeeded);

    // What comes back is what went in.
    let (record, archive) = h.provisioner.open_backup(id, task.id).await.unwrap();
    assert_eq!(record, stored);
    let chunks: Vec<Bytes> = futures_util::TryStreamExt::try_collect(archive)
        .await
        .unwrap();
    assert_eq!(chunks.concat(), good);
}

#[tokio::test(start_paused = true)]
async fn retention_keeps_the_newest_by_count_and_age() {
    let h = Harness::with(
        |mut c| {
            c.backups.keep_last = 2;
            c.backups.max_age = 3 * DAY;
            c
        },
        |b| b,
    );
    let id = h.active("prune").await;
    let a = agent(&h, id);
    tokio::time::sleep(Duration::from_millis(10)).await;

    let first = back_up(&h, id).await;
    let second = back_up(&h, id).await;
    let third = back_up(&h, id).await;
    let ids: Vec<_> = h
        .provisioner
        .backups(id)
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ids, vec![third, second], "the two newest, newest first");
    assert!(h.provisioner.open_backup(id, first).await.is_err());

    // Four days on, one more: the others are past max_age. (The agent sleeps meanwhile, so
    // the paused clock does not replay days of heartbeats.)
    a.stop();
    tokio::time::sleep(4 * DAY).await;
    let _a = agent(&h, id);
    let fourth = back_up(&h, id).await;
    let ids: Vec<_> = h
        .provisioner
        .backups(id)
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ids, vec![fourth]);

    // However old it gets, the newest stays.
    tokio::time::sleep(10 * DAY).await;
    h.provisioner.backup_pass().await.unwrap();
    assert_eq!(h.provisioner.backups(id).await.unwrap().len(), 1);

    // Deleted by hand: gone, audited; twice is NotFound.
    h.provisioner
        .delete_backup(id, fourth, "key:ops")
        .await
        .unwrap();
    assert!(h.provisioner.backups(id).await.unwrap().is_empty());
    let err = h
        .provisioner
        .delete_backup(id, fourth, "key:ops")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(h
        .audits(id)
        .await
        .iter()
        .any(|(action, actor, _)| action == "backup_deleted" && actor == "key:ops"));
}

#[tokio::test(start_paused = true)]
async fn an_ended_instance_loses_its_backups_after_the_grace() {
    let h = Harness::new();
    let id = h.active("ends").await;
    let a = agent(&h, id);
    tokio::time::sleep(Duration::from_millis(10)).await;
    back_up(&h, id).await;
    back_up(&h, id).await;
    a.stop();

    h.provisioner.terminate(id).await.unwrap();
    h.settle().await;
    assert_eq!(h.status(id).await, InstanceStatus::Terminated);
    assert_eq!(h.provisioner.backup_pass().await.unwrap(), (0, 0));
    assert_eq!(h.provisioner.backups(id).await.unwrap().len(), 2);

    tokio::time::sleep(h.provisioner.config().backups.keep_after_termination + BEAT).await;
    assert_eq!(h.provisioner.backup_pass().await.unwrap(), (2, 0));
    assert!(h.provisioner.backups(id).await.unwrap().is_empty());
    assert!(h
        .audits(id)
        .await
        .iter()
        .any(|(action, actor, _)| action == "backups_expired" && actor == BACKUP_SCHEDULE_ACTOR));
}

#[tokio::test(start_paused = true)]
async fn the_schedule_backs_up_each_connected_instance_once_per_interval() {
    let h = Harness::with(
        |mut c| {
            c.backups.every = DAY;
            c
        },
        |b| b,
    );
    let id = h.active("daily").await;
    let silent = h.active("silent").await;
    let _a = agent(&h, id);
    tokio::time::sleep(Duration::from_millis(10)).await;

    // Only the instance whose agent is connected gets one.
    assert_eq!(h.provisioner.backup_pass().await.unwrap(), (0, 1));
    // Under way: not queued twice.
    assert_eq!(h.provisioner.backup_pass().await.unwrap(), (0, 0));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(h.provisioner.backups(id).await.unwrap().len(), 1);
    assert!(h.provisioner.backups(silent).await.unwrap().is_empty());
    assert_eq!(h.provisioner.backup_pass().await.unwrap(), (0, 0));

    tokio::time::sleep(DAY).await;
    assert_eq!(h.provisioner.backup_pass().await.unwrap(), (0, 1));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(h.provisioner.backups(id).await.unwrap().len(), 2);
    let tasks = h.provisioner.agent_tasks(id, 10).await.unwrap();
    assert!(tasks
        .iter()
        .all(|t| t.kind == AgentTaskKind::Backup && t.requested_by == BACKUP_SCHEDULE_ACTOR));
}
