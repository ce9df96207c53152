//! The job queue inside the in-memory store: claims, leases and the states a job goes
//! through. Everything here runs under the store's lock, as one transaction.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::State;
use crate::domain::{ClaimRequest, InstanceId, Job, JobState, Lease, NewJob};
use crate::error::{Error, Result};

/// A job and its place in the queue (enqueue order breaks ties between equal `run_at`).
#[derive(Debug)]
pub(super) struct QueuedJob {
    pub(super) seq: u64,
    pub(super) job: Job,
}

impl State {
    pub(super) fn enqueue(&mut self, job: &NewJob, now: DateTime<Utc>) -> Job {
        self.last_job_seq += 1;
        let stored = Job {
            id: job.id,
            instance_id: job.instance_id,
            kind: job.kind,
            state: JobState::Queued,
            attempts: 0,
            max_attempts: job.max_attempts,
            run_at: job.run_at,
            lease: None,
            worker: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        };
        self.active.insert(self.last_job_seq, job.id);
        self.jobs.insert(
            job.id,
            QueuedJob {
                seq: self.last_job_seq,
                job: stored.clone(),
            },
        );
        stored
    }

    /// Claims the oldest runnable job. `request.now` is compared with `run_at`; `clock_now`
    /// (the store's clock) decides which leases have run out and when the new one does.
    pub(super) fn claim(
        &mut self,
        request: &ClaimRequest,
        clock_now: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        let now = request.now;
        loop {
            // An instance with a running job, even one whose lease ran out, gets no other job
            // until that one is rescued or finished: its old worker may still be at work.
            let busy: HashSet<InstanceId> = self
                .active_jobs()
                .filter(|j| j.job.state == JobState::Running)
                .map(|j| j.job.instance_id)
                .collect();
            let next = self
                .active_jobs()
                .filter(|j| match j.job.state {
                    JobState::Queued => j.job.run_at <= now && !busy.contains(&j.job.instance_id),
                    JobState::Running => j.job.lease.is_none_or(|l| l.expires_at <= clock_now),
                    JobState::Done | JobState::Dead => false,
                })
                .min_by_key(|j| (j.job.run_at, j.seq))
                .map(|j| j.job.id);
            let Some(id) = next else {
                return Ok(None);
            };
            let entry = self
                .jobs
                .get_mut(&id)
                .ok_or_else(|| Error::internal(format!("active job {id} has no row")))?;
            let seq = entry.seq;
            let job = &mut entry.job;
            let rescued = job.state == JobState::Running;
            if rescued {
                job.last_error = Some(format!(
                    "lease of {} expired",
                    job.worker.as_deref().unwrap_or("a worker")
                ));
            }
            job.updated_at = now;
            if job.attempts >= job.max_attempts {
                job.state = JobState::Dead;
                job.lease = None;
                job.last_error = Some(format!(
                    "gave up after {} attempts: {}",
                    job.attempts,
                    job.last_error.as_deref().unwrap_or("no error recorded")
                ));
                self.active.remove(&seq);
                continue;
            }
            job.attempts += 1;
            job.state = JobState::Running;
            job.worker = Some(request.worker.clone());
            job.lease = Some(Lease {
                job_id: id,
                token: Uuid::now_v7(),
                expires_at: clock_now + request.lease_for,
            });
            return Ok(Some(job.clone()));
        }
    }

    /// Inserts `job` running under a fresh lease, unless a job of its instance is running.
    pub(super) fn claim_new(
        &mut self,
        job: &NewJob,
        request: &ClaimRequest,
        clock_now: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        let busy = self
            .active_jobs()
            .any(|j| j.job.instance_id == job.instance_id && j.job.state == JobState::Running);
        if busy {
            return Ok(None);
        }
        self.enqueue(job, request.now);
        let entry = self
            .jobs
            .get_mut(&job.id)
            .ok_or_else(|| Error::internal("a job just enqueued has no row"))?;
        let stored = &mut entry.job;
        stored.attempts = 1;
        stored.state = JobState::Running;
        stored.worker = Some(request.worker.clone());
        stored.lease = Some(Lease {
            job_id: job.id,
            token: Uuid::now_v7(),
            expires_at: clock_now + request.lease_for,
        });
        Ok(Some(stored.clone()))
    }

    /// Refuses (`LeaseLost`) a fence that is not its job's current lease, or whose lease has
    /// run out by `clock_now`.
    pub(super) fn check_fence(
        &self,
        fence: Option<&Lease>,
        clock_now: DateTime<Utc>,
    ) -> Result<()> {
        let Some(fence) = fence else {
            return Ok(());
        };
        let current = self.jobs.get(&fence.job_id).and_then(|e| {
            (e.job.state == JobState::Running)
                .then_some(e.job.lease)
                .flatten()
        });
        match current {
            Some(lease) if lease.token == fence.token && lease.expires_at > clock_now => Ok(()),
            Some(lease) if lease.token == fence.token => Err(Error::lease_lost(
                fence.job_id,
                "the lease ran out before the write",
            )),
            _ => Err(Error::lease_lost(
                fence.job_id,
                "the job is no longer held under this lease",
            )),
        }
    }

    pub(super) fn active_jobs(&self) -> impl Iterator<Item = &QueuedJob> + '_ {
        self.active.values().filter_map(|id| self.jobs.get(id))
    }

    /// The job `lease` is for, if `lease` is still its current lease.
    pub(super) fn leased(&mut self, lease: &Lease) -> Result<&mut QueuedJob> {
        let entry = self
            .jobs
            .get_mut(&lease.job_id)
            .ok_or_else(|| Error::not_found("job", lease.job_id))?;
        let current = entry.job.state == JobState::Running
            && entry.job.lease.is_some_and(|l| l.token == lease.token);
        if current {
            Ok(entry)
        } else {
            Err(Error::lease_lost(
                lease.job_id,
                "the job is no longer held under this lease",
            ))
        }
    }

    /// Ends the lease on a job, leaving it in `state`.
    pub(super) fn settle(
        &mut self,
        lease: &Lease,
        state: JobState,
        now: DateTime<Utc>,
    ) -> Result<&mut Job> {
        let entry = self.leased(lease)?;
        let seq = entry.seq;
        entry.job.state = state;
        entry.job.lease = None;
        entry.job.updated_at = now;
        if matches!(state, JobState::Done | JobState::Dead) {
            self.active.remove(&seq);
        }
        self.jobs
            .get_mut(&lease.job_id)
            .map(|e| &mut e.job)
            .ok_or_else(|| Error::internal("settled job vanished"))
    }
}
