//! What an instance's life costs at Cloudflare: core's `Provisioner` drives `CloudflareDns`
//! on the fake (the server on in-memory compute), and the fake counts every request.

use std::sync::Arc;

use openclaw_core::bootstrap::BootstrapKey;
use openclaw_core::domain::{CreateInstance, InstanceStatus};
use openclaw_core::engine::{EngineConfig, Provisioner};
use openclaw_core::memory::{InMemoryCompute, InMemoryHealth};

use crate::support::{deployment, Env, ZONE};

fn provisioner(env: &Env, ipv6: bool) -> Provisioner {
    let mut config = EngineConfig::new(deployment("prod"), ZONE);
    config.bootstrap_key = Some(BootstrapKey::from_bytes([7; 32]));
    config.seed = Some(1);
    config.enable_ipv6 = ipv6;
    Provisioner::builder()
        .compute(Arc::new(InMemoryCompute::new(deployment("prod"))))
        .dns(Arc::new(env.adapter("prod")))
        .health(Arc::new(InMemoryHealth::healthy()))
        .config(config)
        .build()
        .unwrap()
}

/// Provisions and terminates one instance; returns the requests the fake received.
async fn one_life(ipv6: bool) -> u64 {
    let env = Env::start().await;
    let provisioner = provisioner(&env, ipv6);
    let instance = provisioner
        .create(CreateInstance {
            customer_id: "customer-1".into(),
            subdomain: "alice".into(),
            plan: "starter".into(),
            region: "eu-west".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    provisioner.run_pending_jobs().await.unwrap();
    assert_eq!(
        provisioner.get(instance.id).await.unwrap().status,
        InstanceStatus::Active
    );
    provisioner.terminate(instance.id).await.unwrap();
    provisioner.run_pending_jobs().await.unwrap();
    assert_eq!(
        provisioner.get(instance.id).await.unwrap().status,
        InstanceStatus::Terminated
    );
    assert!(env.fake.records(&env.zone_id).is_empty(), "records left");
    env.fake.total_requests()
}

/// A look-up before the creates (so a record that is not ours is never joined), A and AAAA,
/// then both deleted by their recorded ids: five requests.
#[tokio::test]
async fn a_dual_stack_life_costs_five_requests() {
    assert_eq!(one_life(true).await, 5);
}

/// Without IPv6: look-up, A, delete — three.
#[tokio::test]
async fn an_ipv4_life_costs_three_requests() {
    assert_eq!(one_life(false).await, 3);
}
