//! An in-memory compute provider: servers with Hetzner's rules (unique names, labels,
//! sequential ids, a deleted server lingering as `deleting` if asked), fault injection, and
//! counters that tests assert invariants on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::time::Instant;

use super::faults::{respond, FaultInjector};
use crate::clock::Clock;
use crate::domain::{server_type_disk_gb, DeploymentName, InstanceId, ServerId};
use crate::error::{Error, Result};
use crate::ports::ownership::{owner_from_labels, Ownership, LABEL_INSTANCE};
use crate::ports::{Compute, Server, ServerSpec, ServerStatus};

/// First address handed out: the shared address space 100.64.0.0/10 (RFC 6598), so test
/// addresses never look like real public ones.
const IPV4_BASE: u32 = u32::from_be_bytes([100, 64, 0, 0]);
const IPV4_SPACE: u32 = 1 << 22;

/// The disk of a server created with a type not in
/// [`SERVER_TYPE_DISKS`](crate::domain::SERVER_TYPE_DISKS).
const UNKNOWN_TYPE_DISK_GB: u32 = 40;

/// A compute provider held in memory.
///
/// Clones share the servers and the fault injector; [`for_owner`](Self::for_owner) gives
/// another deployment's view of the same servers with faults of its own.
///
/// ```
/// # tokio_test_block_on(async {
/// use openclaw_core::domain::{DeploymentName, InstanceId};
/// use openclaw_core::ports::Compute;
/// use openclaw_core::InMemoryCompute;
///
/// let compute = InMemoryCompute::new(DeploymentName::parse("prod").unwrap());
/// assert!(compute.find_server(InstanceId::new()).await.unwrap().is_none());
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct InMemoryCompute {
    owner: DeploymentName,
    faults: Arc<FaultInjector>,
    account: Arc<Mutex<Account>>,
}

/// What the provider holds, shared by every deployment's adapter. Indexed by name and
/// instance label so that benchmarks and long chaos runs do not slow down as servers pile up.
#[derive(Debug, Default)]
struct Account {
    servers: BTreeMap<u64, Server>,
    by_name: HashMap<String, u64>,
    /// By the value of the instance label.
    by_instance: HashMap<String, BTreeSet<u64>>,
    last_id: u64,
    created_total: u64,
    max_per_instance: usize,
    /// How long a deleted server stays `Deleting` (zero: gone at once).
    deleting_for: Duration,
    /// The servers being deleted, by key: when each is gone.
    deleting: HashMap<u64, Instant>,
    /// Stamps each server's creation time (the system clock unless set).
    clock: Option<Arc<dyn Clock>>,
}

impl Account {
    fn insert(&mut self, n: u64, server: Server) {
        self.by_name.insert(server.name.clone(), n);
        if let Some(instance) = server.labels.get(LABEL_INSTANCE) {
            let ids = self.by_instance.entry(instance.clone()).or_default();
            ids.insert(n);
            self.max_per_instance = self.max_per_instance.max(ids.len());
        }
        self.servers.insert(n, server);
        self.created_total += 1;
    }

    fn remove(&mut self, n: u64) {
        self.deleting.remove(&n);
        let Some(server) = self.servers.remove(&n) else {
            return;
        };
        self.by_name.remove(&server.name);
        if let Some(instance) = server.labels.get(LABEL_INSTANCE) {
            if let Some(ids) = self.by_instance.get_mut(instance) {
                ids.remove(&n);
                if ids.is_empty() {
                    self.by_instance.remove(instance);
                }
            }
        }
    }

    /// Starts deleting server `n`: it is gone at once, or after `deleting_for` as
    /// `Deleting`. Deleting it again changes nothing.
    fn delete(&mut self, n: u64, now: Instant) {
        if self.deleting_for.is_zero() {
            self.remove(n);
            return;
        }
        let Some(server) = self.servers.get_mut(&n) else {
            return;
        };
        if server.status != ServerStatus::Deleting {
            server.status = ServerStatus::Deleting;
            self.deleting.insert(n, now + self.deleting_for);
        }
    }

