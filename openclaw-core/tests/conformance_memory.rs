//! The in-memory adapters against every conformance suite: one test per check (from the
//! suite macros), the DNS check that needs a hand-made record, and each `run_all` once.

// Fixture helpers outside `#[test]` functions; a bad constant name should fail loudly.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use openclaw_core::conformance::{compute::ComputeFixture, dns::DnsFixture};
use openclaw_core::domain::DeploymentName;
use openclaw_core::ports::{EventBus, Store};
use openclaw_core::{InMemoryCompute, InMemoryDns, InMemoryStore, LocalBus};

const ZONE: &str = "claw.example.com";

fn deployment(name: &str) -> DeploymentName {
    DeploymentName::parse(name).unwrap()
}

async fn fresh_store() -> Arc<dyn Store> {
    Arc::new(InMemoryStore::new())
}

async fn compute_fixture() -> ComputeFixture {
    let ours = InMemoryCompute::new(deployment("prod"));
    // Deletions linger as at Hetzner, long enough for the deleting check to see the window.
    let deleting_for = Duration::from_millis(300);
    ours.set_deleting_for(deleting_for);
    let theirs = ours.for_owner(deployment("staging"));
    ComputeFixture {
        ours: Arc::new(ours),
        owner: deployment("prod"),
        theirs: Arc::new(theirs),
        their_owner: deployment("staging"),
        deleting_for,
    }
}

fn dns_pair() -> (InMemoryDns, InMemoryDns) {
    let ours = InMemoryDns::new(deployment("prod"), ZONE);
    let theirs = ours.for_owner(deployment("staging"));
    (ours, theirs)
}

fn dns_fixture_of(ours: InMemoryDns, theirs: InMemoryDns) -> DnsFixture {
    DnsFixture {
        ours: Arc::new(ours),
        owner: deployment("prod"),
        theirs: Arc::new(theirs),
        their_owner: deployment("staging"),
        zone: ZONE.to_string(),
    }
}

async fn dns_fixture() -> DnsFixture {
    let (ours, theirs) = dns_pair();
    dns_fixture_of(ours, theirs)
}

async fn bus_fixture() -> (Arc<dyn Store>, Arc<dyn EventBus>) {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
    // A short idle poll keeps the lost-publish check fast.
    let bus = LocalBus::new(Arc::clone(&store)).with_idle_poll(Duration::from_millis(50));
    (store, Arc::new(bus))
}

openclaw_core::store_conformance_tests!(fresh_store);
openclaw_core::compute_conformance_tests!(compute_fixture);
openclaw_core::dns_conformance_tests!(dns_fixture);
openclaw_core::bus_conformance_tests!(bus_fixture);

#[tokio::test]
async fn dns_unmarked_record_conflicts() {
    let (ours, theirs) = dns_pair();
    let zone = ours.clone();
    let fixture = dns_fixture_of(ours, theirs);
    openclaw_core::conformance::dns::unmarked_record_conflicts(
        &fixture,
        |name, record_type, content| async move {
            zone.insert_unmarked(&name, record_type, &content)
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_suite_runs_whole_on_shared_adapters() {
    openclaw_core::conformance::store::run_all(fresh_store).await;
    openclaw_core::conformance::compute::run_all(&compute_fixture().await).await;
    openclaw_core::conformance::dns::run_all(&dns_fixture().await).await;
    let (store, bus) = bus_fixture().await;
    openclaw_core::conformance::bus::run_all(store, bus).await;
}

async fn fresh_key_store() -> Arc<dyn openclaw_core::ports::ApiKeyStore> {
    Arc::new(InMemoryStore::new())
}

openclaw_core::api_key_conformance_tests!(fresh_key_store);

async fn fresh_facts() -> Arc<dyn openclaw_core::ports::DeploymentFacts> {
    Arc::new(InMemoryStore::new())
}

openclaw_core::deployment_facts_conformance_tests!(fresh_facts);

async fn fresh_agent_store() -> Arc<dyn openclaw_core::ports::AgentStore> {
    Arc::new(InMemoryStore::new())
}

openclaw_core::agent_store_conformance_tests!(fresh_agent_store);

/// A [`TokenBucket`](openclaw_core::TokenBucket) for the rate limiter suite.
fn token_bucket(
    capacity: u32,
    per_second: f64,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Arc<dyn openclaw_core::ports::RateLimiter>> + Send>,
> {
    Box::pin(async move {
        let bucket: Arc<dyn openclaw_core::ports::RateLimiter> =
            Arc::new(openclaw_core::TokenBucket::new(capacity, per_second).unwrap());
        bucket
    })
}

openclaw_core::rate_limiter_conformance_tests!(token_bucket);
