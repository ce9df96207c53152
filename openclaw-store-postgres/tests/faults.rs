//! Faults: a server that cannot be reached at start, and connections killed under running
//! workers (`pg_terminate_backend`, as a failover or an administrator would).

// Helpers outside `#[test]` functions stop the test on failure, as the tests themselves do.
#![allow(clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use openclaw_core::domain::{ClaimRequest, InstanceId, JobKind, JobState, NewJob};
use openclaw_core::ports::Store;
use openclaw_core::Error;
use openclaw_store_postgres::{PgConfig, PgStore};
use sqlx::Connection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_named_without_its_password() {
    // Nothing listens on port 1.
    let config = PgConfig::new("postgres://openclaw:hunter2-secret@127.0.0.1:1/openclaw")
        .connect_timeout(Duration::from_secs(3));
    let started = Instant::now();
    let error = PgStore::connect(&config)
        .await
        .expect_err("nothing listens on port 1");
    assert!(started.elapsed() < Duration::from_secs(10));
    let message = error.to_string();
    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert!(
        message.contains("postgres://openclaw:***@127.0.0.1:1/openclaw"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!format!("{error:?}").contains("hunter2"));
}

/// How often each job was reported completed to a worker.
type Completions = Arc<Mutex<BTreeMap<openclaw_core::domain::JobId, usize>>>;

async fn backoff(failures: &mut u32) {
    *failures += 1;
    let ms = (20u64 << (*failures).min(5)).min(500);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Claims and completes until `stop`, backing off after every store error.
async fn worker(
    store: PgStore,
    name: String,
    completions: Completions,
    errors: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    let mut failures = 0;
    while !stop.load(Ordering::SeqCst) {
        let claimed = store
            .claim_job(&ClaimRequest {
                worker: name.clone(),
                now: Utc::now(),
                lease_for: chrono::Duration::seconds(2),
            })
            .await;
        let job = match claimed {
            Ok(Some(job)) => job,
            Ok(None) => {
                let _ = store.wait_for_jobs(Duration::from_millis(100)).await;
                continue;
            }
            Err(error) => {
                assert!(error.is_retryable(), "claim failed for good: {error}");
                errors.fetch_add(1, Ordering::SeqCst);
                backoff(&mut failures).await;
                continue;
            }
        };
        let lease = job.lease.expect("a claimed job has a lease");
        // Settle the job, retrying what may not have reached the server. `LeaseLost` after
        // a failed attempt means either that attempt did commit, or the lease ran out and
        // another worker rescued the job: either way this worker is done with it.
        loop {
            match store.complete_job(&lease, Utc::now()).await {
                Ok(()) => {
                    *completions
                        .lock()
                        .expect("completions")
                        .entry(job.id)
                        .or_default() += 1;
                    failures = 0;
                    break;
                }
                Err(Error::LeaseLost { .. }) => break,
                Err(error) => {
                    assert!(error.is_retryable(), "complete failed for good: {error}");
                    errors.fetch_add(1, Ordering::SeqCst);
                    backoff(&mut failures).await;
                }
            }
        }
    }
}

async fn kill_backends(admin: &mut sqlx::PgConnection, application: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = $1 AND pid <> pg_backend_pid()",
    )
    .bind(application)
    .fetch_one(admin)
    .await
    .expect("terminate backends")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_lose_no_job() {
    const JOBS: usize = 1_000;
    const WORKERS: usize = 4;
    let application = format!("openclaw-faults-{}", uuid::Uuid::now_v7().simple());
    let store = PgStore::connect(
        &common::config()
            .application_name(&application)
            .max_connections(8),
    )
    .await
    .expect("connect");
    let mut ids = Vec::new();
    for _ in 0..JOBS {
        let job = NewJob::new(InstanceId::new(), JobKind::Provision, Utc::now(), 1_000);
        store.enqueue_job(&job).await.expect("enqueue");
        ids.push(job.id);
    }

    let completions: Completions = Arc::default();
    let errors = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            tokio::spawn(worker(
                store.clone(),
                format!("worker-{w}"),
                Arc::clone(&completions),
                Arc::clone(&errors),
                Arc::clone(&stop),
            ))
        })
        .collect();

    let mut admin = sqlx::PgConnection::connect(&common::database_url())
        .await
        .expect("admin connection");
    let mut killed = 0;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        killed += kill_backends(&mut admin, &application).await;
    }
    assert!(killed > 0, "no connection of the store was killed");
    let done_during_kills = store
        .stats()
        .await
        .map(|s| s.jobs_by_state.get("done").copied());

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let done = store
            .list_jobs(&openclaw_core::domain::JobFilter {
                state: Some(JobState::Done),
                ..Default::default()
            })
            .await
            .map(|jobs| jobs.len())
            .unwrap_or(0);
        if done == JOBS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of {JOBS} jobs done after the kills"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.expect("worker");
    }

    // The kills landed while the workers were busy, and the workers saw them.
    assert!(
        done_during_kills.ok().flatten().unwrap_or(0) < JOBS as u64,
        "the workers finished before the kills; nothing was tested"
    );
    assert!(
        errors.load(Ordering::SeqCst) > 0,
        "no worker saw a killed connection"
    );

    let completions = completions.lock().expect("completions").clone();
    let twice: Vec<_> = completions.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "jobs completed twice: {twice:?}");
    for id in ids {
        let job = store.get_job(id).await.expect("get").expect("job kept");
        assert_eq!(job.state, JobState::Done, "{job:?}");
        assert!(job.attempts >= 1);
    }
    // Every completion a worker was told about is one of the jobs, once; the rest were
    // completions whose answer the kill swallowed (the job is done all the same).
    assert!(completions.len() <= JOBS);

    // The listener reconnected: a job enqueued elsewhere wakes a waiting worker at once.
    let other = PgStore::connect(&PgConfig::new(common::database_url()).schema(store.schema()))
        .await
        .expect("second store on the same schema");
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
    tokio::time::sleep(Duration::from_millis(300)).await;
    other
        .enqueue_job(&NewJob::new(
            InstanceId::new(),
            JobKind::Provision,
            Utc::now(),
            3,
        ))
        .await
        .expect("enqueue elsewhere");
    let waited = waiting.await.expect("waiter");
    assert!(waited < Duration::from_secs(10), "woken after {waited:?}");
}
