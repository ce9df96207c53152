//! A running `openclaw` server, over its HTTP API: the same operations as the embedded
//! provisioner, answered with the same views. The API key goes in the `Authorization` header
//! of each request and nowhere else (never a URL, never a `repr`).

use std::time::Duration;

use openclaw_core::domain::RollbackLevel;
use openclaw_core::SecretString;
use openclaw_http::model::{EventView, InstancePage, InstanceView, SweepView};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::embedded::Operation;
use crate::errors::{Failure, Outcome};

/// A server's base URL and a client holding its key.
pub(crate) struct Remote {
    base: String,
    http: reqwest::Client,
    /// For the event stream, which has no overall timeout.
    streaming: reqwest::Client,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A path segment: only what an id or uid may hold passes unescaped.
fn segment(text: &str) -> Outcome<&str> {
    let ok = !text.is_empty()
        && text.len() <= 128
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c));
    if ok {
        Ok(text)
    } else {
        Err(Failure::Core(openclaw_core::Error::invalid(
            "id",
            "is not an instance id (a UUID)",
        )))
    }
}

impl Remote {
    /// A client of the server at `url` (its base, such as `http://127.0.0.1:8080`).
    pub(crate) fn new(url: &str, api_key: &SecretString, timeout: Duration) -> Outcome<Remote> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Failure::Core(openclaw_core::Error::invalid(
                "url",
                "must be an http:// or https:// URL",
            )));
        }
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", api_key.expose())).map_err(|_| {
                Failure::Core(openclaw_core::Error::invalid(
                    "api_key",
                    "must be printable ASCII (ock_<id>.<secret>)",
                ))
            })?;
        value.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value);
        let build = |timeout: Option<Duration>| {
            let mut builder = reqwest::Client::builder()
                .default_headers(headers.clone())
                .connect_timeout(Duration::from_secs(10))
                .user_agent(concat!("openclaw-py/", env!("CARGO_PKG_VERSION")));
            if let Some(timeout) = timeout {
                builder = builder.timeout(timeout);
            }
            builder
                .build()
                .map_err(|e| Failure::Transport(format!("cannot make an HTTP client: {e}")))
        };
        Ok(Remote {
            base,
            http: build(Some(timeout))?,
            streaming: build(None)?,
        })
    }

    /// A request that got no answer: `Timeout` when the server did not answer in time,
    /// `Unavailable` when it could not be reached.
    fn failed(&self, error: &reqwest::Error) -> Failure {
        if error.is_timeout() {
            Failure::Timeout(format!(
                "{} did not answer within the client's timeout",
                self.base
            ))
        } else {
            Failure::Transport(format!("{} unreachable: {}", self.base, without_url(error)))
        }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Sends `request`; a 2xx answer's body as `T`, anything else as the error it carries.
    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Outcome<T> {
        let response = request
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| self.failed(&e))?;
        let response = checked(response).await?;
        response.json::<T>().await.map_err(|e| {
            if e.is_timeout() {
                self.failed(&e)
            } else {
                Failure::Transport(format!(
                    "an answer of {} is not what the API documents: {}",
                    self.base,
                    without_url(&e)
                ))
            }
        })
    }

    /// Accepts an order.
    pub(crate) async fn create(
        &self,
        order: openclaw_core::domain::CreateInstance,
    ) -> Outcome<InstanceView> {
        let keys: serde_json::Map<String, Value> = order
            .provider_keys
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.expose().to_string())))
            .collect();
        let mut body = json!({
            "customer_id": order.customer_id,
            "subdomain": order.subdomain,
            "plan": order.plan,
            "region": order.region,
        });
        if let Some(reference) = &order.external_ref {
            body["external_ref"] = json!(reference);
        }
        if !keys.is_empty() {
            body["provider_keys"] = Value::Object(keys);
        }
        let request = self.request(Method::POST, "/v1/instances").json(&body);
        // One key per order: a retry of this call would replay, never order twice.
        let key = uuid_like();
        self.send(request.header("idempotency-key", key)).await
    }

    /// One instance.
    pub(crate) async fn get(&self, id: &str) -> Outcome<InstanceView> {
        let path = format!("/v1/instances/{}", segment(id)?);
        self.send(self.request(Method::GET, &path)).await
    }

    /// Every instance matching, oldest first (all pages).
    pub(crate) async fn list(
        &self,
        customer_id: Option<String>,
        status: Option<String>,
    ) -> Outcome<Vec<InstanceView>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query: Vec<(&str, String)> = vec![("limit", "500".to_string())];
            if let Some(c) = &customer_id {
                query.push(("customer_id", c.clone()));
            }
            if let Some(s) = &status {
                query.push(("status", s.clone()));
            }
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let page: InstancePage = self
                .send(self.request(Method::GET, "/v1/instances").query(&query))
                .await?;
            all.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// Runs one of the instance operations.
    pub(crate) async fn operate(&self, operation: Operation) -> Outcome<InstanceView> {
        let (method, id, action, body) = match &operation {
            Operation::Suspend(i) => (Method::POST, i, "/suspend", None),
            Operation::Unsuspend(i) => (Method::POST, i, "/unsuspend", None),
            Operation::Terminate(i) => (Method::DELETE, i, "", None),
            Operation::Retry(i) => (Method::POST, i, "/retry", None),
            Operation::Rollback(i, level) => {
                let level = match level {
                    RollbackLevel::Soft => "soft",
                    RollbackLevel::Partial => "partial",
                    RollbackLevel::Full => "full",
                };
                (
                    Method::POST,
                    i,
                    "/rollback",
                    Some(json!({ "level": level })),
                )
            }
            Operation::ChangePlan(i, plan) => {
                (Method::POST, i, "/plan", Some(json!({ "plan": plan })))
            }
        };
        let path = format!("/v1/instances/{}{action}", segment(id)?);
        let mut request = self.request(method, &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// An instance's events, oldest first.
    pub(crate) async fn instance_events(&self, id: &str) -> Outcome<Vec<EventView>> {
        #[derive(serde::Deserialize)]
        struct List {
            items: Vec<EventView>,
        }
        let path = format!("/v1/instances/{}/events", segment(id)?);
        let list: List = self.send(self.request(Method::GET, &path)).await?;
        Ok(list.items)
    }

    /// Finds (and with `dry_run` false deletes) orphaned provider resources.
    pub(crate) async fn sweep(&self, dry_run: bool) -> Outcome<SweepView> {
        let request = self
            .request(Method::POST, "/v1/sweep")
            .json(&json!({ "dry_run": dry_run }));
        self.send(request).await
    }

    /// The highest event sequence, when the key may read the overview (operators' keys).
    pub(crate) async fn last_event_sequence(&self) -> Outcome<u64> {
        let overview: Value = self.send(self.request(Method::GET, "/v1/overview")).await?;
        Ok(overview["last_event_sequence"].as_u64().unwrap_or(0))
    }

    /// The event stream after `after` (Server-Sent Events), as a response to read.
    pub(crate) async fn open_events(&self, after: u64) -> Outcome<Response> {
        let response = self
            .streaming
            .get(format!("{}/v1/events", self.base))
            .query(&[("after", after.to_string())])
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| self.failed(&e))?;
        checked(response).await
    }
}

/// `response` if it is a success; else the error its body describes.
async fn checked(response: Response) -> Outcome<Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    let text = response.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let error = &body["error"];
    match (error["code"].as_str(), error["message"].as_str()) {
        (Some(code), Some(message)) => Err(Failure::Api {
            status: status.as_u16(),
            code: code.to_string(),
            message: message.to_string(),
            details: error["details"].clone(),
            retry_after,
        }),
        _ => Err(Failure::Transport(format!(
            "the server answered HTTP {status} without the API's error shape"
        ))),
    }
}

/// What went wrong under a reqwest error, without its URL (the message names the server
/// already): the innermost cause, such as "Connection refused".
fn without_url(error: &reqwest::Error) -> String {
    let mut root = None;
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        root = Some(cause.to_string());
        source = cause.source();
    }
    root.unwrap_or_else(|| {
        let text = error.to_string();
        match error.url() {
            Some(url) => text.replace(&format!(" for url ({url})"), ""),
            None => text,
        }
    })
}

/// A random idempotency key (UUID-shaped).
fn uuid_like() -> String {
    openclaw_core::domain::InstanceId::new().to_string()
}
