//! An in-memory [`Store`]: every clause of the store contract, with one mutex standing in for
//! a database transaction, and fault injection for tests of what the engine does when its
//! store fails.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use self::queue::QueuedJob;
use super::faults::{respond, FaultInjector};
use crate::clock::{Clock, SystemClock};
use crate::domain::{
    ApiKey, ClaimRequest, CustomerLink, Event, ExternalRef, IdempotencyRecord, Instance,
    InstanceFilter, InstanceId, Job, JobFilter, JobId, JobState, Lease, NewEvent, NewJob, Page,
    RollbackLogEntry, StoredResponse,
};
use crate::error::{Error, Result};
use crate::instance_secrets::SealedSecrets;
use crate::ports::{ApiKeyStore, InstanceDelete, InstanceWrite, NewInstance, Store, StoreStats};

mod agents;
mod queue;

/// A [`Store`] held in memory. Clones share the same data.
///
/// Besides the contract, it refuses a status change written without its event (the contract
/// requires one), and it can inject faults into any operation through
/// [`faults`](Self::faults) (operation names are the method names: `"update_instance"`,
/// `"claim_job"`, …).
#[derive(Debug, Clone)]
pub struct InMemoryStore {
    state: Arc<Mutex<State>>,
    jobs_changed: Arc<Notify>,
    faults: Arc<FaultInjector>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Default)]
struct State {
    instances: BTreeMap<InstanceId, Instance>,
    /// Live instances by external reference: the unique index of a database.
    live_refs: HashMap<ExternalRef, InstanceId>,
    /// Live instances by fully qualified name: another unique index.
    live_names: HashMap<String, InstanceId>,
    /// `events[i]` has sequence `i + 1`.
    events: Vec<Event>,
    events_by_instance: HashMap<InstanceId, Vec<usize>>,
    jobs: HashMap<JobId, QueuedJob>,
    /// Queued and running jobs by enqueue order: what a claim looks at.
    active: BTreeMap<u64, JobId>,
    last_job_seq: u64,
    idempotency: HashMap<String, IdempotencyRecord>,
    rollback_log: Vec<RollbackLogEntry>,
    /// Sealed secrets by instance, with when the bootstrap handed them out.
    secrets: HashMap<InstanceId, (SealedSecrets, Option<DateTime<Utc>>)>,
    api_keys: BTreeMap<String, (u64, ApiKey)>,
    customer_links: BTreeMap<String, CustomerLink>,
    last_key_seq: u64,
    /// Agent tasks by id (UUIDv7: creation order).
    agent_tasks: BTreeMap<crate::domain::AgentTaskId, crate::domain::AgentTask>,
    /// The latest heartbeat of each instance's agent.
    agent_presence: HashMap<InstanceId, crate::domain::AgentPresence>,
    /// Fleet upgrades, oldest first.
    fleet_upgrades: Vec<crate::domain::FleetUpgrade>,
    /// Write-once deployment facts.
    facts: BTreeMap<String, String>,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryStore {
    /// An empty store whose own timestamps (when a job was enqueued) come from the system
    /// clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store that reads `clock` for the timestamps no caller provides.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        InMemoryStore {
            state: Arc::default(),
            jobs_changed: Arc::new(Notify::new()),
            faults: Arc::new(FaultInjector::new()),
            clock,
        }
    }

    /// The faults injected into this store's operations.
    pub fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Each operation validates before it mutates, so a panic mid-operation (a bug) cannot
        // leave a half-written transaction behind; the data is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `op` as one transaction, behind the fault injector.
    async fn run<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut State) -> Result<T> + Send,
    ) -> Result<T> {
        let lose = self.faults.before(op).await?;
        let outcome = f(&mut self.lock());
        respond(op, lose, outcome)
    }

    /// Wakes workers in [`Store::wait_for_jobs`]: those waiting now, and (through the stored
    /// permit) the next one to start waiting, which may have just missed the change.
    fn wake_workers(&self) {
        self.jobs_changed.notify_waiters();
        self.jobs_changed.notify_one();
    }
}

