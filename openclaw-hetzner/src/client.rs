//! The raw HTTP transport: one permit per request, auth, rate-limit headers, correlation
//! ids, and error mapping. It knows requests and responses, not servers.

use std::sync::Arc;

use openclaw_core::ports::RateLimiter;
use openclaw_core::{Clock, Error, Result, SecretString};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::Method;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::config::HetznerConfig;
use crate::error::{ApiError, Failure};
use crate::model::ErrorResponse;
use crate::rate_limit::{self, HEADER_CORRELATION_ID};

/// `openclaw-hetzner/<version>`, so Hetzner (and our own logs) can tell who called.
pub const USER_AGENT: &str = concat!("openclaw-hetzner/", env!("CARGO_PKG_VERSION"));

/// A decoded response and the id Hetzner gave the request.
#[derive(Debug)]
pub(crate) struct Reply<T> {
    pub(crate) value: T,
    pub(crate) correlation_id: Option<String>,
}

/// The transport shared by the adapter and its action watcher.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: SecretString,
    limiter: Arc<dyn RateLimiter>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(
        config: &HetznerConfig,
        limiter: Arc<dyn RateLimiter>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base: config.endpoint.clone(),
            token: config.token.clone(),
            limiter,
            clock,
        })
    }

    fn auth(&self) -> Result<HeaderValue, Failure> {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", self.token.expose())).map_err(|_| {
                Failure::Local(Error::invalid(
                    "token",
                    "may only contain visible ASCII characters",
                ))
            })?;
        // Keeps the token out of any debug output of the request.
        value.set_sensitive(true);
        Ok(value)
    }

    /// Sends one request and decodes a success body as `T`.
    ///
    /// `path` starts with `/` and is appended to the base URL; `endpoint` names the
    /// operation in errors and logs (`GET /servers/{id}`), without ids or secrets.
    pub(crate) async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        endpoint: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Reply<T>, Failure> {
        // One span per request, carrying Hetzner's correlation id once it is known, so a
        // log line can be matched with Hetzner's support.
        let span = tracing::debug_span!(
            "hetzner_request",
            endpoint,
            status = tracing::field::Empty,
            correlation_id = tracing::field::Empty,
        );
        self.send(method, path, endpoint, query, body)
            .instrument(span)
            .await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        endpoint: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Reply<T>, Failure> {
        self.limiter.acquire(1).await.map_err(Failure::Local)?;
        let mut request = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header(AUTHORIZATION, self.auth()?);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(endpoint, error = %error, "hetzner request failed");
                return Err(Failure::Transport {
                    endpoint: endpoint.to_string(),
                    maybe_sent: !error.is_connect(),
                    message: describe(&error),
                });
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let correlation_id = correlation_id(&headers);
        let span = tracing::Span::current();
        span.record("status", status);
        if let Some(id) = &correlation_id {
            span.record("correlation_id", id.as_str());
        }
        let observation =
            rate_limit::observe_headers(&headers, status, self.clock.now().timestamp());
        if !rate_limit::is_empty(&observation) {
            if let Err(error) = self.limiter.observe(&observation).await {
                tracing::debug!(error = %error, "limiter did not take the rate-limit headers");
            }
        }
        let bytes = response.bytes().await.map_err(|error| Failure::Transport {
            endpoint: endpoint.to_string(),
            maybe_sent: true,
            message: describe(&error),
        })?;
        tracing::debug!(
            endpoint,
            status,
            correlation_id = correlation_id.as_deref().unwrap_or(""),
            remaining = observation.remaining,
            "hetzner request"
        );
        if (200..300).contains(&status) {
            return decode(endpoint, &bytes, correlation_id.as_deref()).map(|value| Reply {
                value,
                correlation_id,
            });
        }
        let parsed = serde_json::from_slice::<ErrorResponse>(&bytes).ok();
        let message = match &parsed {
            Some(body) => body.error.message.clone(),
            None if bytes.is_empty() => format!("HTTP {status} without a body"),
            None => format!("HTTP {status} with a body that is not an error response"),
        };
        let api = ApiError {
            endpoint: endpoint.to_string(),
            status,
            code: parsed.map(|body| body.error.code),
            message,
            correlation_id,
            rate_limit_wait: observation.retry_after,
        };
        tracing::info!(
            endpoint,
            status,
            code = api.code.as_deref().unwrap_or(""),
            correlation_id = api.correlation_id.as_deref().unwrap_or(""),
            "hetzner answered with an error"
        );
        Err(Failure::Api(api))
    }
}

fn correlation_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(HEADER_CORRELATION_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Decodes `bytes` as `T`; a failure names the field by its path in the document.
fn decode<T: DeserializeOwned>(
    endpoint: &str,
    bytes: &[u8],
    correlation_id: Option<&str>,
) -> Result<T, Failure> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        Failure::Decode {
            endpoint: endpoint.to_string(),
            field,
            message: error.into_inner().to_string(),
            correlation_id: correlation_id.map(str::to_string),
        }
    })
}

/// A transport error in words, with its cause chain (reqwest's own message is often just
/// "error sending request").
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        format!("timed out: {error}")
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ServerResponse;

    #[test]
    fn decode_names_the_field() {
        let body = br#"{"server": {"id": "forty-two", "name": "x", "status": "running"}}"#;
        let Err(Failure::Decode { field, .. }) =
            decode::<ServerResponse>("GET /servers/{id}", body, None)
        else {
            panic!("expected a decode failure");
        };
        assert_eq!(field, "server.id");
        let Err(Failure::Decode { field, .. }) =
            decode::<ServerResponse>("GET /servers/{id}", b"<html>", None)
        else {
            panic!("expected a decode failure");
        };
        assert_eq!(field, ".");
    }
}
