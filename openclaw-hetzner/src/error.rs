//! Turning what Hetzner answered into openclaw's [`Error`], classified by Hetzner's error
//! code (never by its message), so the retry logic above never parses text.

use std::time::Duration;

use openclaw_core::{Error, ErrorClass};

/// The provider name in every error this crate returns.
pub const PROVIDER: &str = "hetzner";

/// Whether repeating a request can change the outcome.
///
/// A create that may have been applied must not be repeated blindly: the caller looks the
/// server up first. Every other request openclaw makes is idempotent (reads, deletes, power
/// actions whose "already so" is success).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// Safe to repeat.
    Idempotent,
    /// `POST /servers`: a repeat could create a second server if the first one went through.
    Create,
}

/// How a Hetzner error code is handled, for an idempotent request.
///
/// | code | HTTP | class |
/// |---|---|---|
/// | `conflict`, `timeout`, `bad_gateway`, `locked` | 409, 504, 502, 423 | retryable |
/// | `rate_limit_exceeded` | 429 | rate-limited, waiting as the headers say |
/// | `server_error`, `service_error`, `maintenance`, `unavailable` | 500, 503 | retryable (idempotent requests only) |
/// | `invalid_input`, `json_error`, `forbidden`, `unauthorized`, `token_readonly`, `resource_limit_exceeded`, `protected`, … | 4xx | permanent |
/// | `not_found` | 404 | permanent (the adapter turns it into "gone" where that is success) |
/// | `uniqueness_error` | 409 | permanent (a create adopts or reports `Conflict` first) |
/// | no body | 502, 504 | retryable |
///
/// Unknown codes fall back on the status: 429 rate-limited, 5xx retryable, anything else
/// permanent. For a [`RequestKind::Create`], see [`classify_for`].
pub fn classify(status: u16, code: Option<&str>, rate_limit_wait: Option<Duration>) -> ErrorClass {
    let rate_limited = ErrorClass::RateLimited {
        retry_after: rate_limit_wait,
    };
    match code {
        Some("conflict" | "timeout" | "bad_gateway" | "locked") => ErrorClass::Retryable,
        Some("rate_limit_exceeded") => rate_limited,
        Some("server_error" | "service_error" | "maintenance" | "unavailable") => {
            ErrorClass::Retryable
        }
        Some(
            "invalid_input"
            | "json_error"
            | "forbidden"
            | "unauthorized"
            | "token_readonly"
            | "resource_limit_exceeded"
            | "resource_unavailable"
            | "protected"
            | "not_found"
            | "uniqueness_error"
            | "unsupported_error"
            | "deprecated_api_endpoint"
            | "placement_error"
            | "primary_ip_assigned"
            | "primary_ip_datacenter_mismatch"
            | "primary_ip_version_mismatch",
        ) => ErrorClass::Permanent,
        _ => match status {
            429 => rate_limited,
            500..=599 => ErrorClass::Retryable,
            _ => ErrorClass::Permanent,
        },
    }
}

/// [`classify`] for a request of `kind`.
///
/// A create that failed with a server error (5xx: `server_error`, `service_error`,
/// `timeout`, `bad_gateway`, a bare 502/504, …) may have been applied before the failure,
/// so it is [`ErrorClass::Ambiguous`]: the caller looks the server up before creating again,
/// instead of retrying blindly. A create refused for a reason that proves it was not applied
/// (`conflict`, `locked`, `rate_limit_exceeded`, any 4xx) keeps its class.
pub fn classify_for(
    kind: RequestKind,
    status: u16,
    code: Option<&str>,
    rate_limit_wait: Option<Duration>,
) -> ErrorClass {
    let class = classify(status, code, rate_limit_wait);
    match (kind, class) {
        (RequestKind::Create, ErrorClass::Retryable) if status >= 500 => ErrorClass::Ambiguous,
        _ => class,
    }
}

/// An error response from the API, with everything needed to classify and report it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    /// `METHOD /path` of the request.
    pub(crate) endpoint: String,
    /// HTTP status.
    pub(crate) status: u16,
    /// Hetzner's code, `None` when the body was not an error response (a proxy's 502).
    pub(crate) code: Option<String>,
    /// Hetzner's message, or a description of the bare response.
    pub(crate) message: String,
    /// `X-Correlation-Id`, for support tickets.
    pub(crate) correlation_id: Option<String>,
    /// How long the rate-limit headers say to wait, on a 429.
    pub(crate) rate_limit_wait: Option<Duration>,
}

