//! [`HetznerCompute`]: the `Compute` port on Hetzner Cloud servers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use openclaw_core::domain::{DeploymentName, InstanceId, ServerId};
use openclaw_core::ports::ownership::{server_labels, LABEL_INSTANCE, LABEL_OWNER};
use openclaw_core::ports::{Compute, RateLimiter, Server, ServerSpec, ServerStatus};
use openclaw_core::{Clock, Error, ErrorClass, Result, SystemClock, TokenBucket};
use reqwest::Method;

use crate::actions::ActionWatcher;
use crate::client::Client;
use crate::config::HetznerConfig;
use crate::error::{Failure, RequestKind, PROVIDER};
use crate::model::{
    ActionModel, ActionResponse, ChangeTypeRequest, CreateServerRequest, CreateServerResponse,
    FirewallRef, ListServersResponse, PublicNetRequest, ServerModel, ServerResponse,
};

/// Servers per page of `list_owned` (Hetzner's maximum).
pub const PAGE_SIZE: u32 = 50;

/// Pages `list_owned` follows at most: 50 000 servers, far above any project's limit, so a
/// server that keeps announcing a next page cannot keep us looping.
const MAX_PAGES: u64 = 1000;

/// Hetzner Cloud servers for one deployment.
///
/// Every HTTP request takes one permit from the limiter (by default a
/// [`TokenBucket::hetzner`] of its own; share one between adapters of the same project) and
/// corrects it from the response's rate-limit headers. See the [crate docs](crate) for how
/// creates are made safe.
pub struct HetznerCompute {
    client: Arc<Client>,
    owner: DeploymentName,
    actions: ActionWatcher,
    action_timeout: Duration,
}

impl std::fmt::Debug for HetznerCompute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HetznerCompute")
            .field("client", &self.client)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// Builds a [`HetznerCompute`] with a limiter or clock of the caller's choosing.
pub struct HetznerComputeBuilder {
    config: HetznerConfig,
    limiter: Option<Arc<dyn RateLimiter>>,
    clock: Option<Arc<dyn Clock>>,
}

impl HetznerComputeBuilder {
    /// The limiter every request takes a permit from (default: a fresh
    /// [`TokenBucket::hetzner`]). Adapters of the same project should share one.
    #[must_use]
    pub fn limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The wall clock `RateLimit-Reset` is compared with (default: [`SystemClock`]).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Checks the configuration and builds the adapter.
    pub fn build(self) -> Result<HetznerCompute> {
        let limiter = self
            .limiter
            .unwrap_or_else(|| Arc::new(TokenBucket::hetzner()));
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let client = Arc::new(Client::new(&self.config, limiter, clock)?);
        Ok(HetznerCompute {
            actions: ActionWatcher::new(client.clone(), self.config.poll_interval),
            client,
            owner: self.config.owner,
            action_timeout: self.config.action_timeout,
        })
    }
}

/// The power state a power action leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Power {
    Off,
    On,
}

impl HetznerCompute {
    /// An adapter with its own limiter and the system clock.
    pub fn new(config: HetznerConfig) -> Result<Self> {
        Self::builder(config).build()
    }

    /// Starts building an adapter.
    pub fn builder(config: HetznerConfig) -> HetznerComputeBuilder {
        HetznerComputeBuilder {
            config,
            limiter: None,
            clock: None,
        }
    }

    /// The deployment this adapter acts for.
    pub fn owner(&self) -> &DeploymentName {
        &self.owner
    }

    fn owner_selector(&self) -> String {
        format!("{LABEL_OWNER}={}", self.owner)
    }

    fn is_ours(&self, labels: &BTreeMap<String, String>) -> bool {
        labels.get(LABEL_OWNER).map(String::as_str) == Some(self.owner.as_str())
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        endpoint: &str,
        query: &[(&str, String)],
    ) -> Result<T, Failure> {
        self.client
            .request(Method::GET, path, endpoint, query, None)
            .await
            .map(|reply| reply.value)
    }

    /// Servers matching `query` on one page.
    async fn list_page(&self, query: &[(&str, String)]) -> Result<ListServersResponse> {
        self.get("/servers", "GET /servers", query)
            .await
            .map_err(|f| f.into_error(RequestKind::Idempotent))
    }

