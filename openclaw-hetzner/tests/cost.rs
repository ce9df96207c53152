//! What an instance's life costs at Hetzner: core's `Provisioner` drives `HetznerCompute`
//! on the fake, and the fake counts every request it received. The physical limit is two:
//! one create, one delete.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod common;

use std::sync::Arc;

use openclaw_core::bootstrap::BootstrapKey;
use openclaw_core::domain::{CreateInstance, InstanceStatus};
use openclaw_core::engine::{EngineConfig, Provisioner};
use openclaw_core::memory::{InMemoryDns, InMemoryHealth};
use openclaw_hetzner::fake::{Endpoint, FakeHetzner};

const ZONE: &str = "claw.example.com";

fn provisioner(fake: &FakeHetzner) -> Provisioner {
    let mut config = EngineConfig::new(common::owner("prod"), ZONE);
    config.bootstrap_key = Some(BootstrapKey::from_bytes([7; 32]));
    config.seed = Some(1);
    config.firewalls = vec!["38".into()];
    Provisioner::builder()
        .compute(Arc::new(common::adapter(fake, "prod")))
        .dns(Arc::new(InMemoryDns::new(common::owner("prod"), ZONE)))
        .health(Arc::new(InMemoryHealth::healthy()))
        .config(config)
        .build()
        .unwrap()
}

fn order(subdomain: &str) -> CreateInstance {
    CreateInstance {
        customer_id: "customer-1".into(),
        external_ref: None,
        subdomain: subdomain.into(),
        plan: "starter".into(),
        region: "eu-west".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_life_costs_two_hetzner_requests() {
    let fake = FakeHetzner::start().await.unwrap();
    let provisioner = provisioner(&fake);
    let instance = provisioner.create(order("alice")).await.unwrap();
    provisioner.run_pending_jobs().await.unwrap();
    let instance = provisioner.get(instance.id).await.unwrap();
    assert_eq!(instance.status, InstanceStatus::Active);

    let counts = fake.request_counts();
    eprintln!("hetzner requests to provision: {counts:?}");
    // The first attempt creates directly: the name derived from the instance id makes a
    // second server impossible, so no look-up comes first.
    assert_eq!(fake.request_count(Endpoint::CreateServer), 1, "{counts:?}");
    assert_eq!(fake.total_requests(), 1, "{counts:?}");

    // The user data the VPS boots with reached Hetzner, and the addresses the engine
    // recorded are those of the create response.
    let server = &fake.servers()[0];
    assert!(fake
        .user_data(server.id)
        .unwrap()
        .starts_with("#cloud-config"));
    assert_eq!(instance.resources.ipv4, server.ipv4);

    // Terminating deletes the recorded server by its id: one request, no look-up.
    provisioner.terminate(instance.id).await.unwrap();
    provisioner.run_pending_jobs().await.unwrap();
    assert_eq!(
        provisioner.get(instance.id).await.unwrap().status,
        InstanceStatus::Terminated
    );
    let counts = fake.request_counts();
    eprintln!("hetzner requests per instance life: {counts:?}");
    assert_eq!(fake.request_count(Endpoint::DeleteServer), 1, "{counts:?}");
    assert_eq!(fake.total_requests(), 2, "{counts:?}");
}

#[tokio::test]
async fn ten_lives_cost_twenty_requests() {
    let fake = FakeHetzner::start().await.unwrap();
    let provisioner = provisioner(&fake);
    let mut ids = Vec::new();
    for i in 0..10 {
        let instance = provisioner
            .create(order(&format!("user{i}")))
            .await
            .unwrap();
        ids.push(instance.id);
    }
    provisioner.run_pending_jobs().await.unwrap();
    assert_eq!(fake.servers().len(), 10);
    assert_eq!(fake.total_requests(), 10, "{:?}", fake.request_counts());
    for id in ids {
        provisioner.terminate(id).await.unwrap();
    }
    provisioner.run_pending_jobs().await.unwrap();
    assert_eq!(fake.total_requests(), 20, "{:?}", fake.request_counts());
}