    /// Removes the servers whose deletion has finished by `now`.
    fn advance(&mut self, now: Instant) {
        if self.deleting.is_empty() {
            return;
        }
        let gone: Vec<u64> = self
            .deleting
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(n, _)| *n)
            .collect();
        for n in gone {
            self.remove(n);
        }
    }

    fn named(&self, name: &str) -> Option<&Server> {
        self.by_name.get(name).and_then(|n| self.servers.get(n))
    }

    /// The servers labelled with `instance`, whoever owns them.
    fn of_instance(&self, instance: InstanceId) -> impl Iterator<Item = &Server> + '_ {
        self.by_instance
            .get(&instance.to_string())
            .into_iter()
            .flatten()
            .filter_map(|n| self.servers.get(n))
    }
}

impl InMemoryCompute {
    /// An empty provider, seen by deployment `owner`.
    pub fn new(owner: DeploymentName) -> Self {
        InMemoryCompute {
            owner,
            faults: Arc::new(FaultInjector::new()),
            account: Arc::default(),
        }
    }

    /// Deployment `owner`'s adapter on the same provider account: the same servers, its own
    /// faults.
    pub fn for_owner(&self, owner: DeploymentName) -> Self {
        InMemoryCompute {
            owner,
            faults: Arc::new(FaultInjector::new()),
            account: Arc::clone(&self.account),
        }
    }

    /// From now on a deleted server stays [`ServerStatus::Deleting`] for `duration` (measured
    /// with tokio's clock) before it is gone, as at Hetzner; zero, the default, removes it at
    /// once. It applies to the whole account: every clone and [`for_owner`](Self::for_owner)
    /// view.
    pub fn set_deleting_for(&self, duration: Duration) {
        self.lock().deleting_for = duration;
    }

