//! What the fake Hetzner keeps: servers, actions and their labels, and the operations on
//! them. No HTTP here: the routes turn requests into these calls.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::time::Instant;

use super::label_selector::LabelSelector;
use super::vps::{Machine, VpsOptions};
use crate::model::CreateServerRequest;

/// The largest user data Hetzner accepts (32 KiB).
pub const MAX_USER_DATA: usize = 32 * 1024;

/// A server as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeServer {
    /// Id.
    pub id: u64,
    /// Unique name.
    pub name: String,
    /// `initializing`, `running`, `off`, `deleting`, …
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Server type name.
    pub server_type: String,
    /// Primary disk size in GB (the type's disk at creation; a type change keeps it unless
    /// asked to upgrade it).
    pub disk_gb: u32,
    /// Image name.
    pub image: String,
    /// Location name.
    pub location: String,
    /// The user data it was created with, so tests can read what cloud-init would get.
    pub user_data: Option<String>,
    /// SSH keys asked for.
    pub ssh_keys: Vec<String>,
    /// Firewall ids applied.
    pub firewalls: Vec<u64>,
    /// Public IPv4.
    pub ipv4: Option<Ipv4Addr>,
    /// Public IPv6 network (a /64).
    pub ipv6_network: Option<Ipv6Addr>,
    /// Creation time.
    pub created: DateTime<Utc>,
}

/// An action as the fake keeps it.
#[derive(Debug, Clone)]
pub(crate) struct FakeAction {
    pub(crate) id: u64,
    pub(crate) command: &'static str,
    pub(crate) server: u64,
    pub(crate) started: DateTime<Utc>,
    pub(crate) finishes_at: Instant,
    /// Set once the action finished: when, and the server status it left behind.
    pub(crate) finished: Option<DateTime<Utc>>,
    /// Server status on completion (`running` for create and power on, `off` for power off).
    pub(crate) effect: Option<&'static str>,
}

/// An error the fake answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeError {
    /// HTTP status.
    pub status: u16,
    /// Hetzner error code.
    pub code: String,
    /// Message.
    pub message: String,
    /// `error.details`.
    pub details: Option<Value>,
}

impl FakeError {
    pub(crate) fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        FakeError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_input", message)
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self::new(404, "not_found", format!("{what} not found"))
    }
}

/// Servers and actions.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) servers: BTreeMap<u64, FakeServer>,
    pub(crate) actions: BTreeMap<u64, FakeAction>,
    next_server: u64,
    next_action: u64,
    /// How long actions take.
    pub(crate) action_delay: Duration,
    /// The machine behind each server created through the API, by server id.
    pub(crate) machines: BTreeMap<u64, Machine>,
    /// How the machines boot and bootstrap.
    pub(crate) vps_options: VpsOptions,
    /// How long a deleted server stays `deleting` before it leaves the project.
    pub(crate) deleting_for: Duration,
    /// The servers being deleted, by id: the delete action whose end removes each.
    deleting: BTreeMap<u64, u64>,
}

impl Default for World {
    fn default() -> Self {
        World {
            servers: BTreeMap::new(),
            actions: BTreeMap::new(),
            next_server: 1000,
            next_action: 5000,
            action_delay: Duration::from_millis(50),
            machines: BTreeMap::new(),
            vps_options: VpsOptions::default(),
            deleting_for: Duration::from_secs(2),
            deleting: BTreeMap::new(),
        }
    }
}

impl World {
    /// Completes every action whose time has come, applying its effect, and removes the
    /// servers whose delete action ended.
    pub(crate) fn advance(&mut self, now: Instant) {
        for action in self.actions.values_mut() {
            if action.finished.is_some() || action.finishes_at > now {
                continue;
            }
            action.finished = Some(Utc::now());
            // A power action that ends while its server is being deleted must not bring
            // the server back to `running` or `off`.
            if self.deleting.contains_key(&action.server) {
                continue;
            }
            if let (Some(status), Some(server)) =
                (action.effect, self.servers.get_mut(&action.server))
            {
                server.status = status.to_string();
            }
        }
        let actions = &self.actions;
        let gone: Vec<u64> = self
            .deleting
            .iter()
            .filter(|(_, action)| actions.get(action).is_none_or(|a| a.finished.is_some()))
            .map(|(server, _)| *server)
            .collect();
        for server in gone {
            self.deleting.remove(&server);
            self.servers.remove(&server);
        }
    }

