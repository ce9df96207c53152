//! Conformance suites: the `# Contract` of each port, as checks every adapter's tests run.
//!
//! Always compiled (not `cfg(test)`), so the PostgreSQL, SQLite, Hetzner, Cloudflare and
//! Redis crates (and the backup stores the binary opens) hold their adapters to exactly the contract the in-memory adapters meet.
//! Each check is a public `async fn` that panics with a message naming the clause it found
//! broken; `run_all` runs a whole suite; the macros below turn a suite into one named test
//! per check:
//!
//! ```no_run
//! use std::sync::Arc;
//! use openclaw_core::ports::Store;
//! use openclaw_core::InMemoryStore;
//!
//! async fn fresh_store() -> Arc<dyn Store> {
//!     Arc::new(InMemoryStore::new())
//! }
//!
//! // In a test file: one `#[tokio::test]` per store check, in a module `store_conformance`.
//! openclaw_core::store_conformance_tests!(fresh_store);
//! # fn main() {}
//! ```
//!
//! The generated tests use `#[tokio::test(flavor = "multi_thread")]`, so the calling crate
//! needs `tokio` with the `macros` and `rt-multi-thread` features among its
//! dev-dependencies.
//!
//! Checks name everything they create with fresh UUIDs, so checks of the compute, DNS and
//! bus suites can share one provider (a fake API server) without seeing each other, and
//! they delete what they created when they pass. Store checks get a store of their own
//! (the job queue is global: a claim may return any runnable job).

// Checks report a broken contract by panicking, which is what a test needs; this module is
// test support compiled into the library so other crates' tests can call it.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

pub mod agents;
pub mod api_keys;
pub mod backups;
pub mod bus;
pub mod compute;
pub mod dns;
pub mod facts;
pub mod rate_limiter;
pub mod store;

/// The current time to microseconds, the precision PostgreSQL keeps, so a timestamp written
/// and read back compares equal.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// 32 lowercase hex digits, unique per call: safe in DNS labels, ids and references.
fn unique() -> String {
    Uuid::now_v7().simple().to_string()
}

/// Awaits a spawned task, re-raising its panic so the check's own message is what a failing
/// test shows.
async fn join<T>(handle: tokio::task::JoinHandle<T>) -> T {
    match handle.await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("a check's task was cancelled: {e}"),
    }
}

/// One `#[tokio::test]` per [`store`] check, in a module `store_conformance`; each calls
/// `$factory().await` for a fresh `Arc<dyn Store>`.
///
/// `$factory` is resolved from the calling module (the generated module imports
/// `super::*`).
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:path) => {
        $crate::__conformance_tests!(store_conformance, store, ($factory().await);
            ping,
            insert_and_get,
            insert_existing_id_conflicts,
            external_ref_unique_among_live,
            fqdn_unique_among_live,
            secrets_are_written_with_the_instance,
            bootstrap_hands_secrets_out_once,
            delete_instance_removes_secrets,
            list_filters_and_pages,
            update_compare_and_swap,
            update_writes_event_and_job,
            failed_update_writes_nothing,
            concurrent_updaters_one_winner_per_version,
            delete_instance_keeps_rollback_log,
            rollback_log_newest_first,
            event_sequences_strictly_increase,
            events_after_resumes,
            instance_events_in_order,
            concurrent_appends_read_gapless,
            claim_oldest_run_at_first,
            future_jobs_not_claimable,
            concurrent_claims_never_share_a_job,
            one_running_job_per_instance,
            expired_lease_keeps_instance_exclusive,
            heartbeat_extends_lease,
            expired_lease_is_rescued_and_fenced,
            expired_lease_is_refused_before_rescue,
            fenced_write_carries_event_and_alert,
            claim_new_job_takes_a_free_slot,
            stranded_dead_jobs_are_listed,
            purge_jobs_keeps_what_matters,
            used_up_attempts_dead_letter,
            fail_job_requeues_then_dead_letters,
            release_does_not_count_attempt,
            list_jobs_filters,
            wait_for_jobs_returns,
            idempotency_keys,
            idempotency_expiry_and_purge,
            stats_count,
            engine_drives_a_whole_life,
        );
    };
}

/// One `#[tokio::test]` per [`agents`] check, in a module `agent_store_conformance`; each
/// calls `$factory().await` for a fresh `Arc<dyn AgentStore>`.
#[macro_export]
macro_rules! agent_store_conformance_tests {
    ($factory:path) => {
        $crate::__conformance_tests!(agent_store_conformance, agents, ($factory().await);
            enqueue_and_get,
            claims_are_per_instance_and_in_order,
            expired_leases_are_retaken_then_fail,
            finish_records_one_outcome,
            outputs_are_replaced_only_if_unchanged,
            list_and_purge,
            reports_keep_the_latest,
            fleet_upgrades_run_one_at_a_time,
        );
    };
}