    /// Stamps servers created from now on with `clock` (for the whole account), so tests on
    /// tokio's paused clock see creation times on the engine's time line.
    #[must_use]
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        self.lock().clock = Some(clock);
        self
    }

    /// The faults injected into this adapter's calls.
    pub fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    /// Every server on the account, whoever owns it, in creation order.
    pub fn servers(&self) -> Vec<Server> {
        self.lock().servers.values().cloned().collect()
    }

    /// How many servers were ever created (adoptions not counted).
    pub fn created_total(&self) -> u64 {
        self.lock().created_total
    }

    /// The most servers that one instance label ever had at the same time (invariant: ≤ 1).
    pub fn max_concurrent_servers_per_instance(&self) -> usize {
        self.lock().max_per_instance
    }

    /// Whether a server labelled with `instance` is running: what a probe on the VPS would
    /// find, without a provider call.
    pub(crate) fn instance_running(&self, instance: InstanceId) -> bool {
        self.lock()
            .of_instance(instance)
            .any(|s| s.status == ServerStatus::Running)
    }

    /// The account, with every deletion that has finished by now applied.
    fn lock(&self) -> MutexGuard<'_, Account> {
        // Every mutation completes before the guard drops, so a poisoned lock holds
        // consistent data.
        let mut account = self.account.lock().unwrap_or_else(PoisonError::into_inner);
        account.advance(Instant::now());
        account
    }

    fn ours(&self, server: &Server) -> bool {
        server.ownership().is_some_and(|o| o.owner == self.owner)
    }

    fn check_spec(&self, spec: &ServerSpec) -> Result<()> {
        let wanted = Ownership {
            owner: self.owner.clone(),
            instance: spec.instance_id,
        };
        if spec.owner != self.owner || owner_from_labels(&spec.labels) != Some(wanted) {
            // A server without our labels could never be found or swept again.
            return Err(Error::invalid(
                "labels",
                format!(
                    "must carry the ownership labels of deployment {} and instance {}",
                    self.owner, spec.instance_id
                ),
            ));
        }
        Ok(())
    }

    fn create(&self, spec: &ServerSpec) -> Result<Server> {
        let mut account = self.lock();
        if let Some(existing) = account.named(&spec.name) {
            return if existing.ownership() != owner_from_labels(&spec.labels) {
                Err(Error::conflict(format!(
                    "a server named {} exists and is not ours",
                    spec.name
                )))
            } else if existing.status == ServerStatus::Deleting {
                // Never adopted: retryable, so the caller creates anew once the name is free.
                Err(Error::Unavailable {
                    service: "memory".to_string(),
                    message: format!(
                        "the previous server named {} is still being deleted",
                        spec.name
                    ),
                    status: Some(409),
                })
            } else {
                Ok(existing.clone())
            };
        }
        account.last_id += 1;
        let n = account.last_id;
        let server = Server {
            id: ServerId::parse(n.to_string())?,
            name: spec.name.clone(),
            status: ServerStatus::Running,
            ipv4: Some(Ipv4Addr::from(IPV4_BASE + (n as u32 % IPV4_SPACE))),
            // 2001:db8::/32 is the documentation prefix; one /48 per server keeps them apart.
            ipv6: spec
                .enable_ipv6
                .then(|| Ipv6Addr::new(0x2001, 0xdb8, n as u16, (n >> 16) as u16, 0, 0, 0, 1)),
            labels: spec.labels.clone(),
            created_at: Some(account.clock.as_ref().map_or_else(Utc::now, |c| c.now())),
            server_type: Some(spec.server_type.clone()),
            disk_gb: Some(server_type_disk_gb(&spec.server_type).unwrap_or(UNKNOWN_TYPE_DISK_GB)),
        };
        account.insert(n, server.clone());
        Ok(server)
    }

    fn set_status(&self, id: &ServerId, status: ServerStatus) -> Result<()> {
        let mut account = self.lock();
        let server = key(id)
            .and_then(|k| account.servers.get_mut(&k))
            .ok_or_else(|| Error::not_found("server", id))?;
        if server.status == ServerStatus::Deleting {
            // Hetzner answers `locked` while the delete action runs: worth retrying, as
            // the server is gone (not found) shortly.
            return Err(Error::unavailable(
                "memory",
                format!("server {id} is being deleted"),
            ));
        }
        server.status = status;
        Ok(())
    }

    fn retype(&self, id: &ServerId, server_type: &str) -> Result<()> {
        let mut account = self.lock();
        let server = key(id)
            .and_then(|k| account.servers.get_mut(&k))
            .ok_or_else(|| Error::not_found("server", id))?;
        if server.server_type.as_deref() == Some(server_type) {
            return Ok(());
        }
        if server.status == ServerStatus::Deleting {
            return Err(Error::unavailable(
                "memory",
                format!("server {id} is being deleted"),
            ));
        }
        if server.status != ServerStatus::Off {
            return Err(Error::conflict(format!(
                "server {id} must be powered off to change its type"
            )));
        }
        let Some(disk) = server_type_disk_gb(server_type) else {
            return Err(Error::invalid(
                "server_type",
                format!("unknown server type {server_type:?}"),
            ));
        };
        let current = server.disk_gb.unwrap_or(UNKNOWN_TYPE_DISK_GB);
        if disk < current {
            return Err(Error::invalid(
                "server_type",
                format!(
                    "{server_type} has a {disk} GB disk, smaller than the server's {current} GB"
                ),
            ));
        }
        // The disk is kept as it is (Hetzner's `upgrade_disk: false`).
        server.server_type = Some(server_type.to_string());
        Ok(())
    }
}

/// The map key of a server id; ids this provider never hands out are simply unknown.
fn key(id: &ServerId) -> Option<u64> {
    id.as_str().parse().ok()
}

#[async_trait]
impl Compute for InMemoryCompute {
    async fn create_server(&self, spec: &ServerSpec) -> Result<Server> {
        let lose = self.faults.before("create_server").await?;
        self.check_spec(spec)?;
        respond("create_server", lose, self.create(spec))
    }