    /// Starts an action that takes the configured action delay.
    fn start_action(
        &mut self,
        command: &'static str,
        server: u64,
        effect: Option<&'static str>,
        now: Instant,
    ) -> u64 {
        self.start_action_taking(command, server, effect, now, self.action_delay)
    }

    fn start_action_taking(
        &mut self,
        command: &'static str,
        server: u64,
        effect: Option<&'static str>,
        now: Instant,
        takes: Duration,
    ) -> u64 {
        self.next_action += 1;
        let id = self.next_action;
        self.actions.insert(
            id,
            FakeAction {
                id,
                command,
                server,
                started: Utc::now(),
                finishes_at: now + takes,
                finished: None,
                effect,
            },
        );
        id
    }

    /// `POST /servers`: returns the server and its actions (create, then start).
    pub(crate) fn create_server(
        &mut self,
        request: CreateServerRequest,
        now: Instant,
    ) -> Result<(u64, u64, Vec<u64>), FakeError> {
        validate_name(&request.name)?;
        for (field, value) in [
            ("server_type", &request.server_type),
            ("image", &request.image),
        ] {
            if value.trim().is_empty() {
                return Err(FakeError::invalid(format!("{field} is required")));
            }
        }
        for (key, value) in &request.labels {
            validate_label(key, value)?;
        }
        if request
            .user_data
            .as_ref()
            .is_some_and(|u| u.len() > MAX_USER_DATA)
        {
            return Err(FakeError::invalid("user_data is longer than 32 KiB"));
        }
        if self.servers.values().any(|s| s.name == request.name) {
            let mut error = FakeError::new(409, "uniqueness_error", "server name is already used");
            error.details = Some(serde_json::json!({"fields": [{"name": "name"}]}));
            return Err(error);
        }
        self.next_server += 1;
        let id = self.next_server;
        let public = request
            .public_net
            .unwrap_or(crate::model::PublicNetRequest {
                enable_ipv4: true,
                enable_ipv6: true,
            });
        let n = u32::try_from(id).unwrap_or(u32::MAX);
        let server = FakeServer {
            id,
            name: request.name,
            status: "initializing".to_string(),
            labels: request.labels,
            disk_gb: openclaw_core::domain::server_type_disk_gb(&request.server_type)
                .unwrap_or(UNKNOWN_TYPE_DISK_GB),
            server_type: request.server_type,
            image: request.image,
            location: request.location.unwrap_or_else(|| "fsn1".to_string()),
            user_data: request.user_data,
            ssh_keys: request.ssh_keys,
            firewalls: request.firewalls.iter().map(|f| f.firewall).collect(),
            // Documentation ranges (RFC 5737, RFC 3849): never anyone's real address.
            ipv4: public
                .enable_ipv4
                .then(|| Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 51, 100, 0)) + n % 65_536)),
            ipv6_network: public
                .enable_ipv6
                .then(|| Ipv6Addr::new(0x2001, 0xdb8, (n >> 16) as u16, n as u16, 0, 0, 0, 0)),
            created: Utc::now(),
        };
        self.servers.insert(id, server);
        let start = request.start_after_create.unwrap_or(true);
        let mut machine = Machine::booting(now, &self.vps_options);
        if !start {
            machine.up_at = None;
        }
        self.machines.insert(id, machine);
        let create = self.start_action(
            "create_server",
            id,
            Some(if start { "running" } else { "off" }),
            now,
        );
        let next = if start {
            vec![self.start_action("start_server", id, Some("running"), now)]
        } else {
            Vec::new()
        };
        Ok((id, create, next))
    }

    /// Inserts a server directly (for tests that need many, or one owned by someone else).
    pub(crate) fn insert_server(&mut self, mut server: FakeServer) -> u64 {
        self.next_server += 1;
        server.id = self.next_server;
        let id = server.id;
        self.servers.insert(id, server);
        id
    }

    /// `GET /servers` before pagination.
    pub(crate) fn list_servers(
        &self,
        name: Option<&str>,
        selector: &LabelSelector,
        statuses: &[String],
    ) -> Vec<&FakeServer> {
        self.servers
            .values()
            .filter(|s| name.is_none_or(|n| s.name == n))
            .filter(|s| selector.matches(&s.labels))
            .filter(|s| statuses.is_empty() || statuses.contains(&s.status))
            .collect()
    }

    /// `DELETE /servers/{id}`: as at Hetzner, the server turns `deleting` (still listed,
    /// its name still taken) until its delete action ends `deleting_for` later, and only
    /// then leaves the project. Its machine is switched off at once. Deleting it again
    /// meanwhile answers the running delete action.
    pub(crate) fn delete_server(&mut self, id: u64, now: Instant) -> Result<u64, FakeError> {
        if let Some(action) = self.deleting.get(&id) {
            return Ok(*action);
        }
        let server = self
            .servers
            .get_mut(&id)
            .ok_or_else(|| FakeError::not_found("server"))?;
        server.status = "deleting".to_string();
        self.machines.remove(&id);
        let action = self.start_action_taking("delete_server", id, None, now, self.deleting_for);
        if self.deleting_for.is_zero() {
            self.servers.remove(&id);
        } else {
            self.deleting.insert(id, action);
        }
        Ok(action)
    }

    /// The server an action may start on: not found, or `locked` while it is being deleted
    /// (Hetzner locks a server while an action runs on it; the delete action runs until the
    /// server is gone).
    fn actionable(&mut self, id: u64) -> Result<&mut FakeServer, FakeError> {
        if self.deleting.contains_key(&id) {
            return Err(FakeError::new(
                423,
                "locked",
                "server is locked: it is being deleted",
            ));
        }
        self.servers
            .get_mut(&id)
            .ok_or_else(|| FakeError::not_found("server"))
    }

    /// `POST /servers/{id}/actions/poweroff|poweron`. Powering a server into the state it
    /// is in succeeds, as at Hetzner.
    pub(crate) fn power(&mut self, id: u64, on: bool, now: Instant) -> Result<u64, FakeError> {
        let server = self.actionable(id)?;
        let (command, status, transitional) = if on {
            ("start_server", "running", "starting")
        } else {
            ("stop_server", "off", "stopping")
        };
        if server.status != status {
            server.status = transitional.to_string();
        }
        // The machine goes down at once on power off, and boots again on power on (its
        // bootstrap, done once, is not repeated: the env file is on its disk).
        if let Some(machine) = self.machines.get_mut(&id) {
            if !on {
                machine.up_at = None;
            } else if machine.up_at.is_none() {
                machine.up_at = Some(now + self.vps_options.boot_delay);
            }
        }
        Ok(self.start_action(command, id, Some(status), now))
    }

    /// `POST /servers/{id}/actions/change_type`: the server must be off; the type must be
    /// one the fake knows, with a disk at least the server's. The type changes at once; the
    /// action (`change_server_type`) finishes after the usual delay, leaving the server off.
    pub(crate) fn change_type(
        &mut self,
        id: u64,
        server_type: &str,
        upgrade_disk: bool,
        now: Instant,
    ) -> Result<u64, FakeError> {
        let server = self.actionable(id)?;
        if server.status != "off" {
            return Err(FakeError::new(
                412,
                "server_not_stopped",
                "the server must be powered off to change its type",
            ));
        }
        let Some(disk) = openclaw_core::domain::server_type_disk_gb(server_type) else {
            return Err(FakeError::new(
                422,
                "invalid_server_type",
                format!("server type {server_type} does not exist or is deprecated"),
            ));
        };
        if disk < server.disk_gb {
            return Err(FakeError::new(
                422,
                "invalid_server_type",
                format!(
                    "server type {server_type} has a {disk} GB disk, smaller than the server's {} GB",
                    server.disk_gb
                ),
            ));
        }
        server.server_type = server_type.to_string();
        if upgrade_disk {
            server.disk_gb = disk;
        }
        Ok(self.start_action("change_server_type", id, Some("off"), now))
    }
}

