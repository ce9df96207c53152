//! Job workers: claim a job under a lease, keep the lease alive while the job runs, settle
//! the job by its outcome. A worker that dies simply stops heartbeating; its lease runs out and
//! another worker rescues the job, which resumes from the store.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::context::Engine;
use super::jobs::{self, Outcome};
use super::saga::Run;
use crate::domain::{ClaimRequest, Job, JobFilter, JobState, Lease};
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

/// Runs `concurrency` workers until `shutdown` resolves, then lets each finish its job at a
/// step boundary and hand it back.
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
        set.spawn(async move { reaper_loop(&engine, &signal).await });
    }
    tokio::select! {
        () = shutdown => {}
        // A worker can only end early by panicking; stop the rest rather than run degraded.
        Some(_) = set.join_next() => {}
    }
    let _ = tx.send(true);
    while set.join_next().await.is_some() {}
    tracing::info!("workers stopped");
    Ok(())
}

async fn worker_loop(engine: &Engine, name: &str, shutdown: &Shutdown) {
    let poll = engine.config.workers.poll_interval;
    while !shutdown.is_requested() {
        match claim(engine, name).await {
            Ok(Some(job)) => run_job(engine, job, shutdown).await,
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

async fn claim(engine: &Engine, worker: &str) -> Result<Option<Job>> {
    let lease_for = chrono::Duration::from_std(engine.config.workers.lease)
        .map_err(|_| Error::invalid("workers.lease", "too long"))?;
    engine
        .store
        .claim_job(&ClaimRequest {
            worker: worker.to_string(),
            now: engine.now(),
            lease_for,
        })
        .await
}

/// Claims and runs jobs one after another in the calling task until none is runnable now.
/// Returns how many ran.
pub(crate) async fn drain(engine: &Engine, worker: &str) -> Result<usize> {
    let shutdown = Shutdown::never();
    let mut ran = 0;
    while let Some(job) = claim(engine, worker).await? {
        run_job(engine, job, &shutdown).await;
        ran += 1;
    }
    Ok(ran)
}

/// Runs one claimed job while keeping its lease alive, then settles it.
pub(crate) async fn run_job(engine: &Engine, job: Job, shutdown: &Shutdown) {
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
        let run = Run { engine, shutdown };
        let outcome = tokio::select! {
            outcome = jobs::execute(&run, &job) => outcome,
            () = keep_lease(engine, lease) => {
                engine.metrics.leases_lost.incr();
                tracing::warn!("lease lost; another worker has the job");
                return;
            }
        };
        let outcome = outcome.unwrap_or_else(Outcome::Retry);
        if let Err(error) = settle(engine, &job, &lease, outcome).await {
            tracing::warn!(%error, "could not settle the job; its lease will run out and it will run again");
        }
    }
    .instrument(span)
    .await;
}

/// Extends the lease every heartbeat; returns only when the lease is lost.
async fn keep_lease(engine: &Engine, lease: Lease) {
    let config = &engine.config.workers;
    let lease_for = chrono::Duration::from_std(config.lease).unwrap_or(chrono::Duration::MAX);
    let mut lease = lease;
    loop {
        tokio::time::sleep(config.heartbeat).await;
        match engine
            .store
            .heartbeat_job(&lease, engine.now() + lease_for)
            .await
        {
            Ok(extended) => lease = extended,
            Err(Error::Conflict { .. }) => return,
            Err(error) => {
                tracing::warn!(%error, "heartbeat failed");
                if engine.now() >= lease.expires_at {
                    return;
                }
            }
        }
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

/// Dead-lettered jobs whose instance still waits on them (a job whose lease kept expiring is
/// dead-lettered by the store at claim time, where no worker sees it) fail their instance.
async fn reaper_loop(engine: &Engine, shutdown: &Shutdown) {
    let interval = engine.config.workers.reap_interval;
    loop {
        if let Err(error) = reap_dead_jobs(engine).await {
            tracing::warn!(%error, "looking for dead jobs failed");
        }
        if shutdown.sleep(interval).await {
            return;
        }
    }
}

/// Fails the instances of dead-lettered jobs that no live job drives any more.
pub(crate) async fn reap_dead_jobs(engine: &Engine) -> Result<usize> {
    let dead = engine
        .store
        .list_jobs(&JobFilter {
            state: Some(JobState::Dead),
            instance_id: None,
            limit: Some(500),
        })
        .await?;
    let mut failed = 0;
    for job in dead {
        let Some(instance) = engine.load(job.instance_id).await? else {
            continue;
        };
        if !jobs::statuses_driven_by(job.kind).contains(&instance.status) {
            continue;
        }
        let live = engine
            .store
            .list_jobs(&JobFilter {
                state: None,
                instance_id: Some(job.instance_id),
                limit: None,
            })
            .await?
            .into_iter()
            .any(|j| matches!(j.state, JobState::Queued | JobState::Running));
        if live {
            continue;
        }
        let error = job
            .last_error
            .clone()
            .unwrap_or_else(|| "out of attempts".into());
        jobs::on_dead_job(engine, &job, &error).await?;
        failed += 1;
    }
    Ok(failed)
}
