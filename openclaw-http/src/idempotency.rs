//! `Idempotency-Key` on POST and DELETE requests: the first request with a key runs and its
//! response is kept (24 hours); the same key with the same request gets that response again
//! (`Idempotent-Replayed: true`); the same key with another request, or while the first is
//! still running, is 409.
//!
//! Keys are scoped by API key (two clients cannot collide) and the request is identified by
//! the SHA-256 of its method, path and body. Responses that say "try again" (429, 5xx) are not
//! kept, so the retry the client will make can succeed. A first request cancelled on the way
//! (the client went away, the request timed out) frees its key at once; one that never
//! finished because the process died holds it for at most [`ABANDONED_AFTER`]. A replay
//! repeats the status, the body and the `Location` and `Retry-After` headers.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::FutureExt as _;
use openclaw_core::domain::{IdempotencyRecord, StoredResponse};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::error::AppError;
use crate::state::AppState;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// Set on a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// A first request still "running" after this is taken as abandoned.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(120);
/// Largest response kept for replay.
const MAX_KEPT_RESPONSE: usize = 1024 * 1024;

fn request_hash(method: &Method, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The middleware; runs after authentication.
pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match handle(&state, request, next).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn handle(state: &AppState, request: Request, next: Next) -> Result<Response, AppError> {
    let applies = matches!(*request.method(), Method::POST | Method::DELETE);
    let Some(key) = request.headers().get(HEADER).filter(|_| applies) else {
        return Ok(next.run(request).await);
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            AppError::invalid(
                "Idempotency-Key",
                format!("must be 1-{MAX_KEY_LEN} printable ASCII characters"),
            )
        })?
        .to_string();
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or(AppError::Unauthenticated("no API key"))?;
    let (parts, body) = request.into_parts();
    let limit = state.settings.body_limit;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| AppError::PayloadTooLarge(limit))?;
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
    let hash = request_hash(&parts.method, &path, &bytes);
    let scoped = format!("{}:{key}", caller.key_id);
    let now = Utc::now();
    let ttl = chrono::Duration::from_std(state.settings.idempotency_ttl)
        .unwrap_or_else(|_| chrono::Duration::hours(24));
    let record = IdempotencyRecord {
        key: scoped.clone(),
        request_hash: hash.clone(),
        response: None,
        created_at: now,
        expires_at: now + ttl,
    };
    let mut existing = state.store.put_idempotency(&record).await?;
    if let Some(found) = &existing {
        let abandoned = found.response.is_none()
            && (now - found.created_at).to_std().unwrap_or_default() > ABANDONED_AFTER;
        if abandoned {
            state.store.delete_idempotency(&scoped).await?;
            existing = state.store.put_idempotency(&record).await?;
        }
    }
    if let Some(found) = existing {
        if found.request_hash != hash {
            return Err(AppError::IdempotencyConflict(
                "this Idempotency-Key was used with a different request",
            ));
        }
        return match found.response {
            Some(stored) => Ok(replay(&stored)),
            None => Err(AppError::IdempotencyConflict(
                "a request with this Idempotency-Key is still being handled; try again",
            )),
        };
    }
    let request = Request::from_parts(parts, Body::from(bytes));
    // Freed at once if this future is dropped before the response is kept (the client went
    // away, the request timed out), so the client's retry is not refused as "running".
    let mut in_flight = InFlight {
        state: Some(state.clone()),
        key: scoped.clone(),
    };
    let outcome = std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await;
    let Ok(response) = outcome else {
        // A panic below us: free the key so the client's retry is not refused as "running".
        let _ = state.store.delete_idempotency(&scoped).await;
        in_flight.done();
        std::panic::resume_unwind(Box::new("handler panicked"));
    };
    let status = response.status();
    let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_KEPT_RESPONSE).await else {
        let _ = state.store.delete_idempotency(&scoped).await;
        in_flight.done();
        return Err(AppError::Domain(openclaw_core::Error::internal(
            "a response too large to keep for replay",
        )));
    };
    let kept = if retryable {
        None
    } else {
        serde_json::from_slice::<serde_json::Value>(&body).ok()
    };
    match kept {
        Some(json) => {
            let headers = REPLAYED_HEADERS
                .iter()
                .filter_map(|name| {
                    let value = parts.headers.get(*name)?.to_str().ok()?;
                    Some(((*name).to_string(), value.to_string()))
                })
                .collect();
            let stored = StoredResponse {
                status: status.as_u16(),
                body: json,
                headers,
            };
            if let Err(error) = state.store.complete_idempotency(&scoped, &stored).await {
                tracing::warn!(%error, "could not keep a response for replay");
            }
        }
        None => {
            if let Err(error) = state.store.delete_idempotency(&scoped).await {
                tracing::warn!(%error, "could not release an idempotency key");
            }
        }
    }
    in_flight.done();
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// The response headers a replay repeats.
const REPLAYED_HEADERS: &[&str] = &["location", "retry-after"];

/// Deletes an in-flight key when dropped before [`InFlight::done`].
struct InFlight {
    state: Option<AppState>,
    key: String,
}

impl InFlight {
    /// The request's outcome is settled (kept, or deleted by the code that settled it).
    fn done(&mut self) {
        self.state = None;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        let key = std::mem::take(&mut self.key);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = state.store.delete_idempotency(&key).await {
                    tracing::warn!(%error, "could not free the key of a cancelled request");
                }
            });
        }
    }
}

fn replay(stored: &StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, axum::Json(stored.body.clone())).into_response();
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_method_path_and_body() {
        let a = request_hash(&Method::POST, "/v1/instances", b"{}");
        assert_eq!(a.len(), 64);
        assert_ne!(a, request_hash(&Method::DELETE, "/v1/instances", b"{}"));
        assert_ne!(a, request_hash(&Method::POST, "/v1/instancez", b"{}"));
        assert_ne!(a, request_hash(&Method::POST, "/v1/instances", b"{ }"));
    }
}
