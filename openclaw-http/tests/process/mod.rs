//! Running the built `openclaw` binary (and the fakes' binaries) as child processes, in a
//! temporary directory, and talking to it over HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use openclaw_http::cli::sse::EventStream;
use openclaw_http::model::{EventKindView, Status};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_openclaw");

/// A fresh directory under the system's temporary directory.
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("openclaw-{name}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A configuration for fast tests: fake machines boot at once, health is checked often,
/// rate limits out of the way.
pub(crate) fn fast_config(extra: &str) -> String {
    format!(
        r#"listen = "127.0.0.1:0"

[http.rate_limit]
burst = 100000
per_second = 100000.0

[hetzner]
poll_interval = 0.02

[hetzner.rate_limit]
burst = 100000
per_second = 100000.0

[cloudflare.rate_limit]
burst = 100000
per_second = 100000.0

[sandbox]
boot_delay = 0.0
action_delay = 0.01
bootstrap_retry_delay = 0.2
health_interval = 0.02

{extra}
"#
    )
}

/// A running `openclaw serve`.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) admin_key: Option<String>,
    pub(crate) dir: PathBuf,
    pub(crate) stdout: Vec<String>,
}

impl Server {
    /// Starts `openclaw serve` in `dir` with `config` as `openclaw.toml` and `env`, and waits
    /// for its "listening on" line.
    pub(crate) async fn start(dir: &Path, config: &str, env: &[(&str, &str)]) -> Server {
        std::fs::write(dir.join("openclaw.toml"), config).unwrap();
        let mut command = Command::new(BIN);
        command
            .arg("serve")
            .current_dir(dir)
            .env_remove("OPENCLAW_DATABASE_URL")
            .env_remove("HCLOUD_TOKEN")
            .env_remove("OPENCLAW_HETZNER_TOKEN")
            .env("OPENCLAW_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("openclaw starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        let mut admin_key = None;
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let line = lines
                    .next_line()
                    .await
                    .unwrap()
                    .expect("openclaw exited before listening");
                if let Some(key) = line.split_whitespace().find(|w| w.starts_with("ock_")) {
                    admin_key = Some(key.to_string());
                }
                seen.push(line.clone());
                if let Some(url) = line.split("listening on ").nth(1) {
                    return url.trim().to_string();
                }
            }
        })
        .await
        .expect("openclaw listens within a minute");
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server {
            child,
            url,
            admin_key,
            dir: dir.to_path_buf(),
            stdout: seen,
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub(crate) async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("openclaw stops within 30 s of SIGTERM")
            .unwrap()
    }

    /// SIGKILL: no chance to clean up.
    pub(crate) async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }
}

/// An HTTP client of a server with one key.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
    pub(crate) key: String,
}

impl Api {
    pub(crate) fn new(url: &str, key: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            url: url.to_string(),
            key: key.to_string(),
        }
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .timeout(Duration::from_secs(30));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let value = response.json().await.unwrap_or(Value::Null);
        (status, value)
    }

    pub(crate) async fn create(&self, subdomain: &str) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/v1/instances",
                Some(json!({"customer_id": "e2e", "subdomain": subdomain, "plan": "starter", "region": "eu-west",
                            "provider_keys": {"ANTHROPIC_API_KEY": "sk-e2e"}})),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub(crate) async fn post(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, None).await
    }

    pub(crate) async fn events(&self, after: Option<u64>) -> EventStream {
        EventStream::open(
            &self.http,
            &self.url,
            &self.key,
            "topic=provisioning",
            after,
        )
        .await
        .unwrap()
    }

    pub(crate) async fn status(&self, id: &str) -> String {
        let (_, body) = self
            .call(reqwest::Method::GET, &format!("/v1/instances/{id}"), None)
            .await;
        body["status"].as_str().unwrap_or("").to_string()
    }
}