impl State {
    fn append(&mut self, event: &NewEvent) -> Event {
        let event = Event::from_new(self.events.len() as u64 + 1, event.clone());
        if let Some(id) = event.instance_id {
            self.events_by_instance
                .entry(id)
                .or_default()
                .push(self.events.len());
        }
        self.events.push(event.clone());
        event
    }

    /// Whether `instance` exists, is in progress, and has no queued or running job: it waits
    /// on a job that will never run.
    fn is_stranded(&self, instance: InstanceId) -> bool {
        let in_progress = self
            .instances
            .get(&instance)
            .is_some_and(|i| i.status.is_in_progress());
        in_progress
            && !self.active_jobs().any(|j| {
                j.job.instance_id == instance
                    && matches!(j.job.state, JobState::Queued | JobState::Running)
            })
    }

    fn check_new_job(&self, job: Option<&NewJob>) -> Result<()> {
        match job {
            Some(job) if self.jobs.contains_key(&job.id) => {
                Err(Error::conflict(format!("job {} exists", job.id)))
            }
            _ => Ok(()),
        }
    }

    /// Refuses `instance` when its external reference or its name is carried by another live
    /// instance.
    fn check_unique(&self, instance: &Instance) -> Result<()> {
        if !instance.status.is_live() {
            return Ok(());
        }
        if let Some(reference) = instance.external_ref.as_ref() {
            if let Some(holder) = self.live_refs.get(reference) {
                if *holder != instance.id {
                    return Err(Error::conflict(format!(
                        "external_ref {reference} belongs to live instance {holder}"
                    )));
                }
            }
        }
        match self.live_names.get(&instance.fqdn) {
            Some(holder) if *holder != instance.id => Err(Error::conflict(format!(
                "{} belongs to live instance {holder}",
                instance.fqdn
            ))),
            _ => Ok(()),
        }
    }

    fn unindex_live(&mut self, instance: &Instance) {
        if let Some(reference) = &instance.external_ref {
            if self.live_refs.get(reference) == Some(&instance.id) {
                self.live_refs.remove(reference);
            }
        }
        if self.live_names.get(&instance.fqdn) == Some(&instance.id) {
            self.live_names.remove(&instance.fqdn);
        }
    }

    fn index_live(&mut self, instance: &Instance) {
        if !instance.status.is_live() {
            return;
        }
        if let Some(reference) = &instance.external_ref {
            self.live_refs.insert(reference.clone(), instance.id);
        }
        self.live_names.insert(instance.fqdn.clone(), instance.id);
    }

    fn insert(
        &mut self,
        instance: &Instance,
        event: &NewEvent,
        job: Option<&NewJob>,
        now: DateTime<Utc>,
    ) -> Result<Event> {
        if self.instances.contains_key(&instance.id) {
            return Err(Error::conflict(format!("instance {} exists", instance.id)));
        }
        self.check_unique(instance)?;
        self.check_new_job(job)?;
        let mut stored = instance.clone();
        stored.version = 1;
        self.index_live(&stored);
        self.instances.insert(stored.id, stored);
        if let Some(job) = job {
            self.enqueue(job, now);
        }
        Ok(self.append(event))
    }

