//! A fake Hetzner Cloud API on `127.0.0.1`, for tests (here and in other crates) and for
//! the binary's sandbox mode.
//!
//! It serves the endpoints openclaw uses (and those Hetzner's Python client needs for the
//! same flow) with the spec's response shapes: `GET/POST /servers` (with `name`,
//! `label_selector`, `status` and pagination), `GET/DELETE /servers/{id}`,
//! `POST /servers/{id}/actions/poweroff|poweron|change_type`, `GET /actions?id=…` and
//! `GET /actions/{id}`. A type change needs the server off, and refuses a type it does not
//! know or whose disk is smaller than the server's (`invalid_server_type`); without
//! `upgrade_disk` the disk stays as it is. Duplicate names are refused with `uniqueness_error`; every response
//! carries `RateLimit-*` headers from a token bucket like Hetzner's, and an empty bucket
//! answers 429 `rate_limit_exceeded`. Actions finish after a configurable delay.
//!
//! A deleted server lingers as Hetzner's do: for [`FakeOptions::deleting_for`] it is still
//! listed and fetched with status `deleting`, its name stays taken, a second `DELETE`
//! answers the running delete action and power actions are refused with 423 `locked`; then
//! it is gone (404 `not_found`).
//!
//! Faults are injected per [`Endpoint`]: errors ([`FakeHetzner::fail_next`]), latency
//! ([`FakeHetzner::set_latency`]), and a response lost after the change was committed
//! ([`FakeHetzner::lose_next_response`]). Every request is counted and recorded, bodies
//! included, so tests can check what was sent and what it cost.
//!
//! Behind each server created through the API runs a fake machine ([`vps`]): it boots, POSTs
//! the bootstrap token of its cloud-init to the control plane once (loopback only), and then
//! answers `GET /__vps/{instance_id}/startupz` with 200, so a sandbox can check health the
//! way the live probe checks a gateway. A machine stops answering (404) as soon as the
//! deletion of its server starts.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use openclaw_hetzner::fake::{Endpoint, FakeHetzner};
//!
//! let fake = FakeHetzner::start().await?;
//! assert!(fake.base_url().starts_with("http://127.0.0.1:"));
//! assert_eq!(fake.request_count(Endpoint::CreateServer), 0);
//! # Ok(())
//! # }
//! ```

mod agent;
mod faults;
pub mod label_selector;
mod render;
mod routes;
mod state;
pub mod vps;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::ServiceExt;

pub use faults::{Endpoint, Fault};
pub use label_selector::LabelSelector;
pub use state::{FakeError, FakeServer, MAX_USER_DATA};
pub use vps::{Bootstrap, VpsOptions, VpsView};

use faults::{Bucket, Faults};
use state::World;

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// Which operation.
    pub endpoint: Endpoint,
    /// The path as sent (`/v1/servers/1001`).
    pub path: String,
    /// Query parameters in order, repeated keys included.
    pub query: Vec<(String, String)>,
    /// The JSON body, if any (a body that is not JSON is kept as a string).
    pub body: Option<Value>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

/// How a fake starts.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// Port on 127.0.0.1 (0 picks a free one).
    pub port: u16,
    /// Size of the rate-limit bucket (default 3600, Hetzner's).
    pub rate_limit: u32,
    /// Requests refilled per second (default 1, Hetzner's).
    pub refill_per_second: f64,
    /// How long actions take (default 50 ms).
    pub action_delay: Duration,
    /// How long a deleted server stays `deleting` before it is gone (default 2 s, a
    /// short real deletion; zero: gone at once).
    pub deleting_for: Duration,
    /// How the machine behind each server boots and fetches its secrets.
    pub vps: VpsOptions,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            port: 0,
            rate_limit: 3600,
            refill_per_second: 1.0,
            action_delay: Duration::from_millis(50),
            deleting_for: Duration::from_secs(2),
            vps: VpsOptions::default(),
        }
    }
}

