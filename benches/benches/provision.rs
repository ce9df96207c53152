//! One full provision (create → pending → provisioning → active) through the engine with the
//! in-memory adapters, against a baseline of the same adapter and store calls made directly,
//! without the engine. The difference is the engine's own overhead.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use openclaw_core::bootstrap::BootstrapKey;
use openclaw_core::domain::{
    CreateInstance, DeploymentName, Instance, InstanceId, InstanceStatus, JobKind, NewEvent, NewJob,
};
use openclaw_core::engine::{EngineConfig, Provisioner};
use openclaw_core::memory::{InMemoryCompute, InMemoryDns, InMemoryHealth, InMemoryStore};
use openclaw_core::ports::ownership::{server_labels, server_name, Ownership};
use openclaw_core::ports::{
    Compute, Dns, HealthProbe, InstanceWrite, NewInstance, RecordSpec, ServerSpec, Store,
};
use openclaw_core::SecretString;

const ZONE: &str = "bench.example.com";

fn order(n: u64) -> CreateInstance {
    CreateInstance {
        customer_id: "bench".into(),
        external_ref: None,
        subdomain: format!("b{n}"),
        plan: "starter".into(),
        region: "eu-west".into(),
        ..Default::default()
    }
}

fn provisioner() -> Provisioner {
    let owner = DeploymentName::parse("bench").unwrap();
    let compute = InMemoryCompute::new(owner.clone());
    let mut config = EngineConfig::new(owner.clone(), ZONE);
    config.bootstrap_key = Some(BootstrapKey::from_bytes([1; 32]));
    config.seed = Some(1);
    Provisioner::builder()
        .compute(Arc::new(compute.clone()))
        .dns(Arc::new(InMemoryDns::new(owner, ZONE)))
        .health(Arc::new(InMemoryHealth::following(compute)))
        .config(config)
        .build()
        .unwrap()
}

/// The provider and store calls a provision needs, made directly: the floor under the engine.
struct Baseline {
    owner: DeploymentName,
    compute: InMemoryCompute,
    dns: InMemoryDns,
    health: InMemoryHealth,
    store: InMemoryStore,
}

impl Baseline {
    async fn provision(&self, n: u64) {
        let request = order(n)
            .validate(&openclaw_core::domain::Catalog::default())
            .unwrap();
        let now = chrono::Utc::now();
        let mut instance = Instance::new(InstanceId::new(), request, ZONE, now);
        let id = instance.id;
        let event = NewEvent::status_changed(id, None, InstanceStatus::Pending, "", now);
        let job = NewJob::new(id, JobKind::Provision, now, 5);
        self.store
            .insert_instance(&NewInstance::new(&instance, &event, Some(job.clone())))
            .await
            .unwrap();
        let spec = ServerSpec {
            instance_id: id,
            name: server_name(id),
            owner: self.owner.clone(),
            server_type: "cpx22".into(),
            image: "ubuntu-24.04".into(),
            location: "fsn1".into(),
            user_data: SecretString::new("#cloud-config\n"),
            labels: server_labels(&self.owner, id),
            ssh_keys: vec![],
            firewalls: vec![],
            enable_ipv6: true,
        };
        let server = self.compute.create_server(&spec).await.unwrap();
        let records = self
            .dns
            .ensure_records(&RecordSpec {
                ownership: Ownership {
                    owner: self.owner.clone(),
                    instance: id,
                },
                name: instance.fqdn.clone(),
                ipv4: server.ipv4.unwrap(),
                ipv6: server.ipv6,
                ttl: 300,
                proxied: false,
            })
            .await
            .unwrap();
        self.health.check(&instance).await;
        for status in [InstanceStatus::Provisioning, InstanceStatus::Active] {
            let from = instance.status;
            instance.resources.server_id = Some(server.id.clone());
            instance.resources.dns_record_ids = records.iter().map(|r| r.id.clone()).collect();
            instance.status = status;
            let event = NewEvent::status_changed(id, Some(from), status, "", now);
            let (stored, _) = self
                .store
                .update_instance(&InstanceWrite {
                    event: Some(event),
                    ..InstanceWrite::new(instance.clone())
                })
                .await
                .unwrap();
            instance = stored;
        }
    }
}

fn full_provision(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("full_provision");
    let counter = AtomicU64::new(0);

    let owner = DeploymentName::parse("bench").unwrap();
    let compute = InMemoryCompute::new(owner.clone());
    let baseline = Baseline {
        dns: InMemoryDns::new(owner.clone(), ZONE),
        health: InMemoryHealth::following(compute.clone()),
        store: InMemoryStore::new(),
        compute,
        owner,
    };
    group.bench_function("adapter_calls_only_baseline", |b| {
        b.to_async(&rt).iter(|| async {
            baseline
                .provision(counter.fetch_add(1, Ordering::Relaxed))
                .await;
        });
    });

    let p = provisioner();
    group.bench_function("engine_create_to_active", |b| {
        b.to_async(&rt).iter(|| async {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let instance = p.create(order(n)).await.unwrap();
            p.run_pending_jobs().await.unwrap();
            debug_assert_eq!(
                p.get(instance.id).await.unwrap().status,
                InstanceStatus::Active
            );
        });
    });
    group.finish();
}

criterion_group!(benches, full_provision);
criterion_main!(benches, parts);

/// The pieces of a provision that are not store or adapter calls, one by one.
fn components(c: &mut Criterion) {
    let mut group = c.benchmark_group("provision_components");
    let key = BootstrapKey::from_bytes([1; 32]);
    let config = openclaw_core::CloudInitConfig::default();
    let id = InstanceId::new();
    let token = key.token_for(id, openclaw_core::domain::JobId::new());
    group.bench_function("render_user_data", |b| {
        b.iter(|| {
            openclaw_core::render_user_data(&config, id, "alice.bench.example.com", &token).unwrap()
        });
    });
    let job = openclaw_core::domain::JobId::new();
    group.bench_function("bootstrap_token_for", |b| b.iter(|| key.token_for(id, job)));
    group.bench_function("instance_id_new", |b| b.iter(InstanceId::new));
    group.finish();
}

criterion_group!(parts, components);
