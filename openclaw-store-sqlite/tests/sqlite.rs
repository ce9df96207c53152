//! What is particular to the SQLite store: the file, WAL, waking workers, and several
//! processes (here: several stores) sharing one file.

// Helpers outside `#[test]` functions stop the test on failure, as the tests themselves do.
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use openclaw_core::domain::{ClaimRequest, InstanceId, JobKind, NewEvent, NewJob};
use openclaw_core::ports::Store;
use openclaw_core::Error;
use openclaw_store_sqlite::{SqliteConfig, SqliteStore};

async fn temporary() -> SqliteStore {
    SqliteStore::connect(&SqliteConfig::temporary())
        .await
        .expect("open a temporary store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_is_in_wal_mode_and_goes_with_a_temporary_store() {
    let store = temporary().await;
    let path = store.path().to_path_buf();
    assert!(path.exists());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.writer())
        .await
        .expect("journal mode");
    assert_eq!(mode, "wal");
    let readers_write = sqlx::query("CREATE TABLE nope (x INTEGER)")
        .execute(store.readers())
        .await;
    assert!(readers_write.is_err(), "reading connections are read-only");
    drop(store);
    assert!(
        !path.exists(),
        "a temporary store's file is deleted with it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_cannot_be_opened_is_named() {
    let config = SqliteConfig::new("/nonexistent-dir-openclaw/sub/openclaw.db");
    let error = SqliteStore::connect(&config)
        .await
        .expect_err("the folder does not exist");
    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("/nonexistent-dir-openclaw/sub/openclaw.db"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueued_job_wakes_a_waiting_worker() {
    let store = temporary().await;
    // Drain a permit left by anything before.
    store
        .wait_for_jobs(Duration::from_millis(10))
        .await
        .expect("wait");
    let waiting = tokio::spawn({
        let store = store.clone();
        async move {
            let started = Instant::now();
            store
                .wait_for_jobs(Duration::from_secs(30))
                .await
                .expect("wait");
            started.elapsed()
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    store
        .enqueue_job(&NewJob::new(
            InstanceId::new(),
            JobKind::Provision,
            Utc::now(),
            3,
        ))
        .await
        .expect("enqueue");
    let waited = waiting.await.expect("waiter");
    assert!(waited < Duration::from_secs(5), "woken after {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_share_the_queue_and_the_log() {
    let first = temporary().await;
    let second = SqliteStore::connect(&SqliteConfig::new(first.path()))
        .await
        .expect("second store on the same file");
    const JOBS: usize = 100;
    for n in 0..JOBS {
        let store = if n % 2 == 0 { &first } else { &second };
        store
            .enqueue_job(&NewJob::new(
                InstanceId::new(),
                JobKind::Provision,
                Utc::now(),
                3,
            ))
            .await
            .expect("enqueue");
    }
    let claim = |store: SqliteStore, name: &'static str| {
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(job) = store
                .claim_job(&ClaimRequest {
                    worker: name.into(),
                    now: Utc::now(),
                    lease_for: chrono::Duration::seconds(60),
                })
                .await
                .expect("claim")
            {
                store
                    .append_event(&NewEvent::alert(None, "test", name, Utc::now()))
                    .await
                    .expect("append");
                store
                    .complete_job(&job.lease.expect("lease"), Utc::now())
                    .await
                    .expect("complete");
                claimed.push(job.id);
            }
            claimed
        })
    };
    let a = claim(first.clone(), "a");
    let b = claim(second.clone(), "b");
    let mut all = a.await.expect("a");
    all.extend(b.await.expect("b"));
    let unique: BTreeSet<_> = all.iter().collect();
    assert_eq!(
        (all.len(), unique.len()),
        (JOBS, JOBS),
        "each job claimed once"
    );
    let events = first.events_after(0, 1_000).await.expect("events");
    assert_eq!(events.len(), JOBS);
    assert!(events
        .windows(2)
        .all(|w| w[1].sequence == w[0].sequence + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_fence_is_named_before_a_stale_version() {
    let store = std::sync::Arc::new(temporary().await);
    openclaw_store_sql::testing::a_lost_fence_is_named_before_a_stale_version(store).await;
}
