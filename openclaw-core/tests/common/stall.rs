//! A replica that can be frozen, as a process is by SIGSTOP: wrappers around one replica's
//! store, compute, DNS and health probe that block every call while the replica is frozen,
//! and that can freeze it at a chosen point — on the way back from a given call, after the
//! provider or store has done it. The replica's timers keep running (as the monotonic clock
//! does under SIGSTOP), so it finds its lease gone when it thaws.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openclaw_core::domain::{
    ClaimRequest, Event, ExternalRef, IdempotencyRecord, Instance, InstanceFilter, InstanceId, Job,
    JobFilter, JobId, JobState, Lease, NewEvent, NewJob, Page, RecordId, RollbackLogEntry,
    ServerId, StoredResponse,
};
use openclaw_core::engine::{EngineConfig, Provisioner};
use openclaw_core::instance_secrets::SealedSecrets;
use openclaw_core::memory::{InMemoryCompute, InMemoryDns, InMemoryHealth, InMemoryStore};
use openclaw_core::ports::{
    Compute, Dns, DnsRecord, Health, HealthProbe, InstanceDelete, InstanceWrite, NewInstance,
    RecordSpec, Server, ServerSpec, Store, StoreStats,
};
use openclaw_core::{Result, TokioClock};
use tokio::sync::watch;

/// Freezes and thaws one replica.
#[derive(Debug)]
pub(crate) struct Freezer {
    frozen: watch::Sender<bool>,
    /// Freeze on the way back from the next call of this operation (once).
    armed: Mutex<Option<&'static str>>,
    /// Provider side effects started while thawed, after the first freeze.
    side_effects_after_freeze: AtomicU64,
    froze_once: Mutex<bool>,
    /// Every call, by operation.
    calls: Mutex<BTreeMap<&'static str, u64>>,
    /// Calls of this operation panic (a bug outside any job).
    panic_on: Mutex<Option<&'static str>>,
}

const SIDE_EFFECTS: [&str; 7] = [
    "create_server",
    "delete_server",
    "power_off",
    "power_on",
    "change_type",
    "ensure_records",
    "delete_record",
];

impl Freezer {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Freezer {
            frozen: watch::channel(false).0,
            armed: Mutex::new(None),
            side_effects_after_freeze: AtomicU64::new(0),
            froze_once: Mutex::new(false),
            calls: Mutex::new(BTreeMap::new()),
            panic_on: Mutex::new(None),
        })
    }

    /// Makes every later call of `op` panic.
    pub(crate) fn panic_on(&self, op: &'static str) {
        *self.panic_on.lock().unwrap() = Some(op);
    }

    /// Freezes the replica on the way back from its next `op` call.
    pub(crate) fn freeze_after(&self, op: &'static str) {
        *self.armed.lock().unwrap() = Some(op);
    }

    pub(crate) fn freeze(&self) {
        *self.froze_once.lock().unwrap() = true;
        self.frozen.send_replace(true);
    }

    pub(crate) fn thaw(&self) {
        self.frozen.send_replace(false);
    }

    pub(crate) fn is_frozen(&self) -> bool {
        *self.frozen.borrow()
    }

    /// Whether the armed freeze has happened.
    pub(crate) fn has_frozen(&self) -> bool {
        *self.froze_once.lock().unwrap()
    }

    /// Provider side effects this replica started after it was first frozen.
    pub(crate) fn side_effects_after_freeze(&self) -> u64 {
        self.side_effects_after_freeze.load(Ordering::SeqCst)
    }

    pub(crate) fn calls(&self, op: &str) -> u64 {
        self.calls.lock().unwrap().get(op).copied().unwrap_or(0)
    }

    async fn wait_thawed(&self) {
        let mut rx = self.frozen.subscribe();
        while *rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Before a call: wait while frozen; count it.
    #[allow(clippy::panic)]
    async fn enter(&self, op: &'static str) {
        self.wait_thawed().await;
        if *self.panic_on.lock().unwrap() == Some(op) {
            panic!("injected panic in {op}");
        }
        *self.calls.lock().unwrap().entry(op).or_default() += 1;
        if SIDE_EFFECTS.contains(&op) && self.has_frozen() {
            self.side_effects_after_freeze
                .fetch_add(1, Ordering::SeqCst);
        }
    }

    /// After a call: freeze here if armed for `op`, then wait while frozen.
    async fn leave(&self, op: &'static str) {
        let fire = {
            let mut armed = self.armed.lock().unwrap();
            if *armed == Some(op) {
                *armed = None;
                true
            } else {
                false
            }
        };
        if fire {
            self.freeze();
        }
        self.wait_thawed().await;
    }
}

