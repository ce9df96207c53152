//! Three `openclaw serve` replicas on one PostgreSQL and one Redis (`redis_url`), the fakes
//! as separate processes. Orders go through all three; an event stream (SSE) on each replica
//! sees every event of every replica once, in order, with no gap — also across a SIGKILL and
//! restart of one replica, whose client resumes with `Last-Event-ID`. A key revoked with
//! `openclaw keys revoke` stops working on every replica within a second. Needs PostgreSQL at
//! `DATABASE_URL` and Redis at `REDIS_URL` (`scripts/test` starts both); never skips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod process;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use futures_util::future::join_all;
use openclaw_http::cli::sse::EventStream;
use openclaw_http::model::{EventKindView, Status};
use process::{database_url, fast_config, free_port, metric, temp_dir, Api, Server, BIN};
use tokio::sync::mpsc;

const PER_REPLICA: usize = 8;

fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_string())
}

/// What one replica's event client saw: sequences in arrival order, and the instances that
/// became active or terminated.
#[derive(Default)]
struct Seen {
    sequences: Vec<u64>,
    active: HashSet<String>,
    terminated: HashSet<String>,
}

/// Follows `/v1/events` (every topic) on `url` from `after`, sending what it sees, until the
/// server closes the stream (it was killed).
async fn follow(
    url: String,
    key: String,
    after: u64,
    seen: mpsc::UnboundedSender<(u64, Option<(String, Status)>)>,
) {
    let client = reqwest::Client::new();
    let mut stream = EventStream::open(&client, &url, &key, "", Some(after))
        .await
        .unwrap();
    while let Some(Ok(event)) = stream.next().await {
        let change = match (&event.instance_id, &event.kind) {
            (Some(id), EventKindView::StatusChanged { to, .. }) => Some((id.clone(), *to)),
            _ => None,
        };
        if seen.send((event.sequence, change)).is_err() {
            return;
        }
    }
}

fn drain(rx: &mut mpsc::UnboundedReceiver<(u64, Option<(String, Status)>)>, seen: &mut Seen) {
    while let Ok((sequence, change)) = rx.try_recv() {
        seen.sequences.push(sequence);
        match change {
            Some((id, Status::Active)) => {
                seen.active.insert(id);
            }
            Some((id, Status::Terminated)) => {
                seen.terminated.insert(id);
            }
            _ => {}
        }
    }
}

