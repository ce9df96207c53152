//! Job workers: claim a job under a lease, keep the lease alive while the job runs, settle
//! the job by its outcome. A worker that dies simply stops heartbeating; its lease runs out and
//! another worker rescues the job, which resumes from the store. A worker that only stalled
//! finds its lease gone when it wakes ([`lease`](super::lease)) and stops where it stands.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use super::context::Engine;
use super::jobs::{self, Outcome};
use super::lease::{self, LeaseGuard, LeaseTimings};
use super::maintenance;
use super::saga::Run;
use crate::domain::{ClaimRequest, Job, JobState, Lease};
use crate::error::{Error, Result};

/// A shutdown request shared by the workers of one `run_workers` call.
#[derive(Debug, Clone)]
pub(crate) struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A signal that is never raised (for callers that run jobs to completion).
    pub(crate) fn never() -> Self {
        // With the sender dropped, `requested` pends forever and `is_requested` stays false.
        let (_, rx) = watch::channel(false);
        Shutdown(rx)
    }

    pub(crate) fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when shutdown is requested.
    pub(crate) async fn requested(&self) {
        let mut rx = self.0.clone();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                // The sender is gone: nobody can request shutdown any more.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Sleeps for `duration`; returns `true` if shutdown was requested first.
    pub(crate) async fn sleep(&self, duration: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(duration) => self.is_requested(),
            () = self.requested() => true,
        }
    }
}

