//! The public face of the engine: the operations billing calls, and the workers that carry
//! them out.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use super::context::{Change, Engine};
use super::maintenance;
use super::metrics::MetricsSnapshot;
use super::sweep::{self, SweepMode, SweepReport};
use super::worker;
use crate::domain::{
    CreateInstance, Event, EventKind, Instance, InstanceFilter, InstanceId, InstanceStatus,
    JobKind, NewEvent, Operation, Page, PendingRequest, RollbackLevel, Topic,
};
use crate::error::{Error, Result};
use crate::instance_secrets::InstanceSecrets;
use crate::ports::{EventStream, NewInstance, Store};
use crate::secret::SecretString;

use InstanceStatus::*;

/// The status a plan change under way returns the instance to.
fn resumes(instance: &Instance) -> Option<InstanceStatus> {
    instance.plan_change.as_ref().map(|change| change.resume)
}

/// The newest provisioning job of `instance` in `store`: the one its current server's
/// bootstrap token is bound to.
pub async fn newest_provisioning_job(
    store: &dyn Store,
    instance: InstanceId,
) -> Result<Option<crate::domain::JobId>> {
    let jobs = store
        .list_jobs(&crate::domain::JobFilter {
            instance_id: Some(instance),
            ..Default::default()
        })
        .await?;
    Ok(jobs
        .into_iter()
        .filter(|job| job.kind == crate::domain::JobKind::Provision)
        .max_by_key(|job| (job.created_at, job.id))
        .map(|job| job.id))
}

/// How long after delivering its secrets the same server (asking from the address recorded
/// for it) gets the same answer again, so that a reply lost on the way does not strand it.
pub const BOOTSTRAP_REPEAT_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// Provisions, suspends, unsuspends, terminates and rolls back OpenClaw instances.
///
/// Every operation returns at once: it checks the request, writes the new status with its
/// event and a job in one store transaction, and leaves the work to
/// [`run_workers`](Provisioner::run_workers) (in this process or another one sharing the
/// store). Operations are idempotent: asking for what is already happening or done returns
/// the instance as it is.
///
/// Build one with [`Provisioner::builder`]. It is cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Provisioner {
    pub(crate) engine: Arc<Engine>,
}

impl std::fmt::Debug for Provisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioner")
            .field("deployment", &self.engine.config.deployment)
            .field("zone", &self.engine.config.zone)
            .finish_non_exhaustive()
    }
}

/// What a public operation decides after reading the instance.
enum Decision {
    /// Nothing to do: it is already there or on its way.
    AsIs,
    /// Make this change.
    Change(Change),
    /// Keep the status; set (or clear) the billing request waiting for a later state.
    Pending(Option<PendingRequest>, &'static str),
}

impl Provisioner {
    /// Starts building a provisioner.
    pub fn builder() -> super::ProvisionerBuilder {
        super::ProvisionerBuilder::default()
    }

    /// Accepts an order: validates it, stores the instance as `pending` with its event and a
    /// provisioning job, and returns it. With an `external_ref` already carried by a live
    /// instance of the same customer and name, returns that instance instead of creating a
    /// second one (`Conflict` if the reference is taken by a different order). A subdomain
    /// in use by a live instance is `Conflict`.
    pub async fn create(&self, request: CreateInstance) -> Result<Instance> {
        let engine = &self.engine;
        let valid = request.validate(&engine.config.catalog)?;
        engine
            .config
            .provider_keys
            .check(request.provider_keys.keys())?;
        if let Some(reference) = &valid.external_ref {
            if let Some(existing) = engine.store.find_live_by_external_ref(reference).await? {
                return same_order(existing, &request);
            }
        }
        let now = engine.now();
        let instance = Instance::new(InstanceId::new(), valid, &engine.config.zone, now);
        let event = NewEvent::status_changed(instance.id, None, Pending, "order accepted", now);
        let job = engine.new_job(instance.id, JobKind::Provision);
        let secrets = InstanceSecrets::generate(request.provider_keys.clone())?;
        let new = NewInstance {
            instance: instance.clone(),
            event,
            job: Some(job),
            secrets: Some(engine.secrets_key.seal(instance.id, &secrets)?),
        };
        match engine.store.insert_instance(&new).await {
            Ok(stored_event) => {
                engine.publish(&stored_event).await;
                engine.wake.notify_one();
                tracing::info!(instance = %instance.id, fqdn = %instance.fqdn, "order accepted");
                Ok(instance)
            }
            Err(conflict @ Error::Conflict { .. }) => {
                // A concurrent create with the same reference won the race: answer with it.
                if let Some(reference) = &instance.external_ref {
                    if let Some(existing) =
                        engine.store.find_live_by_external_ref(reference).await?
                    {
                        return same_order(existing, &request);
                    }
                }
                Err(conflict)
            }
            Err(other) => Err(other),
        }
    }

