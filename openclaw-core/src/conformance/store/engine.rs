//! The engine on the store under test: what the other checks prove clause by clause, driven
//! end to end by the `Provisioner` the way production drives it.

use std::sync::Arc;

use super::unique;
use crate::domain::{
    CreateInstance, DeploymentName, InstanceStatus, JobFilter, JobState, RollbackLevel,
};
use crate::engine::{EngineConfig, Provisioner};
use crate::memory::{InMemoryCompute, InMemoryDns, InMemoryHealth};
use crate::ports::Store;

/// An instance's whole life through the engine on this store — order, provision, suspend,
/// unsuspend, terminate — then a second order fully rolled back. Every status change is in
/// the instance's log in order, the global log's sequences strictly increase, every job ends
/// `done`, the rollback is in the rollback log, and nothing is left at the (in-memory)
/// providers.
pub async fn engine_drives_a_whole_life(store: Arc<dyn Store>) {
    let owner = DeploymentName::parse("conformance").unwrap();
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
        .expect("a provisioner on the store under test");
    let order = || CreateInstance {
        customer_id: "customer-7".into(),
        external_ref: Some(format!("whmcs-{}", unique())),
        subdomain: format!("t{}", unique()),
        plan: "starter".into(),
        region: "eu-west".into(),
        ..Default::default()
    };

    let instance = provisioner.create(order()).await.expect("create");
    provisioner.run_pending_jobs().await.expect("provision");
    let active = provisioner.get(instance.id).await.expect("get");
    assert_eq!(active.status, InstanceStatus::Active, "provisioned");
    assert!(
        active.resources.server_id.is_some(),
        "the server id is stored"
    );
    provisioner.suspend(instance.id).await.expect("suspend");
    provisioner.run_pending_jobs().await.expect("suspend job");
    provisioner.unsuspend(instance.id).await.expect("unsuspend");
    provisioner.run_pending_jobs().await.expect("unsuspend job");
    provisioner.terminate(instance.id).await.expect("terminate");
    provisioner.run_pending_jobs().await.expect("terminate job");

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
        [
            Pending,
            Provisioning,
            Active,
            Suspending,
            Suspended,
            Unsuspending,
            Active,
            Terminating,
            Terminated
        ],
        "the instance's status changes, in order"
    );

    let second = provisioner.create(order()).await.expect("create");
    provisioner.run_pending_jobs().await.expect("provision");
    provisioner
        .rollback(second.id, RollbackLevel::Full)
        .await
        .expect("rollback");
    provisioner.run_pending_jobs().await.expect("roll back");
    assert!(
        store.get_instance(second.id).await.expect("get").is_none(),
        "a full rollback removes the instance"
    );
    let log = store.rollback_log(10).await.expect("rollback log");
    assert_eq!(log.first().map(|e| e.instance_id), Some(second.id));
    assert!(
        compute.servers().is_empty() && dns.records().is_empty(),
        "nothing is left at the providers"
    );

    // The log as a subscriber reads it: strictly increasing, every event once.
    let all = store.events_after(0, 1_000).await.expect("events");
    assert!(all.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert!(
        store
            .list_jobs(&JobFilter::default())
            .await
            .expect("jobs")
            .iter()
            .all(|j| j.state == JobState::Done),
        "every job ends done"
    );
}
