//! The one error type of openclaw, and the classification retry logic reads.
//!
//! Every port returns [`Error`]. Adapters translate what their provider said into a variant
//! (or into [`Error::Provider`] with an explicit [`ErrorClass`]) so that nothing above them ever
//! parses a message to decide whether to try again.

use std::time::Duration;

use crate::domain::{InstanceStatus, JobId};

/// Result with openclaw's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a caller may do after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient: the same call may succeed if made again after a backoff.
    Retryable,
    /// The provider asked us to slow down; wait at least `retry_after` when it is known.
    RateLimited {
        /// How long the provider asked us to wait.
        retry_after: Option<Duration>,
    },
    /// Trying again cannot help: bad input, missing permission, a conflict, a missing thing.
    Permanent,
    /// A side effect may or may not have happened (a create whose response was lost).
    /// The caller must look the resource up before it tries again.
    Ambiguous,
}

/// Everything that can go wrong in openclaw.
///
/// Each variant has a stable, snake_case [`code`](Error::code) for APIs and a
/// [`class`](Error::class) for retry decisions.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input failed validation; `field` names the offending field.
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The field (or parameter) that is wrong.
        field: String,
        /// What is wrong with it, for a human.
        message: String,
    },
    /// The thing asked for does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What kind of thing: `instance`, `server`, `job`, …
        kind: &'static str,
        /// Its identifier.
        id: String,
    },
    /// The request conflicts with the current state: a stale version, a duplicate key, a
    /// resource owned by someone else.
    #[error("conflict: {message}")]
    Conflict {
        /// What conflicts.
        message: String,
    },
    /// The thing existed but is used up for good (a single-use bootstrap token already
    /// redeemed).
    #[error("gone: {message}")]
    Gone {
        /// What is gone.
        message: String,
    },
    /// The state machine does not allow this change.
    #[error("cannot go from {from} to {to}")]
    InvalidTransition {
        /// Current status.
        from: InstanceStatus,
        /// Requested status.
        to: InstanceStatus,
    },
    /// A provider or the limiter refused the call for now.
    #[error("rate limited by {provider}")]
    RateLimited {
        /// Who limited us.
        provider: String,
        /// How long to wait, when known.
        retry_after: Option<Duration>,
    },
    /// A dependency is unreachable or answered with a server error; safe to retry for
    /// idempotent calls.
    #[error("{service} unavailable: {message}")]
    Unavailable {
        /// Which dependency.
        service: String,
        /// What happened.
        message: String,
        /// HTTP status, if there was one.
        status: Option<u16>,
    },
    /// The outcome of a side effect is unknown (timeout or lost response after the request was
    /// sent). Look the resource up before trying again.
    #[error("outcome of {operation} unknown: {message}")]
    Ambiguous {
        /// The operation whose outcome is unknown.
        operation: String,
        /// What happened.
        message: String,
    },
    /// Credentials were missing, wrong, or lack the permission needed.
    #[error("unauthorized: {message}")]
    Unauthorized {
        /// What was refused.
        message: String,
    },
    /// A provider error classified by the adapter that received it.
    #[error("{provider} error {code}{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Provider {
        /// `hetzner`, `cloudflare`, …
        provider: String,
        /// The provider's own error code (`uniqueness_error`, `81057`, …).
        code: String,
        /// HTTP status, if any.
        status: Option<u16>,
        /// The provider's message.
        message: String,
        /// The provider's request or correlation id, for support tickets.
        correlation_id: Option<String>,
        /// What the adapter decided a caller may do.
        class: ErrorClass,
    },
    /// Retries ran out; `last` is the error of the final attempt.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The final error.
        last: Box<Error>,
    },
    /// The durable store failed.
    #[error("store error: {message}")]
    Store {
        /// What failed.
        message: String,
        /// Whether the same call may succeed later (a lost connection) or not (a constraint).
        retryable: bool,
    },
    /// The job's lease is no longer held: another worker rescued the job after the lease ran
    /// out, or it ran out by the store's clock. The holder must stop: the store refuses its
    /// writes and no provider call may start. Never retried.
    #[error("lease on job {job} lost: {message}")]
    LeaseLost {
        /// The job whose lease was lost.
        job: JobId,
        /// What noticed it.
        message: String,
    },
    /// The operation was cancelled (shutdown, lost lease).
    #[error("cancelled: {reason}")]
    Cancelled {
        /// Why.
        reason: String,
    },
    /// A bug or an impossible state; never caused by user input.
    #[error("internal error: {message}")]
    Internal {
        /// What happened.
        message: String,
    },
}

