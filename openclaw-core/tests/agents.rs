//! The control plane's side of the instance agent, on tokio's paused clock: heartbeats and
//! presence, the long poll, access links, task reports and their checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Harness, ZONE};
use openclaw_core::domain::{AgentTaskKind, AgentTaskState, InstanceId};
use openclaw_core::engine::AgentTaskResult;
use openclaw_core::memory::{InProcessAgent, SimulatedMachine, MISSING_VERSION};
use openclaw_core::Error;
use serde_json::json;

const BEAT: Duration = Duration::from_secs(30);

fn agent(h: &Harness, id: InstanceId) -> InProcessAgent {
    InProcessAgent::spawn(
        h.provisioner.clone(),
        id,
        SimulatedMachine::new("gateway-token-of-the-machine"),
        BEAT,
    )
}

#[tokio::test(start_paused = true)]
async fn presence_follows_heartbeats_and_goes_silent_after_three() {
    let h = Harness::new();
    let id = h.active("beat").await;
    let status = h.provisioner.agent_status(id).await.unwrap();
    assert!(!status.connected);
    assert_eq!(status.last_seen, None);

    let a = agent(&h, id);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let status = h.provisioner.agent_status(id).await.unwrap();
    assert!(status.connected);
    assert_eq!(status.openclaw_version.as_deref(), Some("2026.9.6"));
    assert!(status.gateway.unwrap().is_up());

    // The machine loses its network: connected for three heartbeats, then not.
    a.stop();
    tokio::time::sleep(BEAT * 3 - Duration::from_secs(1)).await;
    assert!(h.provisioner.agent_status(id).await.unwrap().connected);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = h.provisioner.agent_status(id).await.unwrap();
    assert!(!status.connected);
    assert!(status.last_seen.is_some());
}

