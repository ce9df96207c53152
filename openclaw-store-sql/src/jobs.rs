//! Jobs as rows: the columns both schemas give the `jobs` table, the names of job states,
//! and the assembly of a [`Job`] from a row.

use openclaw_core::domain::{InstanceId, Job, JobId, JobKind, JobState, Lease};
use openclaw_core::Result;

use crate::columns::Columns;
use crate::errors::corrupt;
use crate::numbers::to_u32;

/// The columns of `jobs`, in the order the statements of both stores select them.
pub const JOB_COLUMNS: &str = "id, instance_id, kind, state, attempts, max_attempts, run_at, \
                               lease_token, lease_expires_at, worker, last_error, created_at, \
                               updated_at";

/// Every job state, for reading a state's name back.
pub const ALL_JOB_STATES: [JobState; 4] = [
    JobState::Queued,
    JobState::Running,
    JobState::Done,
    JobState::Dead,
];

/// The job state named `name` (as [`JobState::as_str`] writes it).
pub fn job_state(name: &str) -> Result<JobState> {
    ALL_JOB_STATES
        .into_iter()
        .find(|s| s.as_str() == name)
        .ok_or_else(|| corrupt(format!("unknown job state {name:?}")))
}

/// The job in a row of [`JOB_COLUMNS`].
pub fn job_from(row: &impl Columns) -> Result<Job> {
    let id = JobId::from_uuid(row.uuid("id")?);
    let kind: JobKind = row.json("kind")?;
    let token = row.opt_uuid("lease_token")?;
    let expires_at = row.opt_time("lease_expires_at")?;
    Ok(Job {
        id,
        instance_id: InstanceId::from_uuid(row.uuid("instance_id")?),
        kind,
        state: job_state(&row.text("state")?)?,
        attempts: to_u32(row.int("attempts")?, "jobs.attempts")?,
        max_attempts: to_u32(row.int("max_attempts")?, "jobs.max_attempts")?,
        run_at: row.time("run_at")?,
        lease: token.zip(expires_at).map(|(token, expires_at)| Lease {
            job_id: id,
            token,
            expires_at,
        }),
        worker: row.opt_text("worker")?,
        last_error: row.opt_text("last_error")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_read_back() {
        for state in ALL_JOB_STATES {
            assert_eq!(job_state(state.as_str()).unwrap(), state);
        }
        assert!(job_state("paused").is_err());
    }
}