    /// One instance (`NotFound` if unknown or deleted by a full rollback).
    pub async fn get(&self, id: InstanceId) -> Result<Instance> {
        self.engine.load_existing(id).await
    }

    /// A page of instances, ordered by id (so by creation time).
    pub async fn list(&self, filter: &InstanceFilter) -> Result<Page<Instance>> {
        self.engine.store.list_instances(filter).await
    }

    /// Every event of one instance, oldest first.
    pub async fn events(&self, id: InstanceId) -> Result<Vec<Event>> {
        self.engine.store.instance_events(id).await
    }

    /// Subscribes to events of `topic` (all when `None`) after sequence `after`.
    pub async fn subscribe(&self, topic: Option<Topic>, after: Option<u64>) -> Result<EventStream> {
        self.engine.bus.subscribe(topic, after).await
    }

    /// Powers the instance off, keeping its server and DNS record (`active → suspending →
    /// suspended`). Already suspended or suspending: returned as is. Still on its way to
    /// `active` (pending, provisioning, unsuspending): accepted, and carried out as soon as
    /// it is active (`pending_request`). A `failed` instance that was never active has
    /// nothing to suspend (`InvalidTransition`).
    pub async fn suspend(&self, id: InstanceId) -> Result<Instance> {
        self.decide(id, |i| {
            let pending = i.pending_request;
            Ok(match i.status {
                Suspended | Suspending if pending == Some(PendingRequest::Unsuspend) => {
                    Decision::Pending(None, "the waiting unsuspend was withdrawn by a suspend")
                }
                Suspended | Suspending => Decision::AsIs,
                Pending | Provisioning | Unsuspending
                    if pending == Some(PendingRequest::Suspend) =>
                {
                    Decision::AsIs
                }
                Pending | Provisioning | Unsuspending => Decision::Pending(
                    Some(PendingRequest::Suspend),
                    "suspend requested; it is carried out once the instance is active",
                ),
                Resizing if resumes(i) == Some(Suspended) => {
                    if pending == Some(PendingRequest::Unsuspend) {
                        Decision::Pending(None, "the waiting unsuspend was withdrawn by a suspend")
                    } else {
                        Decision::AsIs
                    }
                }
                Resizing if pending == Some(PendingRequest::Suspend) => Decision::AsIs,
                Resizing => Decision::Pending(
                    Some(PendingRequest::Suspend),
                    "suspend requested; it is carried out once the plan change is over",
                ),
                Failed if i.activated_at.is_none() => {
                    return Err(Error::InvalidTransition {
                        from: Failed,
                        to: Suspending,
                    })
                }
                _ => Decision::Change(
                    Change::to(Suspending, "suspend requested")
                        .with_job(JobKind::Suspend)
                        .with_pending(None),
                ),
            })
        })
        .await
    }

    /// Powers the instance on and waits for health again (`suspended → unsuspending →
    /// active`). Already active or unsuspending: returned as is, withdrawing a suspend that
    /// was waiting. Being suspended: accepted, and carried out once it is suspended. A
    /// `failed` instance that was never active has nothing to unsuspend
    /// (`InvalidTransition`).
    pub async fn unsuspend(&self, id: InstanceId) -> Result<Instance> {
        self.decide(id, |i| {
            let pending = i.pending_request;
            Ok(match i.status {
                Active | Unsuspending | Pending | Provisioning
                    if pending == Some(PendingRequest::Suspend) =>
                {
                    Decision::Pending(None, "the waiting suspend was withdrawn by an unsuspend")
                }
                Active | Unsuspending | Pending | Provisioning => Decision::AsIs,
                Suspending if pending == Some(PendingRequest::Unsuspend) => Decision::AsIs,
                Suspending => Decision::Pending(
                    Some(PendingRequest::Unsuspend),
                    "unsuspend requested; it is carried out once the instance is suspended",
                ),
                Resizing if resumes(i) != Some(Suspended) => {
                    if pending == Some(PendingRequest::Suspend) {
                        Decision::Pending(None, "the waiting suspend was withdrawn by an unsuspend")
                    } else {
                        Decision::AsIs
                    }
                }
                Resizing if pending == Some(PendingRequest::Unsuspend) => Decision::AsIs,
                Resizing => Decision::Pending(
                    Some(PendingRequest::Unsuspend),
                    "unsuspend requested; it is carried out once the plan change is over",
                ),
                Failed if i.activated_at.is_none() => {
                    return Err(Error::InvalidTransition {
                        from: Failed,
                        to: Unsuspending,
                    })
                }
                _ => Decision::Change(
                    Change::to(Unsuspending, "unsuspend requested")
                        .with_job(JobKind::Unsuspend)
                        .with_pending(None),
                ),
            })
        })
        .await
    }

