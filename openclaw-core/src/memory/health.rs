//! A health probe without a network: healthy on demand, scripted per instance, or following
//! the in-memory compute provider's power state.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::compute::InMemoryCompute;
use crate::domain::{Instance, InstanceId};
use crate::ports::{Health, HealthProbe};

/// A [`HealthProbe`] for tests. Clones share scripts and counters.
///
/// A check returns, in this order of precedence: the next scripted result of the instance;
/// when following a compute provider, `Starting` unless the instance's server is running;
/// otherwise the default (`Healthy` unless [`set_default`](Self::set_default) changed it).
#[derive(Debug, Clone)]
pub struct InMemoryHealth {
    compute: Option<InMemoryCompute>,
    state: Arc<Mutex<ProbeState>>,
}

#[derive(Debug)]
struct ProbeState {
    scripts: HashMap<InstanceId, VecDeque<Health>>,
    default: Health,
    checks: HashMap<InstanceId, u64>,
}

impl InMemoryHealth {
    /// A probe that finds every instance healthy unless scripted.
    pub fn healthy() -> Self {
        InMemoryHealth {
            compute: None,
            state: Arc::new(Mutex::new(ProbeState {
                scripts: HashMap::new(),
                default: Health::Healthy,
                checks: HashMap::new(),
            })),
        }
    }

    /// A probe that finds an instance healthy when its server (found by its instance label)
    /// is running at `compute`, and `Starting` otherwise: powered off, or not there (yet).
    /// It reads the provider's state directly, so checks cost no provider calls and meet no
    /// injected faults, like a probe that talks to the VPS itself.
    pub fn following(compute: InMemoryCompute) -> Self {
        InMemoryHealth {
            compute: Some(compute),
            ..Self::healthy()
        }
    }

    /// The next checks of `instance` return `results`, in order (after any scripted before).
    pub fn script(&self, instance: InstanceId, results: Vec<Health>) {
        self.lock()
            .scripts
            .entry(instance)
            .or_default()
            .extend(results);
    }

    /// What unscripted checks of a reachable instance return.
    pub fn set_default(&self, health: Health) {
        self.lock().default = health;
    }

    /// How many checks of `instance` were made.
    pub fn checks(&self, instance: InstanceId) -> u64 {
        self.lock().checks.get(&instance).copied().unwrap_or(0)
    }

    fn lock(&self) -> MutexGuard<'_, ProbeState> {
        // Every update is a single step; a poisoned probe is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl HealthProbe for InMemoryHealth {
    async fn check(&self, instance: &Instance) -> Health {
        let (scripted, default) = {
            let mut state = self.lock();
            *state.checks.entry(instance.id).or_default() += 1;
            let scripted = state
                .scripts
                .get_mut(&instance.id)
                .and_then(VecDeque::pop_front);
            (scripted, state.default.clone())
        };
        if let Some(health) = scripted {
            return health;
        }
        match &self.compute {
            Some(compute) if !compute.instance_running(instance.id) => Health::Starting,
            _ => default,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::{CustomerId, DeploymentName, PlanName, RegionName, Subdomain, ValidCreate};
    use crate::ports::ownership::{server_labels, server_name};
    use crate::ports::{Compute, ServerSpec};
    use crate::SecretString;

    fn instance() -> Instance {
        let request = ValidCreate {
            customer_id: CustomerId::parse("c-1").unwrap(),
            external_ref: None,
            subdomain: Subdomain::parse("alice").unwrap(),
            plan: PlanName::new("starter"),
            region: RegionName::new("eu-west"),
        };
        Instance::new(InstanceId::new(), request, "claw.example", Utc::now())
    }

    #[tokio::test]
    async fn scripts_come_first_then_the_default() {
        let probe = InMemoryHealth::healthy();
        let i = instance();
        let broken = Health::Unhealthy {
            reason: "tls".into(),
        };
        probe.script(i.id, vec![Health::Starting, broken.clone()]);
        assert_eq!(probe.check(&i).await, Health::Starting);
        assert_eq!(probe.check(&i).await, broken);
        assert_eq!(probe.check(&i).await, Health::Healthy);
        probe.set_default(broken.clone());
        assert_eq!(probe.clone().check(&i).await, broken);
        assert_eq!(probe.checks(i.id), 4);
        assert_eq!(probe.checks(InstanceId::new()), 0);
    }

    #[tokio::test]
    async fn following_compute_is_healthy_only_while_the_server_runs() {
        let owner = DeploymentName::parse("prod").unwrap();
        let compute = InMemoryCompute::new(owner.clone());
        let probe = InMemoryHealth::following(compute.clone());
        let i = instance();
        assert_eq!(probe.check(&i).await, Health::Starting, "no server yet");
        let server = compute
            .create_server(&ServerSpec {
                instance_id: i.id,
                name: server_name(i.id),
                owner: owner.clone(),
                server_type: "cpx22".into(),
                image: "ubuntu-24.04".into(),
                location: "fsn1".into(),
                user_data: SecretString::new(""),
                labels: server_labels(&owner, i.id),
                ssh_keys: Vec::new(),
                firewalls: Vec::new(),
                enable_ipv6: false,
            })
            .await
            .unwrap();
        let calls = compute.faults().total_calls();
        assert_eq!(probe.check(&i).await, Health::Healthy);
        compute.power_off(&server.id).await.unwrap();
        assert_eq!(probe.check(&i).await, Health::Starting);
        assert_eq!(
            compute.faults().total_calls(),
            calls + 1,
            "checks cost no provider calls"
        );
    }
}