impl ApiError {
    /// Whether Hetzner said `code`.
    pub(crate) fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Whether the thing asked for does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        self.is("not_found") || (self.code.is_none() && self.status == 404)
    }

    pub(crate) fn into_error(self, kind: RequestKind) -> Error {
        let class = classify_for(
            kind,
            self.status,
            self.code.as_deref(),
            self.rate_limit_wait,
        );
        Error::Provider {
            provider: PROVIDER.to_string(),
            code: self.code.unwrap_or_else(|| format!("http_{}", self.status)),
            status: Some(self.status),
            message: format!("{}: {}", self.endpoint, self.message),
            correlation_id: self.correlation_id,
            class,
        }
    }
}

/// Everything that can go wrong with one request.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The API answered with an error status.
    Api(ApiError),
    /// No usable answer: the connection failed, timed out or broke.
    Transport {
        endpoint: String,
        /// Whether the request can have reached Hetzner (anything but a failed connect).
        maybe_sent: bool,
        message: String,
    },
    /// A success status whose body does not have the spec's shape.
    Decode {
        endpoint: String,
        /// The path of the offending field (`server.public_net.ipv4.ip`), `.` for the root.
        field: String,
        message: String,
        correlation_id: Option<String>,
    },
    /// Nothing was sent: the limiter refused a permit, or the request could not be built.
    Local(Error),
}

impl Failure {
    /// The classified error for a request of `kind`.
    pub(crate) fn into_error(self, kind: RequestKind) -> Error {
        match self {
            Failure::Api(api) => api.into_error(kind),
            Failure::Transport {
                endpoint,
                maybe_sent,
                message,
            } => {
                if maybe_sent && kind == RequestKind::Create {
                    Error::ambiguous("create_server", format!("{endpoint}: {message}"))
                } else {
                    Error::unavailable(PROVIDER, format!("{endpoint}: {message}"))
                }
            }
            Failure::Decode {
                endpoint,
                field,
                message,
                correlation_id,
            } => Error::Provider {
                provider: PROVIDER.to_string(),
                code: "invalid_response".to_string(),
                status: None,
                message: format!("{endpoint}: response field `{field}`: {message}"),
                correlation_id,
                // The server of a create whose answer cannot be read exists: look it up.
                // Anything else would fail the same way again.
                class: match kind {
                    RequestKind::Create => ErrorClass::Ambiguous,
                    RequestKind::Idempotent => ErrorClass::Permanent,
                },
            },
            Failure::Local(error) => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_server_errors_are_ambiguous_but_refusals_are_not() {
        let c = |status, code| classify_for(RequestKind::Create, status, code, None);
        assert_eq!(c(500, Some("server_error")), ErrorClass::Ambiguous);
        assert_eq!(c(504, None), ErrorClass::Ambiguous);
        assert_eq!(c(409, Some("conflict")), ErrorClass::Retryable);
        assert_eq!(c(423, Some("locked")), ErrorClass::Retryable);
        assert_eq!(c(400, Some("invalid_input")), ErrorClass::Permanent);
    }

    #[test]
    fn transport_failures_before_sending_are_never_ambiguous() {
        let refused = Failure::Transport {
            endpoint: "POST /servers".into(),
            maybe_sent: false,
            message: "connection refused".into(),
        };
        assert_eq!(
            refused.into_error(RequestKind::Create).class(),
            ErrorClass::Retryable
        );
        let lost = Failure::Transport {
            endpoint: "POST /servers".into(),
            maybe_sent: true,
            message: "connection reset".into(),
        };
        assert_eq!(
            lost.clone().into_error(RequestKind::Create).class(),
            ErrorClass::Ambiguous
        );
        assert_eq!(
            lost.into_error(RequestKind::Idempotent).class(),
            ErrorClass::Retryable
        );
    }

    #[test]
    fn decode_failures_name_endpoint_and_field() {
        let failure = Failure::Decode {
            endpoint: "GET /servers".into(),
            field: "servers[0].id".into(),
            message: "invalid type".into(),
            correlation_id: Some("c-1".into()),
        };
        let error = failure.into_error(RequestKind::Idempotent);
        let text = error.to_string();
        assert!(
            text.contains("GET /servers") && text.contains("servers[0].id"),
            "{text}"
        );
        assert_eq!(error.class(), ErrorClass::Permanent);
    }
}
