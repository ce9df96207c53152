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