    /// Adopts the server named `spec.name` after Hetzner refused a duplicate name: ours
    /// (same owner and instance labels) is returned, anything else is `Conflict`. Ours
    /// while it is being deleted is never adopted: it is a retryable `Unavailable`, so the
    /// caller's retry creates a new server once Hetzner has freed the name.
    async fn adopt(&self, spec: &ServerSpec) -> Result<Server> {
        let page = self.list_page(&[("name", spec.name.clone())]).await?;
        let Some(existing) = page.servers.into_iter().find(|s| s.name == spec.name) else {
            // The name was taken a moment ago and is free now (deleted in between): the next
            // attempt can create it.
            return Err(Error::Provider {
                provider: PROVIDER.to_string(),
                code: "uniqueness_error".to_string(),
                status: Some(409),
                message: format!("server name {} was taken but is gone now", spec.name),
                correlation_id: None,
                class: ErrorClass::Retryable,
            });
        };
        let wanted = server_labels(&spec.owner, spec.instance_id);
        let ours = wanted
            .iter()
            .all(|(k, v)| existing.labels.get(k) == Some(v));
        if !ours {
            return Err(Error::conflict(format!(
                "a server named {} exists at Hetzner (id {}) and does not carry this instance's ownership labels",
                spec.name, existing.id
            )));
        }
        if is_deleting(&existing) {
            // Hetzner answered 409 (the name is taken): not a server error, so waiting for
            // the name is never mistaken for an outage.
            return Err(Error::Unavailable {
                service: PROVIDER.to_string(),
                message: format!(
                    "the previous server named {} (id {}) is still being deleted; the name is free once it is gone",
                    spec.name, existing.id
                ),
                status: Some(409),
            });
        }
        tracing::info!(server = existing.id, name = %spec.name, "adopting the server of an earlier create");
        to_server("GET /servers", existing)
    }

