//! The mockall mocks (feature `mock`) stand in for any port: here they pin down exactly which
//! provider calls a provisioning makes, in which order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use mockall::Sequence;
use openclaw_core::domain::InstanceStatus;
use openclaw_core::memory::InMemoryHealth;
use openclaw_core::ports::{DnsRecord, MockCompute, MockDns, RecordType, Server, ServerStatus};
use openclaw_core::Provisioner;

fn server(spec_name: String, labels: std::collections::BTreeMap<String, String>) -> Server {
    Server {
        id: "77".parse().unwrap(),
        name: spec_name,
        status: ServerStatus::Running,
        ipv4: Some("198.51.100.7".parse().unwrap()),
        ipv6: None,
        labels,
        created_at: None,
        server_type: None,
        disk_gb: None,
    }
}

fn dns_accepting_a_record() -> MockDns {
    let mut dns = MockDns::new();
    dns.expect_ensure_records().times(1).returning(|spec| {
        assert_eq!(spec.ipv4.to_string(), "198.51.100.7");
        Ok(vec![DnsRecord {
            id: "r1".parse().unwrap(),
            name: spec.name.clone(),
            record_type: RecordType::A,
            content: spec.ipv4.to_string(),
            ttl: spec.ttl,
            proxied: spec.proxied,
            ownership: Some(spec.ownership.clone()),
            created_at: None,
        }])
    });
    dns
}

fn provisioner(compute: MockCompute, dns: MockDns) -> Provisioner {
    Provisioner::builder()
        .compute(Arc::new(compute))
        .dns(Arc::new(dns))
        .health(Arc::new(InMemoryHealth::healthy()))
        .clock(Arc::new(openclaw_core::TokioClock::default()))
        .without_retries()
        .config(common::config())
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_first_attempt_creates_without_a_look_up() {
    let mut compute = MockCompute::new();
    compute.expect_find_server().never();
    compute.expect_create_server().times(1).returning(|spec| {
        assert!(!spec.user_data.expose().is_empty());
        Ok(server(spec.name.clone(), spec.labels.clone()))
    });
    let p = provisioner(compute, dns_accepting_a_record());
    let i = p.create(common::request("mocked")).await.unwrap();
    p.run_pending_jobs().await.unwrap();
    let active = p.get(i.id).await.unwrap();
    assert_eq!(active.status, InstanceStatus::Active);
    assert_eq!(active.resources.server_id.unwrap().as_str(), "77");
}

#[tokio::test(start_paused = true)]
async fn a_later_attempt_looks_up_first_and_adopts_without_a_create() {
    let mut compute = MockCompute::new();
    let mut order = Sequence::new();
    // The first attempt fails in a way another attempt may fix...
    compute
        .expect_create_server()
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Err(openclaw_core::Error::unavailable("hetzner", "502")));
    // ...and the second looks first, finds the server, and never creates again.
    compute
        .expect_find_server()
        .times(1)
        .in_sequence(&mut order)
        .returning(|id| {
            let owner = common::deployment();
            Ok(Some(server(
                openclaw_core::ports::ownership::server_name(id),
                openclaw_core::ports::ownership::server_labels(&owner, id),
            )))
        });
    let p = provisioner(compute, dns_accepting_a_record());
    let i = p.create(common::request("adopted")).await.unwrap();
    p.run_pending_jobs().await.unwrap();
    assert_eq!(
        p.get(i.id).await.unwrap().status,
        InstanceStatus::Provisioning
    );
    // The first retry waits at most `retry_base` (full jitter over it).
    tokio::time::sleep(p.config().workers.retry_base).await;
    p.run_pending_jobs().await.unwrap();
    assert_eq!(p.get(i.id).await.unwrap().status, InstanceStatus::Active);
}
