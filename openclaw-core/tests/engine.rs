//! The engine end to end against the in-memory adapters, on tokio's paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{request, Harness, ZONE};
use openclaw_core::domain::{
    CreateInstance, Event, InstanceStatus, JobState, Operation, RollbackLevel, Topic,
};
use openclaw_core::engine::{SweepMode, Trigger};
use openclaw_core::ports::ownership::server_labels;
use openclaw_core::ports::{Compute, Health, RecordType, ServerSpec, Store};
use openclaw_core::{Error, SecretString};

use InstanceStatus::*;

#[tokio::test(start_paused = true)]
async fn create_returns_pending_and_workers_make_it_active() {
    let h = Harness::new();
    let created = h.create("alice").await;
    assert_eq!(created.status, Pending);
    assert_eq!(created.fqdn, format!("alice.{ZONE}"));
    assert!(
        h.compute.servers().is_empty(),
        "create must not touch providers"
    );

    h.settle().await;
    let active = h.provisioner.get(created.id).await.unwrap();
    assert_eq!(active.status, Active);
    assert_eq!(
        h.transitions(created.id).await,
        vec![
            (None, Pending),
            (Some(Pending), Provisioning),
            (Some(Provisioning), Active)
        ]
    );
    let servers = h.compute.servers();
    assert_eq!(servers.len(), 1);
    let server = &servers[0];
    assert_eq!(active.resources.server_id.as_ref(), Some(&server.id));
    assert_eq!(active.resources.ipv4, server.ipv4);
    assert_eq!(
        server.labels,
        server_labels(&common::deployment(), created.id)
    );
    let records = h.dns.records();
    assert_eq!(records.len(), 2, "A and AAAA: {records:?}");
    for record in &records {
        assert_eq!(record.name, active.fqdn);
        assert!(active.resources.dns_record_ids.contains(&record.id));
        let wanted = match record.record_type {
            RecordType::A => server.ipv4.unwrap().to_string(),
            RecordType::Aaaa => server.ipv6.unwrap().to_string(),
        };
        assert_eq!(record.content, wanted);
    }
}

#[tokio::test(start_paused = true)]
async fn a_life_costs_one_create_one_delete_and_no_look_up() {
    let h = Harness::new();
    let i = h.create("cost").await;
    h.settle().await;
    let compute = h.compute.faults();
    assert_eq!(compute.calls("create_server"), 1);
    assert_eq!(
        compute.total_calls(),
        1,
        "the first attempt creates directly"
    );
    assert_eq!(h.dns.faults().total_calls(), 1, "one ensure");
    h.provisioner.terminate(i.id).await.unwrap();
    h.settle().await;
    assert_eq!(h.status(i.id).await, Terminated);
    assert_eq!(compute.calls("delete_server"), 1);
    assert_eq!(
        compute.total_calls(),
        2,
        "the recorded server is deleted by id, without a look-up"
    );
    assert_eq!(
        h.dns.faults().calls("find_records"),
        0,
        "records deleted by id"
    );
    assert_eq!(h.dns.faults().calls("delete_record"), 2, "A and AAAA");
}

