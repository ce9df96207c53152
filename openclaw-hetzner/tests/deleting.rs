//! A server in Hetzner's `deleting` state: how the fake keeps it for a moment (over plain
//! HTTP, as any client sees it), and that `HetznerCompute` never finds, lists or adopts it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{adapter, spec};
use openclaw_core::domain::InstanceId;
use openclaw_core::ports::ownership::{server_labels, server_name};
use openclaw_core::ports::{Compute, ServerStatus};
use openclaw_core::{Error, ErrorClass, GuardedCompute, Retrier, RetryBudget, RetryPolicy};
use openclaw_hetzner::fake::{Endpoint, FakeHetzner, FakeOptions};
use reqwest::Method;
use serde_json::{json, Value};

/// Long enough that a test's few requests all land inside the window.
const WINDOW: Duration = Duration::from_millis(800);

async fn fake_deleting_for(deleting_for: Duration) -> FakeHetzner {
    FakeHetzner::start_with(FakeOptions {
        deleting_for,
        ..FakeOptions::default()
    })
    .await
    .unwrap()
}

/// One request to the fake: the status and the JSON body.
async fn call(fake: &FakeHetzner, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", fake.base_url()))
        .bearer_auth(FakeHetzner::TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits until server `id` is gone from the fake, at most `deleting_for` and a margin.
async fn until_gone(fake: &FakeHetzner, id: u64, deleting_for: Duration) {
    tokio::time::sleep(deleting_for).await;
    for _ in 0..100 {
        if fake.server(id).is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("server {id} was never gone");
}

#[tokio::test]
async fn the_fake_keeps_a_deleted_server_as_deleting_then_forgets_it() {
    let fake = fake_deleting_for(WINDOW).await;
    let instance = InstanceId::new();
    let name = server_name(instance);
    let create = json!({"name": name, "server_type": "cpx22", "image": "ubuntu-24.04",
                        "labels": {"openclaw/instance": instance.to_string()}});
    let (status, created) = call(&fake, Method::POST, "/servers", Some(create.clone())).await;
    assert_eq!(status, 201, "{created}");
    let id = created["server"]["id"].as_u64().unwrap();
    let path = format!("/servers/{id}");

    let (status, deleted) = call(&fake, Method::DELETE, &path, None).await;
    assert_eq!(status, 200, "{deleted}");
    let action = deleted["action"]["id"].as_u64().unwrap();
    assert_eq!(deleted["action"]["command"], "delete_server");
    assert_eq!(deleted["action"]["status"], "running");

    let (status, got) = call(&fake, Method::GET, &path, None).await;
    assert_eq!(
        (status, &got["server"]["status"]),
        (200, &json!("deleting"))
    );
    assert_eq!(got["server"]["locked"], true);
    let selector = format!("/servers?label_selector=openclaw/instance={instance}");
    for query in [selector, format!("/servers?name={name}")] {
        let (_, listed) = call(&fake, Method::GET, &query, None).await;
        let statuses: Vec<&Value> = listed["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["status"])
            .collect();
        assert_eq!(statuses, vec![&json!("deleting")], "{query}");
    }
    let (status, taken) = call(&fake, Method::POST, "/servers", Some(create.clone())).await;
    assert_eq!(
        (status, &taken["error"]["code"]),
        (409, &json!("uniqueness_error"))
    );
    let (status, again) = call(&fake, Method::DELETE, &path, None).await;
    assert_eq!(
        (status, again["action"]["id"].as_u64()),
        (200, Some(action))
    );
    for power in ["poweron", "poweroff"] {
        let (status, refused) = call(
            &fake,
            Method::POST,
            &format!("{path}/actions/{power}"),
            None,
        )
        .await;
        assert_eq!(
            (status, &refused["error"]["code"]),
            (423, &json!("locked")),
            "{power}"
        );
    }
    let startupz = format!("{}/{instance}/startupz", fake.vps_base_url());
    assert_eq!(reqwest::get(&startupz).await.unwrap().status(), 404);

    until_gone(&fake, id, WINDOW).await;
    let (status, gone) = call(&fake, Method::GET, &path, None).await;
    assert_eq!((status, &gone["error"]["code"]), (404, &json!("not_found")));
    let (_, action) = call(&fake, Method::GET, &format!("/actions/{action}"), None).await;
    assert_eq!(action["action"]["status"], "success");
    let (status, _) = call(&fake, Method::DELETE, &path, None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&fake, Method::POST, "/servers", Some(create)).await;
    assert_eq!(status, 201, "the name is free again");
}

#[tokio::test]
async fn the_adapter_never_finds_or_lists_a_server_being_deleted() {
    let fake = fake_deleting_for(WINDOW).await;
    let compute = adapter(&fake, "prod");
    let instance = InstanceId::new();
    let server = compute
        .create_server(&spec("prod", instance))
        .await
        .unwrap();
    let kept = compute
        .create_server(&spec("prod", InstanceId::new()))
        .await
        .unwrap();
    compute.delete_server(&server.id).await.unwrap();
    compute.delete_server(&server.id).await.unwrap();

    assert!(compute.find_server(instance).await.unwrap().is_none());
    let owned: Vec<_> = compute
        .list_owned()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(owned, vec![kept.id]);
    let got = compute.get_server(&server.id).await.unwrap().unwrap();
    assert_eq!(got.status, ServerStatus::Deleting);
    assert!(
        compute.power_on(&server.id).await.is_err(),
        "a server being deleted is locked"
    );
}

#[tokio::test]
async fn a_create_while_our_server_is_being_deleted_is_retryable_and_creates_nothing() {
    let fake = fake_deleting_for(WINDOW).await;
    let compute = adapter(&fake, "prod");
    let spec = spec("prod", InstanceId::new());
    let first = compute.create_server(&spec).await.unwrap();
    compute.delete_server(&first.id).await.unwrap();

    let error = compute.create_server(&spec).await.unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Retryable);
    assert!(error.to_string().contains("still being deleted"), "{error}");
    assert_eq!(fake.servers().len(), 1, "nothing was created");
    assert_eq!(fake.request_count(Endpoint::CreateServer), 2);

    let first_id: u64 = first.id.as_str().parse().unwrap();
    until_gone(&fake, first_id, WINDOW).await;
    let second = compute.create_server(&spec).await.unwrap();
    assert_ne!(second.id, first.id, "a new server, not the deleted one");
    assert_eq!(fake.servers().len(), 1);
}

#[tokio::test]
async fn the_engines_retry_waits_for_the_name_then_creates_a_new_server() {
    let deleting_for = Duration::from_millis(300);
    let fake = fake_deleting_for(deleting_for).await;
    let compute = adapter(&fake, "prod");
    let spec = spec("prod", InstanceId::new());
    let first = compute.create_server(&spec).await.unwrap();
    compute.delete_server(&first.id).await.unwrap();

    // Patient enough to outlast the deletion, whatever the jitter draws.
    let policy = RetryPolicy {
        max_attempts: 40,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(100),
        deadline: Duration::from_secs(10),
        max_retry_after: Duration::from_secs(10),
    };
    let retrier = Retrier::new("hetzner", policy, Arc::new(RetryBudget::default())).with_seed(7);
    let guarded = GuardedCompute::new(Arc::new(compute), retrier);
    let second = guarded.create_server(&spec).await.unwrap();
    assert_ne!(second.id, first.id);
    let servers = fake.servers();
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert_eq!(servers[0].id.to_string(), second.id.as_str());
}

#[tokio::test]
async fn someone_elses_server_being_deleted_under_our_name_is_still_a_conflict() {
    let fake = fake_deleting_for(WINDOW).await;
    let instance = InstanceId::new();
    let theirs = fake.insert_server(
        &server_name(instance),
        server_labels(&common::owner("staging"), instance),
    );
    let (status, _) = call(&fake, Method::DELETE, &format!("/servers/{theirs}"), None).await;
    assert_eq!(status, 200);
    let error = adapter(&fake, "prod")
        .create_server(&spec("prod", instance))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Conflict { .. }), "{error:?}");
}
