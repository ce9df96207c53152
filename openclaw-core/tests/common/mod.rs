//! A provisioner wired to the in-memory adapters, on tokio's paused clock.
#![allow(dead_code)]

pub(crate) mod stall;

use std::sync::Arc;
use std::time::Duration;

use openclaw_core::bootstrap::BootstrapKey;
use openclaw_core::domain::{
    CreateInstance, DeploymentName, Event, EventKind, Instance, InstanceId, InstanceStatus,
};
use openclaw_core::engine::{EngineConfig, Provisioner, ProvisionerBuilder};
use openclaw_core::memory::{InMemoryCompute, InMemoryDns, InMemoryHealth, InMemoryStore};
use openclaw_core::ports::Store;
use openclaw_core::retry::RetryPolicy;
use openclaw_core::TokioClock;

pub(crate) const ZONE: &str = "claw.example.com";

pub(crate) struct Harness {
    pub(crate) provisioner: Provisioner,
    pub(crate) compute: InMemoryCompute,
    pub(crate) dns: InMemoryDns,
    pub(crate) health: InMemoryHealth,
    pub(crate) store: InMemoryStore,
}

pub(crate) fn deployment() -> DeploymentName {
    DeploymentName::parse("test-deploy").unwrap()
}

/// The configuration the tests use: fixed seed, fixed bootstrap key, short health interval.
pub(crate) fn config() -> EngineConfig {
    let mut config = EngineConfig::new(deployment(), ZONE);
    config.bootstrap_key = Some(BootstrapKey::from_bytes([42; 32]));
    config.seed = Some(7);
    config.health.interval = Duration::from_secs(5);
    // Tests plant orphans and sweep at once.
    config.sweep.grace = Duration::ZERO;
    config
}

/// A fast retry policy so paused-clock tests do not wander far in time.
pub(crate) fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
        deadline: Duration::from_secs(20),
        max_retry_after: Duration::from_secs(60),
    }
}

impl Harness {
    pub(crate) fn new() -> Self {
        Self::with(|c| c, |b| b)
    }

    /// Builds with the config and builder adjusted by the caller.
    pub(crate) fn with(
        adjust_config: impl FnOnce(EngineConfig) -> EngineConfig,
        adjust_builder: impl FnOnce(ProvisionerBuilder) -> ProvisionerBuilder,
    ) -> Self {
        // One clock for the engine, the store (lease expiry) and the providers (creation
        // times), all on tokio's paused time.
        let clock: Arc<TokioClock> = Arc::new(TokioClock::default());
        let compute = InMemoryCompute::new(deployment()).with_clock(clock.clone());
        let dns = InMemoryDns::new(deployment(), ZONE).with_clock(clock.clone());
        let health = InMemoryHealth::following(compute.clone());
        let store = InMemoryStore::with_clock(clock.clone());
        let builder = Provisioner::builder()
            .compute(Arc::new(compute.clone()))
            .dns(Arc::new(dns.clone()))
            .health(Arc::new(health.clone()))
            .store(Arc::new(store.clone()))
            .agents(Arc::new(store.clone()))
            .clock(clock)
            .retry_policy(fast_retries())
            .config(adjust_config(config()));
        let provisioner = adjust_builder(builder).build().unwrap();
        Harness {
            provisioner,
            compute,
            dns,
            health,
            store,
        }
    }

    pub(crate) async fn create(&self, subdomain: &str) -> Instance {
        self.provisioner.create(request(subdomain)).await.unwrap()
    }

    /// Runs jobs until the queue has nothing left, advancing the paused clock past retry
    /// backoffs. Panics if work is still queued after `rounds` rounds.
    pub(crate) async fn settle(&self) {
        for _ in 0..200 {
            self.provisioner.run_pending_jobs().await.unwrap();
            let pending = self
                .store
                .list_jobs(&Default::default())
                .await
                .unwrap()
                .into_iter()
                .any(|j| {
                    matches!(
                        j.state,
                        openclaw_core::domain::JobState::Queued
                            | openclaw_core::domain::JobState::Running
                    )
                });
            if !pending {
                return;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        panic!("jobs did not settle");
    }

    /// The bootstrap token in the user data of `id`'s server: bound to its newest provisioning
    /// job.
    #[allow(dead_code)]
    pub(crate) async fn bootstrap_token(&self, id: InstanceId) -> openclaw_core::SecretString {
        self.provisioner.bootstrap_token(id).await.unwrap()
    }

    /// A new instance, provisioned: it is active when this returns.
    #[allow(dead_code)] // Not every test file uses every helper.
    pub(crate) async fn active(&self, subdomain: &str) -> InstanceId {
        let i = self.create(subdomain).await;
        self.settle().await;
        assert_eq!(self.status(i.id).await, InstanceStatus::Active);
        i.id
    }

    /// The audit events of an instance, oldest first: (action, actor, reason).
    #[allow(dead_code)]
    pub(crate) async fn audits(&self, id: InstanceId) -> Vec<(String, String, String)> {
        self.provisioner
            .events(id)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.topic == openclaw_core::domain::Topic::Audit)
            .filter_map(|e| match e.kind {
                openclaw_core::domain::EventKind::Audit { action, actor } => {
                    Some((action, actor, e.reason))
                }
                _ => None,
            })
            .collect()
    }

    pub(crate) async fn status(&self, id: InstanceId) -> InstanceStatus {
        self.provisioner.get(id).await.unwrap().status
    }

    /// The status changes of one instance, as (from, to) pairs.
    pub(crate) async fn transitions(
        &self,
        id: InstanceId,
    ) -> Vec<(Option<InstanceStatus>, InstanceStatus)> {
        self.provisioner
            .events(id)
            .await
            .unwrap()
            .iter()
            .filter_map(Event::status_change)
            .collect()
    }

    /// Alert codes raised for one instance.
    pub(crate) async fn alerts(&self, id: InstanceId) -> Vec<String> {
        self.provisioner
            .events(id)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::Alert { code } => Some(code),
                _ => None,
            })
            .collect()
    }
}

pub(crate) fn request(subdomain: &str) -> CreateInstance {
    CreateInstance {
        customer_id: "customer-1".into(),
        external_ref: None,
        subdomain: subdomain.into(),
        plan: "starter".into(),
        region: "eu-west".into(),
        ..Default::default()
    }
}
