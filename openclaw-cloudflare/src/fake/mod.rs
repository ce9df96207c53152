//! A fake of Cloudflare's DNS-records API (feature `fake`): an axum server on
//! `127.0.0.1:<any free port>` that holds zones and records in memory.
//!
//! It behaves as the adapter needs the live API to behave, and as the spec says: the envelope
//! with numeric codes, the list filters (`name`, `type`, `content`, `proxied`, `comment` and
//! `comment.*`, `tag` and `tag.*`, `match`, `tag_match`, paging, ordering), the duplicate
//! codes (81058 for an identical record, configurable to 81057; 81053 for A/AAAA beside a
//! CNAME), 404/81044 for a missing record, `Ratelimit`/`Ratelimit-Policy` on every answer and
//! a 429 with `Retry-After` past the limit — followed, like the live API, by a block of every
//! call of that token for the block time (five minutes unless configured). A request without
//! `Authorization: Bearer …` is refused.
//!
//! Tests steer it with [`Fault`]s (an error with any status and code, latency, a request
//! carried out whose answer is then lost, a concurrent writer) and read what it saw: request
//! counts per [`Route`] and every request body ([`CapturedRequest`]).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use openclaw_cloudflare::fake::{FakeCloudflare, Fault, Route};
//!
//! let fake = FakeCloudflare::start().await?;
//! let zone_id = fake.create_zone("claw.example.com");
//! // The next create fails with a 500 and code 10001, without touching anything.
//! fake.inject(Some(Route::CreateRecord), Fault::error(500, 10001, "internal error"));
//! println!("{} {zone_id}", fake.base_url());
//! # Ok(()) }
//! ```

mod filter;
mod limits;
mod server;
mod state;
mod zone;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use state::State;

/// The operations of the API the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// `GET /zones/{zone_id}/dns_records`
    ListRecords,
    /// `POST /zones/{zone_id}/dns_records`
    CreateRecord,
    /// `GET /zones/{zone_id}/dns_records/{id}`
    GetRecord,
    /// `PATCH /zones/{zone_id}/dns_records/{id}`
    PatchRecord,
    /// `PUT /zones/{zone_id}/dns_records/{id}`
    PutRecord,
    /// `DELETE /zones/{zone_id}/dns_records/{id}`
    DeleteRecord,
}

/// Something to go wrong with one request. Each injected fault applies once, to the next
/// request of its route (or of any route).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with this HTTP status and Cloudflare error code; nothing is changed.
    Error {
        /// HTTP status.
        status: u16,
        /// Cloudflare error code.
        code: u32,
        /// Error message.
        message: String,
    },
    /// Wait this long before handling the request.
    Delay(Duration),
    /// Carry the request out, then break the connection in the middle of the answer: the
    /// client gets a status line but never a body ("the change happened, the response was
    /// lost").
    CommitThenDrop,
    /// Carry the request out, then wait this long before answering (past a client timeout,
    /// the same lost response).
    CommitThenStall(Duration),
    /// Carry the request out, then answer with this error anyway (a gateway that timed out
    /// while the change went through).
    CommitThenError {
        /// HTTP status.
        status: u16,
        /// Cloudflare error code.
        code: u32,
    },
    /// Insert this record first, then handle the request: a concurrent writer that got there
    /// between the client's look-up and its create.
    Race(FakeRecord),
    /// Answer with this status, these headers and this body verbatim (say, HTML from a
    /// proxy, JSON of the wrong shape, a `Retry-After` as an HTTP date); nothing is changed
    /// and no rate-limit headers are added.
    Raw {
        /// HTTP status.
        status: u16,
        /// Extra headers (lowercase names).
        headers: Vec<(String, String)>,
        /// The body, sent as is.
        body: String,
    },
}

impl Fault {
    /// A [`Fault::Error`].
    pub fn error(status: u16, code: u32, message: impl Into<String>) -> Fault {
        Fault::Error {
            status,
            code,
            message: message.into(),
        }
    }
}

/// The fake's rate limit, per token: `limit` requests per `window`; the request past it gets
/// a 429 and starts a block of `block` during which every request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Requests per window.
    pub limit: u32,
    /// Length of a window.
    pub window: Duration,
    /// How long a breach blocks every call.
    pub block: Duration,
}

impl Default for RateLimitSettings {
    /// Cloudflare's: 1200 per 5 minutes, a 5-minute block.
    fn default() -> Self {
        RateLimitSettings {
            limit: 1200,
            window: Duration::from_secs(300),
            block: Duration::from_secs(300),
        }
    }
}

/// How to start the fake.
#[derive(Debug, Clone, Default)]
pub struct FakeOptions {
    /// The only token accepted; `None` accepts any non-empty bearer token.
    pub token: Option<String>,
    /// The rate limit.
    pub rate_limit: RateLimitSettings,
}

/// A record held by the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeRecord {
    /// Id; left empty when inserting, the fake picks one.
    pub id: String,
    /// The zone it is in (filled in by the fake).
    pub zone_id: String,
    /// Name; relative names are taken as under the zone.
    pub name: String,
    /// `A`, `AAAA`, `CNAME`, …
    pub record_type: String,
    /// Content.
    pub content: String,
    /// TTL (1 = automatic).
    pub ttl: u32,
    /// Proxied.
    pub proxied: bool,
    /// Comment (where openclaw's ownership mark lives).
    pub comment: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
}

