//! The `Compute` port: servers at a cloud provider.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ownership::{owner_from_labels, Ownership};
use crate::domain::{DeploymentName, InstanceId, ServerId};
use crate::error::Result;
use crate::secret::SecretString;

/// Everything needed to create an instance's server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// The instance the server belongs to.
    pub instance_id: InstanceId,
    /// Deterministic name ([`server_name`](super::ownership::server_name)).
    pub name: String,
    /// The deployment that owns it.
    pub owner: DeploymentName,
    /// Provider server type (`cpx22`).
    pub server_type: String,
    /// OS image (`ubuntu-24.04`).
    pub image: String,
    /// Provider location (`fsn1`).
    pub location: String,
    /// Cloud-init user data. Holds a single-use bootstrap token, so it is kept secret.
    pub user_data: SecretString,
    /// Labels, including the ownership labels.
    pub labels: BTreeMap<String, String>,
    /// SSH key names or ids to install for the admin.
    pub ssh_keys: Vec<String>,
    /// Firewall ids to attach.
    pub firewalls: Vec<String>,
    /// Whether to give the server a public IPv6 address.
    pub enable_ipv6: bool,
}

/// A server's power and lifecycle state as the provider reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerStatus {
    /// Being created.
    Initializing,
    /// Booting.
    Starting,
    /// Powered on.
    Running,
    /// Shutting down.
    Stopping,
    /// Powered off.
    Off,
    /// Being deleted.
    Deleting,
    /// Anything else the provider reports (migrating, rebuilding, unknown).
    Other,
}

/// A server as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// Provider id.
    pub id: ServerId,
    /// Name.
    pub name: String,
    /// State.
    pub status: ServerStatus,
    /// Public IPv4, if any.
    pub ipv4: Option<Ipv4Addr>,
    /// Public IPv6 address (the first address of its /64 at Hetzner), if any.
    pub ipv6: Option<Ipv6Addr>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// When the provider created it.
    pub created_at: Option<DateTime<Utc>>,
    /// Its provider server type (`cpx22`), when reported.
    #[serde(default)]
    pub server_type: Option<String>,
    /// Its primary disk in GB, when reported.
    #[serde(default)]
    pub disk_gb: Option<u32>,
}

impl Server {
    /// The owner and instance its labels name.
    pub fn ownership(&self) -> Option<Ownership> {
        owner_from_labels(&self.labels)
    }
}

/// Servers at a compute provider, as one deployment sees them.
///
/// # Contract
///
/// - An adapter acts for one deployment (its owner mark); `find_server` and `list_owned` only
///   ever return servers carrying that deployment's ownership labels.
/// - `create_server` returns once the provider has accepted the server, with its public
///   addresses; it does not wait for boot (health is checked on the VPS). If a server with
///   `spec.name` exists already and carries the same ownership labels, it is returned (adopted)
///   instead of created; if it exists and is not ours, the result is `Conflict`. A timeout or
///   a lost response after the request was sent is `Ambiguous`: the caller looks up with
///   `find_server` before creating again.
/// - `find_server` returns the instance's server by its ownership labels, or `None`.
/// - `get_server` returns `None` for an unknown id.
/// - `delete_server`, `power_off` and `power_on` are idempotent: deleting a server that is
///   already gone succeeds, powering off an off server succeeds. Power operations return when
///   the provider has finished them; on an unknown id they return `NotFound`.
/// - `change_type` moves a powered-off server to `server_type`, keeping its disk as it is (so a
///   later move back to a smaller type stays possible), and returns when the provider has
///   finished; the server stays off. A server already of that type succeeds without a
///   change. A type that does not fit the server (unknown, or a disk smaller than the
///   server's) is `InvalidInput` on field `server_type`; a server that is not off is
///   `Conflict`; an unknown id is `NotFound`.
/// - `list_owned` returns every server of this deployment, whatever its instance.
/// - A deleted server may linger at the provider for a moment in [`ServerStatus::Deleting`]
///   (Hetzner keeps its name taken meanwhile). `get_server` may return it so; `find_server`
///   and `list_owned` never do, and `create_server` never adopts it: while our server being
///   deleted still holds `spec.name`, `create_server` fails with a retryable error
///   (`Unavailable`), so the caller's retry creates a new server once the name is free.
/// - Errors are classified ([`Error::class`](crate::Error::class)) so callers never parse
///   messages.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Compute: Send + Sync + 'static {
    /// Creates (or adopts) the server described by `spec`.
    async fn create_server(&self, spec: &ServerSpec) -> Result<Server>;
    /// The server labelled with `instance`, if any.
    async fn find_server(&self, instance: InstanceId) -> Result<Option<Server>>;
    /// The server with provider id `id`, if it exists.
    async fn get_server(&self, id: &ServerId) -> Result<Option<Server>>;
    /// Deletes the server; already gone is success.
    async fn delete_server(&self, id: &ServerId) -> Result<()>;
    /// Powers the server off (hard); already off is success.
    async fn power_off(&self, id: &ServerId) -> Result<()>;
    /// Powers the server on; already running is success.
    async fn power_on(&self, id: &ServerId) -> Result<()>;
    /// Moves the powered-off server to `server_type`, keeping its disk.
    async fn change_type(&self, id: &ServerId, server_type: &str) -> Result<()>;
    /// Every server this deployment owns.
    async fn list_owned(&self) -> Result<Vec<Server>>;
}
