//! The engine on this store: an instance's whole life, and a full rollback, driven by
//! `Provisioner` against PostgreSQL with the in-memory providers.

// Helpers outside `#[test]` functions stop the test on failure, as the tests themselves do.
#![allow(clippy::expect_used)]

mod common;

use std::sync::Arc;

use openclaw_core::domain::{
    CreateInstance, DeploymentName, InstanceStatus, JobFilter, JobState, RollbackLevel,
};
use openclaw_core::engine::{EngineConfig, Provisioner};
use openclaw_core::memory::{InMemoryCompute, InMemoryDns, InMemoryHealth};
use openclaw_core::ports::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioner_runs_on_postgres() {
    lifecycle(Arc::new(common::store().await)).await;
}

/// An instance's whole life driven by the engine on this store: order, provision, suspend,
/// unsuspend, terminate; then a second order fully rolled back. Every change is in the
/// log, in order, and nothing is left at the (in-memory) providers.
async fn lifecycle(store: Arc<dyn Store>) {
    let owner = DeploymentName::parse("lifecycle").expect("name");
    let zone = "claw.example.com";
    let compute = InMemoryCompute::new(owner.clone());
    let dns = InMemoryDns::new(owner.clone(), zone);
    let provisioner = Provisioner::builder()
        .store(Arc::clone(&store))
        .compute(Arc::new(compute.clone()))
        .dns(Arc::new(dns.clone()))
        .health(Arc::new(InMemoryHealth::following(compute.clone())))
        .config(EngineConfig::new(owner, zone))
        .build()
        .expect("provisioner");
    let order = |n: u32| CreateInstance {
        customer_id: "customer-7".into(),
        external_ref: Some(format!("whmcs-service-{n}")),
        subdomain: format!("alice{n}"),
        plan: "starter".into(),
        region: "eu-west".into(),
        ..Default::default()
    };

    let instance = provisioner.create(order(1)).await.expect("create");
    provisioner.run_pending_jobs().await.expect("provision");
    let active = provisioner.get(instance.id).await.expect("get");
    assert_eq!(active.status, InstanceStatus::Active);
    assert!(active.resources.server_id.is_some());
    for step in ["suspend", "unsuspend", "terminate"] {
        match step {
            "suspend" => provisioner.suspend(instance.id).await,
            "unsuspend" => provisioner.unsuspend(instance.id).await,
            _ => provisioner.terminate(instance.id).await,
        }
        .expect(step);
        provisioner.run_pending_jobs().await.expect(step);
    }
    let statuses: Vec<_> = provisioner
        .events(instance.id)
        .await
        .expect("events")
        .iter()
        .filter_map(|e| e.status_change().map(|(_, to)| to))
        .collect();
    use InstanceStatus::*;
    assert_eq!(
        statuses,
        vec![
            Pending,
            Provisioning,
            Active,
            Suspending,
            Suspended,
            Unsuspending,
            Active,
            Terminating,
            Terminated
        ]
    );

    let second = provisioner.create(order(2)).await.expect("create");
    provisioner.run_pending_jobs().await.expect("provision");
    provisioner
        .rollback(second.id, RollbackLevel::Full)
        .await
        .expect("rollback");
    provisioner.run_pending_jobs().await.expect("roll back");
    assert!(store.get_instance(second.id).await.expect("get").is_none());
    let log = store.rollback_log(10).await.expect("rollback log");
    assert_eq!(log.first().map(|e| e.instance_id), Some(second.id));
    assert!(compute.servers().is_empty() && dns.records().is_empty());

    // The log as a subscriber reads it: strictly increasing, every event once.
    let all = store.events_after(0, 1_000).await.expect("events");
    assert!(all.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert!(store
        .list_jobs(&JobFilter::default())
        .await
        .expect("jobs")
        .iter()
        .all(|j| j.state == JobState::Done));
}
