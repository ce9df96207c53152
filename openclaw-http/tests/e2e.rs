//! End to end: the built binary in sandbox mode (fake Hetzner and Cloudflare in process,
//! fake machines that bootstrap over HTTP), driven over HTTP with an SSE client attached —
//! on SQLite, and on PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod process;

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use openclaw_http::model::Status;
use process::{database_url, fast_config, temp_dir, until_all, Api, Server};

const INSTANCES: usize = 20;

/// Creates `INSTANCES` instances with an event stream attached, sees each go active, then
/// suspends, unsuspends and terminates them all, watching the stream each time.
async fn lifecycle(server: &Server) {
    let api = Api::new(
        &server.url,
        server
            .admin_key
            .as_deref()
            .expect("an admin key on first start"),
    );
    let mut stream = api.events(None).await;
    let ids: Vec<String> = join_all((0..INSTANCES).map(|i| {
        let api = api.clone();
        async move { api.create(&format!("e2e-{i}")).await }
    }))
    .await;
    let set: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), INSTANCES);
    until_all(&mut stream, &set, Status::Active, Duration::from_secs(120)).await;
    agent_works(&api, &ids[0]).await;

    for (action, status) in [
        ("suspend", Status::Suspended),
        ("unsuspend", Status::Active),
    ] {
        let replies = join_all(ids.iter().map(|id| {
            let api = api.clone();
            let path = format!("/v1/instances/{id}/{action}");
            async move { api.post(&path).await }
        }))
        .await;
        assert!(
            replies.iter().all(|(s, _)| *s == 202),
            "{action}: {replies:?}"
        );
        until_all(&mut stream, &set, status, Duration::from_secs(120)).await;
    }
    let replies = join_all(ids.iter().map(|id| {
        let api = api.clone();
        let path = format!("/v1/instances/{id}");
        async move { api.call(reqwest::Method::DELETE, &path, None).await }
    }))
    .await;
    assert!(
        replies.iter().all(|(s, _)| *s == 202),
        "terminate: {replies:?}"
    );
    until_all(
        &mut stream,
        &set,
        Status::Terminated,
        Duration::from_secs(120),
    )
    .await;

    // Every server fetched its secrets once (an audit event each), and nothing is left.
    let (_, sweep) = api
        .call(
            reqwest::Method::POST,
            "/v1/sweep",
            Some(serde_json::json!({"dry_run": true})),
        )
        .await;
    assert_eq!(sweep["orphans"], serde_json::json!([]), "{sweep}");
    for id in &ids {
        let (_, events) = api
            .call(
                reqwest::Method::GET,
                &format!("/v1/instances/{id}/events"),
                None,
            )
            .await;
        let delivered = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"]["action"] == "bootstrap_delivered")
            .count();
        assert_eq!(delivered, 1, "{id}: {events}");
        assert!(!events.to_string().contains("sk-e2e"));
    }
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "openclaw_instances{{status=\"terminated\"}} {INSTANCES}"
        )),
        "{metrics}"
    );
}