macro_rules! gated {
    ($self:ident, $op:literal, $call:expr) => {{
        $self.1.enter($op).await;
        let out = $call.await;
        $self.1.leave($op).await;
        out
    }};
}

/// A store seen through a freezer.
pub(crate) struct FrozenStore(pub(crate) Arc<dyn Store>, pub(crate) Arc<Freezer>);
/// A compute provider seen through a freezer.
pub(crate) struct FrozenCompute(pub(crate) Arc<dyn Compute>, pub(crate) Arc<Freezer>);
/// A DNS provider seen through a freezer.
pub(crate) struct FrozenDns(pub(crate) Arc<dyn Dns>, pub(crate) Arc<Freezer>);
/// A health probe seen through a freezer.
pub(crate) struct FrozenHealth(pub(crate) Arc<dyn HealthProbe>, pub(crate) Arc<Freezer>);

#[async_trait]
impl Compute for FrozenCompute {
    async fn create_server(&self, spec: &ServerSpec) -> Result<Server> {
        gated!(self, "create_server", self.0.create_server(spec))
    }
    async fn find_server(&self, instance: InstanceId) -> Result<Option<Server>> {
        gated!(self, "find_server", self.0.find_server(instance))
    }
    async fn get_server(&self, id: &ServerId) -> Result<Option<Server>> {
        gated!(self, "get_server", self.0.get_server(id))
    }
    async fn delete_server(&self, id: &ServerId) -> Result<()> {
        gated!(self, "delete_server", self.0.delete_server(id))
    }
    async fn power_off(&self, id: &ServerId) -> Result<()> {
        gated!(self, "power_off", self.0.power_off(id))
    }
    async fn power_on(&self, id: &ServerId) -> Result<()> {
        gated!(self, "power_on", self.0.power_on(id))
    }
    async fn change_type(&self, id: &ServerId, server_type: &str) -> Result<()> {
        gated!(self, "change_type", self.0.change_type(id, server_type))
    }
    async fn list_owned(&self) -> Result<Vec<Server>> {
        gated!(self, "list_servers", self.0.list_owned())
    }
}

#[async_trait]
impl Dns for FrozenDns {
    async fn ensure_records(&self, spec: &RecordSpec) -> Result<Vec<DnsRecord>> {
        gated!(self, "ensure_records", self.0.ensure_records(spec))
    }
    async fn find_records(&self, name: &str) -> Result<Vec<DnsRecord>> {
        gated!(self, "find_records", self.0.find_records(name))
    }
    async fn delete_record(&self, id: &RecordId) -> Result<()> {
        gated!(self, "delete_record", self.0.delete_record(id))
    }
    async fn list_owned(&self) -> Result<Vec<DnsRecord>> {
        gated!(self, "list_records", self.0.list_owned())
    }
}

#[async_trait]
impl HealthProbe for FrozenHealth {
    async fn check(&self, instance: &Instance) -> Health {
        gated!(self, "health_check", self.0.check(instance))
    }
}

