//! Fixtures: a fake with a zone, adapters on it, specs of records.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use openclaw_cloudflare::fake::{FakeCloudflare, FakeOptions};
use openclaw_cloudflare::{CloudflareConfig, CloudflareDns};
use openclaw_core::domain::{DeploymentName, InstanceId};
use openclaw_core::ports::ownership::Ownership;
use openclaw_core::ports::{RateLimiter, RecordSpec};
use openclaw_core::{SecretString, TokenBucket};

pub(crate) const ZONE: &str = "claw.example.com";
pub(crate) const TOKEN: &str = "test-token-0123456789";

pub(crate) fn deployment(name: &str) -> DeploymentName {
    DeploymentName::parse(name).unwrap()
}

/// A fake with one zone; it accepts only [`TOKEN`].
pub(crate) struct Env {
    pub(crate) fake: FakeCloudflare,
    pub(crate) zone_id: String,
    pub(crate) limiter: Arc<dyn RateLimiter>,
}

impl Env {
    pub(crate) async fn start() -> Env {
        Self::start_with(FakeOptions {
            token: Some(TOKEN.to_string()),
            ..FakeOptions::default()
        })
        .await
    }

    pub(crate) async fn start_with(options: FakeOptions) -> Env {
        let fake = FakeCloudflare::start_with(options).await.unwrap();
        let zone_id = fake.create_zone(ZONE);
        Env {
            fake,
            zone_id,
            limiter: Arc::new(TokenBucket::cloudflare()),
        }
    }

    pub(crate) fn config(&self, owner: &str) -> CloudflareConfig {
        CloudflareConfig::new(&self.zone_id, ZONE, deployment(owner))
            .with_api_token(SecretString::new(TOKEN))
            .with_base_url(self.fake.base_url())
            .with_timeouts(Duration::from_secs(5), Duration::from_secs(10))
    }

    /// An adapter for `owner`, sharing the env's limiter.
    pub(crate) fn adapter(&self, owner: &str) -> CloudflareDns {
        CloudflareDns::new(self.config(owner), Arc::clone(&self.limiter)).unwrap()
    }

    pub(crate) fn adapter_with(&self, config: CloudflareConfig) -> CloudflareDns {
        CloudflareDns::new(config, Arc::clone(&self.limiter)).unwrap()
    }
}

/// A spec for a new instance of `owner` at `label.<zone>`.
pub(crate) fn spec(owner: &str, label: &str, ipv6: bool) -> RecordSpec {
    RecordSpec {
        ownership: Ownership {
            owner: deployment(owner),
            instance: InstanceId::new(),
        },
        name: format!("{label}.{ZONE}"),
        ipv4: Ipv4Addr::new(192, 0, 2, 10),
        ipv6: ipv6.then(|| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10)),
        ttl: 300,
        proxied: false,
    }
}
