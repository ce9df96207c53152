//! Claiming a job, the parts both stores share: what a claim writes into the job it picked
//! (the same `SET` clause, so a rescue and a dead letter read the same in either store) and
//! the loop of claim rounds around the store's one claim statement.

use std::future::Future;

use openclaw_core::domain::{Job, JobState};
use openclaw_core::Result;

/// How many candidates one claim may dead-letter or lose to a racing claim before it reports
/// "nothing to claim" (the worker then simply asks again after its poll).
pub const CLAIM_ROUNDS: usize = 32;

/// What one claim statement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Round {
    /// Nothing was runnable.
    Nothing,
    /// It took this job: leased (`running`), or dead-lettered (`dead`) because its attempts
    /// were used up.
    Took(Job),
    /// Another claim took a job of the same instance a moment earlier (the database's
    /// one-running-job-per-instance rule refused this one); nothing was written.
    Raced,
}

/// Runs `round` (one claim statement) until it leases a job, finds nothing, or has run
/// [`CLAIM_ROUNDS`] times. Dead letters are logged: an operator wants to know.
pub async fn claim_in_rounds<F, Fut>(mut round: F) -> Result<Option<Job>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Round>>,
{
    for _ in 0..CLAIM_ROUNDS {
        match round().await? {
            Round::Nothing => return Ok(None),
            Round::Took(job) if job.state == JobState::Running => return Ok(Some(job)),
            Round::Took(job) => {
                tracing::warn!(job = %job.id, instance = %job.instance_id,
                    attempts = job.attempts, "job dead-lettered: out of attempts");
            }
            Round::Raced => {}
        }
    }
    Ok(None)
}

/// The SQL expressions a claim statement binds: each is a placeholder or an expression of
/// the store's dialect.
#[derive(Debug, Clone, Copy)]
pub struct ClaimValues<'a> {
    /// The new lease token.
    pub token: &'a str,
    /// When the new lease runs out, by the store's clock.
    pub lease_expires_at: &'a str,
    /// The claiming worker's name.
    pub worker: &'a str,
    /// The caller's now (`updated_at`).
    pub now: &'a str,
}

/// The `SET` clause of a claim of the chosen job row (unqualified columns): lease it and
/// count the attempt, or, when its attempts are used up, dead-letter it saying why. A
/// running job is one being rescued: its last error says whose lease ran out.
pub fn claim_assignments(v: ClaimValues<'_>) -> String {
    let ClaimValues {
        token,
        lease_expires_at,
        worker,
        now,
    } = v;
    format!(
        "state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'running' END, \
         attempts = CASE WHEN attempts >= max_attempts THEN attempts ELSE attempts + 1 END, \
         lease_token = CASE WHEN attempts >= max_attempts THEN NULL ELSE {token} END, \
         lease_expires_at = CASE WHEN attempts >= max_attempts THEN NULL \
                            ELSE {lease_expires_at} END, \
         worker = CASE WHEN attempts >= max_attempts THEN worker ELSE {worker} END, \
         last_error = CASE \
             WHEN attempts >= max_attempts AND state = 'running' THEN \
                 'gave up after ' || attempts || ' attempts: the lease of ' \
                 || coalesce(worker, 'a worker') || ' expired' \
             WHEN attempts >= max_attempts THEN \
                 'gave up after ' || attempts || ' attempts: ' \
                 || coalesce(last_error, 'no error recorded') \
             WHEN state = 'running' THEN \
                 'the lease of ' || coalesce(worker, 'a worker') || ' expired' \
             ELSE last_error END, \
         updated_at = {now}"
    )
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use openclaw_core::domain::{InstanceId, JobKind, NewJob};

    use super::*;

    fn job(state: JobState) -> Job {
        let new = NewJob::new(InstanceId::new(), JobKind::Provision, Utc::now(), 3);
        Job {
            id: new.id,
            instance_id: new.instance_id,
            kind: new.kind,
            state,
            attempts: 3,
            max_attempts: 3,
            run_at: new.run_at,
            lease: None,
            worker: None,
            last_error: None,
            created_at: new.run_at,
            updated_at: new.run_at,
        }
    }

    #[tokio::test]
    async fn rounds_pass_dead_letters_and_races_and_stop_at_a_lease() {
        let mut script = vec![
            Round::Took(job(JobState::Dead)),
            Round::Raced,
            Round::Took(job(JobState::Running)),
        ]
        .into_iter();
        let mut calls = 0;
        let claimed = claim_in_rounds(|| {
            calls += 1;
            let next = script.next().unwrap_or(Round::Nothing);
            async move { Ok(next) }
        })
        .await
        .unwrap();
        assert_eq!(claimed.map(|j| j.state), Some(JobState::Running));
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn rounds_give_up_after_the_limit() {
        let mut calls = 0;
        let claimed = claim_in_rounds(|| {
            calls += 1;
            async { Ok(Round::Raced) }
        })
        .await
        .unwrap();
        assert_eq!(claimed, None);
        assert_eq!(calls, CLAIM_ROUNDS);
    }

    #[test]
    fn the_assignments_name_every_value() {
        let set = claim_assignments(ClaimValues {
            token: "$2",
            lease_expires_at: "now() + $3",
            worker: "$4",
            now: "$1",
        });
        for expected in ["ELSE $2 END", "ELSE now() + $3 END", "ELSE $4 END", "= $1"] {
            assert!(set.contains(expected), "{expected} in {set}");
        }
    }
}
