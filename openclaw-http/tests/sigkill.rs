//! Kill `openclaw` with SIGKILL in the middle of provisioning and start it again on the same
//! store: every instance still ends active or rolled back, and the fakes — separate
//! processes that outlive it — hold nothing no live instance claims.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod process;

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use futures_util::future::join_all;
use process::{free_port, get_json, temp_dir, Api, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_leaves_nothing_half_done() {
    let fakes = process::Fakes::start(400, 200).await;
    let (hetzner_url, cloudflare_url, zone_id) = (
        fakes.hetzner_url.clone(),
        fakes.cloudflare_url.clone(),
        fakes.zone_id.clone(),
    );

    // The same port both times: the fake machines call back the URL in their user data.
    let port = free_port();
    let config = process::fast_config(
        r#"
[engine.workers]
lease = 2.0
heartbeat = 0.5
poll_interval = 0.1
retry_base = 0.2
retry_max = 1.0

[engine.rollback]
provision_timeout = 60.0
"#,
    )
    .replace("listen = \"127.0.0.1:0\"", &format!("listen = \"127.0.0.1:{port}\""))
    .replace(
        "[hetzner]\n",
        &format!("[hetzner]\nendpoint = \"{hetzner_url}\"\ntoken = \"fake\"\n"),
    )
    .replace(
        "[cloudflare.rate_limit]",
        &format!(
            "[cloudflare]\nbase_url = \"{cloudflare_url}\"\nzone_id = \"{zone_id}\"\napi_token = \"fake\"\n\n[cloudflare.rate_limit]"
        ),
    );
    let config = format!("mode = \"sandbox\"\n{config}");
    let dir = temp_dir("sigkill");

    let server = Server::start(&dir, &config, &[]).await;
    let key = server.admin_key.clone().expect("an admin key");
    let api = Api::new(&server.url, &key);
    let ids: Vec<String> = join_all((0..12).map(|i| {
        let api = api.clone();
        async move { api.create(&format!("kill-{i}")).await }
    }))
    .await;
    // Servers are being created and machines are booting: kill it now.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let before: Vec<String> = join_all(ids.iter().map(|id| api.status(id))).await;
    server.kill().await;
    assert!(
        before.iter().any(|s| s == "provisioning" || s == "pending"),
        "nothing was in flight when killed: {before:?}"
    );

    let server = Server::start(&dir, &config, &[]).await;
    assert!(
        server.admin_key.is_none(),
        "the admin key survived the restart"
    );
    let api = Api::new(&server.url, &key);
    let settled = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            let statuses: Vec<String> = join_all(ids.iter().map(|id| api.status(id))).await;
            if statuses.iter().all(|s| s == "active" || s == "rolled_back") {
                return statuses;
            }
            assert!(
                !statuses.iter().any(|s| s == "failed"),
                "an instance failed: {statuses:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("every instance settles after the restart");

    // The sweep finds nothing to delete.
    let (status, sweep) = api
        .call(
            reqwest::Method::POST,
            "/v1/sweep",
            Some(serde_json::json!({"dry_run": true})),
        )
        .await;
    assert_eq!(status, 200, "{sweep}");
    assert_eq!(sweep["orphans"], serde_json::json!([]), "{sweep}");

    // And the fakes agree: one server and its records per active instance, nothing else.
    let mut servers = BTreeSet::new();
    let mut expected_records = BTreeSet::new();
    let mut expected_servers = BTreeSet::new();
    for (id, status) in ids.iter().zip(&settled) {
        let (_, instance) = api
            .call(reqwest::Method::GET, &format!("/v1/instances/{id}"), None)
            .await;
        if status == "active" {
            expected_servers.insert(
                instance["resources"]["server_id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
            for record in instance["resources"]["dns_record_ids"].as_array().unwrap() {
                expected_records.insert(record.as_str().unwrap().to_string());
            }
        }
    }
    let listed = get_json(&format!("{hetzner_url}/servers?per_page=50"), "fake").await;
    for server in listed["servers"].as_array().unwrap() {
        servers.insert(server["id"].to_string());
    }
    assert_eq!(servers, expected_servers, "servers at the fake Hetzner");
    let records = get_json(
        &format!("{cloudflare_url}/zones/{zone_id}/dns_records?per_page=500"),
        "fake",
    )
    .await;
    let records: BTreeSet<String> = records["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(records, expected_records, "records at the fake Cloudflare");
    let names: HashSet<&String> = ids.iter().collect();
    assert_eq!(names.len(), 12);

    let exit = server.terminate().await;
    assert!(exit.success());
    std::fs::remove_dir_all(dir).unwrap();
}
