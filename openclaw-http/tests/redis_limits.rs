//! With `redis_url`, the providers' rate limits are one budget in Redis for every replica of a
//! deployment; without it, each process has its own. Against a real Redis (`REDIS_URL`,
//! default `redis://127.0.0.1:6379`; `scripts/test` starts one); never skips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use openclaw_core::domain::DeploymentName;
use openclaw_http::config::{Config, Secret};
use openclaw_http::deployment::provider_limiter;
use openclaw_http::rate_limit::RateLimitConfig;

fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_string())
}

/// A deployment name no other run uses (the budget's key carries it).
fn fresh_deployment() -> DeploymentName {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    DeploymentName::parse(format!("t{}-{}", std::process::id(), nanos % 1_000_000_000)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_with_redis_share_each_providers_budget() {
    let limit = RateLimitConfig {
        burst: 4,
        per_second: 0.1,
    };
    let deployment = fresh_deployment();
    let mut config = Config {
        redis_url: Some(Secret::new(redis_url())),
        redis_replicas: 2,
        ..Config::default()
    };
    // Two replicas' Hetzner limiters: one budget.
    let a = provider_limiter(&config, &deployment, "hetzner", &limit).unwrap();
    let b = provider_limiter(&config, &deployment, "hetzner", &limit).unwrap();
    assert!(a.try_acquire(4).await.unwrap());
    assert!(
        !b.try_acquire(1).await.unwrap(),
        "replica B sees what A took"
    );
    // Cloudflare's budget is its own, and so is another deployment's.
    let cloudflare = provider_limiter(&config, &deployment, "cloudflare", &limit).unwrap();
    assert!(cloudflare.try_acquire(4).await.unwrap());
    let other = provider_limiter(&config, &fresh_deployment(), "hetzner", &limit).unwrap();
    assert!(other.try_acquire(4).await.unwrap());

    // Without Redis, each process has a budget of its own.
    config.redis_url = None;
    let a = provider_limiter(&config, &deployment, "hetzner", &limit).unwrap();
    let b = provider_limiter(&config, &deployment, "hetzner", &limit).unwrap();
    assert!(a.try_acquire(4).await.unwrap());
    assert!(b.try_acquire(4).await.unwrap());
}

#[test]
fn the_redis_url_comes_from_the_environment_and_never_shows() {
    let config = Config::load(None, |name| match name {
        "OPENCLAW_REDIS_URL" => Some("redis://:hunter2@redis.internal:6379/0".to_string()),
        _ => None,
    })
    .unwrap();
    assert_eq!(
        config.redis_url.as_ref().map(Secret::expose),
        Some("redis://:hunter2@redis.internal:6379/0")
    );
    let shown = config.to_redacted_toml().unwrap();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!format!("{config:?}").contains("hunter2"));

    let bad = Config {
        redis_url: Some(Secret::new("http://redis.internal")),
        ..Config::default()
    };
    assert!(bad.resolve().unwrap_err().to_string().contains("redis_url"));
    assert!(Config::default().resolve().is_ok());
    let none = Config {
        redis_replicas: 0,
        ..Config::default()
    };
    assert!(none
        .resolve()
        .unwrap_err()
        .to_string()
        .contains("redis_replicas"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_with_redis_share_each_api_keys_budget() {
    use openclaw_http::rate_limit::ApiRateLimits;
    let limit = RateLimitConfig {
        burst: 3,
        per_second: 0.1,
    };
    let deployment = fresh_deployment();
    let a = ApiRateLimits::in_redis(limit, &redis_url(), deployment.as_str(), 2).unwrap();
    let b = ApiRateLimits::in_redis(limit, &redis_url(), deployment.as_str(), 2).unwrap();
    assert!(a.check("key1").await.is_ok());
    assert!(a.check("key1").await.is_ok());
    assert!(b.check("key1").await.is_ok());
    let refused = b.check("key1").await;
    assert_eq!(
        refused,
        Err(std::time::Duration::from_secs(10)),
        "replica B sees what A took"
    );
    assert!(a.check("key1").await.is_err());
    // Another key has its own budget.
    assert!(b.check("key2").await.is_ok());

    // Without Redis, each process has a budget of its own per key.
    let a = ApiRateLimits::new(limit);
    let b = ApiRateLimits::new(limit);
    for _ in 0..3 {
        assert!(a.check("key1").await.is_ok());
    }
    assert!(b.check("key1").await.is_ok());
}

/// A router whose state holds a Redis bus at `url` (the provisioner's own bus too).
fn app_with_redis(url: &str) -> axum::Router {
    use std::sync::Arc;

    use openclaw_core::memory::{InMemoryCompute, InMemoryDns, InMemoryHealth};
    use openclaw_core::{EngineConfig, InMemoryStore, Provisioner};

    let owner = fresh_deployment();
    let store = InMemoryStore::new();
    let compute = InMemoryCompute::new(owner.clone());
    let bus = openclaw_bus_redis::RedisBus::new(
        openclaw_bus_redis::RedisBusConfig::new(url, owner.as_str()),
        Arc::new(store.clone()),
    )
    .unwrap();
    let provisioner = Provisioner::builder()
        .compute(Arc::new(compute.clone()))
        .dns(Arc::new(InMemoryDns::new(
            owner.clone(),
            "claw.example.com",
        )))
        .health(Arc::new(InMemoryHealth::following(compute)))
        .store(Arc::new(store.clone()))
        .agents(Arc::new(store.clone()))
        .bus(Arc::new(bus.clone()))
        .config(EngineConfig::new(owner, "claw.example.com"))
        .build()
        .unwrap();
    let mut state = openclaw_http::AppState::new(provisioner, Arc::new(store));
    state.redis = Some(Arc::new(openclaw_http::redis::RedisParts {
        bus,
        limiters: Vec::new(),
    }));
    openclaw_http::routes::app(state)
}

async fn get(app: &axum::Router, path: &str) -> (u16, String) {
    use tower::ServiceExt;
    let response = app
        .clone()
        .oneshot(
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_and_metrics_report_redis() {
    let app = app_with_redis(&redis_url());
    let (status, body) = get(&app, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["redis"], "up");
    let (status, metrics) = get(&app, "/metrics").await;
    assert_eq!(status, 200);
    for family in [
        "openclaw_redis_subscribed ",
        "openclaw_redis_publish_seconds_count ",
        "openclaw_redis_fallback_seconds_total ",
    ] {
        assert!(metrics.contains(family), "{family} missing:\n{metrics}");
    }

    // Redis away: still ready (events go through the log), and said so.
    let app = app_with_redis("redis://127.0.0.1:1");
    let (status, body) = get(&app, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["redis"], "down");
    // Liveness does not depend on Redis.
    let (_, healthz) = get(&app, "/healthz").await;
    assert!(!healthz.contains("redis"), "{healthz}");
}