/// The fake machine's agent, over HTTP like the real one: it connects after its bootstrap,
/// mints one-time pairing links, and runs upgrades (one that fails and rolls back).
async fn agent_works(api: &Api, id: &str) {
    let access = format!("/v1/instances/{id}/access");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let link = loop {
        let (status, body) = api.call(reqwest::Method::GET, &access, None).await;
        if status == 200 {
            break body["url"].as_str().unwrap().to_string();
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent never connected: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(link.contains("/#bootstrapToken="), "{link}");
    assert!(link.ends_with("&bootstrapProfile=owner"), "{link}");
    let (_, again) = api.call(reqwest::Method::GET, &access, None).await;
    assert_ne!(again["url"].as_str().unwrap(), link, "every link is fresh");
    let (_, view) = api
        .call(reqwest::Method::GET, &format!("/v1/instances/{id}"), None)
        .await;
    assert_eq!(view["agent"]["connected"], true, "{view}");
    assert_eq!(view["agent"]["openclaw_version"], "2026.9.6", "{view}");

    for (version, state) in [("0.0.0-missing", "failed"), ("2026.10.1", "succeeded")] {
        let (status, task) = api
            .call(
                reqwest::Method::POST,
                &format!("/v1/instances/{id}/actions/upgrade"),
                Some(serde_json::json!({ "version": version })),
            )
            .await;
        assert_eq!(status, 202, "{task}");
        let path = format!("/v1/instances/{id}/tasks/{}", task["id"].as_str().unwrap());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let done = loop {
            let (_, t) = api.call(reqwest::Method::GET, &path, None).await;
            if t["state"] == "failed" || t["state"] == "succeeded" {
                break t;
            }
            assert!(tokio::time::Instant::now() < deadline, "{t}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(done["state"], state, "{done}");
        if state == "failed" {
            assert!(
                done["error"]
                    .as_str()
                    .unwrap()
                    .contains("rolled back to 2026.9.6"),
                "{done}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_instances_live_and_die_in_the_sandbox_on_sqlite() {
    let dir = temp_dir("e2e-sqlite");
    let server = Server::start(&dir, &fast_config(""), &[]).await;
    assert!(
        server
            .stdout
            .iter()
            .any(|l| l.contains("sandbox mode") && l.contains("SQLite")),
        "{:?}",
        server.stdout
    );
    lifecycle(&server).await;
    let status = server.terminate().await;
    assert!(status.success(), "{status}");
    assert!(dir.join("openclaw.db").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_instances_live_and_die_in_the_sandbox_on_postgresql() {
    let url = database_url();
    let schema = format!("openclaw_e2e_{}", uuid::Uuid::now_v7().simple());
    let dir = temp_dir("e2e-postgres");
    let server = Server::start(
        &dir,
        &fast_config(""),
        &[
            ("OPENCLAW_DATABASE_URL", &url),
            ("OPENCLAW_DATABASE_SCHEMA", &schema),
        ],
    )
    .await;
    assert!(
        server.stdout.iter().any(|l| l.contains("PostgreSQL")),
        "{:?}",
        server.stdout
    );
    lifecycle(&server).await;
    let status = server.terminate().await;
    assert!(status.success(), "{status}");
    let pool = sqlx::PgPool::connect(&url)
        .await
        .expect("PostgreSQL must be reachable at DATABASE_URL");
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

/// A counter of `/metrics` by its name and labels.
fn counter(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} not in {metrics}"))
}

/// What an instance's life costs at the providers, read from `/metrics` of the sandbox: two
/// Hetzner requests (one create, one delete) and five Cloudflare ones (a look-up before the
/// A and AAAA creates, so a record that is not ours is never joined; two deletes by id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_life_costs_two_hetzner_requests() {
    const LIVES: u64 = 10;
    let dir = temp_dir("e2e-cost");
    let server = Server::start(&dir, &fast_config(""), &[]).await;
    let api = Api::new(&server.url, server.admin_key.as_deref().unwrap());
    let mut stream = api.events(None).await;
    let ids: Vec<String> = join_all((0..LIVES).map(|i| {
        let api = api.clone();
        async move { api.create(&format!("cost-{i}")).await }
    }))
    .await;
    let set: HashSet<String> = ids.iter().cloned().collect();
    until_all(&mut stream, &set, Status::Active, Duration::from_secs(120)).await;
    for id in &ids {
        let (status, _) = api
            .call(
                reqwest::Method::DELETE,
                &format!("/v1/instances/{id}"),
                None,
            )
            .await;
        assert_eq!(status, 202);
    }
    until_all(
        &mut stream,
        &set,
        Status::Terminated,
        Duration::from_secs(120),
    )
    .await;
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let hetzner = counter(
        &metrics,
        "openclaw_provider_requests_total{provider=\"hetzner\"}",
    );
    let cloudflare = counter(
        &metrics,
        "openclaw_provider_requests_total{provider=\"cloudflare\"}",
    );
    eprintln!(
        "per instance life: {} Hetzner requests, {} Cloudflare requests",
        hetzner as f64 / LIVES as f64,
        cloudflare as f64 / LIVES as f64
    );
    assert_eq!(hetzner, 2 * LIVES, "{metrics}");
    assert_eq!(cloudflare, 5 * LIVES, "{metrics}");
    assert!(server.terminate().await.success());
    std::fs::remove_dir_all(dir).unwrap();
}
