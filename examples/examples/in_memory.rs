//! The whole lifecycle of an instance against the in-memory adapters: order, provision,
//! suspend, unsuspend, terminate — with a subscriber printing every event as it happens.
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use futures_util::StreamExt;
use openclaw_core::domain::{CreateInstance, DeploymentName, InstanceStatus, Topic};
use openclaw_core::engine::{EngineConfig, Provisioner};
use openclaw_core::memory::{InMemoryCompute, InMemoryDns, InMemoryHealth};

#[tokio::main(flavor = "current_thread")]
async fn main() -> openclaw_core::Result<()> {
    let owner = DeploymentName::parse("example")?;
    let zone = "claw.example.com";
    let compute = InMemoryCompute::new(owner.clone());
    let dns = InMemoryDns::new(owner.clone(), zone);
    let provisioner = Provisioner::builder()
        .compute(Arc::new(compute.clone()))
        .dns(Arc::new(dns.clone()))
        .health(Arc::new(InMemoryHealth::following(compute.clone())))
        .config(EngineConfig::new(owner, zone))
        .build()?;

    // Every event from the start of the log, as a subscriber of the HTTP API would see them.
    let mut events = provisioner
        .subscribe(Some(Topic::Provisioning), Some(0))
        .await?;
    let printer = tokio::spawn(async move {
        while let Some(Ok(event)) = events.next().await {
            if let Some((from, to)) = event.status_change() {
                let from = from.map_or("-".to_string(), |f| f.to_string());
                println!(
                    "#{:<3} {from:>12} -> {to:<12} {}",
                    event.sequence, event.reason
                );
            }
        }
    });

    let instance = provisioner
        .create(CreateInstance {
            customer_id: "customer-7".into(),
            external_ref: Some("whmcs-service-1001".into()),
            subdomain: "alice".into(),
            plan: "starter".into(),
            region: "eu-west".into(),
            ..Default::default()
        })
        .await?;
    provisioner.run_pending_jobs().await?;
    let active = provisioner.get(instance.id).await?;
    assert_eq!(active.status, InstanceStatus::Active);
    println!(
        "{} is active at {} ({:?})",
        active.id, active.fqdn, active.resources.ipv4
    );

    provisioner.suspend(instance.id).await?;
    provisioner.run_pending_jobs().await?;
    provisioner.unsuspend(instance.id).await?;
    provisioner.run_pending_jobs().await?;
    provisioner.terminate(instance.id).await?;
    provisioner.run_pending_jobs().await?;
    assert_eq!(
        provisioner.get(instance.id).await?.status,
        InstanceStatus::Terminated
    );
    assert!(compute.servers().is_empty() && dns.records().is_empty());

    // Give the printer a moment to drain, then stop it.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    printer.abort();
    Ok(())
}
