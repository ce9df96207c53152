//! A router on in-memory providers, keys of every kind, and request helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use openclaw_core::domain::{CustomerId, DeploymentName, Scope};
use openclaw_core::memory::{InMemoryCompute, InMemoryDns, InMemoryHealth, InMemoryStore};
use openclaw_core::ports::ApiKeyStore;
use openclaw_core::{BootstrapKey, EngineConfig, Provisioner};
use openclaw_http::config::HttpConfig;
use openclaw_http::metrics::HttpMetrics;
use openclaw_http::rate_limit::RateLimitConfig;
use openclaw_http::{auth, routes, AppState};
use serde_json::{json, Value};
use tower::ServiceExt;

/// The deployment's bootstrap key, so tests can make valid tokens.
pub(crate) fn bootstrap_key() -> BootstrapKey {
    BootstrapKey::from_bytes([42; 32])
}

pub(crate) struct Harness {
    pub(crate) app: Router,
    pub(crate) state: AppState,
    pub(crate) provisioner: Provisioner,
    pub(crate) store: InMemoryStore,
    pub(crate) compute: InMemoryCompute,
    pub(crate) admin: String,
    pub(crate) manage: String,
    pub(crate) read: String,
    /// manage scope, bound to customer `alice`.
    pub(crate) alice: String,
    /// read scope, bound to customer `alice`.
    pub(crate) alice_read: String,
    /// manage scope, bound to customer `bob`.
    pub(crate) bob: String,
    pub(crate) revoked: String,
}

pub(crate) async fn harness() -> Harness {
    harness_with(HttpConfig {
        // Generous: only the rate-limit test wants to hit it.
        rate_limit: RateLimitConfig {
            burst: 10_000,
            per_second: 10_000.0,
        },
        ..HttpConfig::default()
    })
    .await
}

pub(crate) async fn harness_with(http: HttpConfig) -> Harness {
    let owner = DeploymentName::parse("test").unwrap();
    let store = InMemoryStore::new();
    let compute = InMemoryCompute::new(owner.clone());
    let mut config = EngineConfig::new(owner.clone(), "claw.example.com");
    config.bootstrap_key = Some(bootstrap_key());
    config.health.interval = Duration::from_millis(1);
    let provisioner = Provisioner::builder()
        .compute(Arc::new(compute.clone()))
        .dns(Arc::new(InMemoryDns::new(owner, "claw.example.com")))
        .health(Arc::new(InMemoryHealth::following(compute.clone())))
        .store(Arc::new(store.clone()))
        .agents(Arc::new(store.clone()))
        .config(config)
        .build()
        .unwrap();
    let keys: Arc<dyn ApiKeyStore> = Arc::new(store.clone());
    let make = |name: &str, scope: Scope, customer: Option<&str>| {
        let new =
            auth::generate(name, scope, customer.map(|c| CustomerId::parse(c).unwrap())).unwrap();
        (new.key, new.token.expose().to_string())
    };
    let mut tokens = Vec::new();
    for (name, scope, customer) in [
        ("admin", Scope::Admin, None),
        ("whmcs", Scope::Manage, None),
        ("dashboard", Scope::Read, None),
        ("alice", Scope::Manage, Some("alice")),
        ("alice-read", Scope::Read, Some("alice")),
        ("bob", Scope::Manage, Some("bob")),
        ("old", Scope::Admin, None),
    ] {
        let (key, token) = make(name, scope, customer);
        keys.insert_api_key(&key).await.unwrap();
        tokens.push((key.id, token));
    }
    keys.revoke_api_key(&tokens[6].0, chrono::Utc::now())
        .await
        .unwrap();
    let state = AppState::with_config(
        provisioner.clone(),
        keys,
        Arc::new(HttpMetrics::default()),
        &HttpConfig {
            key_cache_ttl: Duration::ZERO,
            ..http
        },
    );
    let token = |i: usize| tokens[i].1.clone();
    Harness {
        app: routes::app(state.clone()),
        state,
        provisioner,
        store,
        compute,
        admin: token(0),
        manage: token(1),
        read: token(2),
        alice: token(3),
        alice_read: token(4),
        bob: token(5),
        revoked: token(6),
    }
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
    pub(crate) text: String,
}

impl Reply {
    /// The error code of an error reply (and checks the error shape).
    pub(crate) fn code(&self) -> &str {
        let error = &self.body["error"];
        assert!(
            error["message"].is_string(),
            "not the error shape: {}",
            self.text
        );
        assert!(error.get("details").is_some(), "no details: {}", self.text);
        error["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code: {}", self.text))
    }
}

impl Harness {
    /// The bootstrap token in the user data of instance `id`'s server: bound to its newest
    /// provisioning job.
    #[allow(dead_code)] // Not every test file bootstraps.
    pub(crate) async fn bootstrap_token(&self, id: &str) -> openclaw_core::SecretString {
        self.provisioner
            .bootstrap_token(id.parse().unwrap())
            .await
            .unwrap()
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let body = match body {
            Some(v) => {
                request = request.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    pub(crate) async fn get(&self, path: &str, key: &str) -> Reply {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub(crate) async fn post(&self, path: &str, key: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    /// Creates an instance for `customer` with `key` and returns its id.
    pub(crate) async fn create(
        &self,
        key: &str,
        customer: Option<&str>,
        subdomain: &str,
    ) -> String {
        let mut body = json!({"subdomain": subdomain, "plan": "starter", "region": "eu-west"});
        if let Some(c) = customer {
            body["customer_id"] = json!(c);
        }
        let reply = self.post("/v1/instances", key, body).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
        reply.body["id"].as_str().unwrap().to_string()
    }

    pub(crate) async fn run_jobs(&self) {
        // Jobs may schedule follow-ups; a few rounds settle everything in-memory.
        for _ in 0..5 {
            self.provisioner.run_pending_jobs().await.unwrap();
        }
    }

    pub(crate) async fn status_of(&self, id: &str) -> String {
        let reply = self.get(&format!("/v1/instances/{id}"), &self.admin).await;
        reply.body["status"].as_str().unwrap().to_string()
    }
}