    async fn find_server(&self, instance: InstanceId) -> Result<Option<Server>> {
        let lose = self.faults.before("find_server").await?;
        let found = self
            .lock()
            .of_instance(instance)
            .find(|s| {
                self.ours(s)
                    && s.status != ServerStatus::Deleting
                    && s.ownership().is_some_and(|o| o.instance == instance)
            })
            .cloned();
        respond("find_server", lose, Ok(found))
    }

    async fn get_server(&self, id: &ServerId) -> Result<Option<Server>> {
        let lose = self.faults.before("get_server").await?;
        let found = key(id).and_then(|k| self.lock().servers.get(&k).cloned());
        respond("get_server", lose, Ok(found))
    }

    async fn delete_server(&self, id: &ServerId) -> Result<()> {
        let lose = self.faults.before("delete_server").await?;
        if let Some(k) = key(id) {
            self.lock().delete(k, Instant::now());
        }
        respond("delete_server", lose, Ok(()))
    }

    async fn power_off(&self, id: &ServerId) -> Result<()> {
        let lose = self.faults.before("power_off").await?;
        respond("power_off", lose, self.set_status(id, ServerStatus::Off))
    }

    async fn power_on(&self, id: &ServerId) -> Result<()> {
        let lose = self.faults.before("power_on").await?;
        respond("power_on", lose, self.set_status(id, ServerStatus::Running))
    }

    async fn change_type(&self, id: &ServerId, server_type: &str) -> Result<()> {
        let lose = self.faults.before("change_type").await?;
        respond("change_type", lose, self.retype(id, server_type))
    }

    async fn list_owned(&self) -> Result<Vec<Server>> {
        let lose = self.faults.before("list_owned").await?;
        let owned = self
            .lock()
            .servers
            .values()
            .filter(|s| self.ours(s) && s.status != ServerStatus::Deleting)
            .cloned()
            .collect();
        respond("list_owned", lose, Ok(owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;
    use crate::ports::ownership::{server_labels, server_name};
    use crate::secret::SecretString;

    fn owner(name: &str) -> DeploymentName {
        DeploymentName::parse(name).unwrap()
    }

    fn spec(owner: &DeploymentName, instance: InstanceId, enable_ipv6: bool) -> ServerSpec {
        ServerSpec {
            instance_id: instance,
            name: server_name(instance),
            owner: owner.clone(),
            server_type: "cpx22".into(),
            image: "ubuntu-24.04".into(),
            location: "fsn1".into(),
            user_data: SecretString::new("#cloud-config\n"),
            labels: server_labels(owner, instance),
            ssh_keys: Vec::new(),
            firewalls: Vec::new(),
            enable_ipv6,
        }
    }

    #[tokio::test]
    async fn ids_and_addresses_are_sequential() {
        let compute = InMemoryCompute::new(owner("prod"));
        let a = compute
            .create_server(&spec(&owner("prod"), InstanceId::new(), true))
            .await
            .unwrap();
        let b = compute
            .create_server(&spec(&owner("prod"), InstanceId::new(), false))
            .await
            .unwrap();
        assert_eq!((a.id.as_str(), b.id.as_str()), ("1", "2"));
        assert_eq!(a.ipv4, Some(Ipv4Addr::new(100, 64, 0, 1)));
        assert_eq!(b.ipv4, Some(Ipv4Addr::new(100, 64, 0, 2)));
        assert_eq!(a.ipv6, Some("2001:db8:1::1".parse().unwrap()));
        assert_eq!(b.ipv6, None);
        assert_eq!(a.status, ServerStatus::Running);
        assert_eq!(compute.created_total(), 2);
        assert_eq!(compute.max_concurrent_servers_per_instance(), 1);
    }

    #[tokio::test]
    async fn a_lost_create_response_still_creates_and_adoption_finds_it() {
        let prod = owner("prod");
        let compute = InMemoryCompute::new(prod.clone());
        let instance = InstanceId::new();
        compute.faults().lose_next_responses("create_server", 1);
        let err = compute
            .create_server(&spec(&prod, instance, false))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "ambiguous");
        let found = compute.find_server(instance).await.unwrap().unwrap();
        let again = compute
            .create_server(&spec(&prod, instance, false))
            .await
            .unwrap();
        assert_eq!(found.id, again.id);
        assert_eq!(compute.created_total(), 1);
        assert_eq!(compute.max_concurrent_servers_per_instance(), 1);
    }

    #[tokio::test]
    async fn a_failed_call_has_no_effect() {
        let prod = owner("prod");
        let compute = InMemoryCompute::new(prod.clone());
        compute
            .faults()
            .fail_next("create_server", 1, Error::unavailable("memory", "503"));
        assert!(compute
            .create_server(&spec(&prod, InstanceId::new(), false))
            .await
            .is_err());
        assert!(compute.servers().is_empty());
        assert_eq!(compute.faults().calls("create_server"), 1);
    }

    #[tokio::test]
    async fn specs_without_our_labels_are_refused() {
        let compute = InMemoryCompute::new(owner("prod"));
        let mut wrong = spec(&owner("prod"), InstanceId::new(), false);
        wrong.labels.clear();
        let err = compute.create_server(&wrong).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "labels"));
        let theirs = spec(&owner("staging"), InstanceId::new(), false);
        assert!(compute.create_server(&theirs).await.is_err());
    }

