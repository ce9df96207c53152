//! Billing's requests are never refused for a state that will pass: a suspend while the
//! instance is still being provisioned is accepted and carried out once it is active; an
//! unsuspend while it is being suspended, once it is suspended; terminate always.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Harness;
use openclaw_core::domain::{EventKind, InstanceStatus, PendingRequest, RollbackLevel};
use openclaw_core::ports::Health;
use openclaw_core::Error;

use InstanceStatus::*;

#[tokio::test(start_paused = true)]
async fn a_suspend_while_pending_is_carried_out_once_active() {
    let h = Harness::new();
    let i = h.create("overdue").await;
    let accepted = h.provisioner.suspend(i.id).await.unwrap();
    assert_eq!(accepted.status, Pending);
    assert_eq!(accepted.pending_request, Some(PendingRequest::Suspend));
    // Asking again changes nothing.
    let again = h.provisioner.suspend(i.id).await.unwrap();
    assert_eq!(again.version, accepted.version);
    h.settle().await;
    let suspended = h.provisioner.get(i.id).await.unwrap();
    assert_eq!(suspended.status, Suspended);
    assert_eq!(suspended.pending_request, None);
    assert!(suspended.activated_at.is_some());
    let changes = h.transitions(i.id).await;
    assert_eq!(
        changes[changes.len() - 3..],
        [
            (Some(Provisioning), Active),
            (Some(Active), Suspending),
            (Some(Suspending), Suspended)
        ]
    );
    assert!(
        h.compute
            .servers()
            .iter()
            .all(|s| s.status == openclaw_core::ports::ServerStatus::Off),
        "the server is powered off"
    );
}

#[tokio::test(start_paused = true)]
async fn a_suspend_while_provisioning_is_recorded_as_an_event() {
    let h = Harness::new();
    h.health.set_default(Health::Starting);
    let i = h.create("mid-way").await;
    let p = h.provisioner.clone();
    let workers = tokio::spawn(async move { p.run_workers(std::future::pending()).await });
    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    assert_eq!(h.status(i.id).await, Provisioning);
    h.provisioner.suspend(i.id).await.unwrap();
    let audit: Vec<_> = h
        .provisioner
        .events(i.id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Audit { action, .. } => Some(action),
            _ => None,
        })
        .collect();
    assert_eq!(audit, vec!["suspend_requested".to_string()]);
    h.health.set_default(Health::Healthy);
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    workers.abort();
    assert_eq!(h.status(i.id).await, Suspended);
}

#[tokio::test(start_paused = true)]
async fn an_unsuspend_before_activation_withdraws_the_suspend() {
    let h = Harness::new();
    let i = h.create("paid").await;
    h.provisioner.suspend(i.id).await.unwrap();
    let withdrawn = h.provisioner.unsuspend(i.id).await.unwrap();
    assert_eq!(withdrawn.pending_request, None);
    h.settle().await;
    assert_eq!(h.status(i.id).await, Active);
}

#[tokio::test(start_paused = true)]
async fn a_terminate_while_a_suspend_waits_terminates() {
    let h = Harness::new();
    let i = h.create("cancelled").await;
    h.provisioner.suspend(i.id).await.unwrap();
    h.provisioner.terminate(i.id).await.unwrap();
    h.settle().await;
    let ended = h.provisioner.get(i.id).await.unwrap();
    assert_eq!(ended.status, Terminated);
    assert_eq!(ended.pending_request, None);
    assert!(h.compute.servers().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_unsuspend_while_suspending_is_carried_out_once_suspended() {
    let h = Harness::new();
    let i = h.create("flip").await;
    h.settle().await;
    h.provisioner.suspend(i.id).await.unwrap();
    assert_eq!(h.status(i.id).await, Suspending);
    let accepted = h.provisioner.unsuspend(i.id).await.unwrap();
    assert_eq!(accepted.status, Suspending);
    assert_eq!(accepted.pending_request, Some(PendingRequest::Unsuspend));
    h.settle().await;
    assert_eq!(h.status(i.id).await, Active);
    let changes = h.transitions(i.id).await;
    assert_eq!(
        changes[changes.len() - 3..],
        [
            (Some(Suspending), Suspended),
            (Some(Suspended), Unsuspending),
            (Some(Unsuspending), Active)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_instance_is_suspended_only_if_it_was_active_once() {
    let h = Harness::with(
        |mut c| {
            c.rollback.level = RollbackLevel::Soft;
            c
        },
        |b| b,
    );
    // Never active: failed by a soft rollback during provisioning.
    h.health.set_default(Health::Unhealthy {
        reason: "crash loop".into(),
    });
    let never = h.create("never").await;
    h.settle().await;
    assert_eq!(h.status(never.id).await, Failed);
    assert!(matches!(
        h.provisioner.suspend(never.id).await,
        Err(Error::InvalidTransition {
            from: Failed,
            to: Suspending
        })
    ));
    assert!(matches!(
        h.provisioner.unsuspend(never.id).await,
        Err(Error::InvalidTransition {
            from: Failed,
            to: Unsuspending
        })
    ));
    // A retry of it provisions afresh.
    h.health.set_default(Health::Healthy);
    assert_eq!(h.provisioner.retry(never.id).await.unwrap().status, Pending);
    h.settle().await;
    assert_eq!(h.status(never.id).await, Active);

    // Active once, then failed (its power-off was refused for good): suspendable again.
    let once = h.create("once").await;
    h.settle().await;
    h.compute.faults().fail_next(
        "power_off",
        100,
        Error::Unauthorized {
            message: "token revoked".into(),
        },
    );
    h.provisioner.suspend(once.id).await.unwrap();
    h.settle().await;
    assert_eq!(h.status(once.id).await, Failed);
    h.compute.faults().clear();
    assert_eq!(
        h.provisioner.suspend(once.id).await.unwrap().status,
        Suspending
    );
    h.settle().await;
    assert_eq!(h.status(once.id).await, Suspended);
}

#[tokio::test(start_paused = true)]
async fn failed_and_its_alert_are_written_together() {
    let h = Harness::with(
        |mut c| {
            c.rollback.level = RollbackLevel::Soft;
            c
        },
        |b| b,
    );
    h.health.set_default(Health::Unhealthy {
        reason: "crash loop".into(),
    });
    let i = h.create("alerted").await;
    h.settle().await;
    let events = h.provisioner.events(i.id).await.unwrap();
    let failed = events
        .iter()
        .position(|e| e.status_change().is_some_and(|(_, to)| to == Failed))
        .expect("a move to failed");
    let alert = &events[failed + 1];
    assert!(
        matches!(&alert.kind, EventKind::Alert { code } if code == "manual_intervention_required")
    );
    assert_eq!(
        alert.sequence,
        events[failed].sequence + 1,
        "one transaction"
    );
}

#[tokio::test(start_paused = true)]
async fn three_failed_health_checks_means_three_in_a_row() {
    let h = Harness::new();
    let i = h.create("flaky").await;
    let down = || Health::Unhealthy {
        reason: "restarting".into(),
    };
    // Two failures, a restart, two failures, then up: never three in a row.
    h.health.script(
        i.id,
        vec![
            down(),
            down(),
            Health::Starting,
            down(),
            down(),
            Health::Healthy,
        ],
    );
    h.settle().await;
    assert_eq!(h.status(i.id).await, Active);

    let j = h.create("broken").await;
    h.health
        .script(j.id, vec![down(), Health::Starting, down(), down(), down()]);
    h.settle().await;
    assert_eq!(h.status(j.id).await, RolledBack);
}