/// The PostgreSQL server of the tests: `DATABASE_URL`, or the local one `scripts/test`
/// starts. A test that cannot reach it fails; it never skips.
pub(crate) fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres:postgres@127.0.0.1:5432/test".to_string())
}

/// Reads `stream` until every id in `ids` has reached `status`; fails after `within`.
pub(crate) async fn until_all(
    stream: &mut EventStream,
    ids: &HashSet<String>,
    status: Status,
    within: Duration,
) {
    let mut reached: HashSet<String> = HashSet::new();
    let mut last: HashMap<String, u64> = HashMap::new();
    let outcome = tokio::time::timeout(within, async {
        while reached.len() < ids.len() {
            let event = stream.next().await.expect("the stream goes on").unwrap();
            let Some(id) = event.instance_id.clone() else {
                continue;
            };
            // Per instance, sequences only grow: nothing is seen twice.
            if let Some(previous) = last.insert(id.clone(), event.sequence) {
                assert!(
                    event.sequence > previous,
                    "{id}: {previous} then {}",
                    event.sequence
                );
            }
            if let EventKindView::StatusChanged { to, .. } = event.kind {
                assert!(
                    !matches!(to, Status::Failed | Status::RolledBack),
                    "{id} went {to:?}: {}",
                    event.reason
                );
                if to == status && ids.contains(&id) {
                    reached.insert(id);
                }
            }
        }
    })
    .await;
    assert!(
        outcome.is_ok(),
        "only {} of {} reached {status:?}",
        reached.len(),
        ids.len()
    );
}

/// Starts `openclaw fake …` and returns it with the lines it printed first.
pub(crate) async fn start_fake(args: &[&str], lines: usize) -> (Child, Vec<String>) {
    let mut child = Command::new(BIN)
        .arg("fake")
        .args(args)
        .env("OPENCLAW_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = Vec::new();
    while out.len() < lines {
        let line = tokio::time::timeout(Duration::from_secs(30), reader.next_line())
            .await
            .expect("the fake starts")
            .unwrap()
            .expect("the fake prints its address");
        out.push(line);
    }
    (child, out)
}

/// The fake Hetzner and Cloudflare as separate processes (they outlive a killed or frozen
/// server), with generous rate limits; dropped, they are killed.
pub(crate) struct Fakes {
    _hetzner: Child,
    _cloudflare: Child,
    pub(crate) hetzner_url: String,
    pub(crate) cloudflare_url: String,
    pub(crate) zone_id: String,
}

impl Fakes {
    /// Starts both; the fake machines boot in `boot_delay_ms` and try their bootstrap
    /// `bootstrap_attempts` times, 200 ms apart.
    pub(crate) async fn start(boot_delay_ms: u32, bootstrap_attempts: u32) -> Fakes {
        let (boot, attempts) = (boot_delay_ms.to_string(), bootstrap_attempts.to_string());
        let (hetzner, lines) = start_fake(
            &[
                "hetzner",
                "--boot-delay-ms",
                &boot,
                "--bootstrap-retry-delay-ms",
                "200",
                "--bootstrap-attempts",
                &attempts,
                "--action-delay-ms",
                "10",
                "--rate-limit",
                "100000",
                "--refill-per-second",
                "100000",
            ],
            1,
        )
        .await;
        let hetzner_url = lines[0].clone();
        let (cloudflare, lines) = start_fake(&["cloudflare", "--rate-limit", "100000"], 3).await;
        let value = |prefix: &str| {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(prefix))
                .unwrap()
                .to_string()
        };
        Fakes {
            _hetzner: hetzner,
            _cloudflare: cloudflare,
            hetzner_url,
            cloudflare_url: value("base_url="),
            zone_id: value("zone_id="),
        }
    }
}

/// A port free right now (for a server that must listen at a known address).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET url` with a bearer token, as JSON.
pub(crate) async fn get_json(url: &str, token: &str) -> Value {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A value of the server's `/metrics` (the first series starting with `name`).
pub(crate) async fn metric(server_url: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{server_url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}