    fn update(
        &mut self,
        write: &InstanceWrite,
        now: DateTime<Utc>,
    ) -> Result<(Instance, Option<Event>)> {
        self.check_fence(write.fence.as_ref(), now)?;
        if write.alert.is_some() && write.event.is_none() {
            return Err(Error::invalid(
                "alert",
                "an alert is written together with the event of its change",
            ));
        }
        let id = write.instance.id;
        let current = self
            .instances
            .get(&id)
            .ok_or_else(|| Error::not_found("instance", id))?;
        if current.version != write.instance.version {
            return Err(Error::conflict(format!(
                "instance {id} is at version {}, not {}",
                current.version, write.instance.version
            )));
        }
        if current.status != write.instance.status && write.event.is_none() {
            return Err(Error::invalid(
                "event",
                format!(
                    "the change of instance {id} from {} to {} must be written with its event",
                    current.status, write.instance.status
                ),
            ));
        }
        self.check_unique(&write.instance)?;
        self.check_new_job(write.job.as_ref())?;
        let previous = current.clone();
        let mut stored = write.instance.clone();
        stored.version = previous.version + 1;
        self.unindex_live(&previous);
        self.index_live(&stored);
        self.instances.insert(id, stored.clone());
        if let Some(job) = &write.job {
            self.enqueue(job, now);
        }
        let event = write.event.as_ref().map(|e| self.append(e));
        if let Some(alert) = &write.alert {
            self.append(alert);
        }
        Ok((stored, event))
    }

    fn list(&self, filter: &InstanceFilter) -> Page<Instance> {
        let limit = filter.effective_limit();
        let from = match filter.after {
            Some(after) => std::ops::Bound::Excluded(after),
            None => std::ops::Bound::Unbounded,
        };
        let mut items: Vec<Instance> = self
            .instances
            .range((from, std::ops::Bound::Unbounded))
            .map(|(_, i)| i)
            .filter(|i| filter.matches(i))
            .take(limit + 1)
            .cloned()
            .collect();
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|i| i.id)
        } else {
            None
        };
        Page { items, next }
    }
}

#[async_trait]
impl Store for InMemoryStore {
    async fn ping(&self) -> Result<()> {
        self.run("ping", |_| Ok(())).await
    }

    async fn insert_instance(&self, new: &NewInstance) -> Result<Event> {
        let now = self.clock.now();
        let event = self
            .run("insert_instance", |s| {
                let event = s.insert(&new.instance, &new.event, new.job.as_ref(), now)?;
                if let Some(secrets) = &new.secrets {
                    s.secrets.insert(new.instance.id, (secrets.clone(), None));
                }
                Ok(event)
            })
            .await?;
        if new.job.is_some() {
            self.wake_workers();
        }
        Ok(event)
    }

    async fn update_instance(&self, write: &InstanceWrite) -> Result<(Instance, Option<Event>)> {
        let now = self.clock.now();
        let written = self
            .run("update_instance", |s| s.update(write, now))
            .await?;
        if write.job.is_some() {
            self.wake_workers();
        }
        Ok(written)
    }

    async fn delete_instance(&self, delete: &InstanceDelete) -> Result<Event> {
        let now = self.clock.now();
        self.run("delete_instance", |s| {
            s.check_fence(delete.fence.as_ref(), now)?;
            let id = delete.id;
            let current = s
                .instances
                .get(&id)
                .ok_or_else(|| Error::not_found("instance", id))?;
            if current.version != delete.expected_version {
                return Err(Error::conflict(format!(
                    "instance {id} is at version {}, not {}",
                    current.version, delete.expected_version
                )));
            }
            let removed = current.clone();
            s.instances.remove(&id);
            s.secrets.remove(&id);
            s.unindex_live(&removed);
            s.rollback_log.push(delete.log.clone());
            Ok(s.append(&delete.event))
        })
        .await
    }

    async fn get_instance(&self, id: InstanceId) -> Result<Option<Instance>> {
        self.run("get_instance", |s| Ok(s.instances.get(&id).cloned()))
            .await
    }

    async fn instance_secrets(&self, id: InstanceId) -> Result<Option<SealedSecrets>> {
        self.run("instance_secrets", |s| {
            Ok(s.secrets.get(&id).map(|(sealed, _)| sealed.clone()))
        })
        .await
    }

    async fn consume_bootstrap(
        &self,
        id: InstanceId,
        now: DateTime<Utc>,
    ) -> Result<Option<SealedSecrets>> {
        self.run("consume_bootstrap", |s| {
            let (sealed, used) = s
                .secrets
                .get_mut(&id)
                .ok_or_else(|| Error::not_found("instance secrets", id))?;
            if used.is_some() {
                return Ok(None);
            }
            *used = Some(now);
            Ok(Some(sealed.clone()))
        })
        .await
    }

