//! Retries (and optionally a rate limiter) in front of any [`Compute`] or [`Dns`].
//!
//! [`GuardedCompute`] and [`GuardedDns`] implement the same port they wrap, so the engine
//! does not know whether it talks to a bare adapter or a guarded one.
//!
//! # With or without a limiter
//! A limiter given with `with_limiter` is charged one permit per call of the wrapped port
//! (and per look-up), before the call. That is right for an adapter that makes one HTTP
//! request per call, such as the in-memory adapters or a test double. The HTTP adapters
//! (Hetzner, Cloudflare) make several requests in some calls (a look-up before a create,
//! pagination) and limit every request themselves, correcting their limiter from the
//! response headers; wrap them *without* a limiter, or every request would be paid twice.
//!
//! When a call fails with `RateLimited` and a `Retry-After`, the wrapper tells its limiter
//! (if it has one), so that every caller sharing it pauses, not only the one that was refused.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{InstanceId, RecordId, ServerId};
use crate::error::{Error, Result};
use crate::ports::{
    Compute, Dns, DnsRecord, RateLimitObservation, RateLimiter, RecordSpec, Server, ServerSpec,
};
use crate::retry::Retrier;

/// The shared part of both wrappers: the retrier and the optional limiter.
#[derive(Clone)]
struct Guard {
    retrier: Retrier,
    limiter: Option<Arc<dyn RateLimiter>>,
}

impl Guard {
    /// Takes a permit, makes the call, and passes a provider's `Retry-After` to the limiter.
    async fn call<T, Fut>(&self, call: Fut) -> Result<T>
    where
        Fut: std::future::Future<Output = Result<T>>,
    {
        if let Some(limiter) = &self.limiter {
            limiter.acquire(1).await?;
        }
        let result = call.await;
        if let (
            Some(limiter),
            Err(Error::RateLimited {
                retry_after: Some(retry_after),
                ..
            }),
        ) = (&self.limiter, &result)
        {
            let observation = RateLimitObservation {
                retry_after: Some(*retry_after),
                ..RateLimitObservation::default()
            };
            // Only a hint to other callers: if the limiter cannot take it, the retry policy
            // still waits the Retry-After for this one.
            if let Err(error) = limiter.observe(&observation).await {
                tracing::debug!(error = %error, "limiter did not take a Retry-After");
            }
        }
        result
    }

    /// An idempotent call, retried under the retrier, each attempt through [`Guard::call`].
    async fn run<T, F, Fut>(&self, operation: &str, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.retrier.run(operation, || self.call(attempt())).await
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("retrier", &self.retrier)
            .field("limiter", &self.limiter.is_some())
            .finish()
    }
}

/// A [`Compute`] that retries the calls of another under a [`Retrier`], optionally taking a
/// limiter permit before every call (see the [module docs](self) for when to give one).
///
/// `create_server` uses [`Retrier::run_with_lookup`]: after an ambiguous failure it looks the
/// server up with `find_server` (accepting only a server named `spec.name`) before creating
/// again, so an instance never gets two servers. Every other call is idempotent by the port's
/// contract and uses [`Retrier::run`].
pub struct GuardedCompute {
    inner: Arc<dyn Compute>,
    guard: Guard,
}

impl fmt::Debug for GuardedCompute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedCompute")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl GuardedCompute {
    /// Wraps `inner`, retrying under `retrier`, without a limiter.
    pub fn new(inner: Arc<dyn Compute>, retrier: Retrier) -> Self {
        GuardedCompute {
            inner,
            guard: Guard {
                retrier,
                limiter: None,
            },
        }
    }

    /// The same wrapper taking one permit from `limiter` before every call and look-up.
    #[must_use]
    pub fn with_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.guard.limiter = Some(limiter);
        self
    }
}

#[async_trait]
impl Compute for GuardedCompute {
    async fn create_server(&self, spec: &ServerSpec) -> Result<Server> {
        let (inner, guard) = (&self.inner, &self.guard);
        guard
            .retrier
            .run_with_lookup(
                "create_server",
                || guard.call(inner.create_server(spec)),
                || async {
                    let found = guard.call(inner.find_server(spec.instance_id)).await?;
                    // A server labelled for the instance under another name is not the one
                    // this create made.
                    Ok(found.filter(|server| server.name == spec.name))
                },
            )
            .await
    }

    async fn find_server(&self, instance: InstanceId) -> Result<Option<Server>> {
        self.guard
            .run("find_server", || self.inner.find_server(instance))
            .await
    }

    async fn get_server(&self, id: &ServerId) -> Result<Option<Server>> {
        self.guard
            .run("get_server", || self.inner.get_server(id))
            .await
    }

    async fn delete_server(&self, id: &ServerId) -> Result<()> {
        self.guard
            .run("delete_server", || self.inner.delete_server(id))
            .await
    }

    async fn power_off(&self, id: &ServerId) -> Result<()> {
        self.guard
            .run("power_off", || self.inner.power_off(id))
            .await
    }

    async fn power_on(&self, id: &ServerId) -> Result<()> {
        self.guard.run("power_on", || self.inner.power_on(id)).await
    }

    async fn change_type(&self, id: &ServerId, server_type: &str) -> Result<()> {
        self.guard
            .run("change_type", || self.inner.change_type(id, server_type))
            .await
    }

    async fn list_owned(&self) -> Result<Vec<Server>> {
        self.guard
            .run("list_owned_servers", || self.inner.list_owned())
            .await
    }
}

/// A [`Dns`] that retries the calls of another under a [`Retrier`], optionally taking a
/// limiter permit before every call (see the [module docs](self) for when to give one).
///
/// Every call uses [`Retrier::run`]: `ensure_records` is idempotent by the port's contract
/// (it adopts a record it made before), so repeating it after an ambiguous failure is safe.
pub struct GuardedDns {
    inner: Arc<dyn Dns>,
    guard: Guard,
}

impl fmt::Debug for GuardedDns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedDns")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl GuardedDns {
    /// Wraps `inner`, retrying under `retrier`, without a limiter.
    pub fn new(inner: Arc<dyn Dns>, retrier: Retrier) -> Self {
        GuardedDns {
            inner,
            guard: Guard {
                retrier,
                limiter: None,
            },
        }
    }

    /// The same wrapper taking one permit from `limiter` before every call.
    #[must_use]
    pub fn with_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.guard.limiter = Some(limiter);
        self
    }
}

#[async_trait]
impl Dns for GuardedDns {
    async fn ensure_records(&self, spec: &RecordSpec) -> Result<Vec<DnsRecord>> {
        self.guard
            .run("ensure_records", || self.inner.ensure_records(spec))
            .await
    }

    async fn find_records(&self, name: &str) -> Result<Vec<DnsRecord>> {
        self.guard
            .run("find_records", || self.inner.find_records(name))
            .await
    }

    async fn delete_record(&self, id: &RecordId) -> Result<()> {
        self.guard
            .run("delete_record", || self.inner.delete_record(id))
            .await
    }

    async fn list_owned(&self) -> Result<Vec<DnsRecord>> {
        self.guard
            .run("list_owned_records", || self.inner.list_owned())
            .await
    }
}
