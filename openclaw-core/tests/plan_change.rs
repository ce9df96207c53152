//! Plan changes: `active|suspended → resizing → active|suspended`, the server moved to the
//! new plan's type with its disk kept; back to the old type when the new one fails; a disk
//! never shrinks; billing's requests meanwhile wait for the change to end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::Harness;
use openclaw_core::domain::{
    CreateInstance, InstanceId, InstanceStatus, Operation, PendingRequest,
};
use openclaw_core::ports::{Health, Server, ServerStatus};
use openclaw_core::Error;

use InstanceStatus::*;

fn server_of(h: &Harness, id: InstanceId) -> Server {
    h.compute
        .servers()
        .into_iter()
        .find(|s| s.ownership().is_some_and(|o| o.instance == id))
        .expect("the instance's server")
}

#[tokio::test(start_paused = true)]
async fn an_active_instance_moves_to_the_new_type_and_is_active_again() {
    let h = Harness::new();
    let id = h.active("grow").await;
    let before = server_of(&h, id);
    assert_eq!(before.server_type.as_deref(), Some("cpx22"));

    let accepted = h.provisioner.change_plan(id, "professional").await.unwrap();
    assert_eq!(accepted.status, Resizing);
    assert_eq!(
        accepted.plan.as_str(),
        "starter",
        "the plan changes once it worked"
    );
    let change = accepted.plan_change.clone().unwrap();
    assert_eq!(
        (change.from.as_str(), change.to.as_str(), change.resume),
        ("starter", "professional", Active)
    );
    // Asking again while it runs changes nothing.
    let again = h.provisioner.change_plan(id, "professional").await.unwrap();
    assert_eq!(again.version, accepted.version);

    h.settle().await;
    let done = h.provisioner.get(id).await.unwrap();
    assert_eq!(done.status, Active);
    assert_eq!(done.plan.as_str(), "professional");
    assert_eq!(done.plan_change, None);
    assert_eq!(done.last_error, None);
    let after = server_of(&h, id);
    assert_eq!(after.id, before.id, "the same server, not a new one");
    assert_eq!(after.server_type.as_deref(), Some("cpx32"));
    assert_eq!(after.disk_gb, Some(80), "the disk is kept");
    assert_eq!(after.status, ServerStatus::Running);
    assert_eq!(h.compute.created_total(), 1);
    let changes = h.transitions(id).await;
    assert_eq!(
        changes[changes.len() - 2..],
        [(Some(Active), Resizing), (Some(Resizing), Active)]
    );
    assert_eq!(h.compute.faults().calls("power_off"), 1);
    assert_eq!(h.compute.faults().calls("power_on"), 1);

    // Kept the small disk, so going back down is allowed.
    h.provisioner.change_plan(id, "starter").await.unwrap();
    h.settle().await;
    let down = h.provisioner.get(id).await.unwrap();
    assert_eq!((down.status, down.plan.as_str()), (Active, "starter"));
    assert_eq!(server_of(&h, id).server_type.as_deref(), Some("cpx22"));
}

#[tokio::test(start_paused = true)]
async fn a_suspended_instance_stays_suspended() {
    let h = Harness::new();
    let id = h.active("asleep").await;
    h.provisioner.suspend(id).await.unwrap();
    h.settle().await;
    let ons = h.compute.faults().calls("power_on");

    let accepted = h.provisioner.change_plan(id, "enterprise").await.unwrap();
    assert_eq!(accepted.plan_change.unwrap().resume, Suspended);
    h.settle().await;
    let done = h.provisioner.get(id).await.unwrap();
    assert_eq!((done.status, done.plan.as_str()), (Suspended, "enterprise"));
    let server = server_of(&h, id);
    assert_eq!(server.server_type.as_deref(), Some("cpx42"));
    assert_eq!(server.status, ServerStatus::Off, "never powered on");
    assert_eq!(h.compute.faults().calls("power_on"), ons);
}

