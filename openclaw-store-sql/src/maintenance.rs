//! The queue's upkeep, the same in both dialects: which dead jobs are stranded (their
//! instance still waits on them), and the purge of finished jobs that keeps those.

use std::future::Future;

use openclaw_core::domain::JobState;
use openclaw_core::Result;

use crate::instances::IN_PROGRESS;
use crate::jobs::JOB_COLUMNS;

/// How many jobs one purge statement deletes: each statement is a transaction of its own,
/// so a purge of a long history never holds locks (or the count rows) for long.
pub const PURGE_BATCH: usize = 1_000;

/// The condition, on a dead job aliased `j`, that its instance exists, is in progress and
/// has no queued or running job: it waits on a job that will never run.
fn stranded(job: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM instances i \
                 WHERE i.id = {job}.instance_id AND i.status IN {in_progress}) \
         AND NOT EXISTS (SELECT 1 FROM jobs q \
                         WHERE q.instance_id = {job}.instance_id \
                           AND q.state IN ('queued', 'running'))",
        in_progress = IN_PROGRESS.as_str()
    )
}

/// Selects the stranded dead jobs ([`JOB_COLUMNS`]), oldest first, at most `limit` (a
/// placeholder).
pub fn stranded_dead_jobs_sql(limit: &str) -> String {
    format!(
        "SELECT {JOB_COLUMNS} FROM jobs j WHERE j.state = 'dead' AND {} \
         ORDER BY j.seq LIMIT {limit}",
        stranded("j")
    )
}

/// The states a purge deletes, one statement each: a statement that deletes jobs of one
/// state changes one count row, so concurrent purges never wait on each other's count rows
/// in opposite orders.
pub const PURGED_STATES: [JobState; 2] = [JobState::Done, JobState::Dead];

/// Deletes at most `batch` (a placeholder) jobs in `state` (done or dead) last changed
/// before `before` (a placeholder); dead jobs that are stranded are kept.
pub fn purge_batch_sql(state: JobState, before: &str, batch: &str) -> String {
    let keep = match state {
        JobState::Dead => format!(" AND NOT ({})", stranded("j")),
        JobState::Queued | JobState::Running | JobState::Done => String::new(),
    };
    format!(
        "DELETE FROM jobs WHERE id IN ( \
             SELECT id FROM jobs j \
             WHERE j.state = '{state}' AND j.updated_at < {before}{keep} \
             LIMIT {batch})",
        state = state.as_str()
    )
}

/// For each of the [`PURGED_STATES`], runs `batch(state)` (one purge statement of at most
/// [`PURGE_BATCH`] jobs, returning how many it deleted) until a batch comes back short;
/// returns the total.
pub async fn purge_in_batches<F, Fut>(mut batch: F) -> Result<u64>
where
    F: FnMut(JobState) -> Fut,
    Fut: Future<Output = Result<u64>>,
{
    let mut total = 0;
    for state in PURGED_STATES {
        loop {
            let deleted = batch(state).await?;
            total += deleted;
            if deleted < PURGE_BATCH as u64 {
                break;
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_run_until_one_is_short() {
        let mut left = [2_500u64, 1_000];
        let total = purge_in_batches(|state| {
            let left = &mut left[usize::from(state == JobState::Dead)];
            let n = (*left).min(PURGE_BATCH as u64);
            *left -= n;
            async move { Ok(n) }
        })
        .await
        .unwrap();
        assert_eq!(total, 3_500);
        assert_eq!(left, [0, 0]);
    }

    #[test]
    fn statements_use_the_given_placeholders() {
        assert!(stranded_dead_jobs_sql("$1").ends_with("LIMIT $1"));
        let purge = purge_batch_sql(JobState::Done, "?1", "?2");
        assert!(purge.contains("updated_at < ?1") && purge.contains("LIMIT ?2"));
        assert!(
            !purge.contains("instances"),
            "done jobs are purged whatever their instance"
        );
        let purge = purge_batch_sql(JobState::Dead, "?1", "?2");
        assert!(purge.contains("'dead'") && purge.contains("NOT (EXISTS"));
    }
}
