//! The machine behind each fake server: it boots, runs the `openclaw-bootstrap` step of its
//! cloud-init once (POSTing its single-use token to the control plane, as the real script
//! does with curl), and only then answers `GET /__vps/{instance_id}/startupz` with 200, as
//! the gateway's `/startupz` does once it runs with its secrets.
//!
//! This lets a sandbox exercise the whole secrets path — sealed at create, a bootstrap token
//! in the user data, redeemed once — without a real VPS. Only control planes on a loopback
//! address are contacted: a fake must never send a token, or anything else, off the machine.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::Shared;

/// How the fake machines behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpsOptions {
    /// Time from create (or power on) until the machine is up (default 500 ms; 0 allowed).
    pub boot_delay: Duration,
    /// Attempts of the bootstrap POST (default 11: the real script's curl makes one and
    /// retries ten times).
    pub bootstrap_attempts: u32,
    /// Wait between two attempts (default 5 s, curl's `--retry-delay 5`).
    pub bootstrap_retry_delay: Duration,
    /// Longest one attempt may take (default 60 s, curl's `--max-time 60`).
    pub bootstrap_timeout: Duration,
    /// Whether a machine runs the instance agent after its bootstrap (default true).
    pub run_agent: bool,
}

impl Default for VpsOptions {
    fn default() -> Self {
        VpsOptions {
            boot_delay: Duration::from_millis(500),
            bootstrap_attempts: 11,
            bootstrap_retry_delay: Duration::from_secs(5),
            bootstrap_timeout: Duration::from_secs(60),
            run_agent: true,
        }
    }
}

/// Where a machine's bootstrap stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Bootstrap {
    /// Not run yet (the machine is booting, or retrying).
    Pending,
    /// The user data has no bootstrap step the fake can read (a server made without
    /// openclaw's cloud-init): it never becomes ready.
    NoScript,
    /// The control plane is not on a loopback address; the fake does not call it.
    NotLoopback,
    /// The control plane answered with the secrets.
    Done {
        /// Names of the variables received (never their values).
        variables: BTreeSet<String>,
    },
    /// The control plane refused, or every attempt failed.
    Failed {
        /// What the last attempt got.
        reason: String,
    },
}

/// What the fake knows about one machine.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    /// When it is up; `None` while powered off.
    pub(crate) up_at: Option<Instant>,
    pub(crate) bootstrap: Bootstrap,
    /// The gateway token received at bootstrap, so tests can compare it with the access
    /// link. Kept in memory only, never rendered in a response or a log.
    pub(crate) gateway_token: Option<String>,
}

impl Machine {
    pub(crate) fn booting(now: Instant, options: &VpsOptions) -> Self {
        Machine {
            up_at: Some(now + options.boot_delay),
            bootstrap: Bootstrap::Pending,
            gateway_token: None,
        }
    }

    /// What `GET /startupz` answers: 200 once up and bootstrapped, 503 before and while
    /// powered off.
    pub(crate) fn startupz(&self, now: Instant, server_status: &str) -> u16 {
        let up = self.up_at.is_some_and(|at| at <= now);
        let powered = !matches!(server_status, "off" | "stopping" | "deleting");
        if up && powered && matches!(self.bootstrap, Bootstrap::Done { .. }) {
            200
        } else {
            503
        }
    }
}

/// A machine as tests see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VpsView {
    /// The server's id.
    pub server_id: u64,
    /// Whether it is powered and booted.
    pub up: bool,
    /// Where its bootstrap stands.
    pub bootstrap: Bootstrap,
    /// What `/startupz` answers now.
    pub startupz: u16,
}

impl VpsView {
    pub(crate) fn of(server_id: u64, machine: &Machine, status: &str, now: Instant) -> Self {
        VpsView {
            server_id,
            up: machine.up_at.is_some_and(|at| at <= now),
            bootstrap: machine.bootstrap.clone(),
            startupz: machine.startupz(now, status),
        }
    }
}

