//! Two `openclaw serve` replicas on one PostgreSQL, the fakes as separate processes. One
//! replica is frozen with SIGSTOP while its jobs are in flight, for longer than its lease;
//! the other rescues them, finishes them, and every instance is terminated. When the frozen
//! one is continued it must do nothing more: no server, no record is left at the fakes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod process;

use std::time::Duration;

use futures_util::future::join_all;
use process::{database_url, fast_config, free_port, get_json, metric, temp_dir, Api, Server};
use serde_json::Value;
use tokio::process::Child;

const ORDERS: usize = 30;

fn signal(child: &Child, name: &str) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_continued_after_sigstop_leaves_nothing_behind() {
    let fakes = process::Fakes::start(1500, 400).await;
    let (hetzner_url, cloudflare_url, zone_id) = (
        fakes.hetzner_url.clone(),
        fakes.cloudflare_url.clone(),
        fakes.zone_id.clone(),
    );

    // The issue's timings: an 8 s lease renewed every 2 s.
    let config = fast_config(
        r#"
[engine.workers]
lease = 8.0
heartbeat = 2.0
lease_margin = 1.0
poll_interval = 0.1
retry_base = 0.2
retry_max = 1.0
concurrency = 8

[engine.rollback]
provision_timeout = 120.0
"#,
    )
    .replace(
        "[hetzner]\n",
        &format!("[hetzner]\nendpoint = \"{hetzner_url}\"\ntoken = \"fake\"\n"),
    )
    .replace(
        "[cloudflare.rate_limit]",
        &format!(
            "[cloudflare]\nbase_url = \"{cloudflare_url}\"\nzone_id = \"{zone_id}\"\napi_token = \"fake\"\n\n[cloudflare.rate_limit]"
        ),
    );
    // The fake machines fetch their secrets from the control plane: here `b`'s address,
    // since `a` will be frozen (both serve any instance: one database, one set of keys).
    let port_b = free_port();
    let config = format!(
        "mode = \"sandbox\"\n{}",
        config.replace(
            "[engine.workers]",
            &format!(
                "[engine.cloud_init]\ncontrol_plane_url = \"http://127.0.0.1:{port_b}\"\n\n[engine.workers]"
            )
        )
    );
    let config_b = config.replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port_b}\""),
    );
    // `a` may send Hetzner one request every two seconds: most of its jobs wait for a permit
    // just before their create when it is frozen — the window between deciding to create
    // and creating, where a worker that wakes without noticing its lease is gone would
    // create a server for an instance that was terminated meanwhile.
    let config_a = config.replacen(
        "[hetzner.rate_limit]\nburst = 100000\nper_second = 100000.0",
        "[hetzner.rate_limit]\nburst = 1\nper_second = 0.5",
        1,
    );
    assert_ne!(config_a, config, "the limit of `a` is set");
    let schema = format!("openclaw_sigstop_{}", uuid::Uuid::now_v7().simple());
    let url = database_url();
    // Both replicas share the database and the deployment's keys.
    let keys = [
        ("OPENCLAW_DATABASE_URL", url.as_str()),
        ("OPENCLAW_DATABASE_SCHEMA", schema.as_str()),
        (
            "OPENCLAW_BOOTSTRAP_KEY",
            "c2lnc3RvcC1ib290c3RyYXAta2V5LTMyLWJ5dGVzISE",
        ),
        (
            "OPENCLAW_SECRETS_KEY",
            "c2lnc3RvcC1zZWNyZXRzLWtleS0zMi1ieXRlcyEhISE",
        ),
    ];
    let (dir_a, dir_b) = (temp_dir("sigstop-a"), temp_dir("sigstop-b"));
    let a = Server::start(&dir_a, &config_a, &keys).await;
    let key = a.admin_key.clone().expect("an admin key on first start");
    let api_a = Api::new(&a.url, &key);
    let ids: Vec<String> = join_all((0..ORDERS).map(|i| {
        let api = api_a.clone();
        async move { api.create(&format!("stop-{i}")).await }
    }))
    .await;
    // `a` has claimed jobs and is creating servers, a few at a time: freeze it.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let in_flight: Vec<String> = join_all(ids.iter().map(|id| api_a.status(id))).await;
    signal(&a.child, "STOP");
    assert!(
        in_flight.iter().any(|s| s == "provisioning"),
        "nothing was in flight when frozen: {in_flight:?}"
    );

    // `b` takes the jobs over once `a`'s leases run out, and finishes them.
    let b = Server::start(&dir_b, &config_b, &keys).await;
    let api = Api::new(&b.url, &key);
    let wait_all = |want: &'static str| {
        let api = api.clone();
        let ids = ids.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(120), async {
                loop {
                    let statuses: Vec<String> = join_all(ids.iter().map(|id| api.status(id))).await;
                    if statuses.iter().all(|s| s == want) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("every instance reaches {want}"));
        }
    };
    wait_all("active").await;
    let replies = join_all(ids.iter().map(|id| {
        let api = api.clone();
        let path = format!("/v1/instances/{id}");
        async move { api.call(reqwest::Method::DELETE, &path, None).await }
    }))
    .await;
    assert!(replies.iter().all(|(s, _)| *s == 202), "{replies:?}");
    wait_all("terminated").await;

    // More than its lease later, `a` is continued.
    signal(&a.child, "CONT");
    tokio::time::sleep(Duration::from_secs(15)).await;
    let lost = metric(&a.url, "openclaw_leases_lost_total").await;
    assert!(lost >= 1.0, "the frozen replica lost no lease: {lost}");
    let statuses: Vec<String> = join_all(ids.iter().map(|id| api.status(id))).await;
    assert!(statuses.iter().all(|s| s == "terminated"), "{statuses:?}");

    // Nothing at the fakes: no server (deleted ones linger as `deleting` for a moment), no
    // record.
    let servers = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let listed = get_json(&format!("{hetzner_url}/servers?per_page=50"), "fake").await;
            let servers = listed["servers"].as_array().unwrap().clone();
            if servers.iter().all(|s| s["status"] != "deleting") {
                return servers;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("deletions finish");
    let left: Vec<&Value> = servers.iter().map(|s| &s["name"]).collect();
    assert!(
        left.is_empty(),
        "{} servers left running: {left:?}",
        left.len()
    );
    let records = get_json(
        &format!("{cloudflare_url}/zones/{zone_id}/dns_records?per_page=500"),
        "fake",
    )
    .await;
    assert_eq!(records["result"], serde_json::json!([]), "records left");

    assert!(
        a.terminate().await.success(),
        "the continued replica runs on"
    );
    assert!(b.terminate().await.success());
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
    std::fs::remove_dir_all(dir_a).unwrap();
    std::fs::remove_dir_all(dir_b).unwrap();
}
