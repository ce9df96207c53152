//! The agent's endpoints and the operator actions it runs, through the router: credentials,
//! heartbeats into the instance view, the long poll, results, and what operators see.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use common::{harness, Harness};

fn heartbeat(version: &str, up: bool) -> Value {
    json!({
        "agent_version": "1",
        "openclaw_version": version,
        "gateway": {"healthz": true, "startupz": up},
        "memory": {"total_kb": 4000000, "available_kb": 3000000},
        "disk": {"total_kb": 40000000, "available_kb": 30000000},
        "uptime_s": 61
    })
}

/// An active instance and its agent's credential.
async fn active(h: &Harness, name: &str) -> (String, String) {
    let id = h.create(&h.alice, None, name).await;
    h.run_jobs().await;
    let token = h
        .provisioner
        .agent_token(id.parse().unwrap())
        .expose()
        .to_string();
    (id, token)
}

#[tokio::test]
async fn only_an_agent_credential_opens_the_agent_endpoints() {
    let h = harness().await;
    let (id, token) = active(&h, "creds").await;
    let body = heartbeat("2026.9.6", true);
    let bootstrap = h.bootstrap_token(&id).await;
    for (key, why) in [
        (None, "no credential"),
        (Some("nonsense"), "not a token"),
        (
            Some(h.admin.as_str()),
            "an API key is not an agent credential",
        ),
        (
            Some(bootstrap.expose()),
            "a bootstrap token is not one either",
        ),
    ] {
        let reply = h
            .call(Method::POST, "/v1/agent/heartbeat", key, Some(body.clone()))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{why}: {}",
            reply.text
        );
        assert_eq!(reply.body["error"]["code"], "unauthorized", "{why}");
    }
    let reply = h
        .call(
            Method::POST,
            "/v1/agent/heartbeat",
            Some(&token),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
}