/// What the `openclaw-bootstrap` script in `user_data` posts to: the one
/// `http(s)://…/v1/bootstrap` URL and the one token it sends as `Authorization: Bearer`,
/// wherever the document puts them and however they are quoted.
///
/// The script is looked for first (its path names it); when the document has no such path,
/// the whole document is searched. Exactly one distinct URL and one distinct token must be
/// found, so a document that names two control planes or two tokens is refused rather than
/// guessed at.
pub fn bootstrap_request(user_data: &str) -> Option<(String, String)> {
    // A cloud-config written as JSON (one line; files' lines escaped): search the files'
    // contents as the machine would write them.
    let files: String;
    let user_data = match user_data
        .split_once('\n')
        .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
    {
        Some(document) => {
            files = document["write_files"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|file| file["content"].as_str())
                .collect::<Vec<_>>()
                .join("\n");
            files.as_str()
        }
        None => user_data,
    };
    let scope = match user_data.find("openclaw-bootstrap") {
        Some(at) => &user_data[at..],
        None => user_data,
    };
    let url = unique(urls(scope).filter(|u| is_bootstrap_url(u)))?;
    let tokens = scope
        .match_indices("Authorization: Bearer ")
        .map(|(at, marker)| {
            let rest = &scope[at + marker.len()..];
            // Written out here (a `%s` is the printf form, read below), maybe quoted.
            let rest = rest.trim_start_matches(['\'', '"']);
            let end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
            rest[..end].to_string()
        })
        .filter(|t| !t.is_empty());
    // The script's printf format line names no token; the value is its argument.
    let args = scope
        .match_indices("Authorization: Bearer %s")
        .filter_map(|(at, _)| {
            let line = scope[at..].lines().next()?;
            let quoted = line.rsplit_once(' ')?.1.trim_matches(['\'', '"', '\\']);
            Some(quoted.to_string())
        })
        .filter(|t| !t.is_empty() && t.chars().all(is_token_char));
    let token = unique(tokens.chain(args))?;
    Some((url, token))
}