#[tokio::test(start_paused = true)]
async fn invalid_orders_name_the_field_and_write_nothing() {
    let h = Harness::new();
    type Spoil = fn(&mut CreateInstance);
    let cases: [(&str, Spoil); 5] = [
        ("subdomain", |r| r.subdomain = "Bad Name".into()),
        ("subdomain", |r| r.subdomain = "admin".into()),
        ("plan", |r| r.plan = "platinum".into()),
        ("region", |r| r.region = "moon".into()),
        ("customer_id", |r| r.customer_id = String::new()),
    ];
    for (field, spoil) in cases {
        let mut r = request("ok");
        spoil(&mut r);
        match h.provisioner.create(r).await {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected invalid {field}, got {other:?}"),
        }
    }
    let page = h.provisioner.list(&Default::default()).await.unwrap();
    assert!(page.items.is_empty());
    assert!(h.store.events_after(0, 10).await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_same_external_reference_never_creates_twice() {
    let h = Harness::new();
    let mut r = request("bob");
    r.external_ref = Some("whmcs-1001".into());
    let first = h.provisioner.create(r.clone()).await.unwrap();
    let again = h.provisioner.create(r.clone()).await.unwrap();
    assert_eq!(first.id, again.id);
    let mut different = r.clone();
    different.plan = "enterprise".into();
    assert!(matches!(
        h.provisioner.create(different).await,
        Err(Error::Conflict { .. })
    ));
    h.settle().await;
    assert_eq!(h.compute.servers().len(), 1);
    // Once terminated, the reference may be ordered again.
    h.provisioner.terminate(first.id).await.unwrap();
    h.settle().await;
    let reordered = h.provisioner.create(r).await.unwrap();
    assert_ne!(reordered.id, first.id);
}

#[tokio::test(start_paused = true)]
async fn a_subdomain_in_use_is_a_conflict() {
    let h = Harness::new();
    h.create("carol").await;
    let mut r = request("carol");
    r.customer_id = "someone-else".into();
    assert!(matches!(
        h.provisioner.create(r).await,
        Err(Error::Conflict { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn suspend_unsuspend_terminate_and_their_idempotence() {
    let h = Harness::new();
    let i = h.create("dave").await;
    h.settle().await;

    assert_eq!(
        h.provisioner.suspend(i.id).await.unwrap().status,
        Suspending
    );
    assert_eq!(
        h.provisioner.suspend(i.id).await.unwrap().status,
        Suspending
    );
    h.settle().await;
    assert_eq!(h.status(i.id).await, Suspended);
    let server = &h.compute.servers()[0];
    assert_eq!(server.status, openclaw_core::ports::ServerStatus::Off);
    assert_eq!(h.dns.records().len(), 2, "suspend keeps the records");
    assert_eq!(h.provisioner.suspend(i.id).await.unwrap().status, Suspended);

    assert_eq!(
        h.provisioner.unsuspend(i.id).await.unwrap().status,
        Unsuspending
    );
    h.settle().await;
    assert_eq!(h.status(i.id).await, Active);
    assert_eq!(
        h.compute.servers()[0].status,
        openclaw_core::ports::ServerStatus::Running
    );

    assert_eq!(
        h.provisioner.terminate(i.id).await.unwrap().status,
        Terminating
    );
    h.settle().await;
    assert_eq!(h.status(i.id).await, Terminated);
    assert!(h.compute.servers().is_empty());
    assert!(h.dns.records().is_empty());
    // Terminating a terminated instance succeeds and changes nothing.
    let events_before = h.provisioner.events(i.id).await.unwrap().len();
    assert_eq!(
        h.provisioner.terminate(i.id).await.unwrap().status,
        Terminated
    );
    assert_eq!(
        h.provisioner.events(i.id).await.unwrap().len(),
        events_before
    );
}

#[tokio::test(start_paused = true)]
async fn illegal_requests_are_invalid_transitions() {
    let h = Harness::new();
    let i = h.create("erin").await;
    assert!(matches!(
        h.provisioner.rollback(i.id, RollbackLevel::Partial).await,
        Ok(ref rolling) if rolling.status == RollingBack
    ));
    h.settle().await;
    assert!(matches!(
        h.provisioner.suspend(i.id).await,
        Err(Error::InvalidTransition {
            from: RolledBack,
            ..
        })
    ));
    assert!(matches!(
        h.provisioner.unsuspend(i.id).await,
        Err(Error::InvalidTransition {
            from: RolledBack,
            ..
        })
    ));
    assert_eq!(h.provisioner.retry(i.id).await.unwrap().status, Pending);
    h.settle().await;
    assert!(matches!(
        h.provisioner.retry(i.id).await,
        Err(Error::InvalidTransition { from: Active, .. })
    ));
    let unknown = openclaw_core::domain::InstanceId::new();
    assert!(matches!(
        h.provisioner.suspend(unknown).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_lost_create_response_is_looked_up_not_repeated() {
    let h = Harness::new();
    h.compute.faults().lose_next_responses("create_server", 1);
    let i = h.create("frank").await;
    h.settle().await;
    assert_eq!(h.status(i.id).await, Active);
    assert_eq!(h.compute.created_total(), 1);
    assert_eq!(h.compute.faults().calls("create_server"), 1);
    assert_eq!(
        h.compute.faults().calls("find_server"),
        1,
        "looked up once, after the loss"
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_left_by_a_dead_worker_is_adopted() {
    let h = Harness::new();
    let i = h.create("grace").await;
    // What a worker that died between create and record leaves behind.
    let spec = ServerSpec {
        instance_id: i.id,
        name: openclaw_core::ports::ownership::server_name(i.id),
        owner: common::deployment(),
        server_type: "cpx22".into(),
        image: "ubuntu-24.04".into(),
        location: "fsn1".into(),
        user_data: SecretString::new("#cloud-config\n"),
        labels: server_labels(&common::deployment(), i.id),
        ssh_keys: vec![],
        firewalls: vec![],
        enable_ipv6: true,
    };
    let orphan = h.compute.create_server(&spec).await.unwrap();
    h.settle().await;
    let active = h.provisioner.get(i.id).await.unwrap();
    assert_eq!(active.status, Active);
    assert_eq!(active.resources.server_id, Some(orphan.id));
    assert_eq!(h.compute.created_total(), 1, "adopted, not created again");
}

#[tokio::test(start_paused = true)]
async fn a_failed_server_create_rolls_back() {
    let h = Harness::new();
    h.compute.faults().fail_next(
        "create_server",
        1,
        Error::Provider {
            provider: "hetzner".into(),
            code: "resource_limit_exceeded".into(),
            status: Some(403),
            message: "server limit reached".into(),
            correlation_id: None,
            class: openclaw_core::ErrorClass::Permanent,
        },
    );
    let i = h.create("heidi").await;
    h.settle().await;
    let rolled = h.provisioner.get(i.id).await.unwrap();
    assert_eq!(rolled.status, RolledBack);
    let last = rolled.last_error.unwrap();
    assert_eq!(last.operation, Operation::Provision);
    assert!(last.message.contains(Trigger::ServerCreateFailed.as_str()));
    assert_eq!(
        h.transitions(i.id).await,
        vec![
            (None, Pending),
            (Some(Pending), Provisioning),
            (Some(Provisioning), RollingBack),
            (Some(RollingBack), RolledBack)
        ]
    );
    assert!(h.compute.servers().is_empty());
    assert_eq!(h.provisioner.metrics().rollbacks_succeeded, 1);
}

#[tokio::test(start_paused = true)]
async fn with_the_triggers_disabled_a_permanent_failure_marks_failed_and_alerts() {
    let h = Harness::with(
        |mut c| {
            c.rollback.triggers.remove(&Trigger::ServerCreateFailed);
            c.rollback.triggers.remove(&Trigger::PermanentError);
            c
        },
        |b| b,
    );
    h.compute
        .faults()
        .fail_next("create_server", 1, Error::invalid("server_type", "unknown"));
    let i = h.create("ivan").await;
    h.settle().await;
    assert_eq!(h.status(i.id).await, Failed);
    assert_eq!(h.alerts(i.id).await, vec!["provision_failed".to_string()]);

    // Retry runs the failed operation again, and this time it works.
    assert_eq!(h.provisioner.retry(i.id).await.unwrap().status, Pending);
    h.settle().await;
    assert_eq!(h.status(i.id).await, Active);
}

#[tokio::test(start_paused = true)]
async fn a_slow_dns_step_rolls_back_after_a_minute() {
    let h = Harness::new();
    h.dns.faults().set_latency(Duration::from_secs(90));
    let i = h.create("judy").await;
    h.settle().await;
    let rolled = h.provisioner.get(i.id).await.unwrap();
    assert_eq!(rolled.status, RolledBack);
    assert!(rolled
        .last_error
        .unwrap()
        .message
        .contains(Trigger::DnsTimeout.as_str()));
    assert!(h.compute.servers().is_empty(), "the server was compensated");
}

#[tokio::test(start_paused = true)]
async fn three_failed_health_checks_roll_back() {
    let h = Harness::new();
    let i = h.create("ken").await;
    let bad = Health::Unhealthy {
        reason: "502 from /startupz".into(),
    };
    h.health
        .script(i.id, vec![Health::Starting, bad.clone(), bad.clone(), bad]);
    h.settle().await;
    assert_eq!(h.status(i.id).await, RolledBack);
    assert_eq!(h.health.checks(i.id), 4);
    assert!(h.compute.servers().is_empty());
    assert!(h.dns.records().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_provisioning_over_five_minutes_rolls_back() {
    let h = Harness::new();
    h.health.set_default(Health::Starting);
    let i = h.create("leo").await;
    let started = tokio::time::Instant::now();
    h.settle().await;
    let rolled = h.provisioner.get(i.id).await.unwrap();
    assert_eq!(rolled.status, RolledBack);
    assert!(rolled
        .last_error
        .unwrap()
        .message
        .contains(Trigger::ProvisionTimeout.as_str()));
    assert!(started.elapsed() >= Duration::from_secs(300));
    assert!(started.elapsed() < Duration::from_secs(330));
}

#[tokio::test(start_paused = true)]
async fn server_errors_that_outlive_their_retries_roll_back() {
    let h = Harness::with(
        |mut c| {
            c.rollback.triggers.remove(&Trigger::ServerCreateFailed);
            c
        },
        |b| b,
    );
    h.compute.faults().fail_next(
        "create_server",
        50,
        Error::Unavailable {
            service: "hetzner".into(),
            message: "bad gateway".into(),
            status: Some(502),
        },
    );
    let i = h.create("mallory").await;
    h.settle().await;
    let rolled = h.provisioner.get(i.id).await.unwrap();
    assert_eq!(rolled.status, RolledBack);
    assert!(rolled
        .last_error
        .unwrap()
        .message
        .contains(Trigger::ServerErrorsExhausted.as_str()));
    assert_eq!(
        h.compute.faults().calls("create_server"),
        u64::from(common::fast_retries().max_attempts),
        "retried up to the policy, then rolled back"
    );
}

#[tokio::test(start_paused = true)]
async fn soft_and_full_rollbacks() {
    let soft = Harness::with(
        |mut c| {
            c.rollback.level = RollbackLevel::Soft;
            c
        },
        |b| b,
    );
    let i = soft.create("nina").await;
    soft.health
        .script(i.id, vec![Health::Unhealthy { reason: "x".into() }; 3]);
    soft.settle().await;
    assert_eq!(soft.status(i.id).await, Failed);
    assert_eq!(
        soft.compute.servers().len(),
        1,
        "soft touches nothing outside"
    );
    assert_eq!(
        soft.alerts(i.id).await,
        vec!["manual_intervention_required".to_string()]
    );

    let full = Harness::with(
        |mut c| {
            c.rollback.level = RollbackLevel::Full;
            c
        },
        |b| b,
    );
    let j = full.create("oscar").await;
    full.health
        .script(j.id, vec![Health::Unhealthy { reason: "x".into() }; 3]);
    full.settle().await;
    assert!(matches!(
        full.provisioner.get(j.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(full.compute.servers().is_empty());
    assert!(full.dns.records().is_empty());
    let log = full.store.rollback_log(10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].instance_id, j.id);
    assert_eq!(log[0].level, RollbackLevel::Full);
    assert!(log[0].deleted.iter().any(|d| d.starts_with("server")));
    // The event log keeps the whole story, ending in rolled_back.
    let last = full.provisioner.events(j.id).await.unwrap();
    assert_eq!(
        last.last().and_then(Event::status_change),
        Some((Some(RollingBack), RolledBack))
    );
}

#[tokio::test(start_paused = true)]
async fn a_compensation_that_keeps_failing_ends_failed_with_an_alert() {
    let h = Harness::new();
    let i = h.create("peggy").await;
    h.health
        .script(i.id, vec![Health::Unhealthy { reason: "x".into() }; 3]);
    h.compute.faults().fail_next(
        "delete_server",
        1000,
        Error::Unavailable {
            service: "hetzner".into(),
            message: "unavailable".into(),
            status: Some(503),
        },
    );
    h.settle().await;
    let failed = h.provisioner.get(i.id).await.unwrap();
    assert_eq!(failed.status, Failed);
    assert_eq!(
        failed.last_error.as_ref().unwrap().operation,
        Operation::Rollback
    );
    assert!(h.alerts(i.id).await.contains(&"job_dead".to_string()));
    let dead = h
        .store
        .list_jobs(&openclaw_core::domain::JobFilter {
            state: Some(JobState::Dead),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 5, "compensation_attempts");
    assert_eq!(h.provisioner.metrics().rollbacks_failed, 1);

    // Once the provider recovers, a rollback request finishes it (a retry would provision
    // the never-active instance afresh instead).
    h.compute.faults().clear();
    assert_eq!(
        h.provisioner
            .rollback(i.id, RollbackLevel::Partial)
            .await
            .unwrap()
            .status,
        RollingBack
    );
    h.settle().await;
    assert_eq!(h.status(i.id).await, RolledBack);
    assert!(h.compute.servers().is_empty());
}

#[tokio::test(start_paused = true)]
async fn requested_rollback_of_an_active_instance_and_a_retry_after_it() {
    let h = Harness::new();
    let i = h.create("quentin").await;
    h.settle().await;
    let first_server = h.compute.servers()[0].id.clone();
    assert_eq!(
        h.provisioner
            .rollback(i.id, RollbackLevel::Partial)
            .await
            .unwrap()
            .status,
        RollingBack
    );
    h.settle().await;
    assert_eq!(h.status(i.id).await, RolledBack);
    assert!(h.compute.servers().is_empty());
    assert!(h.provisioner.get(i.id).await.unwrap().resources.is_empty());

    assert_eq!(h.provisioner.retry(i.id).await.unwrap().status, Pending);
    h.settle().await;
    let again = h.provisioner.get(i.id).await.unwrap();
    assert_eq!(again.status, Active);
    assert_ne!(again.resources.server_id, Some(first_server));
    assert_eq!(h.compute.servers().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn terminate_during_provisioning_cleans_up_everything() {
    let h = Harness::new();
    h.health.set_default(Health::Starting);
    let i = h.create("rupert").await;
    // Run the provisioning until it waits for health, then terminate underneath it.
    let provisioner = h.provisioner.clone();
    let worker = tokio::spawn(async move { provisioner.run_pending_jobs().await });
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(h.status(i.id).await, Provisioning);
    assert_eq!(h.compute.servers().len(), 1);
    h.provisioner.terminate(i.id).await.unwrap();
    worker.await.unwrap().unwrap();
    h.settle().await;
    assert_eq!(h.status(i.id).await, Terminated);
    assert!(h.compute.servers().is_empty());
    assert!(h.dns.records().is_empty());
}

#[tokio::test(start_paused = true)]
async fn sweep_finds_and_deletes_only_orphans() {
    let h = Harness::new();
    let live = h.create("sybil").await;
    let gone = h.create("trent").await;
    h.settle().await;
    // Leave resources behind for `gone` by deleting its row's knowledge: terminate it, then
    // put a labelled server and record back as a crash might have.
    h.provisioner.terminate(gone.id).await.unwrap();
    h.settle().await;
    let stray = ServerSpec {
        instance_id: gone.id,
        name: openclaw_core::ports::ownership::server_name(gone.id),
        owner: common::deployment(),
        server_type: "cpx22".into(),
        image: "ubuntu-24.04".into(),
        location: "fsn1".into(),
        user_data: SecretString::new(""),
        labels: server_labels(&common::deployment(), gone.id),
        ssh_keys: vec![],
        firewalls: vec![],
        enable_ipv6: false,
    };
    let stray = h.compute.create_server(&stray).await.unwrap();
    // A server of another deployment on the same account is not ours to judge.
    let other = h
        .compute
        .for_owner(openclaw_core::domain::DeploymentName::parse("other").unwrap());
    let mut foreign = ServerSpec {
        name: "openclaw-foreign".into(),
        ..stray_spec_for(&other, gone.id)
    };
    foreign.labels = server_labels(
        &openclaw_core::domain::DeploymentName::parse("other").unwrap(),
        gone.id,
    );
    other.create_server(&foreign).await.unwrap();

    let report = h.provisioner.sweep(SweepMode::DryRun).await.unwrap();
    assert_eq!(
        report
            .orphan_servers
            .iter()
            .map(|s| &s.id)
            .collect::<Vec<_>>(),
        vec![&stray.id]
    );
    assert!(report.deleted_servers.is_empty());
    assert_eq!(h.compute.servers().len(), 3, "a dry run deletes nothing");

    let report = h.provisioner.sweep(SweepMode::Delete).await.unwrap();
    assert_eq!(report.deleted_servers, vec![stray.id]);
    assert_eq!(h.compute.servers().len(), 2);
    let remaining_live = h.provisioner.get(live.id).await.unwrap();
    assert!(h
        .compute
        .servers()
        .iter()
        .any(|s| Some(&s.id) == remaining_live.resources.server_id.as_ref()));
    assert!(h
        .provisioner
        .sweep(SweepMode::DryRun)
        .await
        .unwrap()
        .orphan_servers
        .is_empty());
}

fn stray_spec_for(
    _compute: &openclaw_core::memory::InMemoryCompute,
    id: openclaw_core::domain::InstanceId,
) -> ServerSpec {
    ServerSpec {
        instance_id: id,
        name: String::new(),
        owner: openclaw_core::domain::DeploymentName::parse("other").unwrap(),
        server_type: "cpx22".into(),
        image: "ubuntu-24.04".into(),
        location: "fsn1".into(),
        user_data: SecretString::new(""),
        labels: Default::default(),
        ssh_keys: vec![],
        firewalls: vec![],
        enable_ipv6: false,
    }
}

#[tokio::test(start_paused = true)]
async fn sweep_removes_records_no_live_instance_claims() {
    let h = Harness::new();
    let i = h.create("uma").await;
    h.settle().await;
    h.provisioner.terminate(i.id).await.unwrap();
    h.settle().await;
    // A record with our mark for a terminated instance, and a hand-made one that is not ours.
    use openclaw_core::ports::{Dns, RecordSpec};
    let spec = RecordSpec {
        ownership: openclaw_core::ports::ownership::Ownership {
            owner: common::deployment(),
            instance: i.id,
        },
        name: format!("uma.{ZONE}"),
        ipv4: "100.64.9.9".parse().unwrap(),
        ipv6: None,
        ttl: 300,
        proxied: false,
    };
    h.dns.ensure_records(&spec).await.unwrap();
    h.dns
        .insert_unmarked(&format!("www.{ZONE}"), RecordType::A, "192.0.2.1");
    let report = h.provisioner.sweep(SweepMode::Delete).await.unwrap();
    assert_eq!(report.deleted_records.len(), 1);
    let left = h.dns.records();
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0].name,
        format!("www.{ZONE}"),
        "never touch what is not ours"
    );
}

#[tokio::test(start_paused = true)]
async fn every_change_is_an_event_in_sequence_on_the_bus() {
    let h = Harness::new();
    let mut stream = h
        .provisioner
        .subscribe(Some(Topic::Provisioning), Some(0))
        .await
        .unwrap();
    let i = h.create("victor").await;
    h.settle().await;
    h.provisioner.suspend(i.id).await.unwrap();
    h.settle().await;
    use futures_util::StreamExt;
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let event = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("event in time")
            .expect("stream open")
            .expect("no error");
        seen.push(event);
    }
    let sequences: Vec<u64> = seen.iter().map(|e| e.sequence).collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    let changes: Vec<_> = seen.iter().filter_map(Event::status_change).collect();
    assert_eq!(
        changes,
        vec![
            (None, Pending),
            (Some(Pending), Provisioning),
            (Some(Provisioning), Active),
            (Some(Active), Suspending),
            (Some(Suspending), Suspended)
        ]
    );
    assert!(seen.iter().all(|e| e.instance_id == Some(i.id)));
}

#[tokio::test(start_paused = true)]
async fn workers_run_until_shutdown_and_hand_back_their_jobs() {
    let h = Harness::new();
    h.health.set_default(Health::Starting);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let provisioner = h.provisioner.clone();
    let workers = tokio::spawn(async move {
        provisioner
            .run_workers(async {
                let _ = stopped.await;
            })
            .await
    });
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(h.create(&format!("w{n}")).await.id);
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    // Four workers hold four provisionings waiting for health; stop them.
    stop.send(()).unwrap();
    workers.await.unwrap().unwrap();
    let jobs = h.store.list_jobs(&Default::default()).await.unwrap();
    assert!(
        jobs.iter().all(|j| j.state != JobState::Running),
        "{jobs:?}"
    );
    assert!(
        jobs.iter().all(|j| j.attempts <= 1),
        "released jobs do not count"
    );
    assert_eq!(h.provisioner.metrics().jobs_interrupted, 4);

    // A new set of workers finishes the work once the servers answer.
    h.health.set_default(Health::Healthy);
    h.settle().await;
    for id in ids {
        assert_eq!(h.status(id).await, Active);
    }
    assert_eq!(h.compute.servers().len(), 6);
}

#[tokio::test(start_paused = true)]
async fn a_worker_that_dies_mid_job_is_replaced_and_nothing_is_created_twice() {
    let h = Harness::new();
    h.health.set_default(Health::Starting);
    let i = h.create("walter").await;
    let provisioner = h.provisioner.clone();
    let dying = tokio::spawn(async move { provisioner.run_pending_jobs().await });
    tokio::time::sleep(Duration::from_secs(12)).await;
    dying.abort();
    let _ = dying.await;
    assert_eq!(h.status(i.id).await, Provisioning);
    let running = h.store.list_jobs(&Default::default()).await.unwrap();
    assert_eq!(
        running[0].state,
        JobState::Running,
        "the dead worker's lease is still held"
    );

    h.health.set_default(Health::Healthy);
    // Nothing is claimable until the lease runs out...
    assert_eq!(h.provisioner.run_pending_jobs().await.unwrap(), 0);
    tokio::time::sleep(h.provisioner.config().workers.lease).await;
    // ...then another worker rescues the job and resumes from the recorded server.
    h.settle().await;
    assert_eq!(h.status(i.id).await, Active);
    assert_eq!(h.compute.created_total(), 1);
    let job = &h.store.list_jobs(&Default::default()).await.unwrap()[0];
    assert_eq!(job.attempts, 2, "the rescue counts as an attempt");
}

#[tokio::test(start_paused = true)]
async fn dns_conflict_with_a_foreign_record_never_overwrites_it() {
    let h = Harness::new();
    let foreign = h
        .dns
        .insert_unmarked(&format!("xavier.{ZONE}"), RecordType::A, "192.0.2.7");
    let i = h.create("xavier").await;
    h.settle().await;
    // No retry can fix it: the provisioning rolls back, and no server is left billing.
    let rolled = h.provisioner.get(i.id).await.unwrap();
    assert_eq!(rolled.status, RolledBack);
    let last = rolled.last_error.unwrap();
    assert_eq!(last.code, "conflict");
    assert!(
        last.message.contains(Trigger::PermanentError.as_str()),
        "{last:?}"
    );
    assert!(h.compute.servers().is_empty(), "the server was deleted");
    let records = h.dns.records();
    assert_eq!(records, vec![foreign], "the foreign record is untouched");
}

fn with_keys(subdomain: &str, keys: &[(&str, &str)]) -> CreateInstance {
    let mut r = request(subdomain);
    r.provider_keys = keys
        .iter()
        .map(|(k, v)| (k.to_string(), SecretString::new(*v)))
        .collect();
    r
}

#[tokio::test(start_paused = true)]
async fn the_server_fetches_its_secrets_once() {
    let h = Harness::new();
    h.health.set_default(Health::Starting);
    let i = h
        .provisioner
        .create(with_keys("yara", &[("ANTHROPIC_API_KEY", "sk-ant-yara")]))
        .await
        .unwrap();
    let provisioner = h.provisioner.clone();
    let worker = tokio::spawn(async move { provisioner.run_pending_jobs().await });
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(h.status(i.id).await, Provisioning);

    let token = h.bootstrap_token(i.id).await;
    let (for_id, env) = h.provisioner.bootstrap(token.expose(), None).await.unwrap();
    assert_eq!(for_id, i.id);
    assert_eq!(env["ANTHROPIC_API_KEY"].expose(), "sk-ant-yara");
    let gateway = env["OPENCLAW_GATEWAY_TOKEN"].expose().to_string();
    assert!(gateway.len() >= 43, "32+ random bytes");
    assert!(matches!(
        h.provisioner.bootstrap(token.expose(), None).await,
        Err(Error::Gone { .. })
    ));
    // The same server asking again soon, from its recorded address, gets the same answer
    // (its first reply was lost); from anywhere else, or later, nothing.
    let recorded = h
        .provisioner
        .get(i.id)
        .await
        .unwrap()
        .resources
        .ipv4
        .unwrap();
    let elsewhere: std::net::IpAddr = "198.51.100.7".parse().unwrap();
    assert!(matches!(
        h.provisioner
            .bootstrap(token.expose(), Some(elsewhere))
            .await,
        Err(Error::Gone { .. })
    ));
    let (_, again) = h
        .provisioner
        .bootstrap(token.expose(), Some(recorded.into()))
        .await
        .unwrap();
    assert_eq!(again["OPENCLAW_GATEWAY_TOKEN"].expose(), gateway);
    tokio::time::sleep(openclaw_core::engine::BOOTSTRAP_REPEAT_WINDOW + Duration::from_secs(1))
        .await;
    assert!(matches!(
        h.provisioner
            .bootstrap(token.expose(), Some(recorded.into()))
            .await,
        Err(Error::Gone { .. })
    ));
    let forged = format!("{}.{}", i.id.as_uuid().simple(), "A".repeat(43));
    assert!(matches!(
        h.provisioner.bootstrap(&forged, None).await,
        Err(Error::NotFound { .. })
    ));

    h.health.set_default(Health::Healthy);
    worker.await.unwrap().unwrap();
    assert_eq!(h.status(i.id).await, Active);
    // The access link is a one-time pairing link the instance's agent minted; it never
    // carries the gateway token, and it is audited.
    let agent = openclaw_core::memory::InProcessAgent::spawn(
        h.provisioner.clone(),
        i.id,
        openclaw_core::memory::SimulatedMachine::new(gateway.clone()),
        Duration::from_secs(30),
    );
    tokio::task::yield_now().await;
    let link = h.provisioner.access_link(i.id, "whmcs").await.unwrap();
    let minted = agent.machine.lock().unwrap().pairing_tokens().to_vec();
    assert_eq!(
        link.expose(),
        format!(
            "https://yara.{ZONE}/#bootstrapToken={}&bootstrapProfile=owner",
            minted[0]
        )
    );
    assert!(!link.expose().contains(&gateway));
    let audits: Vec<_> = h
        .provisioner
        .events(i.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.topic == Topic::Audit)
        .filter(|e| {
            matches!(&e.kind, openclaw_core::domain::EventKind::Audit { action, .. }
                if action == "bootstrap_delivered" || action == "access_link_issued")
        })
        .collect();
    assert_eq!(
        audits.len(),
        3,
        "bootstrap delivered (twice: the repeat), access link issued"
    );
    assert!(audits.iter().all(|e| !format!("{e:?}").contains(&gateway)));
    assert!(audits
        .iter()
        .all(|e| !format!("{e:?}").contains(&minted[0])));
    // Its provisioning is over: the token is dead.
    assert!(matches!(
        h.provisioner.bootstrap(token.expose(), None).await,
        Err(Error::Gone { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_retried_provisioning_gets_a_new_token_and_the_old_one_dies() {
    let h = Harness::new();
    let i = h.create("zeno").await;
    let bad = Health::Unhealthy { reason: "x".into() };
    h.health.script(i.id, vec![bad.clone(), bad.clone(), bad]);
    let first = h.bootstrap_token(i.id).await;
    // The first server got its secrets, then failed its health checks and was rolled back.
    let provisioner = h.provisioner.clone();
    let worker = tokio::spawn(async move { provisioner.run_pending_jobs().await });
    tokio::task::yield_now().await;
    h.provisioner.bootstrap(first.expose(), None).await.unwrap();
    worker.await.unwrap().unwrap();
    h.settle().await;
    assert_eq!(h.status(i.id).await, RolledBack);
    h.provisioner.retry(i.id).await.unwrap();
    h.health.set_default(Health::Starting);
    let provisioner = h.provisioner.clone();
    let worker = tokio::spawn(async move { provisioner.run_pending_jobs().await });
    tokio::time::sleep(Duration::from_secs(10)).await;
    let second = h.bootstrap_token(i.id).await;
    assert_ne!(
        second.expose(),
        first.expose(),
        "a new attempt, a new token"
    );
    assert!(matches!(
        h.provisioner.bootstrap(first.expose(), None).await,
        Err(Error::Gone { .. })
    ));
    assert!(h.provisioner.bootstrap(second.expose(), None).await.is_ok());
    h.health.set_default(Health::Healthy);
    worker.await.unwrap().unwrap();
    assert_eq!(h.status(i.id).await, Active);
}

#[tokio::test(start_paused = true)]
async fn bad_provider_keys_are_refused_before_anything_is_written() {
    let h = Harness::new();
    let err = h
        .provisioner
        .create(with_keys("ally", &[("OPENCLAW_GATEWAY_TOKEN", "mine")]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field.starts_with("provider_keys"))
    );
    assert!(h
        .provisioner
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(matches!(
        h.provisioner
            .access_link(openclaw_core::domain::InstanceId::new(), "x")
            .await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn orders_set_only_provider_keys_never_process_variables() {
    let h = Harness::with(
        |mut c| {
            c.provider_keys.extra = vec!["MY_PROXY_API_KEY".into()];
            c
        },
        |b| b,
    );
    for name in [
        "NODE_OPTIONS",
        "LD_PRELOAD",
        "PATH",
        "HOME",
        "UNHEARD_OF_KEY",
    ] {
        let err = h
            .provisioner
            .create(with_keys("procvar", &[(name, "--require /tmp/x.js")]))
            .await
            .unwrap_err();
        match err {
            Error::InvalidInput { field, message } => {
                assert_eq!(field, format!("provider_keys.{name}"));
                assert!(!message.contains("/tmp/x.js"), "never repeats a value");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(h
        .provisioner
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
    // Known keys and the configured extra are fine.
    h.provisioner
        .create(with_keys(
            "provkeys",
            &[
                ("ANTHROPIC_API_KEY", "sk-ant-1"),
                ("TELEGRAM_BOT_TOKEN", "123:abc"),
                ("MY_PROXY_API_KEY", "p-1"),
            ],
        ))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_server_still_being_deleted_is_never_adopted() {
    let h = Harness::new();
    // As at Hetzner: a deleted server lingers as `deleting`, its name still taken.
    h.compute.set_deleting_for(Duration::from_secs(20));
    let i = h.create("again").await;
    h.settle().await;
    let first = h
        .provisioner
        .get(i.id)
        .await
        .unwrap()
        .resources
        .server_id
        .unwrap();
    h.provisioner
        .rollback(i.id, RollbackLevel::Partial)
        .await
        .unwrap();
    h.settle().await;
    assert_eq!(h.status(i.id).await, RolledBack);
    // Retried at once: the create meets the old server still being deleted under the same
    // name, waits, and makes a new one rather than adopting the dying one.
    h.provisioner.retry(i.id).await.unwrap();
    h.settle().await;
    let active = h.provisioner.get(i.id).await.unwrap();
    assert_eq!(active.status, Active);
    assert_ne!(active.resources.server_id.as_ref(), Some(&first));
    assert_eq!(h.compute.created_total(), 2);
    assert_eq!(h.compute.servers().len(), 1);
}