#[tokio::test]
async fn heartbeats_show_on_the_instance_and_bad_ones_are_refused() {
    let h = harness().await;
    let (id, token) = active(&h, "beats").await;
    let view = h.get(&format!("/v1/instances/{id}"), &h.alice).await;
    assert_eq!(
        view.body["agent"],
        json!({"connected": false, "last_seen": null, "gateway": null, "openclaw_version": null})
    );
    let reply = h
        .call(
            Method::POST,
            "/v1/agent/heartbeat",
            Some(&token),
            Some(heartbeat("2026.9.6", false)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let view = h.get(&format!("/v1/instances/{id}"), &h.alice).await;
    assert_eq!(view.body["agent"]["connected"], true);
    assert_eq!(view.body["agent"]["gateway"], "starting");
    assert_eq!(view.body["agent"]["openclaw_version"], "2026.9.6");
    assert!(view.body["agent"]["last_seen"].is_string());
    // Listings leave the agent out.
    let list = h.get("/v1/instances", &h.alice).await;
    assert_eq!(list.body["items"][0]["agent"], Value::Null);

    for (bad, field) in [
        (json!({"agent_version": "1"}), "gateway"),
        (
            {
                let mut b = heartbeat("x", true);
                b["surprise"] = json!(1);
                b
            },
            "surprise",
        ),
        (heartbeat(&"9".repeat(65), true), "openclaw_version"),
        (heartbeat("2026.9.6\u{1b}[31m", true), "openclaw_version"),
    ] {
        let reply = h
            .call(Method::POST, "/v1/agent/heartbeat", Some(&token), Some(bad))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            reply.text
        );
        assert!(reply.text.contains(field), "{field}: {}", reply.text);
    }
}

#[tokio::test]
async fn an_operator_action_runs_through_the_long_poll_and_reports_back() {
    let h = harness().await;
    let (id, token) = active(&h, "acts").await;
    // Nothing queued: the poll comes back empty after its wait.
    let reply = h
        .call(
            Method::GET,
            "/v1/agent/tasks/next?wait=1",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = h
        .call(
            Method::GET,
            "/v1/agent/tasks/next?wait=99",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A read key may not act; a manage key may; bad arguments never reach the instance.
    let path = format!("/v1/instances/{id}/actions/upgrade");
    let reply = h
        .post(&path, &h.alice_read, json!({"version": "2026.10.1"}))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    let reply = h.post(&path, &h.manage, json!({})).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    let reply = h
        .post(&path, &h.manage, json!({"version": "1; reboot"}))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    let reply = h
        .post(
            &format!("/v1/instances/{id}/actions/format-disk"),
            &h.manage,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    let reply = h
        .post(&path, &h.manage, json!({"version": "2026.10.1"}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.body["state"], "queued");
    assert_eq!(reply.body["kind"], "upgrade(2026.10.1)");
    let task = reply.body["id"].as_str().unwrap().to_string();

    let reply = h
        .call(
            Method::GET,
            "/v1/agent/tasks/next?wait=5",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.body,
        json!({"id": task, "kind": "upgrade", "args": {"version": "2026.10.1"}})
    );
    // Another instance's agent cannot report it.
    let (_, other) = active(&h, "other").await;
    let result = json!({"ok": true, "output": {"version": "2026.10.1", "previous": "2026.9.6"}});
    let reply = h
        .call(
            Method::POST,
            &format!("/v1/agent/tasks/{task}/result"),
            Some(&other),
            Some(result.clone()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = h
        .call(
            Method::POST,
            &format!("/v1/agent/tasks/{task}/result"),
            Some(&token),
            Some(result),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);

    let reply = h
        .get(&format!("/v1/instances/{id}/tasks/{task}"), &h.alice_read)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["state"], "succeeded");
    assert_eq!(
        reply.body["output"],
        json!({"version": "2026.10.1", "previous": "2026.9.6"})
    );
    let reply = h.get(&format!("/v1/instances/{id}/tasks"), &h.alice).await;
    assert_eq!(reply.body.as_array().unwrap().len(), 1);
    // Another customer sees none of it.
    let reply = h
        .get(&format!("/v1/instances/{id}/tasks/{task}"), &h.bob)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_bootstrap_hands_the_agent_its_credential() {
    let h = harness().await;
    let id = h.create(&h.alice, None, "boot").await;
    let bootstrap = h.bootstrap_token(&id).await;
    // The server asks while its instance is still being provisioned.
    let reply = h
        .call(
            Method::POST,
            "/v1/bootstrap",
            Some(bootstrap.expose()),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let token = reply.body["agent"]["token"].as_str().unwrap();
    assert_eq!(
        h.provisioner.agent_instance(token),
        Some(id.parse().unwrap())
    );
    assert_eq!(reply.body["agent"]["heartbeat_seconds"], 30);
    assert!(!reply.body["env"]
        .as_object()
        .unwrap()
        .values()
        .any(|v| v == token));
}

#[tokio::test]
async fn fleet_upgrades_are_for_admins_and_run_canary_first() {
    let h = harness().await;
    let (a, _) = active(&h, "fleet-a").await;
    let (b, _) = active(&h, "fleet-b").await;
    let agents: Vec<_> = [&a, &b]
        .iter()
        .map(|id| {
            openclaw_core::memory::InProcessAgent::spawn(
                h.provisioner.clone(),
                id.parse().unwrap(),
                openclaw_core::memory::SimulatedMachine::new("gw"),
                std::time::Duration::from_secs(30),
            )
        })
        .collect();
    let body = json!({"version": "2026.10.1", "canary": 1, "batch_size": 5});
    let reply = h.post("/v1/fleet/upgrade", &h.manage, body.clone()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    let reply = h
        .post("/v1/fleet/upgrade", &h.admin, json!({"version": "-x"}))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    let reply = h.post("/v1/fleet/upgrade", &h.admin, body.clone()).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.body["waves"], json!([[a], [b]]));
    let reply = h.post("/v1/fleet/upgrade", &h.admin, body).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        h.provisioner.drive_fleet_upgrade().await.unwrap();
        let list = h.get("/v1/fleet/upgrades", &h.admin).await;
        if list.body[0]["state"] != "running" {
            break;
        }
    }
    let list = h.get("/v1/fleet/upgrades", &h.admin).await;
    assert_eq!(list.body[0]["state"], "succeeded", "{}", list.text);
    for agent in &agents {
        assert_eq!(agent.machine.lock().unwrap().openclaw_version, "2026.10.1");
    }
}

#[tokio::test]
async fn the_default_model_follows_the_keys_of_the_order() {
    let h = harness().await;
    for (name, keys, model) in [
        (
            "only-openai",
            json!({"OPENAI_API_KEY": "sk-o"}),
            json!("openai/gpt-6-astra"),
        ),
        (
            "both",
            json!({"OPENAI_API_KEY": "sk-o", "ANTHROPIC_API_KEY": "sk-a"}),
            json!("anthropic/claude-opus-5"),
        ),
        (
            "only-anthropic",
            json!({"ANTHROPIC_API_KEY": "sk-a"}),
            json!("anthropic/claude-opus-5"),
        ),
        ("none", json!({}), Value::Null),
    ] {
        let body = json!({"subdomain": name, "plan": "starter", "region": "eu-west", "provider_keys": keys});
        let reply = h.post("/v1/instances", &h.alice, body).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
        let id = reply.body["id"].as_str().unwrap();
        let token = h.bootstrap_token(id).await;
        let reply = h
            .call(Method::POST, "/v1/bootstrap", Some(token.expose()), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.body["default_model"], model, "{name}");
    }
}

#[tokio::test]
async fn the_agent_script_served_is_the_one_the_user_data_pins() {
    let h = harness().await;
    let reply = h.call(Method::GET, "/v1/agent/script", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text.starts_with("#!/bin/sh\n"));
    assert!(!reply.text.contains("{{"), "every hole is filled");
    let config = &h.provisioner.config().cloud_init;
    use sha2::Digest as _;
    let digest: String = sha2::Sha256::digest(reply.text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(digest, openclaw_core::agent_script_sha256(config).unwrap());
    let id: openclaw_core::domain::InstanceId =
        h.create(&h.alice, None, "pin").await.parse().unwrap();
    let token = h.bootstrap_token(&id.to_string()).await;
    let files = openclaw_core::render_files(config, id, "pin.claw.example.com", &token).unwrap();
    let installer = files
        .iter()
        .find(|f| f.path == "/usr/local/sbin/openclaw-install-agent")
        .unwrap();
    assert!(installer.content.contains(&digest));
}

#[tokio::test]
async fn a_long_poll_ends_when_the_server_shuts_down() {
    use tower::ServiceExt as _;
    let h = harness().await;
    let (_, token) = active(&h, "bye").await;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let app = openclaw_http::routes::app(h.state.clone().with_shutdown(stopping));
    let request = axum::http::Request::get("/v1/agent/tasks/next?wait=25")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let started = std::time::Instant::now();
    let poll = tokio::spawn(app.oneshot(request));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.send(true).unwrap();
    let response = poll.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// `PUT /v1/agent/tasks/{task}/backup` with `archive` and the SHA-256 header `sha256`.
async fn upload(
    h: &Harness,
    token: &str,
    task: &str,
    sha256: Option<&str>,
    archive: Vec<u8>,
) -> common::Reply {
    let mut request = axum::http::Request::builder()
        .method(Method::PUT)
        .uri(format!("/v1/agent/tasks/{task}/backup"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/gzip");
    if let Some(sha256) = sha256 {
        request = request.header("x-archive-sha256", sha256);
    }
    h.send(request.body(axum::body::Body::from(archive)).unwrap())
        .await
}

#[tokio::test]
async fn backups_go_up_and_come_down_bound_to_their_instance() {
    use openclaw_core::domain::sha256_hex;

    let h = harness().await;
    let (id, token) = active(&h, "saves").await;
    let (_, other) = active(&h, "other").await;
    let reply = h
        .post(
            &format!("/v1/instances/{id}/actions/backup"),
            &h.alice,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.body["kind"], "backup");
    let task = reply.body["id"].as_str().unwrap().to_string();
    let reply = h
        .call(
            Method::GET,
            "/v1/agent/tasks/next?wait=5",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        reply.body,
        json!({"id": task, "kind": "backup", "args": {}})
    );

    // Larger than the request body limit: archives are not held to it.
    let archive: Vec<u8> = (0..h.state.settings.body_limit * 2)
        .map(|i| (i % 251) as u8)
        .collect();
    let sha = sha256_hex(&archive);
    for (key, sha256, status, why) in [
        (
            token.as_str(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "no SHA-256",
        ),
        (
            token.as_str(),
            Some(sha256_hex(b"x")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "another SHA-256",
        ),
        (
            other.as_str(),
            Some(sha.clone()),
            StatusCode::NOT_FOUND,
            "another instance's agent",
        ),
        (
            h.admin.as_str(),
            Some(sha.clone()),
            StatusCode::UNAUTHORIZED,
            "an API key",
        ),
    ] {
        let reply = upload(&h, key, &task, sha256.as_deref(), archive.clone()).await;
        assert_eq!(reply.status, status, "{why}: {}", reply.text);
        reply.code();
    }
    let reply = h
        .get(&format!("/v1/instances/{id}/backups"), &h.alice_read)
        .await;
    assert_eq!(
        reply.body,
        json!([]),
        "nothing kept from the refused uploads"
    );

    let reply = upload(&h, &token, &task, Some(&sha), archive.clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["id"], task);
    assert_eq!(reply.body["bytes"], archive.len());
    let reply = h
        .call(
            Method::POST,
            &format!("/v1/agent/tasks/{task}/result"),
            Some(&token),
            Some(json!({"ok": true, "output": {"backup": task, "bytes": archive.len(), "sha256": sha}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);

    let reply = h
        .get(&format!("/v1/instances/{id}/backups"), &h.alice_read)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let listed = reply.body.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["sha256"], sha);
    assert_eq!(listed[0]["instance_id"], id);
    let reply = h.get(&format!("/v1/instances/{id}/backups"), &h.bob).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // A restore names one of the instance's backups.
    let restore = format!("/v1/instances/{id}/actions/restore");
    for (body, status) in [
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"backup": "../etc"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"backup": uuid::Uuid::now_v7().to_string()}),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let reply = h.post(&restore, &h.alice, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
        reply.code();
    }
    let reply = h.post(&restore, &h.alice, json!({"backup": task})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.body["kind"], format!("restore({task})"));
    let reply = h
        .call(
            Method::GET,
            "/v1/agent/tasks/next?wait=5",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.body["kind"], "restore");
    assert_eq!(reply.body["args"], json!({"backup": task, "sha256": sha}));

    // Only the instance's own agent downloads it, byte for byte.
    let path = format!("/v1/agent/backups/{task}");
    let reply = h.call(Method::GET, &path, Some(&other), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let response = tower::ServiceExt::oneshot(
        h.app.clone(),
        axum::http::Request::get(&path)
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-archive-sha256"], sha.as_str());
    let got = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(got.as_ref(), archive.as_slice());

    // Deleting takes a manage key; then it is gone.
    let one = format!("/v1/instances/{id}/backups/{task}");
    let reply = h
        .call(Method::DELETE, &one, Some(&h.alice_read), None)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = h.call(Method::DELETE, &one, Some(&h.alice), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    let reply = h.call(Method::DELETE, &one, Some(&h.alice), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = h.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}
