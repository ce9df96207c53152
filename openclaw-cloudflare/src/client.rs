//! The raw HTTP layer: one Cloudflare API call per method, each taking one limiter permit,
//! each reporting the rate-limit headers to the limiter, each decoding the envelope.

use std::sync::Arc;
use std::time::SystemTime;

use openclaw_core::ports::{RateLimitObservation, RateLimiter};
use openclaw_core::{Clock, Error, Result, SecretString, SystemClock};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::CloudflareConfig;
use crate::error::{self, ApiError, CallError, Endpoint};
use crate::model::{ApiMessage, Deleted, Envelope, Record, RecordBody, ResultInfo};
use crate::rate_limit;

/// `openclaw-cloudflare/<version>`.
pub const USER_AGENT_VALUE: &str = concat!("openclaw-cloudflare/", env!("CARGO_PKG_VERSION"));

/// One page of a list call.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub(crate) records: Vec<Record>,
    pub(crate) info: Option<ResultInfo>,
}

/// The transport: base URL, zone, token, limiter.
pub(crate) struct Client {
    http: reqwest::Client,
    records_url: String,
    token: SecretString,
    limiter: Arc<dyn RateLimiter>,
    /// Reads `Retry-After` given as an HTTP date; injected so tests control "now".
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("records_url", &self.records_url)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(
        config: &CloudflareConfig,
        token: SecretString,
        limiter: Arc<dyn RateLimiter>,
    ) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT_VALUE)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // A redirect would carry the token to wherever it points; the API never sends one.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
        let base = config.base_url.trim_end_matches('/');
        Ok(Client {
            http,
            records_url: format!("{base}/zones/{}/dns_records", config.zone_id),
            token,
            limiter,
            clock: Arc::new(SystemClock),
        })
    }

    pub(crate) fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    /// One page of `GET /zones/{zone_id}/dns_records` with `filters`.
    pub(crate) async fn list_records(
        &self,
        filters: &[(&str, String)],
        page: u64,
        per_page: u32,
    ) -> Result<Page, CallError> {
        let mut query: Vec<(&str, String)> = filters.to_vec();
        query.push(("page", page.to_string()));
        query.push(("per_page", per_page.to_string()));
        let envelope: Envelope<Vec<Record>> = self
            .call(
                Endpoint::ListRecords,
                Method::GET,
                &self.records_url,
                &query,
                None::<&()>,
            )
            .await?;
        Ok(Page {
            records: envelope.result.unwrap_or_default(),
            info: envelope.result_info,
        })
    }

    /// `POST /zones/{zone_id}/dns_records`.
    pub(crate) async fn create_record(&self, body: &RecordBody) -> Result<Record, CallError> {
        let envelope: Envelope<Record> = self
            .call(
                Endpoint::CreateRecord,
                Method::POST,
                &self.records_url,
                &[],
                Some(body),
            )
            .await?;
        required_result(Endpoint::CreateRecord, envelope)
    }

    /// `PATCH /zones/{zone_id}/dns_records/{id}`.
    pub(crate) async fn update_record(
        &self,
        id: &str,
        body: &RecordBody,
    ) -> Result<Record, CallError> {
        let url = self.record_url(id)?;
        let envelope: Envelope<Record> = self
            .call(Endpoint::UpdateRecord, Method::PATCH, &url, &[], Some(body))
            .await?;
        required_result(Endpoint::UpdateRecord, envelope)
    }

    /// `DELETE /zones/{zone_id}/dns_records/{id}`. Sent without a body, as the live API and
    /// Cloudflare's own clients do; the spec's request body for it has no schema.
    pub(crate) async fn delete_record(&self, id: &str) -> Result<(), CallError> {
        let url = self.record_url(id)?;
        let _: Envelope<Deleted> = self
            .call(
                Endpoint::DeleteRecord,
                Method::DELETE,
                &url,
                &[],
                None::<&()>,
            )
            .await?;
        Ok(())
    }

    fn record_url(&self, id: &str) -> Result<String, CallError> {
        // Ids go into the path: refuse anything that could step out of it.
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::invalid("record_id", "must be letters and digits").into());
        }
        Ok(format!("{}/{id}", self.records_url))
    }

    async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        endpoint: Endpoint,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Envelope<T>, CallError> {
        // One permit per HTTP request: the 1200/5 min budget counts requests, not operations.
        self.limiter.acquire(1).await?;
        let mut request = self
            .http
            .request(method, url)
            .header(AUTHORIZATION, self.bearer()?);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| error::transport(endpoint, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let ray = header_text(&headers, "cf-ray").map(str::to_string);
        let observation = self.observe(&headers, status).await;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| error::transport(endpoint, &e))?;
        tracing::debug!(
            endpoint = endpoint.name(),
            status = status.as_u16(),
            remaining = observation.remaining,
            "cloudflare call"
        );
        if !status.is_success() {
            return Err(failure(endpoint, status, &bytes, &observation, ray));
        }
        let envelope: Envelope<T> = decode(endpoint, status, &bytes, ray.clone())?;
        if !envelope.success {
            return Err(CallError::Api(ApiError {
                endpoint,
                status: status.as_u16(),
                errors: envelope.errors,
                retry_after: None,
                ray,
            }));
        }
        Ok(envelope)
    }

    fn bearer(&self) -> Result<HeaderValue> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.token.expose()))
            .map_err(|_| Error::invalid("api_token", "is not a valid header value"))?;
        // Keeps the token out of any debug output of the request.
        value.set_sensitive(true);
        Ok(value)
    }

    /// Passes the rate-limit headers to the limiter. On a 429 the observation always carries
    /// a pause, so the limiter holds back every Cloudflare call of the process until it has
    /// passed: calling again early would only extend Cloudflare's 5-minute block.
    async fn observe(&self, headers: &HeaderMap, status: StatusCode) -> RateLimitObservation {
        let now: SystemTime = self.clock.now().into();
        let mut observation = rate_limit::observe_headers(|name| header_text(headers, name), now);
        if status == StatusCode::TOO_MANY_REQUESTS {
            observation.retry_after = Some(rate_limit::pause_after_429(&observation));
            observation.remaining = Some(0);
            tracing::warn!(
                pause_secs = observation.retry_after.map(|d| d.as_secs()),
                "cloudflare rate limit hit: pausing every cloudflare call"
            );
        } else {
            // Only a 429 asks us to wait; a stray Retry-After elsewhere is not a pause.
            observation.retry_after = None;
        }
        if rate_limit::is_informative(&observation) {
            if let Err(e) = self.limiter.observe(&observation).await {
                tracing::warn!(error = %e, "the rate limiter refused an observation");
            }
        }
        observation
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn required_result(endpoint: Endpoint, envelope: Envelope<Record>) -> Result<Record, CallError> {
    envelope.result.ok_or_else(|| {
        CallError::Other(error::undecodable(
            endpoint,
            200,
            "result",
            "missing or null in a successful response",
            None,
        ))
    })
}

fn decode<T: DeserializeOwned>(
    endpoint: Endpoint,
    status: StatusCode,
    bytes: &[u8],
    ray: Option<String>,
) -> Result<T, CallError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        CallError::Other(error::undecodable(
            endpoint,
            status.as_u16(),
            &path,
            &e.into_inner().to_string(),
            ray,
        ))
    })
}