/// The state behind the handler.
#[derive(Debug)]
pub(crate) struct Shared {
    world: Mutex<World>,
    faults: Mutex<Faults>,
    bucket: Mutex<Bucket>,
    log: Mutex<Vec<RecordedRequest>>,
    correlation: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No update of the fake's state can panic half-way; a poisoned lock still guards
    // consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    pub(crate) fn bucket(&self) -> MutexGuard<'_, Bucket> {
        lock(&self.bucket)
    }

    pub(crate) fn record(&self, request: RecordedRequest) {
        lock(&self.log).push(request);
    }

    pub(crate) fn next_correlation_id(&self) -> String {
        format!(
            "fake-{:08x}",
            self.correlation.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// A running fake Hetzner Cloud API. It stops when dropped.
#[derive(Debug)]
pub struct FakeHetzner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    base_url: String,
    server: JoinHandle<()>,
}

impl Drop for FakeHetzner {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Why the connection of a [`Fault::DropAfterCommit`] request is closed.
#[derive(Debug)]
struct DroppedOnPurpose;

impl std::fmt::Display for DroppedOnPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("response dropped by fault injection")
    }
}

impl std::error::Error for DroppedOnPurpose {}

impl FakeHetzner {
    /// Any non-empty bearer token is accepted; this one reads well in tests.
    pub const TOKEN: &'static str = "fake-hetzner-token";

