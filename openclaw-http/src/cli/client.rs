//! The HTTP client behind `openclaw instances …` and `openclaw sweep`.

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::ErrorBody;

/// Talks to a running `openclaw serve`.
#[derive(Debug, Clone)]
pub struct ApiClient {
    /// `http://127.0.0.1:8080`.
    pub base: String,
    key: String,
    /// The underlying client (event streams reuse it).
    pub http: reqwest::Client,
}

/// What went wrong, for a person.
#[derive(Debug)]
pub enum ClientError {
    /// The server could not be reached.
    Transport(String),
    /// The server answered with an error.
    Api {
        /// HTTP status.
        status: u16,
        /// The error body, when it had the API's shape.
        body: Option<ErrorBody>,
    },
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Transport(e) => write!(f, "cannot reach the server: {e}"),
            ClientError::Api {
                status,
                body: Some(body),
            } => write!(f, "{} ({status}): {}", body.error.code, body.error.message),
            ClientError::Api { status, body: None } => write!(f, "the server answered {status}"),
        }
    }
}

impl ApiClient {
    /// A client of `base` with API key `key`.
    pub fn new(base: &str, key: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("openclaw-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(ApiClient {
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            http,
        })
    }

    /// The API key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Sends a request and reads a JSON answer.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
        idempotency_key: Option<&str>,
    ) -> Result<T, ClientError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .timeout(Duration::from_secs(60));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header(crate::idempotency::HEADER, key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if !status.is_success() {
            return Err(ClientError::Api {
                status: status.as_u16(),
                body: serde_json::from_slice(&bytes).ok(),
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Transport(format!("an answer that does not parse: {e}")))
    }
}
