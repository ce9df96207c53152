//! [`AppError`]: every way a request can fail, as one JSON shape
//! `{"error": {"code", "message", "details"}}` with the status that fits.
//!
//! Domain errors keep their stable [`code`](openclaw_core::Error::code). What a client can act
//! on (a field name, the two statuses of an invalid transition, how long to wait) goes into
//! `details`; what only an operator can act on (a database message, a provider's correlation
//! id) goes to the log and never into the response.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use openclaw_core::Error;
use serde_json::{json, Value};

use crate::model::{ErrorBody, ErrorDetail};

/// A failed request.
#[derive(Debug)]
pub enum AppError {
    /// A domain error from the engine or a port.
    Domain(Error),
    /// No usable credentials (401).
    Unauthenticated(&'static str),
    /// The key may not do this (403).
    Forbidden(String),
    /// The body is not JSON at all (400).
    MalformedBody(String),
    /// The body is JSON of the wrong shape: unknown or missing fields, wrong types (422).
    InvalidBody {
        /// The path of the offending field (`provider_keys.X`, `.` for the root).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The body is over the limit (413).
    PayloadTooLarge(usize),
    /// No route here (404).
    NoRoute,
    /// A route, but not for this method (405).
    MethodNotAllowed,
    /// The caller's key ran out of its request budget (429).
    TooManyRequests(Duration),
    /// The caller's key holds the most event streams allowed (429).
    TooManyStreams(usize),
    /// An `Idempotency-Key` was reused with another request, or its first request is still
    /// running (409).
    IdempotencyConflict(&'static str),
    /// The request took longer than the server's timeout (503).
    Timeout,
}

impl From<Error> for AppError {
    fn from(error: Error) -> Self {
        AppError::Domain(error)
    }
}

/// Shorthand for handlers.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// A 422 naming `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Domain(Error::invalid(field, message))
    }

    /// The status, code, message and details this error answers with.
    pub fn parts(&self) -> (StatusCode, &'static str, String, Value) {
        match self {
            AppError::Domain(error) => domain_parts(error),
            AppError::Unauthenticated(why) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                (*why).to_string(),
                Value::Null,
            ),
            AppError::Forbidden(why) => {
                (StatusCode::FORBIDDEN, "forbidden", why.clone(), Value::Null)
            }
            AppError::MalformedBody(why) => (
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the body is not valid JSON: {why}"),
                Value::Null,
            ),
            AppError::InvalidBody { field, message } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                format!("invalid {field}: {message}"),
                json!({ "field": field }),
            ),
            AppError::PayloadTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is over the limit of {limit} bytes"),
                json!({ "limit": limit }),
            ),
            AppError::NoRoute => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint; see /openapi.json".to_string(),
                Value::Null,
            ),
            AppError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method; see /openapi.json".to_string(),
                Value::Null,
            ),
            AppError::TooManyRequests(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests with this key; slow down".to_string(),
                json!({ "retry_after_seconds": retry_after_secs(*wait) }),
            ),
            AppError::TooManyStreams(max) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                format!(
                    "this key has {max} event streams open, the most allowed \
                     (http.max_streams_per_key); close one first"
                ),
                json!({ "max_streams_per_key": max }),
            ),
            AppError::IdempotencyConflict(why) => (
                StatusCode::CONFLICT,
                "idempotency_conflict",
                (*why).to_string(),
                Value::Null,
            ),
            AppError::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long; try again".to_string(),
                Value::Null,
            ),
        }
    }

    /// How long the client should wait before trying again, for a `Retry-After` header.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            AppError::TooManyRequests(wait) => Some(*wait),
            AppError::TooManyStreams(_) => Some(Duration::from_secs(5)),
            AppError::Timeout => Some(Duration::from_secs(1)),
            AppError::Domain(error) => match error.root() {
                Error::RateLimited { retry_after, .. } => {
                    Some(retry_after.unwrap_or(Duration::from_secs(1)))
                }
                Error::Unavailable { service, .. } if service == "instance agent" => {
                    Some(Duration::from_secs(30))
                }
                _ if domain_parts(error).0 == StatusCode::SERVICE_UNAVAILABLE => {
                    Some(Duration::from_secs(1))
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// Whole seconds, at least one: `Retry-After: 0` would invite an immediate retry.
fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero()))
}

