//! Core's `Dns` conformance suite against `CloudflareDns` on the fake: two adapters with
//! different owners on one zone.

use std::sync::Arc;

use openclaw_cloudflare::fake::FakeRecord;
use openclaw_core::conformance::dns::DnsFixture;

use crate::support::{deployment, Env, ZONE};

/// The fixture keeps the fake alive for as long as the adapters need it.
fn fixture_of(env: &Env) -> DnsFixture {
    DnsFixture {
        ours: Arc::new(env.adapter("prod")),
        owner: deployment("prod"),
        theirs: Arc::new(env.adapter("staging")),
        their_owner: deployment("staging"),
        zone: ZONE.to_string(),
    }
}

async fn dns_fixture() -> DnsFixture {
    // Each generated test gets its own fake; leaking it keeps the server up for the whole
    // test, which is all a test process needs.
    let env = Box::leak(Box::new(Env::start().await));
    fixture_of(env)
}

openclaw_core::dns_conformance_tests!(dns_fixture);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmarked_record_conflicts() {
    let env = Env::start().await;
    let fixture = fixture_of(&env);
    let (fake, zone_id) = (&env.fake, env.zone_id.clone());
    let finder = Arc::clone(&fixture.ours);
    openclaw_core::conformance::dns::unmarked_record_conflicts(
        &fixture,
        |name, record_type, content| async move {
            let inserted = fake
                .insert_record(
                    &zone_id,
                    &FakeRecord::new(&name, record_type.as_str(), &content),
                )
                .unwrap();
            finder
                .find_records(&name)
                .await
                .unwrap()
                .into_iter()
                .find(|r| r.id.as_str() == inserted.id)
                .unwrap()
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_on_one_fake() {
    let env = Env::start().await;
    openclaw_core::conformance::dns::run_all(&fixture_of(&env)).await;
}