    fn create_request(&self, spec: &ServerSpec) -> Result<CreateServerRequest> {
        if spec.owner != self.owner {
            return Err(Error::invalid(
                "owner",
                format!(
                    "this adapter creates servers for {}, not {}",
                    self.owner, spec.owner
                ),
            ));
        }
        let firewalls = spec
            .firewalls
            .iter()
            .map(|id| {
                id.trim()
                    .parse::<u64>()
                    .map(|firewall| FirewallRef { firewall })
                    .map_err(|_| {
                        Error::invalid("firewalls", format!("{id:?} is not a Hetzner firewall id"))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut labels = spec.labels.clone();
        // The ownership labels are what adoption and list_owned rely on: never let the spec
        // leave them out or contradict them.
        labels.extend(server_labels(&spec.owner, spec.instance_id));
        Ok(CreateServerRequest {
            name: spec.name.clone(),
            server_type: spec.server_type.clone(),
            image: spec.image.clone(),
            location: Some(spec.location.clone()),
            labels,
            user_data: (!spec.user_data.is_empty()).then(|| spec.user_data.expose().to_string()),
            ssh_keys: spec.ssh_keys.clone(),
            firewalls,
            public_net: Some(PublicNetRequest {
                enable_ipv4: true,
                enable_ipv6: spec.enable_ipv6,
            }),
            start_after_create: Some(true),
        })
    }

    async fn power(&self, id: &ServerId, power: Power) -> Result<()> {
        let Some(numeric) = numeric_id(id) else {
            return Err(Error::not_found("server", id));
        };
        let (path, endpoint, target) = match power {
            Power::Off => (
                format!("/servers/{numeric}/actions/poweroff"),
                "POST /servers/{id}/actions/poweroff",
                "off",
            ),
            Power::On => (
                format!("/servers/{numeric}/actions/poweron"),
                "POST /servers/{id}/actions/poweron",
                "running",
            ),
        };
        let action = match self
            .client
            .request::<ActionResponse>(Method::POST, &path, endpoint, &[], None)
            .await
        {
            Ok(reply) => reply.value.action,
            Err(Failure::Api(api)) if api.is_not_found() => {
                return Err(Error::not_found("server", id))
            }
            Err(failure) => return Err(failure.into_error(RequestKind::Idempotent)),
        };
        let finished = self.await_action(action).await?;
        if finished.status == "success" {
            return Ok(());
        }
        // A failed power action on a server already in the wanted state is what "already
        // off" looks like; only then is one more request spent.
        let current = self.fetch(numeric).await?;
        match current {
            Some(server) if server.status == target => Ok(()),
            None => Err(Error::not_found("server", id)),
            Some(_) => Err(failed_action(endpoint, finished, ErrorClass::Retryable)),
        }
    }

    /// Waits for `action` through the shared watcher, unless it is already over.
    async fn await_action(&self, action: ActionModel) -> Result<ActionModel> {
        if action.is_finished() {
            return Ok(action);
        }
        let id = action.id;
        tokio::time::timeout(self.action_timeout, self.actions.wait(id))
            .await
            .map_err(|_| Error::Provider {
                provider: PROVIDER.to_string(),
                code: "action_timeout".to_string(),
                status: None,
                message: format!(
                    "action {id} ({}) did not finish within {:?}",
                    action.command, self.action_timeout
                ),
                correlation_id: None,
                class: ErrorClass::Retryable,
            })?
    }

    async fn fetch(&self, numeric: u64) -> Result<Option<ServerModel>> {
        match self
            .get::<ServerResponse>(&format!("/servers/{numeric}"), "GET /servers/{id}", &[])
            .await
        {
            Ok(reply) => Ok(Some(reply.server)),
            Err(Failure::Api(api)) if api.is_not_found() => Ok(None),
            Err(failure) => Err(failure.into_error(RequestKind::Idempotent)),
        }
    }
}

#[async_trait]
impl Compute for HetznerCompute {
    async fn create_server(&self, spec: &ServerSpec) -> Result<Server> {
        let request = self.create_request(spec)?;
        let body = serde_json::to_value(&request)
            .map_err(|e| Error::internal(format!("cannot serialize the create request: {e}")))?;
        let reply = self
            .client
            .request::<CreateServerResponse>(
                Method::POST,
                "/servers",
                "POST /servers",
                &[],
                Some(&body),
            )
            .await;
        match reply {
            Ok(reply) => {
                tracing::info!(
                    server = reply.value.server.id,
                    name = %spec.name,
                    correlation_id = reply.correlation_id.as_deref().unwrap_or(""),
                    "created server"
                );
                to_server("POST /servers", reply.value.server)
            }
            Err(Failure::Api(api)) if api.is("uniqueness_error") => self.adopt(spec).await,
            Err(failure) => Err(failure.into_error(RequestKind::Create)),
        }
    }

    async fn find_server(&self, instance: InstanceId) -> Result<Option<Server>> {
        let selector = format!("{},{LABEL_INSTANCE}={instance}", self.owner_selector());
        let page = self.list_page(&[("label_selector", selector)]).await?;
        let instance_label = instance.to_string();
        let mut matching: Vec<ServerModel> = page
            .servers
            .into_iter()
            .filter(|s| {
                self.is_ours(&s.labels)
                    && s.labels.get(LABEL_INSTANCE) == Some(&instance_label)
                    && !is_deleting(s)
            })
            .collect();
        matching.sort_by_key(|s| s.id);
        if matching.len() > 1 {
            tracing::warn!(%instance, count = matching.len(), "more than one server carries this instance's labels; using the oldest");
        }
        matching
            .into_iter()
            .next()
            .map(|s| to_server("GET /servers", s))
            .transpose()
    }

    async fn get_server(&self, id: &ServerId) -> Result<Option<Server>> {
        let Some(numeric) = numeric_id(id) else {
            return Ok(None);
        };
        self.fetch(numeric)
            .await?
            .map(|s| to_server("GET /servers/{id}", s))
            .transpose()
    }

    async fn delete_server(&self, id: &ServerId) -> Result<()> {
        let Some(numeric) = numeric_id(id) else {
            // Hetzner ids are numbers: no server has this one.
            return Ok(());
        };
        // Once Hetzner accepts the delete the server only lingers as `deleting`, which
        // find_server, list_owned and adoption all pass over; waiting for its action would
        // spend polls for nothing.
        match self
            .client
            .request::<serde_json::Value>(
                Method::DELETE,
                &format!("/servers/{numeric}"),
                "DELETE /servers/{id}",
                &[],
                None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(Failure::Api(api)) if api.is_not_found() => Ok(()),
            Err(failure) => Err(failure.into_error(RequestKind::Idempotent)),
        }
    }

    async fn power_off(&self, id: &ServerId) -> Result<()> {
        self.power(id, Power::Off).await
    }

    async fn power_on(&self, id: &ServerId) -> Result<()> {
        self.power(id, Power::On).await
    }

    async fn change_type(&self, id: &ServerId, server_type: &str) -> Result<()> {
        let Some(numeric) = numeric_id(id) else {
            return Err(Error::not_found("server", id));
        };
        // Hetzner refuses a change to the type a server has; one read makes it a no-op.
        let type_of = |server: &ServerModel| server.server_type.as_ref().map(|t| t.name.clone());
        let current = self
            .fetch(numeric)
            .await?
            .ok_or_else(|| Error::not_found("server", id))?;
        if type_of(&current).as_deref() == Some(server_type) {
            return Ok(());
        }
        let body = serde_json::to_value(ChangeTypeRequest {
            server_type: server_type.to_string(),
            upgrade_disk: false,
        })
        .map_err(|e| Error::internal(format!("cannot serialize the change_type request: {e}")))?;
        let endpoint = "POST /servers/{id}/actions/change_type";
        let path = format!("/servers/{numeric}/actions/change_type");
        let action = match self
            .client
            .request::<ActionResponse>(Method::POST, &path, endpoint, &[], Some(&body))
            .await
        {
            Ok(reply) => reply.value.action,
            Err(Failure::Api(api)) if api.is_not_found() => {
                return Err(Error::not_found("server", id))
            }
            Err(Failure::Api(api)) if api.is("invalid_server_type") => {
                return Err(Error::invalid(
                    "server_type",
                    format!("Hetzner refused server type {server_type}: {}", api.message),
                ))
            }
            Err(Failure::Api(api)) if api.is("server_not_stopped") => {
                return Err(Error::conflict(format!(
                    "server {id} must be powered off to change its type: {}",
                    api.message
                )))
            }
            Err(failure) => return Err(failure.into_error(RequestKind::Idempotent)),
        };
        let finished = self.await_action(action).await?;
        if finished.status == "success" {
            return Ok(());
        }
        match self.fetch(numeric).await? {
            Some(server) if type_of(&server).as_deref() == Some(server_type) => Ok(()),
            None => Err(Error::not_found("server", id)),
            // The provider tried and failed: the same type would fail again.
            Some(_) => Err(failed_action(endpoint, finished, ErrorClass::Permanent)),
        }
    }

    async fn list_owned(&self) -> Result<Vec<Server>> {
        let mut servers = Vec::new();
        let mut page = 1u64;
        loop {
            let reply = self
                .list_page(&[
                    ("label_selector", self.owner_selector()),
                    ("per_page", PAGE_SIZE.to_string()),
                    ("page", page.to_string()),
                ])
                .await?;
            for server in reply.servers {
                // One being deleted is on its way out already: the sweep must not report it.
                if self.is_ours(&server.labels) && !is_deleting(&server) {
                    servers.push(to_server("GET /servers", server)?);
                }
            }
            match reply.meta.and_then(|m| m.pagination.next_page) {
                Some(next) if next > page && next <= MAX_PAGES => page = next,
                _ => break,
            }
        }
        Ok(servers)
    }
}

/// Whether Hetzner is deleting `server`: it still holds its name for a moment, but must
/// never be found, listed or adopted again.
fn is_deleting(server: &ServerModel) -> bool {
    server_status(&server.status) == ServerStatus::Deleting
}

/// The number inside a Hetzner server id, `None` for an id Hetzner cannot have given.
fn numeric_id(id: &ServerId) -> Option<u64> {
    id.as_str().parse().ok()
}

/// The port's view of a server; a field that does not convert is an error naming it.
fn to_server(endpoint: &str, model: ServerModel) -> Result<Server> {
    let invalid = |field: &str, message: String| Error::Provider {
        provider: PROVIDER.to_string(),
        code: "invalid_response".to_string(),
        status: None,
        message: format!("{endpoint}: response field `{field}`: {message}"),
        correlation_id: None,
        class: ErrorClass::Permanent,
    };
    let id =
        ServerId::parse(model.id.to_string()).map_err(|e| invalid("server.id", e.to_string()))?;
    let ipv4 = match &model.public_net.ipv4 {
        Some(ip) => Some(ip.ipv4().ok_or_else(|| {
            invalid(
                "server.public_net.ipv4.ip",
                format!("{:?} is not an IPv4 address", ip.ip),
            )
        })?),
        None => None,
    };
    let ipv6 = match &model.public_net.ipv6 {
        Some(ip) => Some(ip.ipv6().ok_or_else(|| {
            invalid(
                "server.public_net.ipv6.ip",
                format!("{:?} is not an IPv6 network", ip.ip),
            )
        })?),
        None => None,
    };
    Ok(Server {
        id,
        name: model.name,
        status: server_status(&model.status),
        ipv4,
        ipv6,
        labels: model.labels,
        created_at: model.created,
        server_type: model.server_type.map(|t| t.name),
        disk_gb: model.primary_disk_size,
    })
}

/// The error of an action that finished without success, as Hetzner explained it.
fn failed_action(endpoint: &str, finished: ActionModel, class: ErrorClass) -> Error {
    let (code, message) = finished
        .error
        .map(|e| (e.code, e.message))
        .unwrap_or_else(|| ("action_failed".into(), "action failed".into()));
    Error::Provider {
        provider: PROVIDER.to_string(),
        code,
        status: None,
        message: format!("{endpoint}: action {}: {message}", finished.id),
        correlation_id: None,
        class,
    }
}

/// Hetzner's status text as the port's status; anything new is `Other`.
pub(crate) fn server_status(status: &str) -> ServerStatus {
    match status {
        "initializing" => ServerStatus::Initializing,
        "starting" => ServerStatus::Starting,
        "running" => ServerStatus::Running,
        "stopping" => ServerStatus::Stopping,
        "off" => ServerStatus::Off,
        "deleting" => ServerStatus::Deleting,
        _ => ServerStatus::Other,
    }
}