fn domain_parts(error: &Error) -> (StatusCode, &'static str, String, Value) {
    let code = error.code();
    match error {
        Error::InvalidInput { field, message } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            error.to_string(),
            json!({ "field": field, "reason": message }),
        ),
        Error::NotFound { kind, .. } => (
            StatusCode::NOT_FOUND,
            code,
            format!("{kind} not found"),
            json!({ "kind": kind }),
        ),
        Error::Conflict { .. } => (StatusCode::CONFLICT, code, error.to_string(), Value::Null),
        Error::InvalidTransition { from, to } => (
            StatusCode::CONFLICT,
            code,
            error.to_string(),
            json!({ "from": from.as_str(), "to": to.as_str() }),
        ),
        Error::Gone { .. } => (StatusCode::GONE, code, error.to_string(), Value::Null),
        Error::Unauthorized { .. } => {
            // Only a provider refusing our own credentials gets here (clients are checked
            // before any domain call): the client can do nothing about it.
            tracing::error!(%error, "a provider refused openclaw's credentials");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "a provider refused the deployment's credentials; the operator has been told"
                    .to_string(),
                Value::Null,
            )
        }
        Error::RateLimited { retry_after, .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            code,
            error.to_string(),
            json!({ "retry_after_seconds": retry_after.map(retry_after_secs) }),
        ),
        Error::Internal { .. }
        | Error::Store {
            retryable: false, ..
        } => {
            tracing::error!(%error, "internal error answering a request");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "something went wrong on our side; it has been logged".to_string(),
                Value::Null,
            )
        }
        Error::Store { .. } => {
            tracing::warn!(%error, "store unavailable answering a request");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the store is unavailable; try again".to_string(),
                Value::Null,
            )
        }
        // The instance's own agent: our message, which says what to do.
        Error::Unavailable {
            service, message, ..
        } if service == "instance agent" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "agent_unavailable",
            format!("{message}; try again in a minute"),
            Value::Null,
        ),
        // Providers and the rest: the message names the provider and its code, nothing of
        // ours; the correlation id stays in the log.
        _ => {
            tracing::warn!(%error, "dependency failure answering a request");
            let message = match error.root() {
                Error::Provider { provider, code, .. } => {
                    format!("{provider} failed ({code}); try again later")
                }
                Error::Unavailable { service, .. } => {
                    format!("{service} is unavailable; try again later")
                }
                _ => "a dependency failed; try again later".to_string(),
            };
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                message,
                Value::Null,
            )
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, message, details) = self.parts();
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
                details,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(wait) = self.retry_after() {
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs(wait).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_domain_error() {
        let cases = [
            (Error::invalid("plan", "unknown"), 422),
            (Error::not_found("instance", "x"), 404),
            (Error::conflict("taken"), 409),
            (
                Error::Gone {
                    message: "used".into(),
                },
                410,
            ),
            (
                Error::RateLimited {
                    provider: "hetzner".into(),
                    retry_after: None,
                },
                429,
            ),
            (Error::unavailable("store", "down"), 503),
            (
                Error::Store {
                    message: "connection reset".into(),
                    retryable: true,
                },
                503,
            ),
            (Error::internal("bug"), 500),
        ];
        for (error, status) in cases {
            assert_eq!(AppError::from(error).parts().0.as_u16(), status);
        }
    }

    #[test]
    fn internals_stay_out_of_messages() {
        let error = AppError::from(Error::Store {
            message: "password authentication failed for user secret_user".into(),
            retryable: true,
        });
        assert!(!error.parts().2.contains("secret_user"));
        let error = AppError::from(Error::internal("key 123 did not open"));
        assert!(!error.parts().2.contains("123"));
    }

    #[test]
    fn retry_after_is_whole_seconds_and_never_zero() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2100)), 3);
    }
}
