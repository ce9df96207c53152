//! The command line: every command's `--help`, `config check` redaction, and
//! `instances create --wait` against a running sandbox.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod process;

use std::process::Command;

use process::{fast_config, temp_dir, Server, BIN};

fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    run_with_stdin(dir, args, env, "")
}

/// `run`, with `stdin` on the command's standard input.
fn run_with_stdin(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> (i32, String, String) {
    use std::io::Write as _;
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(dir)
        .env_remove("HCLOUD_TOKEN")
        .env_remove("OPENCLAW_HETZNER_TOKEN")
        .env_remove("OPENCLAW_API_KEY")
        .env_remove("OPENCLAW_DATABASE_URL");
    for (k, v) in env {
        command.env(k, v);
    }
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[test]
fn every_command_has_help() {
    let dir = temp_dir("cli-help");
    let commands: &[&[&str]] = &[
        &[],
        &["serve"],
        &["migrate"],
        &["sweep"],
        &["keys"],
        &["keys", "create"],
        &["keys", "list"],
        &["keys", "revoke"],
        &["config"],
        &["config", "check"],
        &["fake"],
        &["fake", "hetzner"],
        &["fake", "cloudflare"],
        &["instances"],
        &["instances", "create"],
        &["instances", "get"],
        &["instances", "list"],
        &["instances", "suspend"],
        &["instances", "change-plan"],
        &["instances", "unsuspend"],
        &["instances", "terminate"],
        &["instances", "retry"],
        &["instances", "rollback"],
        &["instance-files"],
        &["instances", "access"],
        &["instances", "action"],
        &["instances", "backups"],
        &["fleet"],
        &["fleet", "upgrade"],
        &["fleet", "list"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let (code, out, err) = run(&dir, &args, &[]);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains("Usage:"), "{args:?}: {out}");
    }
    let (code, out, _) = run(&dir, &["--version"], &[]);
    assert_eq!(code, 0);
    assert!(out.starts_with("openclaw "));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn config_check_prints_the_effective_config_without_secrets() {
    let dir = temp_dir("cli-config");
    let secrets = [
        ("OPENCLAW_HETZNER_TOKEN", "hz-very-secret-1"),
        ("CLOUDFLARE_API_TOKEN", "cf-very-secret-2"),
        (
            "OPENCLAW_CLOUDFLARE_ZONE_ID",
            "023e105f4ecef8ad9ca31a8372d0c353",
        ),
        ("OPENCLAW_CONTROL_PLANE_URL", "https://panel.example.com"),
        (
            "OPENCLAW_DATABASE_URL",
            "postgres://openclaw:db-very-secret-3@db.internal/openclaw",
        ),
        (
            "OPENCLAW_SECRETS_KEY",
            "c2VjcmV0c2tleXNlY3JldHNrZXlzZWNyZXRza2V5c2U",
        ),
        ("OPENCLAW_METRICS_TOKEN", "metrics-very-secret-4"),
    ];
    let (code, out, err) = run(&dir, &["config", "check"], &secrets);
    assert!(!out.contains("metrics-very-secret-4"), "{out}");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("effective mode: Live"), "{out}");
    assert!(out.contains("[redacted]"));
    for (_, secret) in &secrets[..2] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{secret} printed:\n{out}"
        );
    }
    assert!(
        !out.contains("db-very-secret-3"),
        "the database password printed:\n{out}"
    );
    assert!(!out.contains("c2VjcmV0c2tleXNlY3JldHNrZXlzZWNyZXRza2V5c2U"));
    // A bad value names its field and fails.
    std::fs::write(
        dir.join("openclaw.toml"),
        "[engine.workers]\nconcurrency = 0\n",
    )
    .unwrap();
    let (code, _, err) = run(&dir, &["config", "check"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("engine.workers.concurrency"), "{err}");
    std::fs::write(dir.join("openclaw.toml"), "colour = \"red\"\n").unwrap();
    let (code, _, err) = run(&dir, &["config", "check"], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("colour"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_wait_follows_the_instance_to_active() {
    let dir = temp_dir("cli-wait");
    let server = Server::start(&dir, &fast_config(""), &[]).await;
    let key = server.admin_key.clone().unwrap();
    let env = [
        ("OPENCLAW_URL", server.url.as_str()),
        ("OPENCLAW_API_KEY", key.as_str()),
    ];
    let dir2 = dir.clone();
    let env2: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env2.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_with_stdin(
            &dir2,
            &[
                "instances",
                "create",
                "--customer",
                "c1",
                "--subdomain",
                "cli-wait",
                "--provider-key",
                "OPENAI_API_KEY",
                "--wait",
            ],
            &env,
            "sk-x\n",
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    // Not a terminal here: one plain line per change, ending at active.
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.last().unwrap().contains("active"), "{err}");
    assert!(err.contains("provisioning"), "{err}");
    let instance: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(instance["status"], "active");
    let id = instance["id"].as_str().unwrap().to_string();

    let dir3 = dir.clone();
    let env3: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env3.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let listed = run(&dir3, &["instances", "list"], &env);
        let moved = run(
            &dir3,
            &["instances", "change-plan", &id, "professional", "--wait"],
            &env,
        );
        assert_eq!(moved.0, 0, "{}", moved.2);
        assert!(moved.2.contains("resizing"), "{}", moved.2);
        let moved: serde_json::Value = serde_json::from_str(&moved.1).unwrap();
        assert_eq!(
            (moved["status"].as_str(), moved["plan"].as_str()),
            (Some("active"), Some("professional"))
        );
        let unknown = run(&dir3, &["instances", "change-plan", &id, "gigantic"], &env);
        assert_ne!(unknown.0, 0);
        assert!(unknown.2.contains("unknown plan"), "{}", unknown.2);
        let terminated = run(&dir3, &["instances", "terminate", &id, "--wait"], &env);
        assert_eq!(terminated.0, 0, "{}", terminated.2);
        assert!(terminated.1.contains("\"terminated\""), "{}", terminated.1);
        listed
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cli-wait.openclaw.localhost"), "{out}");
    // Keys are managed in the database while the server runs.
    let dir4 = dir.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let made = run(
            &dir4,
            &["keys", "create", "--name", "whmcs", "--scope", "manage"],
            &[],
        );
        assert_eq!(made.0, 0, "{}", made.2);
        assert!(made.1.trim().starts_with("ock_"));
        run(&dir4, &["keys", "list"], &[])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("whmcs") && out.contains("admin"), "{out}");
    assert!(
        !out.contains("ock_"),
        "a listing never shows a token: {out}"
    );
    server.terminate().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn instance_files_writes_what_cloud_init_would_and_the_agent_credential() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("cli-instance-files");
    let id = "0192f0c1-7e5a-7cc0-8b8e-4c3f2a1b0d9e";
    let (code, out, err) = run(
        &dir,
        &[
            "instance-files",
            id,
            "--fqdn",
            "alice.openclaw.localhost",
            "--out",
            "files",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let files = dir.join("files");
    let config =
        std::fs::read_to_string(files.join("var/lib/openclaw/.openclaw/openclaw.json")).unwrap();
    assert!(
        config.contains("https://alice.openclaw.localhost"),
        "{config}"
    );
    let agent = std::fs::read_to_string(files.join("usr/local/sbin/openclaw-agent")).unwrap();
    assert!(agent.starts_with("#!/bin/sh\n"));
    assert!(agent.contains("default_control_plane_url='http://127.0.0.1:8080'"));
    // The installer pins the checksum of exactly that script.
    use sha2::Digest as _;
    let digest: String = sha2::Sha256::digest(agent.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let installer =
        std::fs::read_to_string(files.join("usr/local/sbin/openclaw-install-agent")).unwrap();
    assert!(installer.contains(&digest));
    // The credential: private, and nowhere in what was printed.
    let env_path = files.join("etc/openclaw/agent.env");
    let mode = std::fs::metadata(&env_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let env = std::fs::read_to_string(&env_path).unwrap();
    let token = env
        .lines()
        .find_map(|l| l.strip_prefix("OPENCLAW_AGENT_TOKEN=\""))
        .and_then(|t| t.strip_suffix('"'))
        .unwrap();
    assert!(token.starts_with("0192f0c17e5a7cc08b8e4c3f2a1b0d9e."));
    assert!(!out.contains(token) && !err.contains(token));
    // The same keys give the same files; a bad id is refused.
    let (code, _, err) = run(
        &dir,
        &["instance-files", "nope", "--fqdn", "a.b", "--out", "x"],
        &[],
    );
    assert_ne!(code, 0);
    assert!(err.contains("instance_id"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_commands_reach_the_instance_through_the_server() {
    let dir = temp_dir("cli-agent");
    let backups_dir = dir.clone();
    let server = Server::start(&dir, &fast_config(""), &[]).await;
    let key = server.admin_key.clone().unwrap();
    let env: Vec<(String, String)> = vec![
        ("OPENCLAW_URL".into(), server.url.clone()),
        ("OPENCLAW_API_KEY".into(), key),
    ];
    let cli = move |args: Vec<String>| {
        let dir = dir.clone();
        let env = env.clone();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&dir, &args, &env)
        })
    };
    let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    let (code, out, err) = cli(args(
        "instances create --customer c1 --subdomain cli-agent --wait",
    ))
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    let id = serde_json::from_str::<serde_json::Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The fake machine's agent connects right after its bootstrap.
    let mut link = String::new();
    let mut last = String::new();
    for _ in 0..100 {
        let (code, out, err) = cli(args(&format!("instances access {id}"))).await.unwrap();
        if code == 0 {
            link = out;
            break;
        }
        last = err;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(link.starts_with("https://cli-agent."), "{link} {last}");
    assert!(link.contains("#bootstrapToken="), "{link}");

    let (code, out, err) = cli(args(&format!(
        "instances action {id} upgrade --to 0.0.0-missing --wait"
    )))
    .await
    .unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("rolled back to"), "{err}");
    assert!(out.contains("\"failed\""), "{out}");
    let (code, out, err) = cli(args(&format!("instances action {id} restart --wait")))
        .await
        .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"succeeded\""), "{out}");

    // A backup lands in the directory beside the database; a restore brings it back.
    let (code, out, err) = cli(args(&format!("instances action {id} backup --wait")))
        .await
        .unwrap();
    assert_eq!(code, 0, "{err}");
    let backup = serde_json::from_str::<serde_json::Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, out, err) = cli(args(&format!("instances backups {id}"))).await.unwrap();
    assert_eq!(code, 0, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed[0]["id"], backup.as_str(), "{out}");
    let archive = backups_dir
        .join("openclaw-backups/instances")
        .join(&id)
        .join(format!("{backup}.tar.gz"));
    assert_eq!(
        std::fs::metadata(&archive).unwrap().len(),
        listed[0]["bytes"].as_u64().unwrap(),
        "{archive:?}"
    );
    let (code, out, err) = cli(args(&format!(
        "instances action {id} restore --backup {backup} --wait"
    )))
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"succeeded\""), "{out}");
    let (code, _, err) = cli(args(&format!(
        "instances action {id} restore --backup {} --wait",
        uuid::Uuid::now_v7()
    )))
    .await
    .unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("backup") && err.contains("not found"), "{err}");

    let (code, out, err) = cli(args(
        "fleet upgrade --to 2026.10.1 --canary 1 --batch-size 5",
    ))
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"running\"") || out.contains("\"succeeded\""),
        "{out}"
    );
    let (code, out, _) = cli(args("fleet list")).await.unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("2026.10.1"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_go_on_the_command_line_and_options_go_anywhere() {
    let dir = temp_dir("cli-secrets");
    let server = Server::start(&dir, &fast_config(""), &[]).await;
    let key = server.admin_key.clone().unwrap();
    let url = server.url.clone();
    let key_file = dir.join("admin.key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let openai_file = dir.join("openai.key");
    std::fs::write(&openai_file, "sk-from-file\n").unwrap();
    let dir2 = dir.clone();
    tokio::task::spawn_blocking(move || {
        let key_file = key_file.to_str().unwrap();
        // A value on the command line is refused before anything is sent.
        let (code, _, err) = run(
            &dir2,
            &[
                "instances",
                "create",
                "--subdomain",
                "literal",
                "--server",
                &url,
                "--api-key-file",
                key_file,
                "--provider-key",
                "OPENAI_API_KEY=sk-literal",
            ],
            &[],
        );
        assert_ne!(code, 0);
        assert!(err.contains("never goes on the command line"), "{err}");
        // `--server` and `--api-key-file` after the subcommand, a key from a file and one
        // from standard input.
        let (code, out, err) = run_with_stdin(
            &dir2,
            &[
                "instances",
                "create",
                "--subdomain",
                "fromfile",
                "--customer",
                "c9",
                "--server",
                &url,
                "--api-key-file",
                key_file,
                "--provider-key",
                &format!("OPENAI_API_KEY=@{}", openai_file.display()),
                "--provider-key",
                "ANTHROPIC_API_KEY",
            ],
            &[],
            "sk-ant-from-stdin\n",
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("fromfile."), "{out}");
        // And before it, as before.
        let (code, out, err) = run(
            &dir2,
            &[
                "instances",
                "--server",
                &url,
                "--api-key-file",
                key_file,
                "list",
            ],
            &[],
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("fromfile."), "{out}");
        assert!(
            !out.contains("literal."),
            "the refused order was never sent: {out}"
        );
        // No key at all: says where one comes from.
        let (code, _, err) = run(&dir2, &["instances", "list", "--server", &url], &[]);
        assert_ne!(code, 0);
        assert!(
            err.contains("OPENCLAW_API_KEY") && err.contains("--api-key-file"),
            "{err}"
        );
    })
    .await
    .unwrap();
    server.terminate().await;
    std::fs::remove_dir_all(dir).unwrap();
}