#[tokio::test(start_paused = true)]
async fn access_links_are_minted_on_the_instance_once_each() {
    let h = Harness::new();
    let id = h.active("pair").await;
    // No agent yet: unavailable, saying why.
    let err = h.provisioner.access_link(id, "whmcs").await.unwrap_err();
    match &err {
        Error::Unavailable {
            service, message, ..
        } => {
            assert_eq!(service, "instance agent");
            assert!(message.contains("not connected yet"), "{message}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }

    let a = agent(&h, id);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let first = h.provisioner.access_link(id, "whmcs").await.unwrap();
    let second = h.provisioner.access_link(id, "key:alice").await.unwrap();
    assert_ne!(first.expose(), second.expose(), "a fresh link every time");
    let minted = a.machine.lock().unwrap().pairing_tokens().to_vec();
    assert_eq!(minted.len(), 2);
    for (link, token) in [(&first, &minted[0]), (&second, &minted[1])] {
        assert_eq!(
            link.expose(),
            format!("https://pair.{ZONE}/#bootstrapToken={token}&bootstrapProfile=owner")
        );
    }
    // Each pairs one browser, once.
    let mut machine = a.machine.lock().unwrap().clone();
    assert!(machine.pair(&minted[0]).is_some());
    assert!(machine.pair(&minted[0]).is_none());

    let trail = h.audits(id).await;
    let issued: Vec<_> = trail
        .iter()
        .filter(|(action, _, _)| action == "access_link_issued")
        .map(|(_, actor, _)| actor.as_str())
        .collect();
    assert_eq!(issued, vec!["whmcs", "key:alice"]);
    assert_eq!(
        trail
            .iter()
            .filter(|(action, _, _)| action == "agent_task_succeeded")
            .count(),
        2
    );
    let text = format!("{trail:?}");
    assert!(minted.iter().all(|t| !text.contains(t.as_str())));
}

#[tokio::test(start_paused = true)]
async fn a_queued_task_reaches_the_long_poll_at_once() {
    let h = Harness::new();
    let id = h.active("poll").await;
    let provisioner = h.provisioner.clone();
    let poll = tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let task = provisioner
            .next_agent_task(id, Duration::from_secs(25))
            .await
            .unwrap();
        (task, started.elapsed())
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let queued = h
        .provisioner
        .request_agent_task(id, AgentTaskKind::RestartGateway, "operator")
        .await
        .unwrap();
    let (task, waited) = poll.await.unwrap();
    let task = task.expect("the poll gets the task");
    assert_eq!(task.id, queued.id);
    assert_eq!(task.state, AgentTaskState::Running);
    assert!(
        waited < Duration::from_secs(3) + Duration::from_millis(100),
        "{waited:?}"
    );
    // Nothing else is due: the next poll waits its time out and comes back empty.
    let started = tokio::time::Instant::now();
    let none = h
        .provisioner
        .next_agent_task(id, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(none.is_none());
    assert!(started.elapsed() >= Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_task_taken_by_an_agent_that_restarts_is_handed_out_again() {
    let h = Harness::new();
    let id = h.active("again").await;
    let queued = h
        .provisioner
        .request_agent_task(id, AgentTaskKind::ListDevices, "operator")
        .await
        .unwrap();
    let first = h
        .provisioner
        .next_agent_task(id, Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.id, first.attempts), (queued.id, 1));
    // The agent died with it; within the lease nobody gets it, after it the next poll does.
    assert!(h
        .provisioner
        .next_agent_task(id, Duration::ZERO)
        .await
        .unwrap()
        .is_none());
    tokio::time::sleep(h.provisioner.config().agent.task_lease + Duration::from_secs(1)).await;
    let again = h
        .provisioner
        .next_agent_task(id, Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (queued.id, 2));
}

#[tokio::test(start_paused = true)]
async fn an_upgrade_that_fails_is_reported_with_its_rollback() {
    let h = Harness::new();
    let id = h.active("upg").await;
    let a = agent(&h, id);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let bad = h
        .provisioner
        .request_agent_task(
            id,
            AgentTaskKind::Upgrade {
                version: MISSING_VERSION.into(),
            },
            "operator",
        )
        .await
        .unwrap();
    let done = h
        .provisioner
        .wait_agent_task(bad.id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.state, AgentTaskState::Failed);
    assert!(done
        .error
        .as_deref()
        .unwrap()
        .contains("rolled back to 2026.9.6"));
    assert_eq!(a.machine.lock().unwrap().openclaw_version, "2026.9.6");

    let good = h
        .provisioner
        .request_agent_task(
            id,
            AgentTaskKind::Upgrade {
                version: "2026.10.1".into(),
            },
            "operator",
        )
        .await
        .unwrap();
    let done = h
        .provisioner
        .wait_agent_task(good.id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.state, AgentTaskState::Succeeded);
    assert_eq!(
        h.provisioner.agent_task_output(&done).unwrap().unwrap(),
        json!({"version": "2026.10.1", "previous": "2026.9.6"})
    );
    // The next heartbeat reports the new version.
    tokio::time::sleep(BEAT).await;
    let status = h.provisioner.agent_status(id).await.unwrap();
    assert_eq!(status.openclaw_version.as_deref(), Some("2026.10.1"));
}

#[tokio::test(start_paused = true)]
async fn reports_are_checked_and_bound_to_their_instance() {
    let h = Harness::new();
    let id = h.active("chk").await;
    let other = h.active("other").await;
    let task = h
        .provisioner
        .request_agent_task(id, AgentTaskKind::AccessLink, "operator")
        .await
        .unwrap();
    h.provisioner
        .next_agent_task(id, Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    // Another instance's agent cannot report it.
    let err = h
        .provisioner
        .report_agent_task(other, task.id, AgentTaskResult::Ok(json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    // An output without what the task promises is refused, and the task still runs.
    for bad in [
        json!({}),
        json!("a string"),
        json!({"bootstrap_token": "short"}),
        json!({"bootstrap_token": "has spaces in it, so it is no token"}),
    ] {
        let err = h
            .provisioner
            .report_agent_task(id, task.id, AgentTaskResult::Ok(bad.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_input", "{bad}");
    }
    let still = h
        .provisioner
        .wait_agent_task(task.id, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(still.state, AgentTaskState::Running);
    // A failure keeps only its first line, without control characters.
    let failed = h
        .provisioner
        .report_agent_task(
            id,
            task.id,
            AgentTaskResult::Err("gateway not reachable\u{7}\nstack trace".into()),
        )
        .await
        .unwrap();
    assert_eq!(failed.error.as_deref(), Some("gateway not reachable"));
    // Arguments that could become shell on the instance never get queued.
    let err = h
        .provisioner
        .request_agent_task(
            id,
            AgentTaskKind::RevokeDevice {
                device: "x; rm -rf /".into(),
            },
            "operator",
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
}

#[tokio::test(start_paused = true)]
async fn agents_of_instances_that_are_gone_are_told_to_stop() {
    let h = Harness::new();
    let id = h.active("bye").await;
    let report = SimulatedMachine::new("t").report();
    h.provisioner.agent_heartbeat(id, &report).await.unwrap();
    h.provisioner.terminate(id).await.unwrap();
    h.settle().await;
    assert!(matches!(
        h.provisioner.agent_heartbeat(id, &report).await,
        Err(Error::Gone { .. })
    ));
    assert!(matches!(
        h.provisioner.next_agent_task(id, Duration::ZERO).await,
        Err(Error::Gone { .. })
    ));
    assert!(matches!(
        h.provisioner
            .agent_heartbeat(InstanceId::new(), &report)
            .await,
        Err(Error::Gone { .. })
    ));
    // Tasks are only for active instances.
    let err = h
        .provisioner
        .request_agent_task(id, AgentTaskKind::RestartGateway, "operator")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
}

#[test]
fn agent_credentials_name_one_instance() {
    let h = Harness::new();
    let id = InstanceId::new();
    let token = h.provisioner.agent_token(id);
    assert_eq!(h.provisioner.agent_instance(token.expose()), Some(id));
    assert_eq!(h.provisioner.agent_instance("nonsense"), None);
    assert!(!format!("{token:?}").contains(token.expose()));
}

#[tokio::test(start_paused = true)]
async fn a_rotated_gateway_token_replaces_the_sealed_copy() {
    use openclaw_core::instance_secrets::SealingKey;
    use openclaw_core::ports::Store;
    let key = SealingKey::from_bytes([9; 32]);
    let sealing = key.clone();
    let h = Harness::with(
        move |mut c| {
            c.secrets_key = Some(sealing);
            c
        },
        |b| b,
    );
    let id = h.active("rot").await;
    let before = key
        .open(id, &h.store.instance_secrets(id).await.unwrap().unwrap())
        .unwrap();
    let a = agent(&h, id);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let task = h
        .provisioner
        .request_agent_task(id, AgentTaskKind::RotateGatewayToken, "operator")
        .await
        .unwrap();
    let done = h
        .provisioner
        .wait_agent_task(task.id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.state, AgentTaskState::Succeeded);
    let new_token = a.machine.lock().unwrap().gateway_token().to_string();
    let after = key
        .open(id, &h.store.instance_secrets(id).await.unwrap().unwrap())
        .unwrap();
    assert_eq!(after.gateway_token.expose(), new_token);
    assert_ne!(after.gateway_token.expose(), before.gateway_token.expose());
    assert_eq!(
        after.provider_keys.keys().collect::<Vec<_>>(),
        before.provider_keys.keys().collect::<Vec<_>>(),
        "the provider keys stay"
    );
    // Nothing of the token went into events or the task listing.
    let trail = format!("{:?}", h.audits(id).await);
    assert!(!trail.contains(&new_token));
    let listed = format!("{:?}", h.provisioner.agent_tasks(id, 10).await.unwrap());
    assert!(!listed.contains(&new_token));
}

#[tokio::test(start_paused = true)]
async fn silent_agents_and_gateways_down_raise_one_alert_each() {
    let h = Harness::new();
    let quiet = h.active("quiet").await;
    let sick = h.active("sick").await;
    let fine = h.active("fine").await;
    let _fine = agent(&h, fine);
    let mut machine = SimulatedMachine::new("gw");
    machine.gateway_up = false;
    let _sick = InProcessAgent::spawn(h.provisioner.clone(), sick, machine, BEAT);
    tokio::time::sleep(Duration::from_millis(10)).await;

    // Right after activation the agent that never reported gets its grace.
    h.provisioner.check_agents().await.unwrap();
    let m = h.provisioner.metrics();
    assert_eq!(
        (m.agents_connected, m.agents_silent, m.gateways_down),
        (2, 0, 1)
    );
    let alerts = |id| {
        let h = &h;
        async move { h.alerts(id).await }
    };
    assert_eq!(alerts(sick).await, vec!["gateway_down".to_string()]);
    assert!(alerts(quiet).await.is_empty());

    // Three heartbeats later the quiet one is silent; checking again alerts nobody twice.
    tokio::time::sleep(BEAT * 3).await;
    h.provisioner.check_agents().await.unwrap();
    h.provisioner.check_agents().await.unwrap();
    let m = h.provisioner.metrics();
    assert_eq!(
        (m.agents_connected, m.agents_silent, m.gateways_down),
        (2, 1, 1)
    );
    assert_eq!(alerts(quiet).await, vec!["agent_silent".to_string()]);
    assert_eq!(alerts(sick).await, vec!["gateway_down".to_string()]);
    assert!(alerts(fine).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn resealing_moves_secrets_and_task_outputs_to_the_new_key() {
    use openclaw_core::instance_secrets::SealingKey;
    use openclaw_core::ports::{AgentStore, Store};
    use openclaw_core::{Provisioner, SealingKeyring};
    let old = SealingKey::from_bytes([1; 32]);
    let new = SealingKey::from_bytes([2; 32]);
    let sealing = old.clone();
    let h = Harness::with(
        move |mut c| {
            c.secrets_key = Some(sealing);
            c
        },
        |b| b,
    );
    let ids = [h.active("one").await, h.active("two").await];
    let _a = agent(&h, ids[0]);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let link = h
        .provisioner
        .request_agent_task(ids[0], AgentTaskKind::AccessLink, "operator")
        .await
        .unwrap();
    h.provisioner
        .wait_agent_task(link.id, Duration::from_secs(5))
        .await
        .unwrap();
    let before = h.store.instance_secrets(ids[0]).await.unwrap().unwrap();
    assert_eq!(before.key_id(), Some(old.id()));

    // The same store, opened with the new key and the old one retired.
    let (retired, current) = (old.clone(), new.clone());
    let rotated: Provisioner = Provisioner::builder()
        .compute(std::sync::Arc::new(h.compute.clone()))
        .dns(std::sync::Arc::new(h.dns.clone()))
        .health(std::sync::Arc::new(h.health.clone()))
        .store(std::sync::Arc::new(h.store.clone()))
        .agents(std::sync::Arc::new(h.store.clone()))
        .config({
            let mut c = common::config();
            c.secrets_key = Some(current);
            c.retired_secrets_keys = vec![retired];
            c
        })
        .build()
        .unwrap();
    let report = rotated.reseal_secrets("operator").await.unwrap();
    assert_eq!(report.instances_resealed, 2);
    assert_eq!(report.instances_current, 0);
    assert!(report.task_outputs_resealed >= 1, "{report:?}");

    // Everything now opens with the new key alone, and holds what it held.
    let only_new = SealingKeyring::new(new.clone());
    for id in ids {
        let sealed = h.store.instance_secrets(id).await.unwrap().unwrap();
        assert_eq!(sealed.key_id(), Some(new.id()));
        only_new.open(id, &sealed).unwrap();
    }
    assert_eq!(
        only_new
            .open(
                ids[0],
                &h.store.instance_secrets(ids[0]).await.unwrap().unwrap()
            )
            .unwrap(),
        old.open(ids[0], &before).unwrap()
    );
    let task = h.store.get_agent_task(link.id).await.unwrap().unwrap();
    only_new
        .open_task_output(link.id, task.output.as_ref().unwrap())
        .unwrap();
    assert!(old
        .open_task_output(link.id, task.output.as_ref().unwrap())
        .is_err());

    // A second run has nothing to do; both runs are in the audit trail.
    let again = rotated.reseal_secrets("operator").await.unwrap();
    assert_eq!(again.instances_resealed + again.task_outputs_resealed, 0);
    assert_eq!(again.instances_current, 2);
    let trail = h.store.events_after(0, 10_000).await.unwrap();
    let resealed = trail
        .iter()
        .filter(|e| {
            matches!(&e.kind, openclaw_core::domain::EventKind::Audit { action, .. }
                if action == "secrets_resealed")
        })
        .count();
    assert_eq!(resealed, 2);
}