    /// Moves the instance to `plan`: its server is powered off, changed to the plan's server
    /// type keeping its disk (so a later downgrade stays possible), and powered on again and
    /// checked for health if it was active (`active|suspended → resizing → active|suspended`;
    /// a suspended instance stays suspended). If the new type fails, the server goes back to
    /// the old one and the instance returns on its old plan with the error in `last_error`.
    ///
    /// Already on `plan`, or already moving to it: returned as is. An unknown plan is
    /// `InvalidInput` on field `plan`. A plan whose disk is smaller than the instance's (a
    /// disk never shrinks), or a change to another plan while one is under way, is
    /// `Conflict`; any status other than `active` and `suspended` is `InvalidTransition`.
    pub async fn change_plan(&self, id: InstanceId, plan: &str) -> Result<Instance> {
        let catalog = &self.engine.config.catalog;
        let (to, target) = catalog.plan(plan)?;
        self.decide(id, |i| match i.status {
            Resizing => match &i.plan_change {
                Some(change) if change.to == to => Ok(Decision::AsIs),
                Some(change) => Err(Error::conflict(format!(
                    "instance {id} is moving to plan {}; change it again once that is over",
                    change.to
                ))),
                None => Err(Error::conflict(format!("instance {id} is being resized"))),
            },
            Active | Suspended if i.plan == to => Ok(Decision::AsIs),
            Active | Suspended => {
                let current_disk = i
                    .resources
                    .disk_gb
                    .or_else(|| catalog.plans.get(i.plan.as_str()).and_then(|p| p.disk_gb));
                if let (Some(current), Some(new)) = (current_disk, target.disk_gb) {
                    if new < current {
                        // A valid plan, refused for what this instance is now: a conflict
                        // with its state, not bad input.
                        return Err(Error::conflict(format!(
                            "plan {to} has a {new} GB disk, smaller than the {current} GB disk \
                             of instance {id}; a server's disk cannot shrink"
                        )));
                    }
                }
                let change = crate::domain::PlanChange {
                    from: i.plan.clone(),
                    to: to.clone(),
                    resume: i.status,
                    reverting: false,
                };
                Ok(Decision::Change(
                    Change::to(
                        Resizing,
                        format!("plan change from {} to {to} requested", i.plan),
                    )
                    .with_job(JobKind::ChangePlan)
                    .with_plan_change(Some(change)),
                ))
            }
            other => Err(Error::InvalidTransition {
                from: other,
                to: Resizing,
            }),
        })
        .await
    }

    /// Deletes the instance's DNS records and server (`→ terminating → terminated`). Already
    /// terminated or terminating: returned as is. Accepted in every other status.
    pub async fn terminate(&self, id: InstanceId) -> Result<Instance> {
        self.decide(id, |i| match i.status {
            Terminated | Terminating => Ok(Decision::AsIs),
            _ => Ok(Decision::Change(
                Change::to(Terminating, "terminate requested")
                    .with_job(JobKind::Terminate)
                    .with_pending(None),
            )),
        })
        .await
    }

