//! Thin wrappers that count what the providers are asked, for `/metrics`.
//!
//! - [`CountingLimiter`] wraps the rate limiter an adapter takes exactly one permit from per
//!   HTTP request: its `acquire`s are the requests sent, its `observe`s with a `Retry-After`
//!   are the provider's 429s. Counting there needs nothing from the adapters.
//! - [`CountingCompute`] and [`CountingDns`] count port calls. The deployment puts one above
//!   the retrying wrapper (calls) and one below it (attempts), so retries are the difference.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use openclaw_core::domain::{InstanceId, RecordId, ServerId};
use openclaw_core::ports::{
    Compute, Dns, DnsRecord, RateLimitObservation, RateLimiter, RecordSpec, Server, ServerSpec,
};
use openclaw_core::Result;

use crate::metrics::{Counter, ProviderStats};

/// A limiter that counts the permits it grants.
pub struct CountingLimiter {
    inner: Arc<dyn RateLimiter>,
    stats: Arc<ProviderStats>,
}

impl CountingLimiter {
    /// Counts `inner`'s grants into `stats`.
    pub fn new(inner: Arc<dyn RateLimiter>, stats: Arc<ProviderStats>) -> Self {
        CountingLimiter { inner, stats }
    }
}

/// A wait shorter than this is the limiter's own bookkeeping, not throttling.
const THROTTLED: Duration = Duration::from_millis(1);

#[async_trait]
impl RateLimiter for CountingLimiter {
    async fn acquire(&self, permits: u32) -> Result<()> {
        let started = Instant::now();
        self.inner.acquire(permits).await?;
        if started.elapsed() >= THROTTLED {
            self.stats.throttled.incr();
        }
        for _ in 0..permits {
            self.stats.record_request();
        }
        Ok(())
    }

    async fn try_acquire(&self, permits: u32) -> Result<bool> {
        let granted = self.inner.try_acquire(permits).await?;
        if granted {
            for _ in 0..permits {
                self.stats.record_request();
            }
        }
        Ok(granted)
    }

    async fn observe(&self, observation: &RateLimitObservation) -> Result<()> {
        if observation.retry_after.is_some() {
            self.stats.rate_limited.incr();
        }
        if let Some(remaining) = observation.remaining {
            self.stats.report_remaining(remaining);
        }
        self.inner.observe(observation).await
    }
}

/// A [`Compute`] that counts calls into one counter.
pub struct CountingCompute {
    inner: Arc<dyn Compute>,
    counter: Arc<ProviderStats>,
    pick: fn(&ProviderStats) -> &Counter,
}

impl CountingCompute {
    /// Counts calls to `inner` as engine calls (above the retries).
    pub fn calls(inner: Arc<dyn Compute>, stats: Arc<ProviderStats>) -> Self {
        CountingCompute {
            inner,
            counter: stats,
            pick: |s| &s.calls,
        }
    }

    /// Counts calls to `inner` as attempts (below the retries).
    pub fn attempts(inner: Arc<dyn Compute>, stats: Arc<ProviderStats>) -> Self {
        CountingCompute {
            inner,
            counter: stats,
            pick: |s| &s.attempts,
        }
    }

    fn count(&self) {
        (self.pick)(&self.counter).incr();
    }
}

#[async_trait]
impl Compute for CountingCompute {
    async fn create_server(&self, spec: &ServerSpec) -> Result<Server> {
        self.count();
        self.inner.create_server(spec).await
    }
    async fn find_server(&self, instance: InstanceId) -> Result<Option<Server>> {
        self.count();
        self.inner.find_server(instance).await
    }
    async fn get_server(&self, id: &ServerId) -> Result<Option<Server>> {
        self.count();
        self.inner.get_server(id).await
    }
    async fn delete_server(&self, id: &ServerId) -> Result<()> {
        self.count();
        self.inner.delete_server(id).await
    }
    async fn power_off(&self, id: &ServerId) -> Result<()> {
        self.count();
        self.inner.power_off(id).await
    }
    async fn power_on(&self, id: &ServerId) -> Result<()> {
        self.count();
        self.inner.power_on(id).await
    }
    async fn change_type(&self, id: &ServerId, server_type: &str) -> Result<()> {
        self.count();
        self.inner.change_type(id, server_type).await
    }
    async fn list_owned(&self) -> Result<Vec<Server>> {
        self.count();
        self.inner.list_owned().await
    }
}

/// A [`Dns`] that counts calls into one counter.
pub struct CountingDns {
    inner: Arc<dyn Dns>,
    counter: Arc<ProviderStats>,
    pick: fn(&ProviderStats) -> &Counter,
}

impl CountingDns {
    /// Counts calls to `inner` as engine calls (above the retries).
    pub fn calls(inner: Arc<dyn Dns>, stats: Arc<ProviderStats>) -> Self {
        CountingDns {
            inner,
            counter: stats,
            pick: |s| &s.calls,
        }
    }

    /// Counts calls to `inner` as attempts (below the retries).
    pub fn attempts(inner: Arc<dyn Dns>, stats: Arc<ProviderStats>) -> Self {
        CountingDns {
            inner,
            counter: stats,
            pick: |s| &s.attempts,
        }
    }

    fn count(&self) {
        (self.pick)(&self.counter).incr();
    }
}

#[async_trait]
impl Dns for CountingDns {
    async fn ensure_records(&self, spec: &RecordSpec) -> Result<Vec<DnsRecord>> {
        self.count();
        self.inner.ensure_records(spec).await
    }
    async fn find_records(&self, name: &str) -> Result<Vec<DnsRecord>> {
        self.count();
        self.inner.find_records(name).await
    }
    async fn delete_record(&self, id: &RecordId) -> Result<()> {
        self.count();
        self.inner.delete_record(id).await
    }
    async fn list_owned(&self) -> Result<Vec<DnsRecord>> {
        self.count();
        self.inner.list_owned().await
    }
}

#[cfg(test)]
mod tests {
    use openclaw_core::domain::DeploymentName;
    use openclaw_core::memory::InMemoryCompute;
    use openclaw_core::TokenBucket;

    use super::*;

    #[tokio::test]
    async fn permits_and_429s_are_counted() {
        let stats = Arc::new(ProviderStats::default());
        let limiter = CountingLimiter::new(Arc::new(TokenBucket::hetzner()), stats.clone());
        limiter.acquire(1).await.unwrap();
        assert!(limiter.try_acquire(2).await.unwrap());
        limiter
            .observe(&RateLimitObservation {
                retry_after: Some(Duration::from_millis(1)),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(stats.requests.get(), 3);
        assert_eq!(stats.requests_window.last_minute(), 3);
        assert_eq!(stats.rate_limited.get(), 1);
    }

    #[tokio::test]
    async fn calls_and_attempts_go_to_their_counters() {
        let stats = Arc::new(ProviderStats::default());
        let inner: Arc<dyn Compute> = Arc::new(InMemoryCompute::new(DeploymentName::default()));
        let attempts = Arc::new(CountingCompute::attempts(inner, stats.clone()));
        let calls = CountingCompute::calls(attempts, stats.clone());
        calls.list_owned().await.unwrap();
        assert_eq!((stats.calls.get(), stats.attempts.get()), (1, 1));
    }
}
