//! Core's `Compute` conformance suite against `HetznerCompute` on the fake: two adapters
//! with different owners sharing one fake project, whose deleted servers linger as
//! `deleting` for a moment, as Hetzner's do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use openclaw_core::conformance::compute::{run_all, ComputeFixture};
use openclaw_hetzner::fake::{FakeHetzner, FakeOptions};

async fn fixture() -> ComputeFixture {
    // Shorter than the fake's default, so the checks that wait for a deletion stay quick.
    let deleting_for = Duration::from_millis(500);
    let fake = FakeHetzner::start_with(FakeOptions {
        deleting_for,
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let fixture = ComputeFixture {
        ours: Arc::new(common::adapter(&fake, "prod")),
        owner: common::owner("prod"),
        theirs: Arc::new(common::adapter(&fake, "staging")),
        their_owner: common::owner("staging"),
        deleting_for,
    };
    // The fake serves on this test's runtime and stops with it; it only has to outlive the
    // fixture, which the generated test holds to its end.
    std::mem::forget(fake);
    fixture
}

openclaw_core::compute_conformance_tests!(fixture);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_on_one_fake() {
    run_all(&fixture().await).await;
}
