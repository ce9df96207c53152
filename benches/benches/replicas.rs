//! Several replicas of `openclaw serve` on one PostgreSQL and one Redis, measured from outside
//! (each replica is this executable re-run with `OPENCLAW_BENCH_ROLE=server`, which calls the
//! same `openclaw_http::server::serve` as the binary; the fakes are `openclaw fake …` run the
//! same way).
//!
//! 1. Event delivery: orders are sent to replica A, 40 a second; an SSE client on A and one
//!    on B time each order's first event (`created`, committed by A's request handler) from
//!    its `at` to its arrival. With `redis_url`, and — the baseline, same run — without it,
//!    when B learns of A's events from its poll of the store's log.
//! 2. One shared Hetzner budget: three processes, each a replica's `RedisRateLimiter` with
//!    eight callers taking permits as fast as they are granted, for `BENCH_SECONDS` (default
//!    60). Granted in all against the budget (`burst + rate × seconds`).
//!
//! Needs PostgreSQL at `DATABASE_URL` and Redis at `REDIS_URL` (the test script's defaults).
//! Run: `cargo bench -p openclaw-benches --bench replicas`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openclaw_core::ports::RateLimiter;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const ORDERS: usize = 400;
const ORDER_INTERVAL: Duration = Duration::from_millis(25);
const LIMIT_RATE: f64 = 20.0;
const LIMIT_BURST: u32 = 20;
const LIMIT_CALLERS: usize = 8;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match std::env::var("OPENCLAW_BENCH_ROLE").as_deref() {
        Ok("server") => runtime.block_on(server()),
        Ok("cli") => runtime.block_on(cli()),
        Ok("limiter") => runtime.block_on(limiter()),
        _ => runtime.block_on(scenario()),
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn redis_url() -> String {
    env_or("REDIS_URL", "redis://127.0.0.1:6379")
}

fn database_url() -> String {
    env_or(
        "DATABASE_URL",
        "postgres://postgres:postgres@127.0.0.1:5432/test",
    )
}

/// The child: the real server, configured by `openclaw.toml` in its working directory.
async fn server() {
    let config = openclaw_http::config::Config::load(None, |n| std::env::var(n).ok()).unwrap();
    let mut out = std::io::stdout();
    openclaw_http::server::serve(config, &mut out, openclaw_http::server::shutdown_signal())
        .await
        .unwrap();
}

/// The child: `openclaw <args>` (the fakes).
async fn cli() {
    use clap::Parser as _;
    let args = std::env::var("OPENCLAW_BENCH_ARGS").unwrap();
    let cli =
        openclaw_http::cli::Cli::parse_from(std::iter::once("openclaw").chain(args.split(' ')));
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    openclaw_http::cli::run(
        cli,
        openclaw_http::cli::Io {
            out: &mut out,
            err: &mut err,
        },
    )
    .await;
}

/// The child: one replica's share of the Hetzner budget, taken as fast as it is granted;
/// prints how many permits it got.
async fn limiter() {
    let seconds: f64 = env_or("BENCH_SECONDS", "60").parse().unwrap();
    let limiter = Arc::new(
        openclaw_bus_redis::RedisRateLimiter::new(openclaw_bus_redis::RedisLimiterConfig {
            url: redis_url(),
            key: std::env::var("OPENCLAW_BENCH_KEY").unwrap(),
            capacity: LIMIT_BURST,
            refill_per_second: LIMIT_RATE,
            replicas: 3,
        })
        .unwrap(),
    );
    // Start together: the parent says when.
    let start: u64 = std::env::var("OPENCLAW_BENCH_START_MS")
        .unwrap()
        .parse()
        .unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    tokio::time::sleep(Duration::from_millis(start.saturating_sub(now_ms))).await;
    let granted = Arc::new(AtomicU64::new(0));
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(seconds);
    let callers: Vec<_> = (0..LIMIT_CALLERS)
        .map(|_| {
            let (limiter, granted) = (limiter.clone(), granted.clone());
            tokio::spawn(async move {
                loop {
                    let taken = tokio::time::timeout_at(deadline, limiter.acquire(1)).await;
                    match taken {
                        Ok(Ok(())) => granted.fetch_add(1, Ordering::Relaxed),
                        _ => return,
                    };
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    println!(
        "granted {} fallback {}",
        granted.load(Ordering::Relaxed),
        limiter.fallback_grants()
    );
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", std::process::id(), nanos % 0xffff_ffff)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("openclaw-bench-{name}-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Spawned {
    child: Child,
    lines: Vec<String>,
}

/// Runs this executable as `role` in `dir` with `env`, until it printed a line containing
/// `until` (kept with the lines before it).
async fn spawn(role: &str, dir: &Path, env: &[(&str, String)], until: &str) -> Spawned {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .env("OPENCLAW_BENCH_ROLE", role)
        .env("OPENCLAW_LOG", "error")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    loop {
        let line = reader
            .next_line()
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("the {role} child exited early: {lines:?}"));
        let done = line.contains(until);
        lines.push(line);
        if done {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = reader.next_line().await {} });
    Spawned { child, lines }
}

async fn stop(mut spawned: Spawned) {
    let pid = spawned.child.id().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(30), spawned.child.wait()).await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Delivery {
    same: Vec<f64>,
    cross: Vec<f64>,
}

/// Follows `url`'s provisioning events and records, per created instance, milliseconds from
/// the event's `at` to its arrival.
async fn time_created(url: String, key: String, out: tokio::sync::mpsc::UnboundedSender<f64>) {
    let client = reqwest::Client::new();
    let mut stream =
        openclaw_http::cli::sse::EventStream::open(&client, &url, &key, "topic=provisioning", None)
            .await
            .unwrap();
    while let Some(Ok(event)) = stream.next().await {
        let arrived = chrono::Utc::now();
        if let openclaw_http::model::EventKindView::StatusChanged { from: None, .. } = event.kind {
            let lag = (arrived - event.at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
            if out.send(lag).is_err() {
                return;
            }
        }
    }
}

async fn delivery(with_redis: bool, fakes: &(String, String, String)) -> Delivery {
    let (hetzner, cloudflare, zone) = fakes;
    let port_a = free_port();
    let config = |port: u16| {
        format!(
            r#"mode = "sandbox"
listen = "127.0.0.1:{port}"

[http.rate_limit]
burst = 100000
per_second = 100000.0

[hetzner]
endpoint = "{hetzner}"
token = "fake"
poll_interval = 0.05

[hetzner.rate_limit]
burst = 100000
per_second = 100000.0

[cloudflare]
base_url = "{cloudflare}"
zone_id = "{zone}"
api_token = "fake"

[cloudflare.rate_limit]
burst = 100000
per_second = 100000.0

[engine.cloud_init]
control_plane_url = "http://127.0.0.1:{port_a}"

[sandbox]
health_interval = 0.05
"#
        )
    };
    let mut env = vec![
        ("OPENCLAW_DATABASE_URL", database_url()),
        (
            "OPENCLAW_DATABASE_SCHEMA",
            format!("openclaw_bench_{}", unique()),
        ),
        ("OPENCLAW_DEPLOYMENT", format!("b{}", unique())),
        (
            "OPENCLAW_BOOTSTRAP_KEY",
            "YmVuY2gtYm9vdHN0cmFwLWtleS0zMi1ieXRlcyEhISE".to_string(),
        ),
        (
            "OPENCLAW_SECRETS_KEY",
            "YmVuY2gtc2VjcmV0cy1rZXktMzItYnl0ZXMhISEhISE".to_string(),
        ),
    ];
    if with_redis {
        env.push(("OPENCLAW_REDIS_URL", redis_url()));
    }
    let (dir_a, dir_b) = (temp_dir("replica-a"), temp_dir("replica-b"));
    std::fs::write(dir_a.join("openclaw.toml"), config(port_a)).unwrap();
    std::fs::write(dir_b.join("openclaw.toml"), config(free_port())).unwrap();
    let a = spawn("server", &dir_a, &env, "listening on").await;
    let b = spawn("server", &dir_b, &env, "listening on").await;
    let url = |s: &Spawned| {
        s.lines
            .iter()
            .find_map(|l| l.split("listening on ").nth(1))
            .unwrap()
            .trim()
            .to_string()
    };
    let key = a
        .lines
        .iter()
        .find_map(|l| l.split_whitespace().find(|w| w.starts_with("ock_")))
        .unwrap()
        .to_string();
    let (url_a, url_b) = (url(&a), url(&b));
    let (same_tx, mut same_rx) = tokio::sync::mpsc::unbounded_channel();
    let (cross_tx, mut cross_rx) = tokio::sync::mpsc::unbounded_channel();
    let followers = [
        tokio::spawn(time_created(url_a.clone(), key.clone(), same_tx)),
        tokio::spawn(time_created(url_b.clone(), key.clone(), cross_tx)),
    ];
    // Let both streams open before the first order.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = reqwest::Client::new();
    let mut next = tokio::time::Instant::now();
    for i in 0..ORDERS {
        next += ORDER_INTERVAL;
        let response = client
            .post(format!("{url_a}/v1/instances"))
            .bearer_auth(&key)
            .json(
                &serde_json::json!({"customer_id": "bench", "subdomain": format!("d{i}"),
                "plan": "starter", "region": "eu-west",
                "provider_keys": {"ANTHROPIC_API_KEY": "sk-bench"}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 202);
        tokio::time::sleep_until(next).await;
    }
    let mut result = Delivery {
        same: Vec::new(),
        cross: Vec::new(),
    };
    let collected = tokio::time::timeout(Duration::from_secs(30), async {
        while result.same.len() < ORDERS || result.cross.len() < ORDERS {
            tokio::select! {
                Some(lag) = same_rx.recv() => result.same.push(lag),
                Some(lag) = cross_rx.recv() => result.cross.push(lag),
            }
        }
    })
    .await;
    assert!(
        collected.is_ok(),
        "only {} and {} of {ORDERS} created events arrived",
        result.same.len(),
        result.cross.len()
    );
    for follower in followers {
        follower.abort();
    }
    stop(a).await;
    stop(b).await;
    result.same.sort_by(f64::total_cmp);
    result.cross.sort_by(f64::total_cmp);
    result
}

async fn shared_budget() -> (u64, u64, f64) {
    let seconds: f64 = env_or("BENCH_SECONDS", "60").parse().unwrap();
    let key = format!("openclaw:bench-{}:limit:hetzner", unique());
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 1500;
    let dir = std::env::temp_dir();
    let env = [
        ("OPENCLAW_BENCH_KEY", key),
        ("OPENCLAW_BENCH_START_MS", start.to_string()),
        ("BENCH_SECONDS", seconds.to_string()),
        ("REDIS_URL", redis_url()),
    ];
    let replicas =
        futures_util::future::join_all((0..3).map(|_| spawn("limiter", &dir, &env, "granted ")))
            .await;
    let mut granted = 0;
    let mut fallback = 0;
    for replica in replicas {
        let line = replica.lines.last().unwrap().clone();
        let figures: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        granted += figures[0];
        fallback += figures[1];
    }
    (granted, fallback, seconds)
}

async fn scenario() {
    let dir = temp_dir("fakes");
    let hetzner = spawn(
        "cli",
        &dir,
        &[(
            "OPENCLAW_BENCH_ARGS",
            "fake hetzner --rate-limit 100000 --refill-per-second 100000 --boot-delay-ms 50 \
             --bootstrap-retry-delay-ms 100 --bootstrap-attempts 100 --action-delay-ms 10"
                .to_string(),
        )],
        "http",
    )
    .await;
    let cloudflare = spawn(
        "cli",
        &dir,
        &[(
            "OPENCLAW_BENCH_ARGS",
            "fake cloudflare --rate-limit 100000".to_string(),
        )],
        "zone_name=",
    )
    .await;
    let value = |prefix: &str| {
        cloudflare
            .lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap()
            .to_string()
    };
    let fakes = (
        hetzner.lines.last().unwrap().trim().to_string(),
        value("base_url="),
        value("zone_id="),
    );
    let with = delivery(true, &fakes).await;
    let without = delivery(false, &fakes).await;
    stop(hetzner).await;
    stop(cloudflare).await;

    println!("\nevent delivery, {ORDERS} orders to replica A at 40/s, PostgreSQL, sandbox (ms from the event's time to the SSE client)\n");
    println!("| client | p50 | p99 | max |");
    println!("|---|---|---|---|");
    let row = |name: &str, v: &[f64]| {
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} |",
            percentile(v, 50.0),
            percentile(v, 99.0),
            v.last().copied().unwrap_or(0.0)
        );
    };
    row("on B, with Redis", &with.cross);
    row("on A itself, with Redis", &with.same);
    row(
        "on B, without Redis (baseline: B polls the log)",
        &without.cross,
    );
    row("on A itself, without Redis", &without.same);
    println!(
        "\nratio of p99 on B without Redis to with it: {:.1}",
        percentile(&without.cross, 99.0) / percentile(&with.cross, 99.0)
    );

    let (granted, fallback, seconds) = shared_budget().await;
    let budget = f64::from(LIMIT_BURST) + LIMIT_RATE * seconds;
    println!(
        "\nthree replicas on one budget ({LIMIT_RATE}/s, burst {LIMIT_BURST}) for {seconds} s, {LIMIT_CALLERS} callers each"
    );
    println!(
        "granted {granted} of a budget of {budget:.0} ({:.1} %), {fallback} by a local fallback",
        100.0 * granted as f64 / budget
    );
}
