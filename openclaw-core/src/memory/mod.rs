//! In-memory adapters of every port, always compiled: the engine's tests, the chaos test,
//! the benchmarks and the documentation examples run on them, and the
//! [`conformance`](crate::conformance) suites hold them to the same contracts as the real
//! adapters.
//!
//! The compute and DNS providers keep Hetzner's and Cloudflare's rules that matter to the
//! engine (unique server names, ownership labels and marks, conflicts) and take injected
//! faults ([`FaultInjector`]): a call that fails before any effect, a call whose response is
//! lost after its effect, latency, and seeded random faults.

mod agent;
mod bus;
mod compute;
mod dns;
mod faults;
mod health;
mod store;

pub use agent::{InProcessAgent, SimulatedMachine, MISSING_VERSION};
pub use bus::LocalBus;
pub use compute::InMemoryCompute;
pub use dns::InMemoryDns;
pub use faults::{Fault, FaultInjector, RandomFaults};
pub use health::InMemoryHealth;
pub use store::InMemoryStore;
