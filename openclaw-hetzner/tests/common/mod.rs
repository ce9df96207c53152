//! Helpers shared by the integration tests: a fake, adapters on it, and server specs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use openclaw_core::domain::{DeploymentName, InstanceId};
use openclaw_core::ports::ownership::{server_labels, server_name};
use openclaw_core::ports::{RateLimiter, ServerSpec};
use openclaw_core::SecretString;
use openclaw_hetzner::fake::FakeHetzner;
use openclaw_hetzner::{HetznerCompute, HetznerConfig};

pub(crate) fn owner(name: &str) -> DeploymentName {
    DeploymentName::parse(name).unwrap()
}

/// A config pointing at `fake`, with short timings so tests stay quick.
pub(crate) fn config(fake: &FakeHetzner, deployment: &str) -> HetznerConfig {
    HetznerConfig::new(SecretString::new(FakeHetzner::TOKEN), owner(deployment))
        .with_endpoint(fake.base_url())
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(5))
        .with_poll_interval(Duration::from_millis(50))
        .with_action_timeout(Duration::from_secs(10))
}

pub(crate) fn adapter(fake: &FakeHetzner, deployment: &str) -> HetznerCompute {
    HetznerCompute::new(config(fake, deployment)).unwrap()
}

pub(crate) fn adapter_with(config: HetznerConfig, limiter: Arc<dyn RateLimiter>) -> HetznerCompute {
    HetznerCompute::builder(config)
        .limiter(limiter)
        .build()
        .unwrap()
}

/// A spec as the engine builds it.
pub(crate) fn spec(deployment: &str, instance: InstanceId) -> ServerSpec {
    ServerSpec {
        instance_id: instance,
        name: server_name(instance),
        owner: owner(deployment),
        server_type: "cpx22".into(),
        image: "ubuntu-24.04".into(),
        location: "fsn1".into(),
        user_data: SecretString::new("#cloud-config\nruncmd:\n- [touch, /root/ok]\n"),
        labels: server_labels(&owner(deployment), instance),
        ssh_keys: vec!["admin-key".into()],
        firewalls: vec!["38".into()],
        enable_ipv6: true,
    }
}