#[async_trait]
impl Store for FrozenStore {
    async fn ping(&self) -> Result<()> {
        gated!(self, "ping", self.0.ping())
    }
    async fn insert_instance(&self, new: &NewInstance) -> Result<Event> {
        gated!(self, "insert_instance", self.0.insert_instance(new))
    }
    async fn update_instance(&self, write: &InstanceWrite) -> Result<(Instance, Option<Event>)> {
        gated!(self, "update_instance", self.0.update_instance(write))
    }
    async fn delete_instance(&self, delete: &InstanceDelete) -> Result<Event> {
        gated!(self, "delete_instance", self.0.delete_instance(delete))
    }
    async fn get_instance(&self, id: InstanceId) -> Result<Option<Instance>> {
        gated!(self, "get_instance", self.0.get_instance(id))
    }
    async fn instance_secrets(&self, id: InstanceId) -> Result<Option<SealedSecrets>> {
        gated!(self, "instance_secrets", self.0.instance_secrets(id))
    }
    async fn consume_bootstrap(
        &self,
        id: InstanceId,
        now: DateTime<Utc>,
    ) -> Result<Option<SealedSecrets>> {
        gated!(self, "consume_bootstrap", self.0.consume_bootstrap(id, now))
    }
    async fn reset_bootstrap(&self, id: InstanceId) -> Result<()> {
        gated!(self, "reset_bootstrap", self.0.reset_bootstrap(id))
    }
    async fn replace_instance_secrets(
        &self,
        id: InstanceId,
        expected: &openclaw_core::instance_secrets::SealedSecrets,
        sealed: &openclaw_core::instance_secrets::SealedSecrets,
    ) -> Result<bool> {
        gated!(
            self,
            "replace_instance_secrets",
            self.0.replace_instance_secrets(id, expected, sealed)
        )
    }
    async fn find_live_by_external_ref(
        &self,
        external_ref: &ExternalRef,
    ) -> Result<Option<Instance>> {
        gated!(
            self,
            "find_live_by_external_ref",
            self.0.find_live_by_external_ref(external_ref)
        )
    }
    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Page<Instance>> {
        gated!(self, "list_instances", self.0.list_instances(filter))
    }
    async fn append_event(&self, event: &NewEvent) -> Result<Event> {
        gated!(self, "append_event", self.0.append_event(event))
    }
    async fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>> {
        gated!(self, "events_after", self.0.events_after(after, limit))
    }
    async fn instance_events(&self, id: InstanceId) -> Result<Vec<Event>> {
        gated!(self, "instance_events", self.0.instance_events(id))
    }
    async fn last_event_sequence(&self) -> Result<u64> {
        gated!(self, "last_event_sequence", self.0.last_event_sequence())
    }
    async fn enqueue_job(&self, job: &NewJob) -> Result<Job> {
        gated!(self, "enqueue_job", self.0.enqueue_job(job))
    }
    async fn claim_job(&self, request: &ClaimRequest) -> Result<Option<Job>> {
        gated!(self, "claim_job", self.0.claim_job(request))
    }
    async fn claim_new_job(&self, job: &NewJob, request: &ClaimRequest) -> Result<Option<Job>> {
        gated!(self, "claim_new_job", self.0.claim_new_job(job, request))
    }
    async fn heartbeat_job(&self, lease: &Lease, lease_for: chrono::Duration) -> Result<Lease> {
        gated!(
            self,
            "heartbeat_job",
            self.0.heartbeat_job(lease, lease_for)
        )
    }
    async fn complete_job(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()> {
        gated!(self, "complete_job", self.0.complete_job(lease, now))
    }
    async fn fail_job(
        &self,
        lease: &Lease,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<JobState> {
        gated!(
            self,
            "fail_job",
            self.0.fail_job(lease, error, retry_at, now)
        )
    }
    async fn release_job(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()> {
        gated!(self, "release_job", self.0.release_job(lease, now))
    }
    async fn get_job(&self, id: JobId) -> Result<Option<Job>> {
        gated!(self, "get_job", self.0.get_job(id))
    }
    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        gated!(self, "list_jobs", self.0.list_jobs(filter))
    }
    async fn stranded_dead_jobs(&self, limit: usize) -> Result<Vec<Job>> {
        gated!(self, "stranded_dead_jobs", self.0.stranded_dead_jobs(limit))
    }
    async fn purge_jobs(&self, before: DateTime<Utc>) -> Result<u64> {
        gated!(self, "purge_jobs", self.0.purge_jobs(before))
    }
    async fn wait_for_jobs(&self, timeout: Duration) -> Result<()> {
        // Waiting is not work: a frozen replica simply does not come back from it.
        self.0.wait_for_jobs(timeout).await?;
        self.1.wait_thawed().await;
        Ok(())
    }
    async fn put_idempotency(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>> {
        gated!(self, "put_idempotency", self.0.put_idempotency(record))
    }
    async fn complete_idempotency(&self, key: &str, response: &StoredResponse) -> Result<()> {
        gated!(
            self,
            "complete_idempotency",
            self.0.complete_idempotency(key, response)
        )
    }
    async fn delete_idempotency(&self, key: &str) -> Result<()> {
        gated!(self, "delete_idempotency", self.0.delete_idempotency(key))
    }
    async fn get_idempotency(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>> {
        gated!(self, "get_idempotency", self.0.get_idempotency(key, now))
    }
    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<u64> {
        gated!(self, "purge_idempotency", self.0.purge_idempotency(now))
    }
    async fn rollback_log(&self, limit: usize) -> Result<Vec<RollbackLogEntry>> {
        gated!(self, "rollback_log", self.0.rollback_log(limit))
    }
    async fn stats(&self) -> Result<StoreStats> {
        gated!(self, "stats", self.0.stats())
    }
}

/// One store and one set of providers shared by several replicas, on one paused clock.
pub(crate) struct World {
    pub(crate) store: InMemoryStore,
    pub(crate) compute: InMemoryCompute,
    pub(crate) dns: InMemoryDns,
    pub(crate) health: InMemoryHealth,
    pub(crate) clock: Arc<TokioClock>,
}

impl World {
    /// A fresh world whose clocks all follow tokio's paused time.
    pub(crate) fn new() -> Self {
        let clock = Arc::new(TokioClock::default());
        let compute = InMemoryCompute::new(super::deployment()).with_clock(clock.clone());
        World {
            store: InMemoryStore::with_clock(clock.clone()),
            dns: InMemoryDns::new(super::deployment(), super::ZONE).with_clock(clock.clone()),
            health: InMemoryHealth::following(compute.clone()),
            compute,
            clock,
        }
    }

    /// A replica with `config`, every port through `freezer` when given.
    pub(crate) fn replica(
        &self,
        config: EngineConfig,
        freezer: Option<Arc<Freezer>>,
    ) -> Provisioner {
        let store: Arc<dyn Store> = Arc::new(self.store.clone());
        let compute: Arc<dyn Compute> = Arc::new(self.compute.clone());
        let dns: Arc<dyn Dns> = Arc::new(self.dns.clone());
        let health: Arc<dyn HealthProbe> = Arc::new(self.health.clone());
        let builder = Provisioner::builder()
            .clock(self.clock.clone())
            .retry_policy(super::fast_retries())
            .config(config);
        let builder = match freezer {
            Some(f) => builder
                .store(Arc::new(FrozenStore(store, f.clone())))
                .compute(Arc::new(FrozenCompute(compute, f.clone())))
                .dns(Arc::new(FrozenDns(dns, f.clone())))
                .health(Arc::new(FrozenHealth(health, f))),
            None => builder
                .store(store)
                .compute(compute)
                .dns(dns)
                .health(health),
        };
        builder.build().unwrap()
    }

    /// Servers labelled with `id`.
    pub(crate) fn servers_of(&self, id: InstanceId) -> usize {
        self.compute
            .servers()
            .iter()
            .filter(|s| s.ownership().is_some_and(|o| o.instance == id))
            .count()
    }

    /// Records marked with `id`.
    pub(crate) fn records_of(&self, id: InstanceId) -> usize {
        self.dns
            .records()
            .iter()
            .filter(|r| r.instance_id() == Some(id))
            .count()
    }
}
