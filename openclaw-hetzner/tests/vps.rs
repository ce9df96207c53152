//! The fake machines behind fake servers: boot, bootstrap once against a control plane on
//! loopback, then a ready `/startupz`; down while powered off; gone with the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use openclaw_core::domain::InstanceId;
use openclaw_core::ports::Compute;
use openclaw_core::{render_user_data, BootstrapKey, CloudInitConfig};
use openclaw_hetzner::fake::{Bootstrap, FakeHetzner, FakeOptions, VpsOptions};

/// A control plane that hands the secrets out once, then answers 410, and counts calls.
async fn control_plane(fail_first: u32) -> (String, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let app = Router::new().route(
        "/v1/bootstrap",
        post(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < fail_first {
                    (StatusCode::SERVICE_UNAVAILABLE, String::new())
                } else if n == fail_first {
                    (
                        StatusCode::OK,
                        r#"{"env": {"OPENCLAW_GATEWAY_TOKEN": "gw-token", "ANTHROPIC_API_KEY": "k"}}"#
                            .to_string(),
                    )
                } else {
                    (StatusCode::GONE, String::new())
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

fn user_data(control_plane: &str, instance: InstanceId) -> String {
    let config = CloudInitConfig {
        control_plane_url: control_plane.to_string(),
        ..CloudInitConfig::default()
    };
    let token = BootstrapKey::random().token_for(instance, openclaw_core::domain::JobId::new());
    render_user_data(&config, instance, "alice.claw.example.com", &token)
        .unwrap()
        .expose()
        .to_string()
}

async fn startupz(fake: &FakeHetzner, instance: InstanceId) -> u16 {
    reqwest::get(format!("{}/{instance}/startupz", fake.vps_base_url()))
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn until_ready(fake: &FakeHetzner, instance: InstanceId) {
    for _ in 0..200 {
        if startupz(fake, instance).await == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the machine never became ready");
}

#[tokio::test]
async fn a_machine_bootstraps_once_then_is_ready_until_powered_off_or_deleted() {
    let fake = FakeHetzner::start_with(FakeOptions {
        action_delay: Duration::from_millis(5),
        vps: VpsOptions {
            boot_delay: Duration::ZERO,
            bootstrap_retry_delay: Duration::from_millis(10),
            ..VpsOptions::default()
        },
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let (url, calls) = control_plane(2).await;
    let compute = common::adapter(&fake, "prod");
    let instance = InstanceId::new();
    let mut spec = common::spec("prod", instance);
    spec.user_data = user_data(&url, instance).into();
    assert_eq!(startupz(&fake, instance).await, 404);
    let server = compute.create_server(&spec).await.unwrap();
    until_ready(&fake, instance).await;
    // Two 503s were retried, as curl's --retry does; the third call delivered.
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let id: u64 = server.id.as_str().parse().unwrap();
    let vps = fake.vps(id).unwrap();
    assert!(matches!(vps.bootstrap, Bootstrap::Done { ref variables } if variables.len() == 2));
    assert_eq!(fake.gateway_token(id).as_deref(), Some("gw-token"));

    compute.power_off(&server.id).await.unwrap();
    assert_eq!(startupz(&fake, instance).await, 503);
    compute.power_on(&server.id).await.unwrap();
    until_ready(&fake, instance).await;
    // Powering on does not bootstrap again.
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    compute.delete_server(&server.id).await.unwrap();
    // The machine stops as soon as the deletion starts, while the server still lingers.
    assert_eq!(
        fake.server(id).map(|s| s.status).as_deref(),
        Some("deleting")
    );
    assert_eq!(startupz(&fake, instance).await, 404);
    assert!(fake.vps(id).is_none());
    // The machines' endpoints are not Hetzner requests.
    assert!(fake
        .requests()
        .iter()
        .all(|r| !r.path.starts_with("/__vps")));
}

#[tokio::test]
async fn a_refused_bootstrap_leaves_the_machine_unready_and_foreign_hosts_are_never_called() {
    let fake = FakeHetzner::start_with(FakeOptions {
        vps: VpsOptions {
            boot_delay: Duration::ZERO,
            ..VpsOptions::default()
        },
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let (url, calls) = control_plane(0).await;
    let compute = common::adapter(&fake, "prod");

    // The token was used by someone else: 410 is final.
    calls.store(1, Ordering::SeqCst);
    let instance = InstanceId::new();
    let mut spec = common::spec("prod", instance);
    spec.user_data = user_data(&url, instance).into();
    let server = compute.create_server(&spec).await.unwrap();
    let id: u64 = server.id.as_str().parse().unwrap();
    for _ in 0..200 {
        if matches!(fake.vps(id).unwrap().bootstrap, Bootstrap::Failed { .. }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(matches!(
        fake.vps(id).unwrap().bootstrap,
        Bootstrap::Failed { ref reason } if reason == "HTTP 410"
    ));
    assert_eq!(startupz(&fake, instance).await, 503);

    let other = InstanceId::new();
    let mut spec = common::spec("prod", other);
    spec.user_data = user_data("https://panel.example.com", other).into();
    let server = compute.create_server(&spec).await.unwrap();
    let id: u64 = server.id.as_str().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(fake.vps(id).unwrap().bootstrap, Bootstrap::NotLoopback);

    let plain = InstanceId::new();
    let server = compute
        .create_server(&common::spec("prod", plain))
        .await
        .unwrap();
    let id: u64 = server.id.as_str().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(fake.vps(id).unwrap().bootstrap, Bootstrap::NoScript);
}
