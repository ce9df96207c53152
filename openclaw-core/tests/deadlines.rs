//! The provisioning deadlines fire on time even when the worker running the provisioning
//! died (its lease has not run out yet, so no other worker has the job): a scheduled check,
//! not only the start of an attempt.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::Harness;
use openclaw_core::domain::{Event, InstanceStatus};
use openclaw_core::engine::Trigger;
use openclaw_core::ports::Health;

/// Starts `h`'s workers in the background; returns their task.
fn start(h: &Harness) -> tokio::task::JoinHandle<()> {
    let p = h.provisioner.clone();
    tokio::spawn(async move {
        p.run_workers(std::future::pending()).await.unwrap();
    })
}

/// When the instance entered `status`, from its events.
async fn entered(
    h: &Harness,
    id: openclaw_core::domain::InstanceId,
    status: InstanceStatus,
) -> Option<chrono::DateTime<chrono::Utc>> {
    h.provisioner
        .events(id)
        .await
        .unwrap()
        .iter()
        .find(|e: &&Event| e.status_change().is_some_and(|(_, to)| to == status))
        .map(|e| e.at)
}

#[tokio::test(start_paused = true)]
async fn the_provisioning_deadline_fires_while_the_dead_workers_lease_still_runs() {
    // A long lease: without a scheduled check nothing would happen until it ran out.
    let h = Harness::with(
        |mut c| {
            c.workers.lease = Duration::from_secs(600);
            c.workers.heartbeat = Duration::from_secs(60);
            c
        },
        |b| b,
    );
    let i = h.create("late").await;
    h.health.set_default(Health::Starting);
    let worker = start(&h);
    // The worker reaches the health wait, then dies.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(h.status(i.id).await, InstanceStatus::Provisioning);
    worker.abort();

    // Another process's maintenance (here a fresh set of workers on the same store, which
    // cannot claim the job: the dead worker's lease runs for another nine minutes).
    let other = start(&h);
    let provisioning = h.provisioner.get(i.id).await.unwrap().status_changed_at;
    tokio::time::sleep(Duration::from_secs(5 * 60 + 10)).await;
    let rolling = entered(&h, i.id, InstanceStatus::RollingBack)
        .await
        .expect("the deadline fired");
    let late = rolling - (provisioning + chrono::Duration::minutes(5));
    assert!(
        late <= chrono::Duration::seconds(6),
        "fired {late} after the deadline"
    );
    let last = h.provisioner.get(i.id).await.unwrap().last_error.unwrap();
    assert!(
        last.message.contains(Trigger::ProvisionTimeout.as_str()),
        "{last:?}"
    );

    // Once the dead worker's lease runs out, the rollback runs and nothing is left.
    tokio::time::sleep(Duration::from_secs(600)).await;
    other.abort();
    assert_eq!(h.status(i.id).await, InstanceStatus::RolledBack);
    assert!(h.compute.servers().is_empty());
    assert!(h.dns.records().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_dns_deadline_fires_while_the_dead_workers_lease_still_runs() {
    let h = Harness::with(
        |mut c| {
            c.workers.lease = Duration::from_secs(600);
            c.workers.heartbeat = Duration::from_secs(60);
            c
        },
        |b| b,
    );
    // The DNS provider hangs: the worker sits in the DNS step, then dies there.
    h.dns.faults().set_latency(Duration::from_secs(3_600));
    let i = h.create("dns-late").await;
    let worker = start(&h);
    tokio::time::sleep(Duration::from_secs(20)).await;
    let recorded = h.provisioner.get(i.id).await.unwrap();
    let began = recorded
        .resources
        .server_recorded_at
        .expect("the server was recorded: the DNS step began");
    worker.abort();

    let other = start(&h);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let rolling = entered(&h, i.id, InstanceStatus::RollingBack)
        .await
        .expect("the DNS deadline fired");
    let late = rolling - (began + chrono::Duration::minutes(1));
    assert!(
        late <= chrono::Duration::seconds(6),
        "fired {late} after the deadline"
    );
    let last = h.provisioner.get(i.id).await.unwrap().last_error.unwrap();
    assert!(
        last.message.contains(Trigger::DnsTimeout.as_str()),
        "{last:?}"
    );
    other.abort();
}

#[tokio::test(start_paused = true)]
async fn a_resumed_dns_step_keeps_the_deadline_of_the_first() {
    // The first worker spent 50 s of the DNS minute before it died; its successor has 10 s.
    let h = Harness::with(
        |mut c| {
            c.workers.lease = Duration::from_secs(20);
            c.workers.heartbeat = Duration::from_secs(5);
            c.rollback.triggers.remove(&Trigger::ProvisionTimeout);
            c
        },
        |b| b,
    );
    h.dns.faults().set_latency(Duration::from_secs(50));
    let i = h.create("dns-resume").await;
    let worker = start(&h);
    tokio::time::sleep(Duration::from_secs(45)).await;
    worker.abort();
    let began = h
        .provisioner
        .get(i.id)
        .await
        .unwrap()
        .resources
        .server_recorded_at
        .unwrap();
    let other = start(&h);
    tokio::time::sleep(Duration::from_secs(120)).await;
    other.abort();
    let rolling = entered(&h, i.id, InstanceStatus::RollingBack)
        .await
        .expect("rolled back");
    assert!(
        rolling - began <= chrono::Duration::seconds(66),
        "the DNS step was given a fresh minute: {}",
        rolling - began
    );
}
