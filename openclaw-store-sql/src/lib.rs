//! # openclaw-store-sql
//!
//! What openclaw's two SQL stores (`openclaw-store-postgres`, `openclaw-store-sqlite`)
//! share, so that they differ only in their SQL and in how their database types a column:
//!
//! - **row mapping**: a store reads a result row through [`Columns`] (one small
//!   implementation per database), and [`instance_from`], [`job_from`], [`event_from`],
//!   [`api_key_from`] and [`idempotency_record_from`] assemble the domain values, with the
//!   instance's JSON [`Details`] and the column lists both schemas use;
//! - **refusals**: when a conditional write matches nothing, [`Found`] and
//!   [`lease_refusal`] name the reason in the order the `Store` contract gives (a lost
//!   lease before a stale version);
//! - **the claim loop** ([`claim_in_rounds`]) and the `SET` clause of a claim
//!   ([`claim_assignments`]);
//! - **SQL both dialects read alike**: listings built from filters ([`instance_listing`],
//!   [`job_listing`]), stranded dead jobs and the batched purge;
//! - **counts** for metrics ([`stats_from`]) and error texts ([`Clash`], [`corrupt`]);
//! - with the `bench` feature, the scenario benchmark harness (`bench`) both stores'
//!   `benches/` call; with the `testing` feature, checks both stores' tests run
//!   (`testing`).
//!
//! It has no database driver of its own: everything here is plain values and SQL text.
//!
//! ```
//! use chrono::{DateTime, Utc};
//! use openclaw_core::domain::JobState;
//! use openclaw_store_sql::{corrupt, job_from, Columns};
//! use serde::de::DeserializeOwned;
//! use serde_json::{json, Value};
//! use uuid::Uuid;
//!
//! /// A row as a JSON object: how a database's row type plugs in.
//! struct JsonRow(Value);
//!
//! impl JsonRow {
//!     fn get<T: DeserializeOwned>(&self, column: &str) -> openclaw_core::Result<T> {
//!         serde_json::from_value(self.0[column].clone()).map_err(|e| corrupt(format!("{column}: {e}")))
//!     }
//! }
//!
//! impl Columns for JsonRow {
//!     fn text(&self, c: &str) -> openclaw_core::Result<String> { self.get(c) }
//!     fn opt_text(&self, c: &str) -> openclaw_core::Result<Option<String>> { self.get(c) }
//!     fn int(&self, c: &str) -> openclaw_core::Result<i64> { self.get(c) }
//!     fn uuid(&self, c: &str) -> openclaw_core::Result<Uuid> { self.get(c) }
//!     fn opt_uuid(&self, c: &str) -> openclaw_core::Result<Option<Uuid>> { self.get(c) }
//!     fn time(&self, c: &str) -> openclaw_core::Result<DateTime<Utc>> { self.get(c) }
//!     fn opt_time(&self, c: &str) -> openclaw_core::Result<Option<DateTime<Utc>>> { self.get(c) }
//!     fn json<T: DeserializeOwned>(&self, c: &str) -> openclaw_core::Result<T> { self.get(c) }
//!     fn opt_json<T: DeserializeOwned>(&self, c: &str) -> openclaw_core::Result<Option<T>> {
//!         self.get(c)
//!     }
//! }
//!
//! # fn main() -> openclaw_core::Result<()> {
//! let at = "2026-01-01T00:00:00Z";
//! let row = JsonRow(json!({
//!     "id": Uuid::now_v7(), "instance_id": Uuid::now_v7(), "kind": {"type": "sweep"},
//!     "state": "queued", "attempts": 0, "max_attempts": 1, "run_at": at,
//!     "lease_token": null, "lease_expires_at": null, "worker": null, "last_error": null,
//!     "created_at": at, "updated_at": at,
//! }));
//! let job = job_from(&row)?;
//! assert_eq!((job.state, job.lease), (JobState::Queued, None));
//! # Ok(())
//! # }
//! ```

mod agents;
mod claim;
mod columns;
mod errors;
mod events;
mod instances;
mod jobs;
mod listing;
mod maintenance;
mod numbers;
mod records;
mod refusals;
mod stats;

#[cfg(feature = "bench")]
pub mod bench;
#[cfg(feature = "testing")]
pub mod testing;

pub use agents::{
    agent_presence_from, agent_report_json, agent_task_from, agent_task_kind_json,
    fleet_finish_refusal, fleet_upgrade_from, fleet_waves_json, outcome_columns, sealed_text,
    settle_unrecorded_report, AGENT_PRESENCE_COLUMNS, AGENT_TASK_COLUMNS, EXHAUSTED_MESSAGE_PREFIX,
    EXHAUSTED_MESSAGE_SUFFIX, FLEET_UPGRADE_COLUMNS,
};
pub use claim::{claim_assignments, claim_in_rounds, ClaimValues, Round, CLAIM_ROUNDS};
pub use columns::Columns;
pub use errors::{corrupt, Clash};
pub use events::{event_from, BodyRef, EVENT_COLUMNS};
pub use instances::{instance_from, Details, INSTANCE_COLUMNS, IN_PROGRESS, NOT_LIVE};
pub use jobs::{job_from, job_state, ALL_JOB_STATES, JOB_COLUMNS};
pub use listing::{instance_listing, job_listing, page_of, Listing, Param};
pub use maintenance::{
    purge_batch_sql, purge_in_batches, stranded_dead_jobs_sql, PURGED_STATES, PURGE_BATCH,
};
pub use numbers::{limit, to_i64, to_u32, to_u64};
pub use records::{
    api_key_from, customer_link_from, idempotency_record_from, API_KEY_COLUMNS,
    CUSTOMER_LINK_COLUMNS, IDEMPOTENCY_COLUMNS,
};
pub use refusals::{check_alert, lease_refusal, Found, LeaseCheck, LeaseRow};
pub use stats::{stats_from, EVENTS, INSTANCES, JOBS};
