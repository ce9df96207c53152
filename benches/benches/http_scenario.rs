//! Scenario benchmark of the `openclaw` server in sandbox mode on SQLite, measured from
//! outside: the server runs as a child process (this executable re-run with
//! `OPENCLAW_BENCH_ROLE=server`, which calls the same `openclaw_http::server::serve` as the
//! binary), so its resident memory is its own and the load generator is not inside it.
//!
//! 1. Baseline: a bare axum handler returning a constant, same runtime, same load.
//! 2. `GET /v1/instances/{id}`: requests/s and p99 at 64 connections (keep-alive, HTTP/1.1).
//! 3. POST → active: from sending `POST /v1/instances` to the `active` event on an SSE stream,
//!    with zero provider latency and a fake-VPS boot delay of 0 (health checked every 2 ms).
//! 4. Resident memory (`VmRSS`): idle after start, and with 10,000 instances in the store
//!    (seeded straight into the SQLite file, then every page listed through the API and the
//!    GET load run again).
//!
//! Run: `cargo bench -p openclaw-benches --bench http_scenario` (`BENCH_SECONDS` sets each load
//! phase's length, default 5).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use openclaw_core::domain::{CreateInstance, InstanceId, InstanceStatus, NewEvent};
use openclaw_core::ports::{NewInstance, Store};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const CONNECTIONS: usize = 64;
const SEEDED: usize = 10_000;

fn main() {
    // `cargo bench` passes `--bench`; a filter argument may follow. Neither matters here.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match std::env::var("OPENCLAW_BENCH_ROLE").as_deref() {
        Ok("server") => runtime.block_on(server()),
        Ok("baseline") => runtime.block_on(baseline()),
        _ => runtime.block_on(scenario()),
    }
}

/// The child: the real server, configured by `openclaw.toml` in its working directory.
async fn server() {
    let config = openclaw_http::config::Config::load(None, |n| std::env::var(n).ok()).unwrap();
    let mut out = std::io::stdout();
    openclaw_http::server::serve(config, &mut out, openclaw_http::server::shutdown_signal())
        .await
        .unwrap();
}

