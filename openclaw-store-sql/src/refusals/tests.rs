use chrono::Utc;
use openclaw_core::conformance::store::sample_instance;
use openclaw_core::domain::{CustomerId, InstanceStatus, JobId, NewEvent};

use super::*;

fn lease() -> Lease {
    Lease {
        job_id: JobId::new(),
        token: Uuid::now_v7(),
        expires_at: Utc::now(),
    }
}

fn row(lease: &Lease, state: JobState, live: bool) -> LeaseRow {
    LeaseRow {
        state,
        token: Some(lease.token),
        live,
    }
}

fn fenced_write(fence: Lease) -> InstanceWrite {
    let mut next = sample_instance(&CustomerId::parse("refusals").unwrap(), None);
    next.status = InstanceStatus::Provisioning;
    InstanceWrite {
        fence: Some(fence),
        ..InstanceWrite::new(next)
    }
}

#[test]
fn a_lease_is_held_only_while_current_running_and_live() {
    let l = lease();
    assert_eq!(LeaseCheck::of(&l, None), LeaseCheck::NoJob);
    let held = row(&l, JobState::Running, true);
    assert_eq!(LeaseCheck::of(&l, Some(&held)), LeaseCheck::Held);
    let ran_out = row(&l, JobState::Running, false);
    assert_eq!(LeaseCheck::of(&l, Some(&ran_out)), LeaseCheck::RanOut);
    let done = row(&l, JobState::Done, true);
    assert_eq!(LeaseCheck::of(&l, Some(&done)), LeaseCheck::NotHeld);
    let rescued = LeaseRow {
        token: Some(Uuid::now_v7()),
        ..held
    };
    assert_eq!(LeaseCheck::of(&l, Some(&rescued)), LeaseCheck::NotHeld);
}

#[test]
fn the_fence_is_named_before_the_version() {
    let l = lease();
    let write = fenced_write(l);
    // A stale version and a lost fence: the fence is the reason.
    let found = Found {
        instance: Some((9, "pending".into())),
        fence_job: Some(row(&l, JobState::Running, false)),
    };
    assert!(matches!(
        found.update_refusal(&write),
        Error::LeaseLost { job, .. } if job == l.job_id
    ));
    // The fence holds: the version is the reason.
    let found = Found {
        fence_job: Some(row(&l, JobState::Running, true)),
        ..found
    };
    assert!(matches!(
        found.update_refusal(&write),
        Error::Conflict { .. }
    ));
    // A fenced job that is gone is a lost lease too.
    let found = Found {
        fence_job: None,
        ..found
    };
    assert!(matches!(
        found.update_refusal(&write),
        Error::LeaseLost { .. }
    ));
}

#[test]
fn an_unfenced_refusal_is_about_the_instance() {
    let mut write = fenced_write(lease());
    write.fence = None;
    assert!(matches!(
        Found::default().update_refusal(&write),
        Error::NotFound { .. }
    ));
    let at_version = Found {
        instance: Some((1, "pending".into())),
        fence_job: None,
    };
    match at_version.update_refusal(&write) {
        Error::InvalidInput { field, .. } => assert_eq!(field, "event"),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn calls_with_a_lease_are_not_found_or_lease_lost() {
    let l = lease();
    assert!(matches!(
        lease_refusal("complete_job", &l, None),
        Error::NotFound { .. }
    ));
    let lost = lease_refusal(
        "heartbeat_job",
        &l,
        Some(&row(&l, JobState::Running, false)),
    );
    assert!(matches!(lost, Error::LeaseLost { .. }), "{lost:?}");
    assert!(!lost.is_retryable());
    assert!(lost.to_string().contains("ran out"), "{lost}");
}

#[test]
fn an_alert_needs_its_event() {
    let mut write = fenced_write(lease());
    write.alert = Some(NewEvent::alert(None, "x", "y", Utc::now()));
    assert!(matches!(
        check_alert(&write),
        Err(Error::InvalidInput { .. })
    ));
    write.event = Some(NewEvent::alert(None, "x", "y", Utc::now()));
    assert!(check_alert(&write).is_ok());
}