/// One `#[tokio::test]` per [`backups`] check, in a module `backup_store_conformance`; each
/// calls `$factory().await` for an `Arc<dyn object_store::ObjectStore>` (checks work under a
/// prefix of their own, so one store may serve them all).
#[macro_export]
macro_rules! backup_store_conformance_tests {
    ($factory:path) => {
        $crate::__conformance_tests!(backup_store_conformance, backups, ($factory().await);
            archives_round_trip_whole,
            refused_uploads_leave_nothing,
            instances_are_apart_and_deletes_are_final,
        );
    };
}

/// One `#[tokio::test]` per [`facts`] check, in a module `deployment_facts_conformance`;
/// each calls `$factory().await` for an `Arc<dyn DeploymentFacts>`.
#[macro_export]
macro_rules! deployment_facts_conformance_tests {
    ($factory:path) => {
        $crate::__conformance_tests!(deployment_facts_conformance, facts, ($factory().await);
            facts_are_written_once,
            concurrent_records_agree,
        );
    };
}

/// One `#[tokio::test]` per [`api_keys`] check, in a module `api_key_conformance`; each
/// calls `$factory().await` for a fresh `Arc<dyn ApiKeyStore>`.
#[macro_export]
macro_rules! api_key_conformance_tests {
    ($factory:path) => {
        $crate::__conformance_tests!(api_key_conformance, api_keys, ($factory().await);
            insert_and_get,
            list_oldest_first,
            revoke_once,
            customer_links,
        );
    };
}

/// One `#[tokio::test]` per [`compute`] check, in a module `compute_conformance`; each
/// calls `$fixture().await` for a [`compute::ComputeFixture`].
#[macro_export]
macro_rules! compute_conformance_tests {
    ($fixture:path) => {
        $crate::__conformance_tests!(compute_conformance, compute, (&$fixture().await);
            create_find_get_delete,
            create_reports_addresses,
            create_same_name_adopts,
            create_conflicts_with_other_owners_name,
            power_off_and_on_are_idempotent,
            power_on_unknown_is_not_found,
            change_type_keeps_the_disk_and_allows_going_back,
            change_type_refuses_what_does_not_fit,
            delete_is_idempotent,
            get_unknown_is_none,
            list_owned_excludes_other_owners,
            deleting_server_is_never_adopted,
        );
    };
}

/// One `#[tokio::test]` per [`dns`] check run by [`dns::run_all`], in a module
/// `dns_conformance`; each calls `$fixture().await` for a [`dns::DnsFixture`].
#[macro_export]
macro_rules! dns_conformance_tests {
    ($fixture:path) => {
        $crate::__conformance_tests!(dns_conformance, dns, (&$fixture().await);
            ensure_creates_a_and_aaaa,
            ensure_creates_only_a_without_ipv6,
            ensure_twice_creates_nothing,
            ensure_updates_ours_in_place,
            other_owners_record_conflicts,
            other_instances_record_conflicts,
            delete_is_idempotent,
            list_owned_only_ours,
            find_records_sees_every_owner,
        );
    };
}

/// One `#[tokio::test]` per [`rate_limiter`] check, in a module `rate_limiter_conformance`;
/// each passes `$factory` (a [`rate_limiter::LimiterFactory`]) to the check.
#[macro_export]
macro_rules! rate_limiter_conformance_tests {
    ($factory:path) => {
        $crate::__conformance_tests!(rate_limiter_conformance, rate_limiter, ($factory);
            starts_full_then_refuses,
            more_than_the_capacity_is_invalid,
            acquire_waits_for_the_refill,
            observations_lower_and_never_raise,
            retry_after_pauses_every_grant,
            never_more_than_capacity_plus_rate_times_t,
            a_dropped_acquire_takes_nothing,
        );
    };
}

/// One `#[tokio::test]` per [`bus`] check, in a module `bus_conformance`; each calls
/// `$factory().await` for a fresh `(Arc<dyn Store>, Arc<dyn EventBus>)`, the bus fed by
/// that store's log.
#[macro_export]
macro_rules! bus_conformance_tests {
    ($factory:path) => {
        $crate::__conformance_tests!(@pair bus_conformance, bus, $factory;
            replays_then_follows_live,
            resume_after_reconnect,
            duplicates_and_reordering_are_hidden,
            topic_filter,
            subscribe_without_after_sees_only_new,
            unpublished_event_still_arrives,
            long_replay_in_order,
        );
    };
}

/// The expansion shared by the suite macros. Not part of the API.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    (@pair $module:ident, $suite:ident, $factory:path; $($check:ident),+ $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let (store, bus) = $factory().await;
                    $crate::conformance::$suite::$check(store, bus).await;
                }
            )+
        }
    };
    ($module:ident, $suite:ident, $args:tt; $($check:ident),+ $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    $crate::conformance::$suite::$check $args.await;
                }
            )+
        }
    };
}