    /// Rolls the instance back. `Soft` marks it `failed` and raises an alert, touching nothing
    /// at the providers; `Partial` deletes its records and server and ends `rolled_back`;
    /// `Full` does the same, then deletes the row, keeping a rollback log entry. Already
    /// rolling back or rolled back: returned as is.
    pub async fn rollback(&self, id: InstanceId, level: RollbackLevel) -> Result<Instance> {
        let reason = format!("{level} rollback requested");
        let soft = level == RollbackLevel::Soft;
        let instance = self
            .decide(id, |i| match (i.status, level) {
                (RollingBack | RolledBack, _) | (Failed, RollbackLevel::Soft) => Ok(Decision::AsIs),
                (_, RollbackLevel::Soft) => Ok(Decision::Change(
                    Change::to(Failed, &reason).with_alert("manual_intervention_required"),
                )),
                _ => Ok(Decision::Change(
                    Change::to(RollingBack, &reason).with_job(JobKind::Rollback { level }),
                )),
            })
            .await?;
        if !soft && instance.status == RollingBack {
            self.engine.metrics.rollbacks_started.incr();
        }
        Ok(instance)
    }

    /// Runs again what failed: for a `failed` instance that was active once, the operation
    /// in its `last_error`; for one that never was, and for a `rolled_back` one, a fresh
    /// provisioning. Any other status is `InvalidTransition`.
    pub async fn retry(&self, id: InstanceId) -> Result<Instance> {
        let never_active = |i: &Instance| i.activated_at.is_none();
        let before = self.engine.load_existing(id).await?;
        let fresh_server = match (before.status, before.last_error.as_ref()) {
            (RolledBack, _) => true,
            (Failed, _) if never_active(&before) => true,
            (Failed, last) => last.is_none_or(|e| e.operation == Operation::Provision),
            _ => false,
        };
        if fresh_server && before.resources.server_id.is_none() {
            // The server this retry creates must be able to fetch its secrets once more.
            self.engine.store.reset_bootstrap(id).await?;
        }
        self.decide(id, |i| {
            let provision = || Change::to(Pending, "retry requested").with_job(JobKind::Provision);
            match i.status {
                RolledBack => Ok(Decision::Change(provision())),
                Failed if never_active(i) => Ok(Decision::Change(provision())),
                Failed => {
                    let last = i.last_error.as_ref();
                    let change = match last.map(|e| e.operation) {
                        None | Some(Operation::Provision | Operation::Sweep) => provision(),
                        Some(Operation::Suspend) => {
                            Change::to(Suspending, "retry requested").with_job(JobKind::Suspend)
                        }
                        Some(Operation::Unsuspend) => {
                            Change::to(Unsuspending, "retry requested").with_job(JobKind::Unsuspend)
                        }
                        Some(Operation::Terminate) => {
                            Change::to(Terminating, "retry requested").with_job(JobKind::Terminate)
                        }
                        Some(Operation::ChangePlan) if i.plan_change.is_some() => {
                            Change::to(Resizing, "retry requested").with_job(JobKind::ChangePlan)
                        }
                        Some(Operation::ChangePlan) => {
                            return Err(Error::conflict(format!(
                                "instance {id} has no plan change to retry; change its plan again"
                            )))
                        }
                        Some(Operation::Rollback) => {
                            let level = last
                                .and_then(|e| e.rollback_level)
                                .unwrap_or(RollbackLevel::Partial);
                            Change::to(RollingBack, "retry requested")
                                .with_job(JobKind::Rollback { level })
                        }
                    };
                    Ok(Decision::Change(change))
                }
                other => Err(Error::InvalidTransition {
                    from: other,
                    to: Pending,
                }),
            }
        })
        .await
    }