    #[tokio::test]
    async fn owners_share_servers_but_not_faults() {
        let prod = InMemoryCompute::new(owner("prod"));
        let staging = prod.for_owner(owner("staging"));
        prod.faults()
            .fail_next("list_owned", 1, Error::unavailable("memory", "503"));
        staging
            .create_server(&spec(&owner("staging"), InstanceId::new(), false))
            .await
            .unwrap();
        assert_eq!(staging.list_owned().await.unwrap().len(), 1);
        assert!(prod.list_owned().await.is_err());
        assert!(prod.list_owned().await.unwrap().is_empty());
        assert_eq!(prod.servers().len(), 1);
        // Clones share faults.
        prod.clone()
            .faults()
            .fail_next("get_server", 1, Error::unavailable("memory", "503"));
        assert!(prod
            .get_server(&ServerId::parse("1").unwrap())
            .await
            .is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_deleted_server_lingers_as_deleting_and_is_never_adopted() {
        let prod = owner("prod");
        let compute = InMemoryCompute::new(prod.clone());
        compute.set_deleting_for(Duration::from_secs(2));
        let instance = InstanceId::new();
        let first = compute
            .create_server(&spec(&prod, instance, false))
            .await
            .unwrap();
        compute.delete_server(&first.id).await.unwrap();
        compute.delete_server(&first.id).await.unwrap();

        tokio::time::advance(Duration::from_millis(1999)).await;
        let got = compute.get_server(&first.id).await.unwrap().unwrap();
        assert_eq!(got.status, ServerStatus::Deleting);
        assert!(compute.find_server(instance).await.unwrap().is_none());
        assert!(compute.list_owned().await.unwrap().is_empty());
        let err = compute
            .create_server(&spec(&prod, instance, false))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
        assert!(matches!(err.class(), ErrorClass::Retryable), "{err:?}");
        assert!(compute.power_on(&first.id).await.is_err());
        assert_eq!(compute.created_total(), 1);

        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(compute.get_server(&first.id).await.unwrap().is_none());
        let second = compute
            .create_server(&spec(&prod, instance, false))
            .await
            .unwrap();
        assert_ne!(second.id, first.id);
        assert_eq!(compute.created_total(), 2);
        assert_eq!(compute.max_concurrent_servers_per_instance(), 1);
    }

    #[tokio::test]
    async fn ids_the_provider_never_gave_are_unknown() {
        let compute = InMemoryCompute::new(owner("prod"));
        let odd = ServerId::parse("abc").unwrap();
        assert!(compute.get_server(&odd).await.unwrap().is_none());
        assert!(compute.delete_server(&odd).await.is_ok());
        assert!(matches!(
            compute.power_on(&odd).await,
            Err(Error::NotFound { kind: "server", .. })
        ));
    }
}