    async fn reset_bootstrap(&self, id: InstanceId) -> Result<()> {
        self.run("reset_bootstrap", |s| {
            let (_, used) = s
                .secrets
                .get_mut(&id)
                .ok_or_else(|| Error::not_found("instance secrets", id))?;
            *used = None;
            Ok(())
        })
        .await
    }

    async fn replace_instance_secrets(
        &self,
        id: InstanceId,
        expected: &SealedSecrets,
        sealed: &SealedSecrets,
    ) -> Result<bool> {
        self.run("replace_instance_secrets", |s| {
            let (stored, _) = s
                .secrets
                .get_mut(&id)
                .ok_or_else(|| Error::not_found("instance secrets", id))?;
            if stored != expected {
                return Ok(false);
            }
            *stored = sealed.clone();
            Ok(true)
        })
        .await
    }

    async fn find_live_by_external_ref(
        &self,
        external_ref: &ExternalRef,
    ) -> Result<Option<Instance>> {
        self.run("find_live_by_external_ref", |s| {
            Ok(s.live_refs
                .get(external_ref)
                .and_then(|id| s.instances.get(id))
                .cloned())
        })
        .await
    }

    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Page<Instance>> {
        self.run("list_instances", |s| Ok(s.list(filter))).await
    }

    async fn append_event(&self, event: &NewEvent) -> Result<Event> {
        self.run("append_event", |s| Ok(s.append(event))).await
    }

    async fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>> {
        self.run("events_after", |s| {
            let start = usize::try_from(after).unwrap_or(usize::MAX);
            Ok(s.events.iter().skip(start).take(limit).cloned().collect())
        })
        .await
    }

    async fn instance_events(&self, id: InstanceId) -> Result<Vec<Event>> {
        self.run("instance_events", |s| {
            let positions = s.events_by_instance.get(&id).map_or(&[][..], Vec::as_slice);
            Ok(positions.iter().map(|&i| s.events[i].clone()).collect())
        })
        .await
    }

    async fn enqueue_job(&self, job: &NewJob) -> Result<Job> {
        let now = self.clock.now();
        let job = self
            .run("enqueue_job", |s| {
                s.check_new_job(Some(job))?;
                Ok(s.enqueue(job, now))
            })
            .await?;
        self.wake_workers();
        Ok(job)
    }

    async fn claim_job(&self, request: &ClaimRequest) -> Result<Option<Job>> {
        let now = self.clock.now();
        self.run("claim_job", |s| s.claim(request, now)).await
    }

    async fn claim_new_job(&self, job: &NewJob, request: &ClaimRequest) -> Result<Option<Job>> {
        let now = self.clock.now();
        self.run("claim_new_job", |s| {
            s.check_new_job(Some(job))?;
            s.claim_new(job, request, now)
        })
        .await
    }

    async fn heartbeat_job(&self, lease: &Lease, lease_for: chrono::Duration) -> Result<Lease> {
        let now = self.clock.now();
        self.run("heartbeat_job", |s| {
            let entry = s.leased(lease)?;
            let current = entry.job.lease.map_or(now, |l| l.expires_at);
            if current <= now {
                return Err(Error::lease_lost(
                    lease.job_id,
                    "the lease ran out before the heartbeat",
                ));
            }
            let renewed = Lease {
                expires_at: now + lease_for,
                ..*lease
            };
            entry.job.lease = Some(renewed);
            Ok(renewed)
        })
        .await
    }