    /// Reads the instance, decides, and applies the change under optimistic concurrency.
    async fn decide(
        &self,
        id: InstanceId,
        decide: impl Fn(&Instance) -> Result<Decision>,
    ) -> Result<Instance> {
        for _ in 0..8 {
            let current = self.engine.load_existing(id).await?;
            let written = match decide(&current)? {
                Decision::AsIs => return Ok(current),
                Decision::Change(change) => self.engine.transition(&current, change).await,
                Decision::Pending(pending, reason) => {
                    self.set_pending(&current, pending, reason).await
                }
            };
            match written {
                Ok(stored) => return Ok(stored),
                Err(Error::Conflict { .. }) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(Error::conflict(format!(
            "instance {id} kept changing; try again"
        )))
    }

    /// Sets (or clears) the billing request waiting on `current`, with an audit event.
    async fn set_pending(
        &self,
        current: &Instance,
        pending: Option<PendingRequest>,
        reason: &str,
    ) -> Result<Instance> {
        let engine = &self.engine;
        let now = engine.now();
        let mut next = current.clone();
        next.pending_request = pending;
        next.updated_at = now;
        let action = match pending {
            Some(request) => format!("{}_requested", request.as_str()),
            None => "pending_request_withdrawn".to_string(),
        };
        let event = NewEvent {
            topic: Topic::Audit,
            instance_id: Some(current.id),
            kind: EventKind::Audit {
                action,
                actor: "billing".to_string(),
            },
            reason: reason.to_string(),
            at: now,
        };
        let stored = engine.write(next, Some(event), None, None).await?;
        tracing::info!(instance = %current.id, pending = ?pending, "billing request recorded");
        Ok(stored)
    }

    /// Redeems a single-use bootstrap token: the environment (gateway token and provider keys)
    /// the instance's server writes before it starts the gateway, and the instance it is for.
    ///
    /// A token that does not verify is `NotFound` (it says nothing about which instances
    /// exist); a token of a provisioning attempt that has ended (its job finished: a retry
    /// made a new server with a new token) is `Gone`; an instance that is not being
    /// provisioned or unsuspended is `Conflict`. A token already redeemed is `Gone` — except
    /// that the same server (`client` is the address recorded for the instance's server)
    /// asking again within [`BOOTSTRAP_REPEAT_WINDOW`] of the delivery gets the same answer,
    /// so a reply lost on the way does not strand the machine.
    pub async fn bootstrap(
        &self,
        token: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<(InstanceId, BTreeMap<String, SecretString>)> {
        let engine = &self.engine;
        let unknown = || Error::not_found("bootstrap token", "presented");
        let id = engine
            .bootstrap_key
            .instance_of(token)
            .ok_or_else(unknown)?;
        // The job the token was made for: one of the instance's (a handful at most).
        let jobs = engine
            .store
            .list_jobs(&crate::domain::JobFilter {
                instance_id: Some(id),
                ..Default::default()
            })
            .await?;
        let job = jobs
            .iter()
            .find(|job| engine.bootstrap_key.verify(token, id, job.id))
            .ok_or_else(unknown)?;
        if matches!(
            job.state,
            crate::domain::JobState::Done | crate::domain::JobState::Dead
        ) {
            return Err(Error::Gone {
                message: "this bootstrap token belongs to a provisioning attempt that has ended"
                    .to_string(),
            });
        }
        let instance = engine.load_existing(id).await?;
        if !matches!(instance.status, Pending | Provisioning | Unsuspending) {
            return Err(Error::conflict(format!(
                "instance {id} is {}; its server fetches secrets only while provisioning",
                instance.status
            )));
        }
        let sealed = match engine.store.consume_bootstrap(id, engine.now()).await? {
            Some(sealed) => sealed,
            None => self.repeat_delivery(&instance, job, client).await?,
        };
        let secrets = engine.secrets_key.open(id, &sealed)?;
        engine
            .audit(
                Some(id),
                "bootstrap_delivered",
                "instance server",
                "the server fetched its secrets".to_string(),
            )
            .await?;
        Ok((id, secrets.environment()))
    }

    /// The bootstrap token in the user data of `instance`'s newest server: the one made for
    /// its newest provisioning job (`NotFound` when it has none). For tools that render an
    /// instance's files by hand, and for tests.
    pub async fn bootstrap_token(&self, instance: InstanceId) -> Result<SecretString> {
        let job = newest_provisioning_job(self.engine.store.as_ref(), instance)
            .await?
            .ok_or_else(|| Error::not_found("provisioning job of instance", instance))?;
        Ok(self.engine.bootstrap_key.token_for(instance, job))
    }

    /// The secrets once more for a server asking again: only from the address recorded for
    /// its server, only within [`BOOTSTRAP_REPEAT_WINDOW`] of the first delivery of this
    /// attempt; `Gone` otherwise.
    async fn repeat_delivery(
        &self,
        instance: &Instance,
        job: &crate::domain::Job,
        client: Option<std::net::IpAddr>,
    ) -> Result<crate::instance_secrets::SealedSecrets> {
        let engine = &self.engine;
        let used = || Error::Gone {
            message: "this bootstrap token was already used".to_string(),
        };
        let recorded = [
            instance.resources.ipv4.map(std::net::IpAddr::V4),
            instance.resources.ipv6.map(std::net::IpAddr::V6),
        ];
        let Some(client) = client.filter(|c| recorded.contains(&Some(*c))) else {
            return Err(used());
        };
        let window = chrono::Duration::from_std(BOOTSTRAP_REPEAT_WINDOW)
            .map_err(|_| Error::internal("the bootstrap repeat window is out of range"))?;
        let now = engine.now();
        let delivered = engine
            .store
            .instance_events(instance.id)
            .await?
            .into_iter()
            .filter(|e| {
                matches!(&e.kind, crate::domain::EventKind::Audit { action, .. }
                    if action == "bootstrap_delivered")
            })
            .map(|e| e.at)
            .filter(|at| *at >= job.created_at)
            .min();
        match delivered {
            Some(first) if now - first <= window => {
                tracing::info!(instance = %instance.id, %client, "bootstrap asked again by its server within the window; answering the same");
                engine
                    .store
                    .instance_secrets(instance.id)
                    .await?
                    .ok_or_else(used)
            }
            _ => Err(used()),
        }
    }

    /// Lists what the providers say this deployment owns and no live instance claims; with
    /// [`SweepMode::Delete`], deletes it.
    pub async fn sweep(&self, mode: SweepMode) -> Result<SweepReport> {
        sweep::sweep(&self.engine, mode).await
    }

    /// Runs job workers until `shutdown` resolves; then each worker finishes its current step,
    /// hands its job back, and this returns.
    pub async fn run_workers(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        worker::run_workers(self.engine.clone(), shutdown).await
    }

    /// Runs jobs in the calling task until no job is runnable now (jobs scheduled for later
    /// stay queued). Returns how many ran. Meant for tests, examples and one-shot tools.
    pub async fn run_pending_jobs(&self) -> Result<usize> {
        let name = format!("{}-inline", self.engine.config.workers.name);
        worker::drain(&self.engine, &name).await
    }

    /// Moves on every instance whose dead-lettered job nothing replaces (a provisioning
    /// rolls back, anything else goes `failed` with an alert); returns how many. Workers do
    /// this periodically on their own.
    pub async fn reap_dead_jobs(&self) -> Result<usize> {
        maintenance::reap_dead_jobs(&self.engine).await
    }

    /// Rolls back every provisioning past its deadline (the whole provisioning, or its DNS
    /// step), whether or not a worker still runs it; returns how many. Workers do this
    /// periodically on their own.
    pub async fn enforce_deadlines(&self) -> Result<usize> {
        maintenance::enforce_deadlines(&self.engine).await
    }

    /// Deletes finished jobs and idempotency keys past the retention; returns how many of
    /// each. Workers do this periodically on their own.
    pub async fn purge(&self) -> Result<(u64, u64)> {
        maintenance::purge_finished(&self.engine).await
    }

    /// Whether [`run_workers`](Self::run_workers) is running in this process (it stops
    /// early only when a worker failed for good; a server should then stop being ready).
    pub fn workers_running(&self) -> bool {
        self.engine
            .workers_running
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The engine's counters.
    pub fn metrics(&self) -> MetricsSnapshot {
        use std::sync::atomic::Ordering::Relaxed;
        let watch = &self.engine.agent_watch;
        MetricsSnapshot {
            agents_connected: watch.connected.load(Relaxed),
            agents_silent: watch.silent.load(Relaxed),
            gateways_down: watch.gateways_down.load(Relaxed),
            ..self.engine.metrics.snapshot(self.workers_running())
        }
    }

    /// Checks every active instance's agent now (the workers do it every heartbeat
    /// interval): alerts for silent agents and gateways down, and the agent gauges.
    pub async fn check_agents(&self) -> Result<()> {
        super::agent_watch::check(&self.engine).await
    }

    /// The store the engine writes to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.engine.store
    }

    /// The configuration in use.
    pub fn config(&self) -> &super::EngineConfig {
        &self.engine.config
    }
}

/// The answer to a create whose reference is already taken by `existing`.
fn same_order(existing: Instance, request: &CreateInstance) -> Result<Instance> {
    let same = existing.customer_id.as_str() == request.customer_id
        && existing.subdomain.as_str() == request.subdomain
        && existing.plan.as_str() == request.plan
        && existing.region.as_str() == request.region;
    if same {
        Ok(existing)
    } else {
        Err(Error::conflict(format!(
            "external_ref is already used by instance {} with different details",
            existing.id
        )))
    }
}
