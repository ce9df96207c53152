//! Counts for metrics. Both schemas keep them in a `store_counts` table that triggers update
//! in the transaction of every write (see the stores' migrations), so reading them costs a
//! few rows however large the tables grow; this module turns those rows into
//! [`StoreStats`].

use openclaw_core::domain::InstanceStatus;
use openclaw_core::ports::StoreStats;
use openclaw_core::Result;

use crate::errors::corrupt;
use crate::jobs::job_state;
use crate::numbers::to_u64;

/// The `kind` of the counts of instances by status in `store_counts`.
pub const INSTANCES: &str = "instances";
/// The `kind` of the counts of jobs by state in `store_counts`.
pub const JOBS: &str = "jobs";
/// The `kind` of the row that carries the last event sequence (any name).
pub const EVENTS: &str = "events";

/// Counts as rows of `(kind, name, n)`: [`INSTANCES`] by status name, [`JOBS`] by state
/// name, and one [`EVENTS`] row with the last event sequence. Rows of other kinds are
/// ignored (a newer version may count more), and so are zero counts, as the in-memory
/// store leaves them out.
pub fn stats_from<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a str, i64)>,
) -> Result<StoreStats> {
    let mut stats = StoreStats::default();
    for (kind, name, n) in rows {
        let n = to_u64(n, &format!("the count of {kind} {name}"))?;
        if kind == EVENTS {
            stats.last_event_sequence = n;
            continue;
        }
        if n == 0 {
            continue;
        }
        match kind {
            INSTANCES => {
                let status = name.parse::<InstanceStatus>().map_err(corrupt)?;
                stats.instances_by_status.insert(status, n);
            }
            JOBS => {
                stats.jobs_by_state.insert(job_state(name)?.as_str(), n);
            }
            _ => {}
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_stats() {
        let stats = stats_from([
            ("instances", "active", 3),
            ("instances", "failed", 0),
            ("jobs", "queued", 2),
            ("later", "x", 1),
            ("events", "last", 41),
        ])
        .unwrap();
        assert_eq!(stats.instances_by_status[&InstanceStatus::Active], 3);
        assert_eq!(stats.jobs_by_state["queued"], 2);
        assert_eq!(stats.last_event_sequence, 41);
        assert!(!stats
            .instances_by_status
            .contains_key(&InstanceStatus::Failed));
        assert!(stats_from([("jobs", "paused", 1)]).is_err());
        assert!(stats_from([("jobs", "queued", -1)]).is_err());
    }
}