/// Runs `concurrency` workers and the maintenance loop until `shutdown` resolves, then lets
/// each worker finish its job at a step boundary and hand it back. A worker or the
/// maintenance loop that ends before shutdown (a bug that escaped the panic guard) stops the
/// rest and is returned as an error: better to stop, and fail readiness, than to keep
/// accepting orders nothing runs.
pub(crate) async fn run_workers(
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (tx, rx) = watch::channel(false);
    let signal = Shutdown(rx);
    let mut set = JoinSet::new();
    for n in 0..engine.config.workers.concurrency {
        let engine = engine.clone();
        let signal = signal.clone();
        let name = format!("{}-{}", engine.config.workers.name, n);
        set.spawn(async move { worker_loop(&engine, &name, &signal).await });
    }
    {
        let engine = engine.clone();
        let signal = signal.clone();
        set.spawn(async move { maintenance::run(&engine, &signal).await });
    }
    engine.workers_running.store(true, Ordering::SeqCst);
    let mut failure = None;
    tokio::select! {
        () = shutdown => {}
        Some(ended) = set.join_next() => {
            let why = match ended {
                Err(e) if e.is_panic() => format!("a worker panicked: {}", panic_message(&*e.into_panic())),
                Err(e) => format!("a worker was cancelled: {e}"),
                Ok(()) => "a worker stopped".to_string(),
            };
            tracing::error!(reason = %why, "workers stopping");
            failure = Some(Error::internal(why));
        }
    }
    engine.workers_running.store(false, Ordering::SeqCst);
    let _ = tx.send(true);
    while set.join_next().await.is_some() {}
    tracing::info!("workers stopped");
    match failure {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

async fn worker_loop(engine: &Engine, name: &str, shutdown: &Shutdown) {
    let poll = engine.config.workers.poll_interval;
    while !shutdown.is_requested() {
        match claim(engine, name).await {
            Ok(Some((job, requested_at))) => run_job(engine, job, requested_at, shutdown).await,
            Ok(None) => {
                tokio::select! {
                    _ = engine.store.wait_for_jobs(poll) => {}
                    () = engine.wake.notified() => {}
                    () = shutdown.requested() => {}
                }
            }
            Err(error) => {
                tracing::warn!(worker = name, %error, "claiming a job failed; backing off");
                shutdown.sleep(poll).await;
            }
        }
    }
}

pub(crate) fn lease_for(engine: &Engine) -> Result<chrono::Duration> {
    chrono::Duration::from_std(engine.config.workers.lease)
        .map_err(|_| Error::invalid("workers.lease", "too long"))
}

/// Claims a job; returns it with the instant the claim was sent (the lease's local deadline
/// counts from there).
async fn claim(engine: &Engine, worker: &str) -> Result<Option<(Job, Instant)>> {
    let lease_for = lease_for(engine)?;
    let requested_at = Instant::now();
    let job = engine
        .store
        .claim_job(&ClaimRequest {
            worker: worker.to_string(),
            now: engine.now(),
            lease_for,
        })
        .await?;
    Ok(job.map(|job| (job, requested_at)))
}

/// Claims and runs jobs one after another in the calling task until none is runnable now.
/// Returns how many ran.
pub(crate) async fn drain(engine: &Engine, worker: &str) -> Result<usize> {
    let shutdown = Shutdown::never();
    let mut ran = 0;
    while let Some((job, requested_at)) = claim(engine, worker).await? {
        run_job(engine, job, requested_at, &shutdown).await;
        ran += 1;
    }
    Ok(ran)
}

/// A guard for a lease granted to a request sent at `requested_at`.
pub(crate) fn guard(engine: &Engine, lease: Lease, requested_at: Instant) -> Arc<LeaseGuard> {
    let w = &engine.config.workers;
    Arc::new(LeaseGuard::new(
        engine.store.clone(),
        lease,
        requested_at,
        LeaseTimings {
            lease: w.lease,
            heartbeat: w.heartbeat,
            margin: w.effective_lease_margin(),
        },
    ))
}

/// How work done under a lease ended.
pub(crate) enum Leased<T> {
    /// It finished (or failed) while the lease was held.
    Finished(Result<T>),
    /// It panicked; the message says where.
    Panicked(String),
    /// The lease was lost first: the work was dropped where it stood.
    Lost(Error),
}

/// Runs `work` as the holder of `guard`: every write it makes is fenced by the lease, every
/// provider side effect first confirms it, the lease is renewed every heartbeat, and the work
/// is dropped where it stands the moment the lease is lost. A panic is caught.
pub(crate) async fn under_lease<T>(
    guard: Arc<LeaseGuard>,
    work: impl Future<Output = Result<T>>,
) -> Leased<T> {
    let work = lease::scope(guard.clone(), AssertUnwindSafe(work).catch_unwind());
    tokio::select! {
        // The lease first: a worker that wakes from a stall with both ready must stop.
        biased;
        lost = guard.keep_alive() => Leased::Lost(lost),
        finished = work => match finished {
            Ok(Err(error)) if jobs::is_lease_lost(&error) => Leased::Lost(error),
            Ok(result) => Leased::Finished(result),
            Err(panic) => Leased::Panicked(panic_message(&*panic)),
        },
    }
}

/// Runs one claimed job while keeping its lease alive, then settles it.
pub(crate) async fn run_job(engine: &Engine, job: Job, requested_at: Instant, shutdown: &Shutdown) {
    let Some(lease) = job.lease else {
        tracing::error!(job = %job.id, "claimed job has no lease; skipping");
        return;
    };
    let span = tracing::info_span!(
        "job",
        job = %job.id,
        instance = %job.instance_id,
        kind = %job.kind,
        attempt = job.attempts
    );
    async {
        let run = Run {
            engine,
            shutdown,
            attempt: job.attempts,
            job: job.id,
        };
        let guard = guard(engine, lease, requested_at);
        // Boxed: the saga of every job kind makes a large future.
        let outcome = match under_lease(guard.clone(), Box::pin(jobs::execute(&run, &job))).await {
            Leased::Finished(Ok(outcome)) => outcome,
            Leased::Finished(Err(error)) => Outcome::Retry(error),
            Leased::Panicked(message) => {
                engine.metrics.jobs_panicked.incr();
                tracing::error!(%message, "job panicked; counted as a failed attempt");
                Outcome::Retry(Error::internal(format!("the job panicked: {message}")))
            }
            Leased::Lost(error) => {
                engine.metrics.leases_lost.incr();
                tracing::warn!(%error, "lease lost; the job was stopped where it stood");
                return;
            }
        };
        match settle(engine, &job, &guard.lease(), outcome).await {
            Ok(()) => {}
            Err(error) if jobs::is_lease_lost(&error) => {
                engine.metrics.leases_lost.incr();
                tracing::warn!(%error, "lease lost before the job was settled; it will run again");
            }
            Err(error) => {
                tracing::warn!(%error, "could not settle the job; its lease will run out and it will run again");
            }
        }
    }
    .instrument(span)
    .await;
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

async fn settle(engine: &Engine, job: &Job, lease: &Lease, outcome: Outcome) -> Result<()> {
    let now = engine.now();
    match outcome {
        Outcome::Done => {
            engine.store.complete_job(lease, now).await?;
            engine.metrics.jobs_completed.incr();
        }
        Outcome::Interrupted => {
            engine.store.release_job(lease, now).await?;
            engine.metrics.jobs_interrupted.incr();
        }
        Outcome::Retry(error) => {
            let delay = engine.job_backoff(job.attempts);
            let retry_at = now + chrono::Duration::from_std(delay).unwrap_or_default();
            let message = error.to_string();
            tracing::warn!(%error, retry_in_s = delay.as_secs_f64(), "job attempt failed");
            let state = engine
                .store
                .fail_job(lease, &message, Some(retry_at), now)
                .await?;
            if state == JobState::Dead {
                jobs::on_dead_job(engine, job, &message).await?;
            } else {
                engine.metrics.jobs_retried.incr();
            }
        }
    }
    Ok(())
}
