//! The orphan sweep runs by itself, leaves young resources and busy instances alone, deletes
//! only under the instance's job slot, and records what it removes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Harness, ZONE};
use openclaw_core::domain::{ClaimRequest, EventKind, InstanceId, JobKind, NewJob, Topic};
use openclaw_core::engine::SweepMode;
use openclaw_core::ports::ownership::Ownership;
use openclaw_core::ports::{Dns, RecordSpec, Store};

/// A record of ours for `instance`, as a worker that died before recording it leaves.
async fn plant_record(h: &Harness, instance: InstanceId, name: &str) {
    h.dns
        .ensure_records(&RecordSpec {
            ownership: Ownership {
                owner: common::deployment(),
                instance,
            },
            name: format!("{name}.{ZONE}"),
            ipv4: "100.64.1.1".parse().unwrap(),
            ipv6: None,
            ttl: 300,
            proxied: false,
        })
        .await
        .unwrap();
}

async fn terminated(h: &Harness, name: &str) -> InstanceId {
    let i = h.create(name).await;
    h.settle().await;
    h.provisioner.terminate(i.id).await.unwrap();
    h.settle().await;
    i.id
}

fn start(h: &Harness) -> tokio::task::JoinHandle<()> {
    let p = h.provisioner.clone();
    tokio::spawn(async move {
        p.run_workers(std::future::pending()).await.unwrap();
    })
}

#[tokio::test(start_paused = true)]
async fn the_sweep_runs_by_itself_and_records_what_it_removes() {
    let h = Harness::with(
        |mut c| {
            c.sweep.interval = Duration::from_secs(60);
            c
        },
        |b| b,
    );
    let id = terminated(&h, "stray").await;
    plant_record(&h, id, "stray").await;
    assert_eq!(h.dns.records().len(), 1);
    let workers = start(&h);
    tokio::time::sleep(Duration::from_secs(130)).await;
    workers.abort();
    assert!(h.dns.records().is_empty(), "the scheduled sweep removed it");
    let events = h.provisioner.events(id).await.unwrap();
    let removal = events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Audit { action, actor } if action == "orphan_deleted" && actor == "sweep"))
        .expect("an event for the removal");
    assert_eq!(removal.topic, Topic::Audit);
    assert!(removal.reason.contains("dns record"), "{}", removal.reason);
    assert_eq!(h.provisioner.metrics().orphans_deleted, 1);
}

#[tokio::test(start_paused = true)]
async fn a_disabled_sweep_does_not_run() {
    let h = Harness::with(
        |mut c| {
            c.sweep.interval = Duration::from_secs(60);
            c.sweep.enabled = false;
            c
        },
        |b| b,
    );
    let id = terminated(&h, "kept").await;
    plant_record(&h, id, "kept").await;
    let workers = start(&h);
    tokio::time::sleep(Duration::from_secs(600)).await;
    workers.abort();
    assert_eq!(h.dns.records().len(), 1);
    // The dry run still reports it, and so does the metric of the last sweep.
    assert_eq!(h.provisioner.metrics().orphans_found, 0);
    let report = h.provisioner.sweep(SweepMode::DryRun).await.unwrap();
    assert_eq!(report.orphan_records.len(), 1);
    assert_eq!(h.dns.records().len(), 1);
    assert_eq!(h.provisioner.metrics().orphans_found, 1);
}

#[tokio::test(start_paused = true)]
async fn young_orphans_are_left_until_the_grace_period_passes() {
    let h = Harness::with(
        |mut c| {
            c.sweep.grace = Duration::from_secs(600);
            c
        },
        |b| b,
    );
    let id = terminated(&h, "young").await;
    plant_record(&h, id, "young").await;
    let report = h.provisioner.sweep(SweepMode::Delete).await.unwrap();
    assert_eq!(report.orphan_records.len(), 1);
    assert!(report.deleted_records.is_empty());
    assert!(
        report.skipped[0].contains("grace period"),
        "{:?}",
        report.skipped
    );
    assert_eq!(h.dns.records().len(), 1);
    tokio::time::sleep(Duration::from_secs(601)).await;
    let report = h.provisioner.sweep(SweepMode::Delete).await.unwrap();
    assert_eq!(report.deleted_records.len(), 1);
    assert!(h.dns.records().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_orphan_of_a_busy_instance_waits_for_its_job_slot() {
    let h = Harness::new();
    let id = terminated(&h, "busy").await;
    plant_record(&h, id, "busy").await;
    // Something holds the instance's job slot.
    let now = openclaw_core::Clock::now(&openclaw_core::TokioClock::default());
    let holder = h
        .store
        .claim_new_job(
            &NewJob::new(id, JobKind::Sweep, now, 1),
            &ClaimRequest {
                worker: "holder".into(),
                now,
                lease_for: chrono::Duration::seconds(60),
            },
        )
        .await
        .unwrap()
        .unwrap();
    let report = h.provisioner.sweep(SweepMode::Delete).await.unwrap();
    assert!(report.deleted_records.is_empty());
    assert!(
        report.skipped[0].contains("has a job running"),
        "{:?}",
        report.skipped
    );
    assert_eq!(h.dns.records().len(), 1, "deleted under someone else's job");
    h.store
        .complete_job(&holder.lease.unwrap(), now)
        .await
        .unwrap();
    let report = h.provisioner.sweep(SweepMode::Delete).await.unwrap();
    assert_eq!(report.deleted_records.len(), 1);
    assert!(h.dns.records().is_empty());
    // The sweep's own slot is released.
    let running = h
        .store
        .list_jobs(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.state == openclaw_core::domain::JobState::Running)
        .count();
    assert_eq!(running, 0);
}

#[tokio::test(start_paused = true)]
async fn a_new_order_for_the_same_name_does_not_keep_the_old_record() {
    let h = Harness::new();
    let id = terminated(&h, "reborn").await;
    plant_record(&h, id, "reborn").await;
    let report = h.provisioner.sweep(SweepMode::DryRun).await.unwrap();
    assert_eq!(report.orphan_records.len(), 1);
    // Before the deletion, a new order takes the name and, while it provisions, claims any
    // record carrying its own mark — not this one, which carries the old instance's.
    let again = h.create("reborn").await;
    let report = h.provisioner.sweep(SweepMode::Delete).await.unwrap();
    assert_eq!(
        report.deleted_records.len(),
        1,
        "the old instance's record goes"
    );
    h.settle().await;
    assert_eq!(
        h.status(again.id).await,
        openclaw_core::domain::InstanceStatus::Active
    );
}