    /// Starts a fake on a free port of 127.0.0.1 with the default options.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(FakeOptions::default()).await
    }

    /// Starts a fake with `options`.
    pub async fn start_with(options: FakeOptions) -> std::io::Result<Self> {
        let mut world = World::default();
        world.action_delay = options.action_delay;
        world.deleting_for = options.deleting_for;
        world.vps_options = options.vps.clone();
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            faults: Mutex::new(Faults::default()),
            bucket: Mutex::new(Bucket::new(options.rate_limit, options.refill_per_second)),
            log: Mutex::new(Vec::new()),
            correlation: AtomicU64::new(1),
        });
        let listener = TcpListener::bind(("127.0.0.1", options.port)).await?;
        let addr = listener.local_addr()?;
        let router = Router::new()
            .fallback(routes::handle)
            .with_state(shared.clone());
        let server = tokio::spawn(serve(listener, router));
        Ok(FakeHetzner {
            shared,
            addr,
            base_url: format!("http://{addr}/v1"),
            server,
        })
    }

    /// The API base URL, `http://127.0.0.1:<port>/v1` (what `HCLOUD_ENDPOINT` takes).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next `times` requests to `endpoint` fail with `status` and Hetzner error `code`,
    /// changing nothing.
    pub fn fail_next(&self, endpoint: Endpoint, times: u32, status: u16, code: &str) {
        let fault = Fault::Error {
            status,
            code: Some(code.to_string()),
        };
        self.shared.faults().push(endpoint, fault, times);
    }

    /// The next `times` requests to `endpoint` get `status` with an empty body (a proxy's
    /// 502 or 504), changing nothing.
    pub fn fail_next_without_body(&self, endpoint: Endpoint, times: u32, status: u16) {
        let fault = Fault::Error { status, code: None };
        self.shared.faults().push(endpoint, fault, times);
    }

    /// The next `times` requests to `endpoint` get `status` with `body` as it is, changing
    /// nothing.
    pub fn answer_next_with(&self, endpoint: Endpoint, times: u32, status: u16, body: &str) {
        let fault = Fault::Body {
            status,
            body: body.to_string(),
        };
        self.shared.faults().push(endpoint, fault, times);
    }

    /// The next `times` requests to `endpoint` are applied, then their response is lost as
    /// `fault` says ([`Fault::DropAfterCommit`] or [`Fault::GatewayTimeoutAfterCommit`]).
    pub fn lose_next_response(&self, endpoint: Endpoint, times: u32, fault: Fault) {
        self.shared.faults().push(endpoint, fault, times);
    }

    /// Every request to `endpoint` waits `latency` before it is handled (zero removes it).
    pub fn set_latency(&self, endpoint: Endpoint, latency: Duration) {
        self.shared.faults().set_latency(endpoint, latency);
    }

    /// Removes every queued fault and latency.
    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// Actions started from now on take `delay`.
    pub fn set_action_delay(&self, delay: Duration) {
        self.shared.world().action_delay = delay;
    }

    /// Servers deleted from now on stay `deleting` for `duration` (zero: gone at once).
    pub fn set_deleting_for(&self, duration: Duration) {
        self.shared.world().deleting_for = duration;
    }

    /// Replaces the rate limit with a full bucket of `limit` requests refilled at
    /// `per_second`.
    pub fn set_rate_limit(&self, limit: u32, per_second: f64) {
        *self.shared.bucket() = Bucket::new(limit, per_second);
    }

    /// Requests received for `endpoint` so far (refused ones included: Hetzner counts them
    /// too).
    pub fn request_count(&self, endpoint: Endpoint) -> usize {
        lock(&self.shared.log)
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .count()
    }

    /// Requests received so far, all endpoints.
    pub fn total_requests(&self) -> usize {
        lock(&self.shared.log).len()
    }

    /// Requests per endpoint so far.
    pub fn request_counts(&self) -> BTreeMap<Endpoint, usize> {
        let mut counts = BTreeMap::new();
        for r in lock(&self.shared.log).iter() {
            *counts.entry(r.endpoint).or_default() += 1;
        }
        counts
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Forgets the requests received so far (counters start again at zero).
    pub fn reset_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Every server, by id.
    pub fn servers(&self) -> Vec<FakeServer> {
        let mut world = self.shared.world();
        world.advance(tokio::time::Instant::now());
        world.servers.values().cloned().collect()
    }

    /// One server.
    pub fn server(&self, id: u64) -> Option<FakeServer> {
        let mut world = self.shared.world();
        world.advance(tokio::time::Instant::now());
        world.servers.get(&id).cloned()
    }

    /// The user data server `id` was created with.
    pub fn user_data(&self, id: u64) -> Option<String> {
        let mut world = self.shared.world();
        world.advance(tokio::time::Instant::now());
        world.servers.get(&id)?.user_data.clone()
    }

    /// The machine behind server `id` (`None` for an unknown server, one being deleted, or
    /// one inserted with [`insert_server`](Self::insert_server)).
    pub fn vps(&self, id: u64) -> Option<VpsView> {
        let now = tokio::time::Instant::now();
        let mut world = self.shared.world();
        world.advance(now);
        let server = world.servers.get(&id)?;
        Some(VpsView::of(
            id,
            world.machines.get(&id)?,
            &server.status,
            now,
        ))
    }

    /// The gateway token machine `id` received at its bootstrap, to compare with what the
    /// control plane hands out in access links.
    pub fn gateway_token(&self, id: u64) -> Option<String> {
        self.shared.world().machines.get(&id)?.gateway_token.clone()
    }

    /// Machines booted or powered on from now on take `delay` to come up.
    pub fn set_boot_delay(&self, delay: Duration) {
        self.shared.world().vps_options.boot_delay = delay;
    }

    /// The base of the machines' own endpoints, `http://127.0.0.1:<port>/__vps`: a
    /// machine's gateway health is `<base>/<instance id>/startupz`.
    pub fn vps_base_url(&self) -> String {
        format!("http://{}/__vps", self.addr)
    }

    /// Adds a running server named `name` with `labels` directly, without a request (for
    /// tests that need many servers, or one that someone else owns). Returns its id.
    pub fn insert_server(&self, name: &str, labels: BTreeMap<String, String>) -> u64 {
        self.shared.world().insert_server(FakeServer {
            id: 0,
            name: name.to_string(),
            status: "running".to_string(),
            labels,
            server_type: "cpx22".to_string(),
            disk_gb: 80,
            image: "ubuntu-24.04".to_string(),
            location: "fsn1".to_string(),
            user_data: None,
            ssh_keys: Vec::new(),
            firewalls: Vec::new(),
            ipv4: Some(std::net::Ipv4Addr::new(203, 0, 113, 7)),
            ipv6_network: None,
            created: chrono::Utc::now(),
        })
    }
}

/// Accepts connections and serves each with HTTP/1.1.
///
/// # Why not `axum::serve`
/// Losing a response after committing its change needs the connection closed without an
/// answer. axum's server always answers; serving each connection with hyper directly lets a
/// handler's [`routes::DropConnection`] mark turn into a service error, on which hyper closes
/// the connection.
async fn serve(listener: TcpListener, router: Router) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(error = %error, "fake hetzner: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let router = router.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let router = router.clone();
                async move {
                    let response = match router.oneshot(request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    };
                    if response
                        .extensions()
                        .get::<routes::DropConnection>()
                        .is_some()
                    {
                        Err(DroppedOnPurpose)
                    } else {
                        Ok(response)
                    }
                }
            });
            // A connection that ends with an error is what a dropped response looks like;
            // nothing to report.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