/// `openclaw <args>` in `dir` with `env`; its standard output.
fn cli(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let output = std::process::Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("OPENCLAW_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openclaw {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_events_and_keys_through_redis() {
    let fakes = process::Fakes::start(100, 200).await;
    let ports = [free_port(), free_port(), free_port()];
    let config = fast_config(
        r#"
[engine.workers]
lease = 2.0
heartbeat = 0.5
poll_interval = 0.1
retry_base = 0.2
retry_max = 1.0
"#,
    )
    .replace(
        "[hetzner]\n",
        &format!(
            "[hetzner]\nendpoint = \"{}\"\ntoken = \"fake\"\n",
            fakes.hetzner_url
        ),
    )
    .replace(
        "[cloudflare.rate_limit]",
        &format!(
            "[cloudflare]\nbase_url = \"{}\"\nzone_id = \"{}\"\napi_token = \"fake\"\n\n[cloudflare.rate_limit]",
            fakes.cloudflare_url, fakes.zone_id
        ),
    );
    // The fake machines fetch their secrets from replica A (never killed here).
    let config = format!(
        "mode = \"sandbox\"\nredis_replicas = 3\n{}",
        config.replace(
            "[engine.workers]",
            &format!(
                "[engine.cloud_init]\ncontrol_plane_url = \"http://127.0.0.1:{}\"\n\n[engine.workers]",
                ports[0]
            )
        )
    );
    let configs: Vec<String> = ports
        .iter()
        .map(|port| {
            config.replace(
                "listen = \"127.0.0.1:0\"",
                &format!("listen = \"127.0.0.1:{port}\""),
            )
        })
        .collect();
    let schema = format!("openclaw_replicas_{}", uuid::Uuid::now_v7().simple());
    let deployment = format!("r{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let (database, redis) = (database_url(), redis_url());
    let env = [
        ("OPENCLAW_DATABASE_URL", database.as_str()),
        ("OPENCLAW_DATABASE_SCHEMA", schema.as_str()),
        ("OPENCLAW_REDIS_URL", redis.as_str()),
        ("OPENCLAW_DEPLOYMENT", deployment.as_str()),
        (
            "OPENCLAW_BOOTSTRAP_KEY",
            "cmVwbGljYXMtYm9vdHN0cmFwLWtleS0zMi1ieXRlcyE",
        ),
        (
            "OPENCLAW_SECRETS_KEY",
            "cmVwbGljYXMtc2VjcmV0cy1rZXktMzItYnl0ZXMhISE",
        ),
    ];
    let dirs = [
        temp_dir("replica-a"),
        temp_dir("replica-b"),
        temp_dir("replica-c"),
    ];
    let a = Server::start(&dirs[0], &configs[0], &env).await;
    let key = a.admin_key.clone().expect("an admin key on first start");
    let b = Server::start(&dirs[1], &configs[1], &env).await;
    let c = Server::start(&dirs[2], &configs[2], &env).await;
    assert!(b.admin_key.is_none() && c.admin_key.is_none());
    let urls = [a.url.clone(), b.url.clone(), c.url.clone()];
    for url in &urls {
        let ready = reqwest::get(format!("{url}/readyz"))
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        assert_eq!(ready["redis"], "up", "{url}: {ready}");
    }

    // One event client per replica, each from the start of the log.
    let mut receivers = Vec::new();
    for url in &urls {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(follow(url.clone(), key.clone(), 0, tx));
        receivers.push(rx);
    }
    let mut seen: Vec<Seen> = (0..3).map(|_| Seen::default()).collect();

    // Orders through all three replicas at once.
    let apis: Vec<Api> = urls.iter().map(|u| Api::new(u, &key)).collect();
    let orders = join_all((0..3 * PER_REPLICA).map(|i| {
        let api = apis[i % 3].clone();
        async move { api.create(&format!("rep-{i}")).await }
    }))
    .await;
    let ids: HashSet<String> = orders.into_iter().collect();

    // SIGKILL replica C while they provision, and start it again on the same port; its
    // client resumes after the last event it saw.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.kill().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drain(&mut receivers[2], &mut seen[2]);
    let resume_after = seen[2].sequences.last().copied().unwrap_or(0);
    let c = Server::start(&dirs[2], &configs[2], &env).await;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(follow(c.url.clone(), key.clone(), resume_after, tx));
    receivers[2] = rx;

    // Every instance active, as each replica's client sees it.
    let all_active = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            for (rx, seen) in receivers.iter_mut().zip(seen.iter_mut()) {
                drain(rx, seen);
            }
            if seen.iter().all(|s| ids.is_subset(&s.active)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        all_active.is_ok(),
        "active seen per replica: {:?} of {}",
        seen.iter().map(|s| s.active.len()).collect::<Vec<_>>(),
        ids.len()
    );

    // Terminations through all three as well.
    let ordered: Vec<&String> = ids.iter().collect();
    join_all(ordered.iter().enumerate().map(|(i, id)| {
        let api = apis[i % 3].clone();
        async move {
            let (status, body) = api
                .call(
                    reqwest::Method::DELETE,
                    &format!("/v1/instances/{id}"),
                    None,
                )
                .await;
            assert!(status == 202 || status == 200, "{status} {body}");
        }
    }))
    .await;
    let all_terminated = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            for (rx, seen) in receivers.iter_mut().zip(seen.iter_mut()) {
                drain(rx, seen);
            }
            if seen.iter().all(|s| ids.is_subset(&s.terminated)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        all_terminated.is_ok(),
        "not every replica saw every termination"
    );

    // Every client saw exactly 1..=last: nothing missed, nothing twice, in order.
    let last = metric(&urls[0], "openclaw_last_event_sequence ").await as u64;
    let settled = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            for (rx, seen) in receivers.iter_mut().zip(seen.iter_mut()) {
                drain(rx, seen);
            }
            if seen.iter().all(|s| s.sequences.last() >= Some(&last)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(settled.is_ok(), "a client never reached sequence {last}");
    for (name, seen) in ["A", "B", "C"].iter().zip(&seen) {
        let expected: Vec<u64> = (1..=seen.sequences.len() as u64).collect();
        assert_eq!(
            seen.sequences, expected,
            "replica {name}'s client: a gap, a duplicate or a reordering"
        );
    }
    // The events crossed through Redis, not only the poll of the log.
    for url in &urls {
        assert_eq!(metric(url, "openclaw_redis_subscribed ").await, 1.0);
        assert!(metric(url, "openclaw_redis_delivery_seconds_count ").await > 0.0);
        assert_eq!(
            metric(url, "openclaw_redis_publish_failures_total ").await,
            0.0
        );
    }

    // A key revoked on the command line stops working on every replica within a second,
    // though each had it in its cache (5 s by default).
    let created = cli(
        &dirs[1],
        &env,
        &["keys", "create", "--name", "short-lived", "--scope", "read"],
    );
    let token = created.trim().to_string();
    let id = token
        .strip_prefix("ock_")
        .and_then(|rest| rest.split('.').next())
        .unwrap()
        .to_string();
    for url in &urls {
        let api = Api::new(url, &token);
        assert_eq!(
            api.call(reqwest::Method::GET, "/v1/instances", None)
                .await
                .0,
            200
        );
    }
    cli(&dirs[1], &env, &["keys", "revoke", &id]);
    let revoked_at = std::time::Instant::now();
    let refused = join_all(urls.iter().map(|url| {
        let api = Api::new(url, &token);
        async move {
            loop {
                if api
                    .call(reqwest::Method::GET, "/v1/instances", None)
                    .await
                    .0
                    == 401
                {
                    return std::time::Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }))
    .await;
    for (url, at) in urls.iter().zip(refused) {
        let took = at.duration_since(revoked_at);
        assert!(
            took < Duration::from_secs(1),
            "{url} accepted the revoked key for {took:?}"
        );
    }
    drop((a, b, c));
}