/// The one distinct item of `items`, if there is exactly one.
fn unique(items: impl Iterator<Item = String>) -> Option<String> {
    let mut found: Option<String> = None;
    for item in items {
        match &found {
            None => found = Some(item),
            Some(first) if *first == item => {}
            Some(_) => return None,
        }
    }
    found
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Every `http://` or `https://` URL in `text`, cut at the first character a URL of ours
/// cannot contain (quotes, blanks, a backslash from an escaped quote).
fn urls(text: &str) -> impl Iterator<Item = String> + '_ {
    text.match_indices("http").filter_map(move |(at, _)| {
        let rest = &text[at..];
        if !(rest.starts_with("http://") || rest.starts_with("https://")) {
            return None;
        }
        let end = rest
            .find(|c: char| {
                !(c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.' | '_' | '-' | '[' | ']'))
            })
            .unwrap_or(rest.len());
        Some(rest[..end].to_string())
    })
}

fn is_bootstrap_url(url: &str) -> bool {
    url.ends_with("/v1/bootstrap")
}

/// Whether `url`'s host is a loopback address (or `localhost`).
fn is_loopback(url: &str) -> bool {
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(inner) = authority.strip_prefix('[') {
        inner.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Boots server `id`: waits for the boot delay, then runs its bootstrap once. Spawned when
/// the server is created.
pub(crate) async fn boot(shared: Arc<Shared>, id: u64) {
    let (options, user_data) = {
        let world = shared.world();
        let Some(server) = world.servers.get(&id) else {
            return;
        };
        (world.vps_options.clone(), server.user_data.clone())
    };
    let Some((url, bootstrap_token)) = user_data.as_deref().and_then(bootstrap_request) else {
        set_bootstrap(&shared, id, Bootstrap::NoScript, None);
        return;
    };
    if !is_loopback(&url) {
        set_bootstrap(&shared, id, Bootstrap::NotLoopback, None);
        return;
    }
    tokio::time::sleep(options.boot_delay).await;
    let client = match reqwest::Client::builder()
        .timeout(options.bootstrap_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            let reason = format!("no HTTP client: {error}");
            set_bootstrap(&shared, id, Bootstrap::Failed { reason }, None);
            return;
        }
    };
    let attempts = options.bootstrap_attempts.max(1);
    let mut reason = String::new();
    for attempt in 1..=attempts {
        // The machine is gone once the deletion of its server starts.
        if !shared.world().machines.contains_key(&id) {
            return;
        }
        match post(&client, &url, &bootstrap_token).await {
            Attempt::Done(variables, token, agent) => {
                set_bootstrap(
                    &shared,
                    id,
                    Bootstrap::Done { variables },
                    Some(token.clone()),
                );
                let agent = agent.filter(|_| options.run_agent);
                if let (Some(credential), Some(base)) = (agent, super::agent::base_url(&url)) {
                    super::agent::run(shared, id, base.to_string(), credential, token).await;
                }
                return;
            }
            Attempt::Refused(why) => {
                set_bootstrap(&shared, id, Bootstrap::Failed { reason: why }, None);
                return;
            }
            Attempt::Transient(why) => reason = why,
        }
        if attempt < attempts {
            tokio::time::sleep(options.bootstrap_retry_delay).await;
        }
    }
    set_bootstrap(&shared, id, Bootstrap::Failed { reason }, None);
}

enum Attempt {
    Done(
        BTreeSet<String>,
        String,
        Option<super::agent::AgentCredential>,
    ),
    /// curl's `--fail` on a status `--retry` does not repeat: stop.
    Refused(String),
    /// What curl's `--retry` repeats: no connection, a timeout, 408, 429, 5xx.
    Transient(String),
}

async fn post(client: &reqwest::Client, url: &str, token: &str) -> Attempt {
    let response = match client
        .post(url)
        .header("accept", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body("")
        .send()
        .await
    {
        Ok(response) => response,
        Err(error) => {
            return Attempt::Transient(format!("request failed: {}", without_url(&error)))
        }
    };
    let status = response.status().as_u16();
    if status == 408 || status == 429 || status >= 500 {
        return Attempt::Transient(format!("HTTP {status}"));
    }
    if !(200..300).contains(&status) {
        return Attempt::Refused(format!("HTTP {status}"));
    }
    let Ok(body) = response.json::<serde_json::Value>().await else {
        return Attempt::Refused("the answer is not JSON".to_string());
    };
    // The same checks as the script's jq filter: an `env` object of string values with the
    // gateway token among them.
    let Some(env) = body.get("env").and_then(|e| e.as_object()) else {
        return Attempt::Refused("the answer has no env object".to_string());
    };
    if env.values().any(|v| !v.is_string()) {
        return Attempt::Refused("a variable is not a string".to_string());
    }
    let Some(token) = env.get("OPENCLAW_GATEWAY_TOKEN").and_then(|v| v.as_str()) else {
        return Attempt::Refused("the answer has no OPENCLAW_GATEWAY_TOKEN".to_string());
    };
    // The agent's credential, when the control plane speaks the agent protocol.
    let agent = body.get("agent").and_then(|a| {
        Some(super::agent::AgentCredential {
            token: a.get("token")?.as_str()?.to_string(),
            heartbeat: Duration::from_secs(a.get("heartbeat_seconds")?.as_u64()?.max(1)),
        })
    });
    Attempt::Done(env.keys().cloned().collect(), token.to_string(), agent)
}

/// An error's text without the URL reqwest puts in it: the URL carries the token.
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_connect() {
        "no connection"
    } else if error.is_timeout() {
        "timed out"
    } else {
        "transport error"
    };
    kind.to_string()
}

fn set_bootstrap(shared: &Shared, id: u64, bootstrap: Bootstrap, token: Option<String>) {
    if let Some(machine) = shared.world().machines.get_mut(&id) {
        machine.bootstrap = bootstrap;
        machine.gateway_token = token;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str =
        "0192f0c17e5a7cc08b8e4c3f2a1b0d9e.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

    #[test]
    fn finds_the_url_and_token_in_the_script_however_they_are_quoted() {
        let script = format!(
            "write_files:\n  - path: \"/usr/local/sbin/openclaw-bootstrap\"\n    content: |\n      {{\n        printf 'url = \"%s\"\\n' 'http://127.0.0.1:8080/v1/bootstrap'\n        printf 'header = \"Authorization: Bearer %s\"\\n' '{TOKEN}'\n      }} |\n"
        );
        assert_eq!(
            bootstrap_request(&script),
            Some((
                "http://127.0.0.1:8080/v1/bootstrap".to_string(),
                TOKEN.to_string()
            ))
        );
        let escaped = format!(
            "\"url = \\\"https://panel.example/base/v1/bootstrap\\\"\" \"header = \\\"Authorization: Bearer {TOKEN}\\\"\""
        );
        assert_eq!(
            bootstrap_request(&escaped),
            Some((
                "https://panel.example/base/v1/bootstrap".to_string(),
                TOKEN.to_string()
            ))
        );
    }

    #[test]
    fn refuses_what_it_cannot_read_unambiguously() {
        assert_eq!(bootstrap_request("#cloud-config\npackages: [jq]\n"), None);
        assert_eq!(bootstrap_request("http://x/v1/bootstrap"), None, "no token");
        let two = format!(
            "openclaw-bootstrap http://a/v1/bootstrap http://b/v1/bootstrap Authorization: Bearer {TOKEN}"
        );
        assert_eq!(bootstrap_request(&two), None);
        let two_tokens = "openclaw-bootstrap http://a/v1/bootstrap Authorization: Bearer t1 Authorization: Bearer t2";
        assert_eq!(bootstrap_request(two_tokens), None);
        assert_eq!(bootstrap_request("http"), None);
        assert_eq!(
            bootstrap_request("ｈttp://ü/v1/bootstrap Authorization: Bearer ä"),
            None
        );
    }
}
