//! A health probe without a network: healthy on demand, scripted per instance, or following
//! the in-memory compute provider's power state.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::compute::InMemoryCompute;
use crate::domain::{Instance, InstanceId};
use crate::ports::ownership::LABEL_INSTANCE;
use crate::ports::{Health, HealthProbe, ServerStatus};

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

    fn server_running(compute: &InMemoryCompute, instance: InstanceId) -> bool {
        let label = instance.to_string();
        compute.servers().iter().any(|s| {
            s.labels.get(LABEL_INSTANCE) == Some(&label) && s.status == ServerStatus::Running
        })
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
            Some(compute) if !Self::server_running(compute, instance.id) => Health::Starting,
            _ => default,
        }
    }
}
