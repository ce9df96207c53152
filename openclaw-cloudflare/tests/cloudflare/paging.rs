//! `list_owned`: the server-side comment filter and the pages.

use openclaw_cloudflare::fake::{FakeRecord, Route};
use openclaw_core::domain::InstanceId;
use openclaw_core::ports::ownership::Ownership;
use openclaw_core::ports::Dns;

use crate::support::{deployment, Env, ZONE};

fn mark(owner: &str) -> String {
    Ownership {
        owner: deployment(owner),
        instance: InstanceId::new(),
    }
    .dns_comment()
}

fn insert_marked(env: &Env, owner: &str, n: usize) {
    for i in 0..n {
        let record = FakeRecord::new(format!("{owner}-{i}.{ZONE}"), "A", "192.0.2.1")
            .with_comment(mark(owner));
        env.fake.insert_record(&env.zone_id, &record).unwrap();
    }
}

#[tokio::test]
async fn list_owned_pages_through_120_records() {
    let env = Env::start().await;
    insert_marked(&env, "prod", 120);
    // Records that must not come back: another deployment whose name starts like ours, one
    // that is a prefix of ours, hand-made ones, and a comment that only looks like a mark.
    insert_marked(&env, "prod-eu", 30);
    insert_marked(&env, "pro", 5);
    for i in 0..7 {
        let manual = FakeRecord::new(format!("hand-{i}.{ZONE}"), "A", "198.51.100.1");
        env.fake.insert_record(&env.zone_id, &manual).unwrap();
    }
    let fake_mark = FakeRecord::new(format!("liar.{ZONE}"), "A", "198.51.100.2")
        .with_comment("openclaw:prod:not-a-uuid");
    env.fake.insert_record(&env.zone_id, &fake_mark).unwrap();

    let dns = env.adapter("prod");
    let owned = dns.list_owned().await.unwrap();
    assert_eq!(owned.len(), 120);
    assert!(owned.iter().all(|r| r
        .ownership
        .as_ref()
        .is_some_and(|o| o.owner.as_str() == "prod")));
    let mut ids: Vec<_> = owned.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 120, "no record twice");
    assert_eq!(
        env.fake.requests(Route::ListRecords),
        2,
        "100 + 20 at the default page size"
    );
    let filters: Vec<_> = env.fake.captured().into_iter().map(|c| c.query).collect();
    assert!(filters.iter().all(|q| q
        .iter()
        .any(|(k, v)| k == "comment.startswith" && v == "openclaw:prod:")));
}

#[tokio::test]
async fn a_full_last_page_costs_no_extra_request() {
    let env = Env::start().await;
    insert_marked(&env, "prod", 100);
    let dns = env.adapter("prod");
    assert_eq!(dns.list_owned().await.unwrap().len(), 100);
    assert_eq!(env.fake.requests(Route::ListRecords), 1);
}

#[tokio::test]
async fn small_pages() {
    let env = Env::start().await;
    insert_marked(&env, "prod", 23);
    let dns = env.adapter_with(env.config("prod").with_page_size(5));
    assert_eq!(dns.list_owned().await.unwrap().len(), 23);
    assert_eq!(env.fake.requests(Route::ListRecords), 5);
}

#[tokio::test]
async fn nothing_owned_is_one_request() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    assert!(dns.list_owned().await.unwrap().is_empty());
    assert_eq!(env.fake.requests(Route::ListRecords), 1);
}