/// A non-2xx answer. Cloudflare's error bodies are envelopes; a proxy's HTML error page is
/// not, and then only the status speaks.
fn failure(
    endpoint: Endpoint,
    status: StatusCode,
    bytes: &[u8],
    observation: &RateLimitObservation,
    ray: Option<String>,
) -> CallError {
    #[derive(serde::Deserialize)]
    struct ErrorsOnly {
        #[serde(default)]
        errors: Vec<ApiMessage>,
    }
    let errors = serde_json::from_slice::<ErrorsOnly>(bytes)
        .map(|e| e.errors)
        .unwrap_or_default();
    CallError::Api(ApiError {
        endpoint,
        status: status.as_u16(),
        errors,
        retry_after: (status == StatusCode::TOO_MANY_REQUESTS)
            .then_some(observation.retry_after)
            .flatten(),
        ray,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_agent_names_crate_and_version() {
        assert!(USER_AGENT_VALUE.starts_with("openclaw-cloudflare/"));
        assert!(USER_AGENT_VALUE.ends_with(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn garbage_names_the_endpoint_and_field() {
        let e = decode::<Envelope<Vec<Record>>>(
            Endpoint::ListRecords,
            StatusCode::OK,
            br#"{"success":true,"errors":[],"messages":[],"result":[{"id":"a","name":"x","type":"A","ttl":"soon"}]}"#,
            None,
        )
        .unwrap_err();
        let text = Error::from(e).to_string();
        assert!(text.contains("list_dns_records"), "{text}");
        assert!(text.contains("result[0].ttl"), "{text}");
        let e = decode::<Envelope<Vec<Record>>>(
            Endpoint::CreateRecord,
            StatusCode::OK,
            b"<html>bad gateway</html>",
            None,
        )
        .unwrap_err();
        let e = Error::from(e);
        assert_eq!(e.class(), openclaw_core::ErrorClass::Ambiguous);
    }

    #[test]
    fn an_html_error_page_is_classified_by_status() {
        let e = failure(
            Endpoint::ListRecords,
            StatusCode::BAD_GATEWAY,
            b"<html>502</html>",
            &RateLimitObservation::default(),
            None,
        );
        assert!(Error::from(e).is_server_error());
    }
}
