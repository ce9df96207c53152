//! Backups in an S3-compatible bucket, over real HTTP: the backup store conformance suite
//! against the store `[backup_store] url = "s3://…"` opens, and a server configured with it
//! keeping a fake machine's backup there.
//!
//! Needs an S3-compatible server at `OPENCLAW_TEST_S3_ENDPOINT` (default
//! `http://127.0.0.1:9000`); `scripts/services` starts one (moto's server, from PyPI). Without
//! it these tests fail, they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod process;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::ObjectStore;
use openclaw_http::backup_store::BackupStoreConfig;
use openclaw_http::config::Secret;
use process::{fast_config, temp_dir, Api, Server};

fn endpoint() -> String {
    std::env::var("OPENCLAW_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:9000".into())
}

/// One bucket per test process, made on first use (the test server takes any credentials).
async fn bucket() -> String {
    static BUCKET: OnceLock<String> = OnceLock::new();
    let name = BUCKET
        .get_or_init(|| format!("openclaw-test-{}", uuid::Uuid::now_v7().simple()))
        .clone();
    let url = format!("{}/{name}", endpoint());
    let made = reqwest::Client::new()
        .put(&url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "no S3-compatible server at {} ({e}); run scripts/services",
                endpoint()
            )
        });
    // 200 made; 409 made before (by another test of this process).
    assert!(
        made.status().is_success() || made.status().as_u16() == 409,
        "creating bucket {name}: {}",
        made.status()
    );
    name
}

fn config(bucket: &str, prefix: &str) -> BackupStoreConfig {
    BackupStoreConfig {
        url: format!("s3://{bucket}/{prefix}"),
        endpoint: Some(endpoint()),
        region: Some("us-east-1".into()),
        access_key_id: Some("openclaw-test".into()),
        secret_access_key: Some(Secret::new("openclaw-test-secret")),
        allow_http: true,
        ..BackupStoreConfig::default()
    }
}

async fn s3() -> Arc<dyn ObjectStore> {
    let config = config(&bucket().await, "conformance");
    config.open(&config.location("memory").unwrap()).unwrap()
}

openclaw_core::backup_store_conformance_tests!(s3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_configured_with_a_bucket_keeps_backups_there() {
    let bucket = bucket().await;
    let prefix = format!("server-{}", uuid::Uuid::now_v7().simple());
    let dir = temp_dir("backup-s3");
    let extra = format!(
        "[backup_store]\nurl = \"s3://{bucket}/{prefix}\"\nendpoint = \"{}\"\nallow_http = true\n",
        endpoint()
    );
    let server = Server::start(
        &dir,
        &fast_config(&extra),
        &[
            ("AWS_ACCESS_KEY_ID", "openclaw-test"),
            ("AWS_SECRET_ACCESS_KEY", "openclaw-test-secret"),
        ],
    )
    .await;
    assert!(
        server
            .stdout
            .iter()
            .any(|l| l.contains(&format!("backups: s3://{bucket}/{prefix}"))),
        "{:?}",
        server.stdout
    );
    let api = Api::new(&server.url, server.admin_key.as_deref().unwrap());
    let id = api.create("bucketed").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // The fake machine's agent connects after its bootstrap; then the backup runs.
    let task = loop {
        let (status, body) = api
            .call(
                reqwest::Method::POST,
                &format!("/v1/instances/{id}/actions/backup"),
                None,
            )
            .await;
        if status == 202 {
            break body["id"].as_str().unwrap().to_string();
        }
        assert_eq!(status, 409, "{body}");
        assert!(tokio::time::Instant::now() < deadline, "never active");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let listed = loop {
        let (status, body) = api
            .call(
                reqwest::Method::GET,
                &format!("/v1/instances/{id}/backups"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        if body.as_array().is_some_and(|a| !a.is_empty()) {
            break body;
        }
        assert!(tokio::time::Instant::now() < deadline, "no backup: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(listed[0]["id"], task.as_str());

    // In the bucket, under the prefix: the archive and its record, nothing else.
    let store = config(&bucket, &prefix);
    let store = store.open(&store.location("memory").unwrap()).unwrap();
    let mut names: Vec<String> = store
        .list(None)
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    names.sort();
    assert_eq!(
        names,
        vec![
            format!("instances/{id}/{task}.json"),
            format!("instances/{id}/{task}.tar.gz"),
        ]
    );
    let archive = store
        .get(&format!("instances/{id}/{task}.tar.gz").into())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        openclaw_core::domain::sha256_hex(&archive),
        listed[0]["sha256"].as_str().unwrap()
    );

    // And back onto the machine.
    let (status, restore) = api
        .call(
            reqwest::Method::POST,
            &format!("/v1/instances/{id}/actions/restore"),
            Some(serde_json::json!({ "backup": task })),
        )
        .await;
    assert_eq!(status, 202, "{restore}");
    let path = format!(
        "/v1/instances/{id}/tasks/{}",
        restore["id"].as_str().unwrap()
    );
    loop {
        let (_, t) = api.call(reqwest::Method::GET, &path, None).await;
        if t["state"] == "succeeded" {
            break;
        }
        assert_ne!(t["state"], "failed", "{t}");
        assert!(tokio::time::Instant::now() < deadline, "{t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.terminate().await;
    std::fs::remove_dir_all(dir).unwrap();
}
