//! What can be made to go wrong in the fake, and its rate limit.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

/// The operations the fake serves, the unit of counters and fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `GET /servers`
    ListServers,
    /// `POST /servers`
    CreateServer,
    /// `GET /servers/{id}`
    GetServer,
    /// `DELETE /servers/{id}`
    DeleteServer,
    /// `POST /servers/{id}/actions/poweroff`
    PowerOff,
    /// `POST /servers/{id}/actions/poweron`
    PowerOn,
    /// `POST /servers/{id}/actions/change_type`
    ChangeType,
    /// `GET /actions?id=…`
    GetActions,
    /// `GET /actions/{id}`
    GetAction,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 9] = [
        Endpoint::ListServers,
        Endpoint::CreateServer,
        Endpoint::GetServer,
        Endpoint::DeleteServer,
        Endpoint::PowerOff,
        Endpoint::PowerOn,
        Endpoint::ChangeType,
        Endpoint::GetActions,
        Endpoint::GetAction,
    ];

    /// `METHOD /path` with `{id}` placeholders.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::ListServers => "GET /servers",
            Endpoint::CreateServer => "POST /servers",
            Endpoint::GetServer => "GET /servers/{id}",
            Endpoint::DeleteServer => "DELETE /servers/{id}",
            Endpoint::PowerOff => "POST /servers/{id}/actions/poweroff",
            Endpoint::PowerOn => "POST /servers/{id}/actions/poweron",
            Endpoint::ChangeType => "POST /servers/{id}/actions/change_type",
            Endpoint::GetActions => "GET /actions",
            Endpoint::GetAction => "GET /actions/{id}",
        }
    }

    /// The spec's `operationId`, to find the request schema.
    pub fn operation_id(self) -> &'static str {
        match self {
            Endpoint::ListServers => "list_servers",
            Endpoint::CreateServer => "create_server",
            Endpoint::GetServer => "get_server",
            Endpoint::DeleteServer => "delete_server",
            Endpoint::PowerOff => "power_off_server",
            Endpoint::PowerOn => "power_on_server",
            Endpoint::ChangeType => "change_type_of_server",
            Endpoint::GetActions => "get_multiple_actions",
            Endpoint::GetAction => "get_action",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One injected fault, used up by one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Refuse the request with this status; with a code the body is Hetzner's error
    /// response, without one it is empty (as from a proxy). Nothing changes.
    Error {
        /// HTTP status.
        status: u16,
        /// Hetzner error code, or `None` for an empty body.
        code: Option<String>,
    },
    /// Answer `status` with `body` as it is (JSON or not), changing nothing: for clients
    /// that must survive a body they cannot read.
    Body {
        /// HTTP status.
        status: u16,
        /// The raw body.
        body: String,
    },
    /// Apply the request, then lose its response: the connection is closed without an
    /// answer, as when a reset or a timeout cuts it.
    DropAfterCommit,
    /// Apply the request, then answer 504 without a body, as a gateway that gave up waiting.
    GatewayTimeoutAfterCommit,
}

/// Queued faults and latencies per endpoint.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    queued: HashMap<Endpoint, VecDeque<Fault>>,
    latency: HashMap<Endpoint, Duration>,
}

impl Faults {
    pub(crate) fn push(&mut self, endpoint: Endpoint, fault: Fault, times: u32) {
        let queue = self.queued.entry(endpoint).or_default();
        for _ in 0..times {
            queue.push_back(fault.clone());
        }
    }

    pub(crate) fn take(&mut self, endpoint: Endpoint) -> Option<Fault> {
        self.queued.get_mut(&endpoint)?.pop_front()
    }

    pub(crate) fn set_latency(&mut self, endpoint: Endpoint, latency: Duration) {
        if latency.is_zero() {
            self.latency.remove(&endpoint);
        } else {
            self.latency.insert(endpoint, latency);
        }
    }

    pub(crate) fn latency(&self, endpoint: Endpoint) -> Option<Duration> {
        self.latency.get(&endpoint).copied()
    }

    pub(crate) fn clear(&mut self) {
        self.queued.clear();
        self.latency.clear();
    }
}

/// The fake's rate limit: a token bucket like Hetzner's (by default 3600 requests, one back
/// per second).
#[derive(Debug)]
pub(crate) struct Bucket {
    pub(crate) limit: u32,
    pub(crate) per_second: f64,
    tokens: f64,
    stamp: Instant,
}

/// What the bucket says about one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verdict {
    pub(crate) allowed: bool,
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// Seconds until the bucket is full again.
    pub(crate) full_in: u64,
}

impl Bucket {
    pub(crate) fn new(limit: u32, per_second: f64) -> Self {
        Bucket {
            limit: limit.max(1),
            per_second: if per_second.is_finite() && per_second > 0.0 {
                per_second
            } else {
                1.0
            },
            tokens: f64::from(limit.max(1)),
            stamp: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    pub(crate) fn take(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.stamp).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(f64::from(self.limit));
        self.stamp = now;
        let allowed = self.tokens >= 1.0;
        if allowed {
            self.tokens -= 1.0;
        }
        let missing = f64::from(self.limit) - self.tokens;
        Verdict {
            allowed,
            limit: self.limit,
            remaining: self.tokens.floor() as u32,
            full_in: (missing / self.per_second).ceil() as u64,
        }
    }
}