/// The disk of a server created with a type not in
/// [`SERVER_TYPE_DISKS`](openclaw_core::domain::SERVER_TYPE_DISKS).
const UNKNOWN_TYPE_DISK_GB: u32 = 40;

/// Server names must be valid hostnames (RFC 1123): letters, digits, `-` and `.`, labels
/// that neither start nor end with `-`, at most 253 characters.
fn validate_name(name: &str) -> Result<(), FakeError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(FakeError::invalid(format!(
            "name {name:?} is not a valid hostname"
        )))
    }
}

/// Label keys: an optional DNS-subdomain prefix and `/`, then a name of up to 63
/// characters; values: empty or up to 63 characters; both start and end alphanumeric.
fn validate_label(key: &str, value: &str) -> Result<(), FakeError> {
    fn name_ok(s: &str) -> bool {
        s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && s.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
            && s.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
    }
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty() && p.len() <= 253 && p.split('.').all(|l| !l.is_empty() && name_ok(l))
    });
    if name.is_empty() || !name_ok(name) || !prefix_ok {
        return Err(FakeError::invalid(format!(
            "label key {key:?} is not valid"
        )));
    }
    if !name_ok(value) {
        return Err(FakeError::invalid(format!(
            "label value {value:?} of {key:?} is not valid"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_follow_hetzners_rules() {
        assert!(validate_name("openclaw-0190e2c4-7b1a-7c3e-9f00-000000000000").is_ok());
        assert!(validate_name("-bad").is_err());
        assert!(validate_name("has space").is_err());
        assert!(validate_label("openclaw/owner", "prod").is_ok());
        assert!(validate_label("just-a-key", "").is_ok());
        assert!(validate_label("bad key", "x").is_err());
        assert!(validate_label("k", "-x").is_err());
    }

    fn request(name: &str) -> CreateServerRequest {
        CreateServerRequest {
            name: name.to_string(),
            server_type: "cpx22".to_string(),
            image: "ubuntu-24.04".to_string(),
            location: None,
            labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
            user_data: None,
            ssh_keys: Vec::new(),
            firewalls: Vec::new(),
            public_net: None,
            start_after_create: None,
        }
    }

    /// Times are made up from one instant, so the window is exact without sleeping.
    #[test]
    fn a_deleted_server_is_deleting_for_a_moment_then_gone() {
        let start = Instant::now();
        let mut world = World {
            deleting_for: Duration::from_secs(2),
            ..World::default()
        };
        let (id, _, _) = world.create_server(request("web"), start).unwrap();
        let at = start + Duration::from_secs(1);
        world.advance(at);
        // A power-off still running when the delete comes must not undo `deleting`.
        world.power(id, false, at).unwrap();
        let action = world.delete_server(id, at).unwrap();

        let everything = LabelSelector::parse("").unwrap();
        for now in [at, at + Duration::from_millis(1999)] {
            world.advance(now);
            assert_eq!(world.servers[&id].status, "deleting");
            let listed = world.list_servers(Some("web"), &everything, &[]);
            assert_eq!(listed.iter().map(|s| s.id).collect::<Vec<_>>(), vec![id]);
            let by_status = world.list_servers(None, &everything, &["deleting".to_string()]);
            assert_eq!(by_status.len(), 1);
            let taken = world.create_server(request("web"), now).unwrap_err();
            assert_eq!(
                (taken.status, taken.code.as_str()),
                (409, "uniqueness_error")
            );
            assert_eq!(world.delete_server(id, now).unwrap(), action, "idempotent");
            let locked = world.power(id, true, now).unwrap_err();
            assert_eq!((locked.status, locked.code.as_str()), (423, "locked"));
            assert!(
                !world.machines.contains_key(&id),
                "the machine stops at once"
            );
        }

        let end = at + Duration::from_secs(2);
        world.advance(end);
        assert!(!world.servers.contains_key(&id));
        assert!(world.actions[&action].finished.is_some());
        assert_eq!(world.delete_server(id, end).unwrap_err().code, "not_found");
        assert_eq!(world.power(id, true, end).unwrap_err().code, "not_found");
        let (again, _, _) = world.create_server(request("web"), end).unwrap();
        assert_ne!(again, id, "the name is free again, for a new server");
    }

    #[test]
    fn without_a_deleting_window_a_deleted_server_is_gone_at_once() {
        let now = Instant::now();
        let mut world = World {
            deleting_for: Duration::ZERO,
            ..World::default()
        };
        let (id, _, _) = world.create_server(request("web"), now).unwrap();
        world.delete_server(id, now).unwrap();
        assert!(!world.servers.contains_key(&id));
        assert!(world.create_server(request("web"), now).is_ok());
    }
}
