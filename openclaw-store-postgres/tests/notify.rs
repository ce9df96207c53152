//! Waking idle workers across processes with LISTEN/NOTIFY.

// Helpers outside `#[test]` functions stop the test on failure, as the tests themselves do.
#![allow(clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use openclaw_core::domain::{InstanceId, JobKind, NewJob};
use openclaw_core::ports::Store;
use openclaw_store_postgres::{PgConfig, PgStore};

/// How long after `enqueue` started `waiter` woke up. Wake-ups before it (the listener's
/// own on connecting) are ignored.
async fn waited_for(waiter: &PgStore, enqueue: impl std::future::Future<Output = ()>) -> Duration {
    let enqueued: Arc<Mutex<Option<Instant>>> = Arc::default();
    let waiting = tokio::spawn({
        let store = waiter.clone();
        let enqueued = Arc::clone(&enqueued);
        async move {
            loop {
                store
                    .wait_for_jobs(Duration::from_secs(30))
                    .await
                    .expect("wait");
                if let Some(at) = *enqueued.lock().expect("lock") {
                    return at.elapsed();
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Marked first: the notification may wake the waiter before `enqueue` returns here.
    *enqueued.lock().expect("lock") = Some(Instant::now());
    enqueue.await;
    waiting.await.expect("waiter")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_by_another_process_wakes_a_waiting_worker() {
    let ours = common::store().await;
    // Another store on the same schema stands for another process: it shares no memory.
    let theirs = PgStore::connect(&PgConfig::new(common::database_url()).schema(ours.schema()))
        .await
        .expect("second store");
    let waited = waited_for(&ours, async {
        theirs
            .enqueue_job(&NewJob::new(
                InstanceId::new(),
                JobKind::Provision,
                Utc::now(),
                3,
            ))
            .await
            .expect("enqueue");
    })
    .await;
    assert!(
        waited < Duration::from_secs(5),
        "a notification should wake the worker long before its 30 s timeout: {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_notifications_the_timeout_returns() {
    let store = common::store().await;
    store
        .wait_for_jobs(Duration::from_millis(300))
        .await
        .expect("wait");
    let started = Instant::now();
    store
        .wait_for_jobs(Duration::from_millis(200))
        .await
        .expect("wait");
    assert!(started.elapsed() < Duration::from_secs(5));
}