#[tokio::test(start_paused = true)]
async fn the_same_plan_is_a_no_op_and_bad_plans_are_refused_before_anything_happens() {
    let h = Harness::new();
    let id = h.active("steady").await;
    let before = h.provisioner.get(id).await.unwrap();
    let same = h.provisioner.change_plan(id, "starter").await.unwrap();
    assert_eq!((same.status, same.version), (Active, before.version));

    let unknown = h.provisioner.change_plan(id, "gigantic").await.unwrap_err();
    assert!(
        matches!(&unknown, Error::InvalidInput { field, .. } if field == "plan"),
        "{unknown:?}"
    );
    assert_eq!(h.provisioner.get(id).await.unwrap().version, before.version);

    // Ordered on professional: a 160 GB disk, recorded when its server was created.
    let big = h
        .provisioner
        .create(CreateInstance {
            plan: "professional".into(),
            ..common::request("roomy")
        })
        .await
        .unwrap();
    h.settle().await;
    let big = h.provisioner.get(big.id).await.unwrap();
    assert_eq!(big.resources.disk_gb, Some(160));
    let refused = h
        .provisioner
        .change_plan(big.id, "starter")
        .await
        .unwrap_err();
    match &refused {
        Error::Conflict { message } => {
            assert!(
                message.contains("80 GB") && message.contains("160 GB"),
                "{message}"
            );
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    let unchanged = h.provisioner.get(big.id).await.unwrap();
    assert_eq!((unchanged.status, unchanged.version), (Active, big.version));
}

#[tokio::test(start_paused = true)]
async fn only_active_and_suspended_instances_change_plan() {
    let h = Harness::new();
    let pending = h.create("not-yet").await;
    let err = h
        .provisioner
        .change_plan(pending.id, "professional")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidTransition {
                from: Pending,
                to: Resizing
            }
        ),
        "{err:?}"
    );
    h.settle().await;
    h.provisioner
        .change_plan(pending.id, "professional")
        .await
        .unwrap();
    let other = h
        .provisioner
        .change_plan(pending.id, "enterprise")
        .await
        .unwrap_err();
    assert_eq!(other.code(), "conflict", "{other:?}");
}

#[tokio::test(start_paused = true)]
async fn a_refused_type_moves_the_server_back_and_keeps_the_old_plan() {
    let h = Harness::new();
    let id = h.active("refused").await;
    h.compute.faults().fail_next(
        "change_type",
        1,
        Error::invalid("server_type", "not available in this location"),
    );
    h.provisioner.change_plan(id, "professional").await.unwrap();
    h.settle().await;
    let back = h.provisioner.get(id).await.unwrap();
    assert_eq!((back.status, back.plan.as_str()), (Active, "starter"));
    assert_eq!(back.plan_change, None);
    let error = back
        .last_error
        .expect("the failure is kept for the operator");
    assert_eq!(error.operation, Operation::ChangePlan);
    assert!(error.message.contains("not available"), "{}", error.message);
    let server = server_of(&h, id);
    assert_eq!(server.server_type.as_deref(), Some("cpx22"));
    assert_eq!(server.status, ServerStatus::Running);
    assert_eq!(h.alerts(id).await, vec!["plan_change_failed".to_string()]);
}

#[tokio::test(start_paused = true)]
async fn a_new_type_that_never_gets_healthy_is_undone() {
    let h = Harness::new();
    let id = h.active("sickly").await;
    // Unhealthy on the new type, healthy again once back on the old one.
    let checks = h.health.checks(id);
    let sick = Health::Unhealthy {
        reason: "boot loop".into(),
    };
    h.health.script(id, vec![sick; 3]);
    h.provisioner.change_plan(id, "professional").await.unwrap();
    h.settle().await;
    let back = h.provisioner.get(id).await.unwrap();
    assert_eq!((back.status, back.plan.as_str()), (Active, "starter"));
    assert!(back.last_error.unwrap().message.contains("health"));
    assert_eq!(server_of(&h, id).server_type.as_deref(), Some("cpx22"));
    assert!(h.health.checks(id) > checks + 3);
    let changes = h.transitions(id).await;
    assert_eq!(changes.last(), Some(&(Some(Resizing), Active)));
}

