//! Modes and keys as an operator meets them, with the built binary: a database remembers the
//! mode its instances were provisioned in and refuses the other; live mode never generates
//! the deployment keys; the admin key is printed on the first start of an empty database only;
//! a key bound to a customer cannot be an admin key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod process;

use std::path::Path;
use std::time::Duration;

use openclaw_core::BootstrapKey;
use process::{fast_config, temp_dir, Fakes, Server, BIN};

/// Runs `openclaw args…` in `dir` to its end (a server that starts is stopped after 20 s and
/// counts as a failure): exit code, stdout, stderr.
async fn run(dir: &Path, args: &[&str], env: &[(String, String)]) -> (i32, String, String) {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(args)
        .current_dir(dir)
        .env_remove("OPENCLAW_DATABASE_URL")
        .env_remove("HCLOUD_TOKEN")
        .env_remove("OPENCLAW_HETZNER_TOKEN")
        .env("OPENCLAW_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = tokio::time::timeout(Duration::from_secs(20), command.output())
        .await
        .expect("openclaw exits (it should have refused to start)")
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// What live mode needs, against the fakes (keys given, never generated).
fn live_env(fakes: &Fakes) -> Vec<(String, String)> {
    let pairs = [
        ("OPENCLAW_HETZNER_TOKEN", "hetzner-test-token".to_string()),
        ("OPENCLAW_HETZNER_ENDPOINT", fakes.hetzner_url.clone()),
        ("OPENCLAW_CLOUDFLARE_API_TOKEN", "cf-test-token".to_string()),
        ("OPENCLAW_CLOUDFLARE_ZONE_ID", fakes.zone_id.clone()),
        ("OPENCLAW_CLOUDFLARE_BASE_URL", fakes.cloudflare_url.clone()),
        ("OPENCLAW_ZONE", "claw.example.com".to_string()),
        (
            "OPENCLAW_CONTROL_PLANE_URL",
            "https://panel.example.com".to_string(),
        ),
        (
            "OPENCLAW_BOOTSTRAP_KEY",
            BootstrapKey::random().to_base64().expose().to_string(),
        ),
        (
            "OPENCLAW_SECRETS_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_string(),
        ),
        (
            "OPENCLAW_METRICS_TOKEN",
            "metrics-token-of-the-test".to_string(),
        ),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn borrowed(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_database_is_never_opened_in_the_sandbox() {
    let fakes = Fakes::start(0, 50).await;
    let dir = temp_dir("modes");
    let config = fast_config("");
    let live = live_env(&fakes);

    // The first start: live (a Hetzner token), the admin key printed once.
    let server = Server::start(&dir, &config, &borrowed(&live)).await;
    assert!(
        server.stdout.iter().any(|l| l.contains("in live mode")),
        "{:?}",
        server.stdout
    );
    let admin = server
        .admin_key
        .clone()
        .expect("the first start prints an admin key");
    assert!(
        server
            .stdout
            .iter()
            .any(|l| l.contains("SSH stays closed on every instance")
                && l.contains("no SSH key")
                && l.contains("no admin network")),
        "live without SSH keys says so: {:?}",
        server.stdout
    );
    server.terminate().await;

    // Without the token, `auto` would be the sandbox: refused, saying why.
    let (code, out, err) = run(&dir, &["serve"], &[]).await;
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("provisioned live"), "{err}");
    assert!(err.contains("no Hetzner token"), "{err}");
    assert!(!out.contains("listening"), "{out}");
    // An explicit sandbox too.
    std::fs::write(
        dir.join("openclaw.toml"),
        format!("mode = \"sandbox\"\n{config}"),
    )
    .unwrap();
    let (code, _, err) = run(&dir, &["serve"], &[]).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("mode = \\\"sandbox\\\"") || err.contains("mode = \"sandbox\""),
        "{err}"
    );

    // Live again: it starts, and prints no admin key (one exists).
    let server = Server::start(&dir, &config, &borrowed(&live)).await;
    assert_eq!(server.admin_key, None, "{:?}", server.stdout);
    server.terminate().await;

    // With the only admin key revoked: no new key, but what to do.
    let (id, _) = openclaw_http::auth::parse_token(&admin).unwrap();
    let (code, out, err) = run(&dir, &["keys", "revoke", id], &[]).await;
    assert_eq!(code, 0, "{out} {err}");
    let server = Server::start(&dir, &config, &borrowed(&live)).await;
    assert_eq!(server.admin_key, None, "{:?}", server.stdout);
    assert!(
        server
            .stdout
            .iter()
            .any(|l| l.contains("openclaw keys create --name admin --scope admin")),
        "{:?}",
        server.stdout
    );
    server.terminate().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_database_never_goes_live_and_live_never_generates_keys() {
    let fakes = Fakes::start(0, 50).await;
    let dir = temp_dir("modes-sandbox");
    let config = fast_config("");
    let server = Server::start(&dir, &config, &[]).await;
    assert!(server.admin_key.is_some());
    // The start says where the dashboard is, and that customer sign-in is off without a
    // Firebase project.
    let dashboard = format!(
        "dashboard: {}/dashboard/ ",
        server.url.trim_end_matches('/')
    );
    assert!(
        server.stdout.iter().any(|l| l.starts_with(&dashboard)),
        "{:?}",
        server.stdout
    );
    assert!(
        server
            .stdout
            .iter()
            .any(|l| l.starts_with("customer sign-in: off (set firebase.project_id")),
        "{:?}",
        server.stdout
    );
    server.terminate().await;
    assert!(
        dir.join("openclaw.secrets").exists(),
        "the sandbox generates its keys"
    );

    let (code, _, err) = run(&dir, &["serve"], &live_env(&fakes)).await;
    assert_ne!(code, 0);
    assert!(err.contains("used by the sandbox"), "{err}");

    // A fresh directory, live, without the keys: refused before anything is written.
    let fresh = temp_dir("modes-keys");
    std::fs::write(fresh.join("openclaw.toml"), &config).unwrap();
    let without_keys: Vec<_> = live_env(&fakes)
        .into_iter()
        .filter(|(k, _)| k != "OPENCLAW_BOOTSTRAP_KEY" && k != "OPENCLAW_SECRETS_KEY")
        .collect();
    let (code, out, err) = run(&fresh, &["serve"], &without_keys).await;
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("OPENCLAW_BOOTSTRAP_KEY"), "{err}");
    assert!(err.contains("never generates"), "{err}");
    assert!(!fresh.join("openclaw.secrets").exists());
    assert!(
        !err.contains("ock_") && !out.contains("ock_"),
        "no key was made"
    );
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(fresh).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_key_cannot_be_an_admin_key() {
    let dir = temp_dir("modes-customer-admin");
    std::fs::write(dir.join("openclaw.toml"), fast_config("")).unwrap();
    let (code, out, err) = run(
        &dir,
        &[
            "keys",
            "create",
            "--name",
            "alice",
            "--scope",
            "admin",
            "--customer",
            "alice",
        ],
        &[],
    )
    .await;
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("cannot have the admin scope"), "{err}");
    assert!(!out.contains("ock_"), "{out}");
    let (code, out, err) = run(&dir, &["keys", "list"], &[]).await;
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("alice"), "nothing was stored: {out}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The sealed secrets of instance `id` in the SQLite database of `dir`, read directly.
async fn sealed_secrets(dir: &Path, id: &str) -> openclaw_core::instance_secrets::SealedSecrets {
    use openclaw_http::store::{open, StoreOptions, StoreUrl};
    let url = StoreUrl::parse(&format!("sqlite://{}", dir.join("openclaw.db").display())).unwrap();
    let stores = open(&url, &StoreOptions::default(), false).await.unwrap();
    stores
        .store
        .instance_secrets(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sealing_key_reseals_everything_and_the_old_one_can_go() {
    use openclaw_core::instance_secrets::SealingKey;
    use openclaw_core::SealingKeyring;
    let dir = temp_dir("modes-rotate");
    let server = Server::start(&dir, &fast_config(""), &[]).await;
    let api = process::Api::new(&server.url, server.admin_key.as_deref().unwrap());
    let id = api.create("rotate").await;
    for _ in 0..300 {
        if api.status(&id).await == "active" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(api.status(&id).await, "active");
    server.terminate().await;

    let file = std::fs::read_to_string(dir.join("openclaw.secrets")).unwrap();
    let old = file
        .lines()
        .find_map(|l| l.strip_prefix("secrets_key = \""))
        .map(|k| SealingKey::from_base64(k.trim_end_matches('"')).unwrap())
        .unwrap();
    let before = sealed_secrets(&dir, &id).await;
    assert_eq!(before.key_id(), Some(old.id()));
    let new = SealingKey::random();
    let new_text = new.to_base64().expose().to_string();

    // The new key configured, the file's key retired: re-seal, twice.
    let env = vec![("OPENCLAW_SECRETS_KEY".to_string(), new_text.clone())];
    let (code, out, err) = run(&dir, &["keys", "rotate-secrets"], &env).await;
    assert_eq!(code, 0, "{out} {err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["instances_resealed"], 1, "{report}");
    assert!(!out.contains(&new_text) && !err.contains(&new_text));
    let after = sealed_secrets(&dir, &id).await;
    assert_eq!(after.key_id(), Some(new.id()));
    let only_new = SealingKeyring::new(new);
    let id_parsed = id.parse().unwrap();
    assert_eq!(
        only_new.open(id_parsed, &after).unwrap(),
        old.open(id_parsed, &before).unwrap(),
        "the same secrets, under the new key alone"
    );
    let (code, out, _) = run(&dir, &["keys", "rotate-secrets"], &env).await;
    assert_eq!(code, 0);
    let again: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again["instances_resealed"], 0, "{again}");
    assert_eq!(again["instances_current"], 1, "{again}");

    // The server starts with the new key and keeps serving the instance.
    let server = Server::start(
        &dir,
        &fast_config(""),
        &[("OPENCLAW_SECRETS_KEY", &new_text)],
    )
    .await;
    assert!(server.admin_key.is_none());
    server.terminate().await;
    std::fs::remove_dir_all(dir).unwrap();
}