impl Error {
    /// An [`Error::InvalidInput`] for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An [`Error::NotFound`].
    // By value so callers can pass ids of any kind (`Copy` ones included) without a `&`.
    #[allow(clippy::needless_pass_by_value)]
    pub fn not_found(kind: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            kind,
            id: id.to_string(),
        }
    }

    /// An [`Error::Conflict`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict {
            message: message.into(),
        }
    }

    /// An [`Error::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
        }
    }

    /// An [`Error::Unavailable`] without an HTTP status.
    pub fn unavailable(service: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Unavailable {
            service: service.into(),
            message: message.into(),
            status: None,
        }
    }

    /// An [`Error::Ambiguous`].
    pub fn ambiguous(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Ambiguous {
            operation: operation.into(),
            message: message.into(),
        }
    }

    /// An [`Error::LeaseLost`] for `job`.
    pub fn lease_lost(job: JobId, message: impl Into<String>) -> Self {
        Error::LeaseLost {
            job,
            message: message.into(),
        }
    }

    /// What a caller may do after this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::RateLimited { retry_after, .. } => ErrorClass::RateLimited {
                retry_after: *retry_after,
            },
            Error::Unavailable { .. } => ErrorClass::Retryable,
            Error::Store { retryable, .. } => {
                if *retryable {
                    ErrorClass::Retryable
                } else {
                    ErrorClass::Permanent
                }
            }
            Error::Ambiguous { .. } => ErrorClass::Ambiguous,
            Error::Provider { class, .. } => *class,
            Error::InvalidInput { .. }
            | Error::NotFound { .. }
            | Error::Conflict { .. }
            | Error::Gone { .. }
            | Error::InvalidTransition { .. }
            | Error::Unauthorized { .. }
            | Error::RetriesExhausted { .. }
            | Error::LeaseLost { .. }
            | Error::Cancelled { .. }
            | Error::Internal { .. } => ErrorClass::Permanent,
        }
    }

    /// Whether a retry may help at all (anything but [`ErrorClass::Permanent`]).
    pub fn is_retryable(&self) -> bool {
        !matches!(self.class(), ErrorClass::Permanent)
    }

    /// Whether this error (or the last attempt behind it) was a server-side failure: an HTTP
    /// 5xx or an unreachable dependency. Rollback triggers use it.
    pub fn is_server_error(&self) -> bool {
        match self {
            Error::Unavailable { status, .. } => status.is_none_or(|s| s >= 500),
            Error::Provider { status, .. } => status.is_some_and(|s| s >= 500),
            Error::RetriesExhausted { last, .. } => last.is_server_error(),
            _ => false,
        }
    }

    /// The stable machine-readable code of this error (`invalid_input`, `not_found`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "invalid_input",
            Error::NotFound { .. } => "not_found",
            Error::Conflict { .. } => "conflict",
            Error::Gone { .. } => "gone",
            Error::InvalidTransition { .. } => "invalid_transition",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable { .. } => "unavailable",
            Error::Ambiguous { .. } => "ambiguous",
            Error::Unauthorized { .. } => "unauthorized",
            Error::Provider { .. } => "provider_error",
            Error::RetriesExhausted { .. } => "retries_exhausted",
            Error::Store { .. } => "store_error",
            Error::LeaseLost { .. } => "lease_lost",
            Error::Cancelled { .. } => "cancelled",
            Error::Internal { .. } => "internal",
        }
    }

    /// The error of the final attempt, looking through [`Error::RetriesExhausted`].
    pub fn root(&self) -> &Error {
        match self {
            Error::RetriesExhausted { last, .. } => last.root(),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_variant() {
        assert_eq!(
            Error::unavailable("hetzner", "502").class(),
            ErrorClass::Retryable
        );
        assert_eq!(
            Error::ambiguous("create_server", "timeout").class(),
            ErrorClass::Ambiguous
        );
        assert_eq!(
            Error::invalid("plan", "unknown").class(),
            ErrorClass::Permanent
        );
        let limited = Error::RateLimited {
            provider: "cloudflare".into(),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            limited.class(),
            ErrorClass::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        let exhausted = Error::RetriesExhausted {
            attempts: 3,
            last: Box::new(Error::Unavailable {
                service: "hetzner".into(),
                message: "bad gateway".into(),
                status: Some(502),
            }),
        };
        assert_eq!(exhausted.class(), ErrorClass::Permanent);
        assert!(exhausted.is_server_error());
        assert_eq!(exhausted.root().code(), "unavailable");
    }

    #[test]
    fn provider_errors_keep_the_adapters_class() {
        let e = Error::Provider {
            provider: "hetzner".into(),
            code: "locked".into(),
            status: Some(423),
            message: "server is locked".into(),
            correlation_id: Some("abc".into()),
            class: ErrorClass::Retryable,
        };
        assert!(e.is_retryable());
        assert!(!e.is_server_error());
        assert_eq!(
            e.to_string(),
            "hetzner error locked (HTTP 423): server is locked"
        );
    }
}