#[tokio::test(start_paused = true)]
async fn a_change_that_cannot_even_go_back_fails_and_retry_finishes_the_way_back() {
    let h = Harness::new();
    let id = h.active("stuck").await;
    // The new type is refused, and so is the old one on the way back.
    h.compute
        .faults()
        .fail_next("change_type", 2, Error::invalid("server_type", "refused"));
    h.provisioner.change_plan(id, "professional").await.unwrap();
    h.settle().await;
    let failed = h.provisioner.get(id).await.unwrap();
    assert_eq!(failed.status, Failed);
    let change = failed.plan_change.clone().expect("kept for retry");
    assert!(change.reverting);
    assert_eq!(failed.last_error.unwrap().operation, Operation::ChangePlan);

    let retried = h.provisioner.retry(id).await.unwrap();
    assert_eq!(retried.status, Resizing);
    h.settle().await;
    let back = h.provisioner.get(id).await.unwrap();
    assert_eq!((back.status, back.plan.as_str()), (Active, "starter"));
    assert_eq!(back.plan_change, None);
    assert_eq!(server_of(&h, id).status, ServerStatus::Running);
}

#[tokio::test(start_paused = true)]
async fn a_provider_outage_is_waited_out_and_the_change_goes_through() {
    let h = Harness::new();
    let id = h.active("patient").await;
    h.compute.faults().fail_next(
        "change_type",
        2,
        Error::unavailable("memory", "503 from the provider"),
    );
    h.provisioner.change_plan(id, "professional").await.unwrap();
    h.settle().await;
    let done = h.provisioner.get(id).await.unwrap();
    assert_eq!((done.status, done.plan.as_str()), (Active, "professional"));
    assert_eq!(h.compute.faults().calls("change_type"), 3);
}

#[tokio::test(start_paused = true)]
async fn billing_requests_during_a_change_wait_for_it_to_end() {
    let h = Harness::new();
    let id = h.active("billed").await;
    h.health.set_default(Health::Starting);
    h.provisioner.change_plan(id, "professional").await.unwrap();
    let p = h.provisioner.clone();
    let workers = tokio::spawn(async move { p.run_workers(std::future::pending()).await });
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(h.status(id).await, Resizing);
    let waiting = h.provisioner.suspend(id).await.unwrap();
    assert_eq!(
        (waiting.status, waiting.pending_request),
        (Resizing, Some(PendingRequest::Suspend))
    );
    h.health.set_default(Health::Healthy);
    tokio::time::sleep(Duration::from_secs(60)).await;
    workers.abort();
    let done = h.provisioner.get(id).await.unwrap();
    assert_eq!(
        (done.status, done.plan.as_str()),
        (Suspended, "professional")
    );
    let changes = h.transitions(id).await;
    assert_eq!(
        changes[changes.len() - 3..],
        [
            (Some(Resizing), Active),
            (Some(Active), Suspending),
            (Some(Suspending), Suspended)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn terminate_during_a_change_wins() {
    let h = Harness::new();
    let id = h.active("ended").await;
    h.health.set_default(Health::Starting);
    h.provisioner.change_plan(id, "professional").await.unwrap();
    let p = h.provisioner.clone();
    let workers = tokio::spawn(async move { p.run_workers(std::future::pending()).await });
    tokio::time::sleep(Duration::from_secs(20)).await;
    h.provisioner.terminate(id).await.unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
    workers.abort();
    assert_eq!(h.status(id).await, Terminated);
    assert!(h
        .compute
        .servers()
        .iter()
        .all(|s| s.ownership().is_none_or(|o| o.instance != id)
            || s.status == ServerStatus::Deleting));
}
