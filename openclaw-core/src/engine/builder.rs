//! Assembling a [`Provisioner`] from its ports.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use object_store::memory::InMemory;
use object_store::ObjectStore;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::Notify;

use super::config::EngineConfig;
use super::context::Engine;
use super::fenced::{FencedCompute, FencedDns};
use super::metrics::EngineMetrics;
use super::provisioner::Provisioner;
use crate::bootstrap::BootstrapKey;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::guarded::{GuardedCompute, GuardedDns};
use crate::instance_secrets::SealingKey;
use crate::memory::{InMemoryStore, LocalBus};
use crate::ports::{AgentStore, Compute, Dns, EventBus, HealthProbe, Store};
use crate::retry::{Retrier, RetryBudget, RetryPolicy};
use crate::sealing_keyring::SealingKeyring;

/// Builds a [`Provisioner`]. Compute, DNS and the health probe are required; everything else
/// has a default: an in-memory store, a local bus over it, an in-memory backup store, the
/// system clock, the default [`EngineConfig`], and the default [`RetryPolicy`] in front of
/// each provider.
#[derive(Default)]
pub struct ProvisionerBuilder {
    compute: Option<Arc<dyn Compute>>,
    dns: Option<Arc<dyn Dns>>,
    health: Option<Arc<dyn HealthProbe>>,
    store: Option<Arc<dyn Store>>,
    agents: Option<Arc<dyn AgentStore>>,
    backups: Option<Arc<dyn ObjectStore>>,
    bus: Option<Arc<dyn EventBus>>,
    clock: Option<Arc<dyn Clock>>,
    config: Option<EngineConfig>,
    retry: Option<Option<RetryPolicy>>,
}

impl ProvisionerBuilder {
    /// The compute provider (required).
    pub fn compute(mut self, compute: Arc<dyn Compute>) -> Self {
        self.compute = Some(compute);
        self
    }

    /// The DNS provider (required).
    pub fn dns(mut self, dns: Arc<dyn Dns>) -> Self {
        self.dns = Some(dns);
        self
    }

    /// The health probe (required).
    pub fn health(mut self, health: Arc<dyn HealthProbe>) -> Self {
        self.health = Some(health);
        self
    }

    /// Where backups of the instances' OpenClaw state are kept: any [`ObjectStore`] — a
    /// `LocalFileSystem` directory, an S3-compatible bucket, … (default: in memory, gone
    /// with the process). The engine writes under `instances/<instance id>/` only; give it
    /// a bucket or prefix of its own.
    pub fn backup_store(mut self, backups: Arc<dyn ObjectStore>) -> Self {
        self.backups = Some(backups);
        self
    }

    /// The durable store (default: a fresh [`InMemoryStore`]).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Where the instance agents' tasks and heartbeats are kept: the same database as the
    /// store, in a deployment (default: the default in-memory store when no store is given
    /// either, else an in-memory store of its own, which only suits a single process).
    pub fn agents(mut self, agents: Arc<dyn AgentStore>) -> Self {
        self.agents = Some(agents);
        self
    }

    /// The event bus (default: a [`LocalBus`] over the store).
    pub fn bus(mut self, bus: Arc<dyn EventBus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// The clock (default: [`SystemClock`]; tests use [`TokioClock`](crate::TokioClock)).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The configuration (default: [`EngineConfig::default`]).
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// The retry policy put in front of compute and DNS (each with its own retry budget).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(Some(policy));
        self
    }

    /// Uses compute and DNS as given, without retries in front (for adapters that retry
    /// themselves, and for tests that count every call).
    pub fn without_retries(mut self) -> Self {
        self.retry = Some(None);
        self
    }

    /// Checks the configuration and assembles the provisioner.
    pub fn build(self) -> Result<Provisioner> {
        let missing = |port: &str| Error::invalid(port, "is required; pass it to the builder");
        // Innermost, under the retries: every attempt of a side effect needs the job's lease.
        let mut compute: Arc<dyn Compute> = Arc::new(FencedCompute(
            self.compute.ok_or_else(|| missing("compute"))?,
        ));
        let mut dns: Arc<dyn Dns> = Arc::new(FencedDns(self.dns.ok_or_else(|| missing("dns"))?));
        let health = self.health.ok_or_else(|| missing("health"))?;
        let config = self.config.unwrap_or_default();
        config.validate()?;
        let seed = config.seed;
        if let Some(policy) = self.retry.unwrap_or_else(|| Some(RetryPolicy::default())) {
            let retrier = |provider: &str, salt: u64| {
                let r = Retrier::new(provider, policy.clone(), Arc::new(RetryBudget::default()));
                match seed {
                    Some(seed) => r.with_seed(seed ^ salt),
                    None => r,
                }
            };
            compute = Arc::new(GuardedCompute::new(compute, retrier("compute", 1)));
            dns = Arc::new(GuardedDns::new(dns, retrier("dns", 2)));
        }
        let (store, agents): (Arc<dyn Store>, Arc<dyn AgentStore>) = match (self.store, self.agents)
        {
            (Some(store), Some(agents)) => (store, agents),
            (Some(store), None) => (store, Arc::new(InMemoryStore::new())),
            (None, Some(agents)) => (Arc::new(InMemoryStore::new()), agents),
            (None, None) => {
                let memory = InMemoryStore::new();
                (Arc::new(memory.clone()), Arc::new(memory))
            }
        };
        let bus = self
            .bus
            .unwrap_or_else(|| Arc::new(LocalBus::new(store.clone())));
        let bootstrap_key = match &config.bootstrap_key {
            Some(key) => key.clone(),
            None => {
                tracing::warn!("no bootstrap key configured; using a random one, so bootstrap tokens will not verify after a restart");
                BootstrapKey::random()
            }
        };
        let secrets_key = match &config.secrets_key {
            Some(key) => key.clone(),
            None => {
                tracing::warn!("no secrets key configured; using a random one, so stored instance secrets will not open after a restart");
                SealingKey::random()
            }
        };
        let secrets_key =
            SealingKeyring::new(secrets_key).with_retired(config.retired_secrets_keys.clone());
        let rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Ok(Provisioner {
            engine: Arc::new(Engine {
                store,
                bus,
                compute,
                dns,
                health,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                config,
                bootstrap_key,
                secrets_key,
                wake: Notify::new(),
                rng: Mutex::new(rng),
                metrics: EngineMetrics::default(),
                workers_running: AtomicBool::new(false),
                agents,
                backups: self.backups.unwrap_or_else(|| Arc::new(InMemory::new())),
                agent_wakers: Default::default(),
                agent_watch: Default::default(),
            }),
        })
    }
}