    async fn complete_job(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()> {
        self.run("complete_job", |s| {
            s.settle(lease, JobState::Done, now).map(|_| ())
        })
        .await?;
        self.wake_workers();
        Ok(())
    }

    async fn fail_job(
        &self,
        lease: &Lease,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<JobState> {
        let state = self
            .run("fail_job", |s| {
                let entry = s.leased(lease)?;
                let retry_at = retry_at.filter(|_| entry.job.attempts < entry.job.max_attempts);
                let state = if retry_at.is_some() {
                    JobState::Queued
                } else {
                    JobState::Dead
                };
                let job = s.settle(lease, state, now)?;
                job.last_error = Some(error.to_string());
                if let Some(at) = retry_at {
                    job.run_at = at;
                    job.worker = None;
                }
                Ok(state)
            })
            .await?;
        self.wake_workers();
        Ok(state)
    }

    async fn release_job(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()> {
        self.run("release_job", |s| {
            let job = s.settle(lease, JobState::Queued, now)?;
            job.attempts = job.attempts.saturating_sub(1);
            job.worker = None;
            Ok(())
        })
        .await?;
        self.wake_workers();
        Ok(())
    }

    async fn get_job(&self, id: JobId) -> Result<Option<Job>> {
        self.run("get_job", |s| Ok(s.jobs.get(&id).map(|e| e.job.clone())))
            .await
    }

    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        self.run("list_jobs", |s| {
            let mut jobs: Vec<&QueuedJob> =
                s.jobs.values().filter(|e| filter.matches(&e.job)).collect();
            jobs.sort_by_key(|e| e.seq);
            Ok(jobs
                .into_iter()
                .take(filter.limit.unwrap_or(usize::MAX))
                .map(|e| e.job.clone())
                .collect())
        })
        .await
    }

    async fn wait_for_jobs(&self, timeout: Duration) -> Result<()> {
        // Either outcome is fine: the caller looks for work in both cases.
        let _ = tokio::time::timeout(timeout, self.jobs_changed.notified()).await;
        Ok(())
    }

    async fn stranded_dead_jobs(&self, limit: usize) -> Result<Vec<Job>> {
        self.run("stranded_dead_jobs", |s| {
            let mut dead: Vec<&QueuedJob> = s
                .jobs
                .values()
                .filter(|e| e.job.state == JobState::Dead && s.is_stranded(e.job.instance_id))
                .collect();
            dead.sort_by_key(|e| e.seq);
            Ok(dead
                .into_iter()
                .take(limit)
                .map(|e| e.job.clone())
                .collect())
        })
        .await
    }

    async fn purge_jobs(&self, before: DateTime<Utc>) -> Result<u64> {
        self.run("purge_jobs", |s| {
            let doomed: Vec<JobId> = s
                .jobs
                .values()
                .filter(|e| match e.job.state {
                    JobState::Done => e.job.updated_at < before,
                    JobState::Dead => {
                        e.job.updated_at < before && !s.is_stranded(e.job.instance_id)
                    }
                    JobState::Queued | JobState::Running => false,
                })
                .map(|e| e.job.id)
                .collect();
            for id in &doomed {
                s.jobs.remove(id);
            }
            Ok(doomed.len() as u64)
        })
        .await
    }

    async fn put_idempotency(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>> {
        self.run("put_idempotency", |s| {
            // The record's creation time is the request's "now": a key that had expired by
            // then may be taken again.
            match s.idempotency.get(&record.key) {
                Some(existing) if existing.expires_at > record.created_at => {
                    Ok(Some(existing.clone()))
                }
                _ => {
                    s.idempotency.insert(record.key.clone(), record.clone());
                    Ok(None)
                }
            }
        })
        .await
    }

    async fn complete_idempotency(&self, key: &str, response: &StoredResponse) -> Result<()> {
        self.run("complete_idempotency", |s| {
            let record = s
                .idempotency
                .get_mut(key)
                .ok_or_else(|| Error::not_found("idempotency_key", key))?;
            record.response = Some(response.clone());
            Ok(())
        })
        .await
    }

    async fn delete_idempotency(&self, key: &str) -> Result<()> {
        self.run("delete_idempotency", |s| {
            s.idempotency.remove(key);
            Ok(())
        })
        .await
    }

    async fn get_idempotency(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>> {
        self.run("get_idempotency", |s| {
            Ok(s.idempotency
                .get(key)
                .filter(|r| r.expires_at > now)
                .cloned())
        })
        .await
    }

    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<u64> {
        self.run("purge_idempotency", |s| {
            let before = s.idempotency.len();
            s.idempotency.retain(|_, r| r.expires_at > now);
            Ok((before - s.idempotency.len()) as u64)
        })
        .await
    }

    async fn rollback_log(&self, limit: usize) -> Result<Vec<RollbackLogEntry>> {
        self.run("rollback_log", |s| {
            Ok(s.rollback_log.iter().rev().take(limit).cloned().collect())
        })
        .await
    }

    async fn last_event_sequence(&self) -> Result<u64> {
        self.run("last_event_sequence", |s| Ok(s.events.len() as u64))
            .await
    }

    async fn stats(&self) -> Result<StoreStats> {
        self.run("stats", |s| {
            let mut stats = StoreStats {
                last_event_sequence: s.events.len() as u64,
                ..StoreStats::default()
            };
            for instance in s.instances.values() {
                *stats
                    .instances_by_status
                    .entry(instance.status)
                    .or_default() += 1;
            }
            for entry in s.jobs.values() {
                *stats
                    .jobs_by_state
                    .entry(entry.job.state.as_str())
                    .or_default() += 1;
            }
            Ok(stats)
        })
        .await
    }
}

#[cfg(test)]
mod tests;

#[async_trait]
impl crate::ports::DeploymentFacts for InMemoryStore {
    async fn fact(&self, name: &str) -> Result<Option<String>> {
        self.run("fact", |s| Ok(s.facts.get(name).cloned())).await
    }

    async fn record_fact(&self, name: &str, value: &str) -> Result<String> {
        crate::ports::check_fact(name, value)?;
        self.run("record_fact", |s| {
            Ok(s.facts
                .entry(name.to_string())
                .or_insert_with(|| value.to_string())
                .clone())
        })
        .await
    }
}

#[async_trait]
impl ApiKeyStore for InMemoryStore {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<()> {
        self.run("insert_api_key", |s| {
            if s.api_keys.contains_key(&key.id) {
                return Err(Error::conflict(format!("api key {} exists", key.id)));
            }
            s.last_key_seq += 1;
            let seq = s.last_key_seq;
            s.api_keys.insert(key.id.clone(), (seq, key.clone()));
            Ok(())
        })
        .await
    }

    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        self.run("get_api_key", |s| {
            Ok(s.api_keys.get(id).map(|(_, key)| key.clone()))
        })
        .await
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        self.run("list_api_keys", |s| {
            let mut keys: Vec<_> = s.api_keys.values().cloned().collect();
            keys.sort_by_key(|(seq, _)| *seq);
            Ok(keys.into_iter().map(|(_, key)| key).collect())
        })
        .await
    }

    async fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> Result<bool> {
        self.run("revoke_api_key", |s| {
            let (_, key) = s
                .api_keys
                .get_mut(id)
                .ok_or_else(|| Error::not_found("api key", id))?;
            if key.revoked_at.is_some() {
                return Ok(false);
            }
            key.revoked_at = Some(at);
            Ok(true)
        })
        .await
    }

    async fn link_customer(&self, link: &CustomerLink) -> Result<()> {
        self.run("link_customer", |s| {
            s.customer_links.insert(link.uid.clone(), link.clone());
            Ok(())
        })
        .await
    }

    async fn get_customer_link(&self, uid: &str) -> Result<Option<CustomerLink>> {
        self.run("get_customer_link", |s| {
            Ok(s.customer_links.get(uid).cloned())
        })
        .await
    }

    async fn list_customer_links(&self) -> Result<Vec<CustomerLink>> {
        self.run("list_customer_links", |s| {
            Ok(s.customer_links.values().cloned().collect())
        })
        .await
    }

    async fn unlink_customer(&self, uid: &str) -> Result<bool> {
        self.run("unlink_customer", |s| {
            Ok(s.customer_links.remove(uid).is_some())
        })
        .await
    }
}