impl FakeRecord {
    /// A record with TTL 300, not proxied, no comment, no tags.
    pub fn new(
        name: impl Into<String>,
        record_type: impl Into<String>,
        content: impl Into<String>,
    ) -> FakeRecord {
        FakeRecord {
            id: String::new(),
            zone_id: String::new(),
            name: name.into(),
            record_type: record_type.into(),
            content: content.into(),
            ttl: 300,
            proxied: false,
            comment: None,
            tags: Vec::new(),
        }
    }

    /// With this comment.
    pub fn with_comment(mut self, comment: impl Into<String>) -> FakeRecord {
        self.comment = Some(comment.into());
        self
    }
}

/// A request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedRequest {
    /// Its operation; `None` when the path matched none.
    pub route: Option<Route>,
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Query pairs, decoded.
    pub query: Vec<(String, String)>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The body, when there was one (`Value::String` when it was not JSON).
    pub body: Option<serde_json::Value>,
    /// The status the fake answered with.
    pub status: u16,
    /// The answer's body.
    pub response: serde_json::Value,
}

type Shared = Arc<Mutex<State>>;

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // A panic elsewhere must not turn every later request into a second panic.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeCloudflare {
    addr: SocketAddr,
    shared: Shared,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FakeCloudflare {
    /// Starts on `127.0.0.1` on a free port, Cloudflare's rate limit, any token accepted.
    pub async fn start() -> std::io::Result<FakeCloudflare> {
        Self::start_with(FakeOptions::default()).await
    }

    /// Starts on `127.0.0.1` on a free port with `options`.
    pub async fn start_with(options: FakeOptions) -> std::io::Result<FakeCloudflare> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0)), options).await
    }

    /// Starts on `addr`.
    pub async fn bind(addr: SocketAddr, options: FakeOptions) -> std::io::Result<FakeCloudflare> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared: Shared = Arc::new(Mutex::new(State::new(options.token, options.rate_limit)));
        let (tx, rx) = oneshot::channel::<()>();
        let app = server::router(Arc::clone(&shared));
        tokio::spawn(async move {
            let stopped = async {
                // Either a send or the sender's drop ends the server.
                let _ = rx.await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::warn!(error = %e, "fake cloudflare server stopped with an error");
            }
        });
        Ok(FakeCloudflare {
            addr,
            shared,
            shutdown: Some(tx),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, `http://127.0.0.1:<port>/client/v4`, as `base_url` of the adapter
    /// or of Cloudflare's own clients.
    pub fn base_url(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    /// Adds a zone and returns its id (32 hex digits).
    pub fn create_zone(&self, name: &str) -> String {
        lock(&self.shared).create_zone(name)
    }

    /// Puts a record straight into a zone, without validation, as if made by hand in the
    /// dashboard. `None` when the zone does not exist.
    pub fn insert_record(&self, zone_id: &str, record: &FakeRecord) -> Option<FakeRecord> {
        lock(&self.shared).insert(zone_id, record)
    }

    /// Every record of a zone, oldest first.
    pub fn records(&self, zone_id: &str) -> Vec<FakeRecord> {
        lock(&self.shared).records(zone_id)
    }

    /// Queues a fault for the next request of `route` (`None`: of any route).
    pub fn inject(&self, route: Option<Route>, fault: Fault) {
        lock(&self.shared).faults.push_back((route, fault));
    }

    /// Makes the next `n` requests of `route` fail with `status` and `code`.
    pub fn fail_next(&self, route: Option<Route>, n: usize, status: u16, code: u32) {
        for _ in 0..n {
            self.inject(route, Fault::error(status, code, "injected failure"));
        }
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        lock(&self.shared).faults.clear();
    }

    /// Adds this delay to every request.
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.shared).latency = latency;
    }

    /// Replaces the rate limit (current windows and blocks are kept).
    pub fn set_rate_limit(&self, settings: RateLimitSettings) {
        lock(&self.shared).limits = settings;
    }

    /// The code a create or update of an identical record is refused with: 81058 (default)
    /// or 81057, which the live API has used too.
    pub fn set_duplicate_code(&self, code: u32) {
        lock(&self.shared).duplicate_code = code;
    }

    /// Requests received for `route`, including refused ones.
    pub fn requests(&self, route: Route) -> u64 {
        lock(&self.shared)
            .counters
            .get(&route)
            .copied()
            .unwrap_or(0)
    }

    /// Requests received in all, including ones that matched no route.
    pub fn total_requests(&self) -> u64 {
        let state = lock(&self.shared);
        state.counters.values().sum::<u64>() + state.unrouted
    }

    /// How many requests were answered with a 429.
    pub fn rate_limited(&self) -> u64 {
        lock(&self.shared).rate_limited
    }

    /// Every request received (the latest 10 000), oldest first.
    pub fn captured(&self) -> Vec<CapturedRequest> {
        lock(&self.shared).captured.iter().cloned().collect()
    }

    /// Forgets the captured requests and zeroes the counters.
    pub fn reset_counters(&self) {
        let mut state = lock(&self.shared);
        state.captured.clear();
        state.counters.clear();
        state.unrouted = 0;
        state.rate_limited = 0;
    }

    /// Stops the server.
    pub fn stop(mut self) {
        self.signal_stop();
    }

    fn signal_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for FakeCloudflare {
    fn drop(&mut self) {
        self.signal_stop();
    }
}