/// The child: a bare axum handler with a constant body of an instance's size.
async fn baseline() {
    let body: &'static str = Box::leak(
        serde_json::json!({"id": "01a206b0-b8fc-7413-844b-2bdf2a396fc8", "customer_id": "c1",
            "external_ref": null, "subdomain": "alice", "fqdn": "alice.openclaw.localhost",
            "plan": "starter", "region": "eu-west", "status": "active",
            "resources": {"server_id": "1001", "ipv4": "198.51.103.233", "ipv6": "2001:db8:0:3e9::1",
            "dns_record_ids": ["01a206b0b8fc7413844b2bdf2a396fc8", "01a206b0b8fc7413844b2bdf2a396fc9"]},
            "version": 4, "created_at": "2026-11-23T04:25:35.921011098Z",
            "updated_at": "2026-11-23T04:25:35.921011098Z", "status_changed_at": "2026-11-23T04:25:35.921011098Z",
            "last_error": null})
        .to_string()
        .into_boxed_str(),
    );
    let app = axum::Router::new().route(
        "/v1/instances/{id}",
        axum::routing::get(move || async move { ([("content-type", "application/json")], body) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening on http://{}", listener.local_addr().unwrap());
    std::io::stdout().flush().unwrap();
    axum::serve(listener, app).await.unwrap();
}

struct Spawned {
    child: Child,
    url: String,
    key: Option<String>,
}

async fn spawn(role: &str, dir: &Path) -> Spawned {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("OPENCLAW_BENCH_ROLE", role)
        .env("OPENCLAW_LOG", "error")
        .env(
            "OPENCLAW_DATABASE_URL",
            std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| "sqlite://openclaw.db".into()),
        )
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut key = None;
    let url = loop {
        let line = lines.next_line().await.unwrap().expect("the child starts");
        if let Some(k) = line.split_whitespace().find(|w| w.starts_with("ock_")) {
            key = Some(k.to_string());
        }
        if let Some(url) = line.split("listening on ").nth(1) {
            break url.trim().to_string();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Spawned { child, url, key }
}

async fn stop(mut child: Spawned) {
    let pid = child.child.id().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(30), child.child.wait()).await;
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

struct Load {
    requests: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// `CONNECTIONS` keep-alive connections, each sending GETs back to back for `seconds`.
async fn load(url: &str, path: &str, key: Option<&str>, seconds: f64) -> Load {
    let addr = url.trim_start_matches("http://").to_string();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let addr = addr.clone();
            let path = path.to_string();
            let auth = key.map(|k| format!("Bearer {k}"));
            tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(conn);
                let mut latencies = Vec::with_capacity(100_000);
                while Instant::now() < deadline {
                    let mut request = Request::get(path.as_str()).header("host", addr.as_str());
                    if let Some(auth) = &auth {
                        request = request.header("authorization", auth.as_str());
                    }
                    let request = request.body(Empty::new()).unwrap();
                    let started = Instant::now();
                    let response = sender.send_request(request).await.unwrap();
                    assert!(response.status().is_success(), "{}", response.status());
                    response.into_body().collect().await.unwrap();
                    latencies.push(started.elapsed());
                }
                latencies
            })
        })
        .collect();
    let started = Instant::now();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pick = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Load {
        requests: all.len(),
        per_second: all.len() as f64 / elapsed,
        p50: pick(0.5),
        p99: pick(0.99),
    }
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("openclaw-bench-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_like() -> String {
    format!("{}", InstanceId::new().as_uuid().simple())
}

const CONFIG: &str = r#"listen = "127.0.0.1:0"

[http.rate_limit]
burst = 1000000
per_second = 1000000.0

[hetzner.rate_limit]
burst = 1000000
per_second = 1000000.0

[cloudflare.rate_limit]
burst = 1000000
per_second = 1000000.0

[sandbox]
boot_delay = 0.0
action_delay = 0.0
bootstrap_retry_delay = 0.05
health_interval = 0.002

[engine.workers]
poll_interval = 0.5
"#;

async fn create(client: &reqwest::Client, url: &str, key: &str, subdomain: &str) -> String {
    let body = serde_json::json!({"customer_id": "bench", "subdomain": subdomain, "plan": "starter", "region": "eu-west"});
    let reply: serde_json::Value = client
        .post(format!("{url}/v1/instances"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["id"].as_str().unwrap().to_string()
}

/// Seeds `n` active instances straight into the SQLite file of `dir`.
async fn seed(dir: &Path, n: usize) {
    let config = openclaw_store_sqlite::SqliteConfig::new(dir.join("openclaw.db"));
    let store = openclaw_store_sqlite::SqliteStore::connect(&config)
        .await
        .unwrap();
    let catalog = openclaw_core::domain::Catalog::default();
    for i in 0..n {
        let valid = CreateInstance {
            customer_id: format!("seed-{}", i % 500),
            external_ref: Some(format!("seed-ref-{i}")),
            subdomain: format!("seed-{i}"),
            plan: "starter".into(),
            region: "eu-west".into(),
            ..Default::default()
        }
        .validate(&catalog)
        .unwrap();
        let now = chrono::Utc::now();
        let mut instance = openclaw_core::domain::Instance::new(
            InstanceId::new(),
            valid,
            "openclaw.localhost",
            now,
        );
        instance.status = InstanceStatus::Active;
        let event =
            NewEvent::status_changed(instance.id, None, InstanceStatus::Active, "seeded", now);
        store
            .insert_instance(&NewInstance::new(&instance, &event, None))
            .await
            .unwrap();
    }
}

async fn scenario() {
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let dir = temp_dir();
    std::fs::write(dir.join("openclaw.toml"), CONFIG).unwrap();

    // 1. Baseline.
    let base = spawn("baseline", &dir).await;
    let _warm = load(&base.url, "/v1/instances/x", None, 1.0).await;
    let baseline = load(&base.url, "/v1/instances/x", None, seconds).await;
    stop(base).await;

    // 2-4. The server.
    let server = spawn("server", &dir).await;
    let pid = server.child.id().unwrap();
    let key = server.key.clone().unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = rss_mib(pid);
    let client = reqwest::Client::new();

    // POST → active, one at a time, watched on the event stream.
    let mut stream = openclaw_http::cli::sse::EventStream::open(
        &client,
        &server.url,
        &key,
        "topic=provisioning",
        None,
    )
    .await
    .unwrap();
    let mut to_active = Vec::new();
    let mut last_id = String::new();
    for i in 0..200 {
        let started = Instant::now();
        let id = create(&client, &server.url, &key, &format!("lat-{i}")).await;
        loop {
            let event = stream.next().await.unwrap().unwrap();
            if event.instance_id.as_deref() == Some(id.as_str())
                && matches!(
                    event.kind,
                    openclaw_http::model::EventKindView::StatusChanged {
                        to: openclaw_http::model::Status::Active,
                        ..
                    }
                )
            {
                break;
            }
        }
        to_active.push(started.elapsed());
        last_id = id;
    }
    drop(stream);
    to_active.sort_unstable();
    let post_p50 = to_active[to_active.len() / 2];
    let post_p99 = to_active[to_active.len() * 99 / 100];

    let path = format!("/v1/instances/{last_id}");
    let _warm = load(&server.url, &path, Some(&key), 1.0).await;
    let get = load(&server.url, &path, Some(&key), seconds).await;
    let rss_after_load = rss_mib(pid);
    stop(server).await;

    // 10,000 instances in the store (SQLite only: the in-memory store starts empty).
    let sqlite = std::env::var("BENCH_DATABASE_URL").map_or(true, |u| u.starts_with("sqlite"));
    if !sqlite {
        println!(
            "in memory: GET {:.0} req/s (p50 {:?}, p99 {:?}); baseline {:.0} req/s; POST → active p50 {:?}",
            get.per_second, get.p50, get.p99, baseline.per_second, post_p50
        );
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    }
    seed(&dir, SEEDED).await;
    let server = spawn("server", &dir).await;
    let pid = server.child.id().unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_seeded_idle = rss_mib(pid);
    let mut after: Option<String> = None;
    let mut listed = 0;
    loop {
        let mut url = format!("{}/v1/instances?limit=500", server.url);
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let page: serde_json::Value = client
            .get(url)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listed += page["items"].as_array().unwrap().len();
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
    }
    assert!(listed >= SEEDED);
    let get_seeded = load(&server.url, &path, Some(&key), seconds).await;
    let rss_seeded = rss_mib(pid);
    stop(server).await;
    std::fs::remove_dir_all(&dir).unwrap();

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("\nopenclaw HTTP scenario ({CONNECTIONS} connections, {seconds} s per load phase, SQLite, sandbox)\n");
    println!("| measure | openclaw | baseline (bare axum constant) | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| GET /v1/instances/{{id}} req/s | {:.0} | {:.0} | {:.2} |",
        get.per_second,
        baseline.per_second,
        get.per_second / baseline.per_second
    );
    println!(
        "| GET p50 | {:.2} ms | {:.2} ms | {:.2} |",
        ms(get.p50),
        ms(baseline.p50),
        ms(get.p50) / ms(baseline.p50)
    );
    println!(
        "| GET p99 | {:.2} ms | {:.2} ms | {:.2} |",
        ms(get.p99),
        ms(baseline.p99),
        ms(get.p99) / ms(baseline.p99)
    );
    println!(
        "| GET req/s with {SEEDED} instances | {:.0} (p99 {:.2} ms) | {:.0} | {:.2} |",
        get_seeded.per_second,
        ms(get_seeded.p99),
        baseline.per_second,
        get_seeded.per_second / baseline.per_second
    );
    println!(
        "| POST → active p50 (p99), 200 creates | {:.1} ms ({:.1} ms) | GET p50 {:.2} ms | {:.0} |",
        ms(post_p50),
        ms(post_p99),
        ms(get.p50),
        ms(post_p50) / ms(get.p50)
    );
    println!("| RSS idle | {rss_idle:.1} MiB | | |");
    println!("| RSS after the GET load | {rss_after_load:.1} MiB | | |");
    println!("| RSS, {SEEDED} instances, idle | {rss_seeded_idle:.1} MiB | | |");
    println!(
        "| RSS, {SEEDED} instances, after listing all and the GET load | {rss_seeded:.1} MiB | | |"
    );
    println!(
        "\n({} baseline requests, {} openclaw requests)",
        baseline.requests,
        get.requests + get_seeded.requests
    );
}
