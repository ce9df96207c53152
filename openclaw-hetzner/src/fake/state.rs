//! What the fake Hetzner keeps: servers, actions and their labels, and the operations on
//! them. No HTTP here: the routes turn requests into these calls.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::time::Instant;

use super::label_selector::LabelSelector;
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
    /// `initializing`, `running`, `off`, …
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Server type name.
    pub server_type: String,
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
}

impl Default for World {
    fn default() -> Self {
        World {
            servers: BTreeMap::new(),
            actions: BTreeMap::new(),
            next_server: 1000,
            next_action: 5000,
            action_delay: Duration::from_millis(50),
        }
    }
}

impl World {
    /// Completes every action whose time has come, applying its effect.
    pub(crate) fn advance(&mut self, now: Instant) {
        for action in self.actions.values_mut() {
            if action.finished.is_some() || action.finishes_at > now {
                continue;
            }
            action.finished = Some(Utc::now());
            if let (Some(status), Some(server)) =
                (action.effect, self.servers.get_mut(&action.server))
            {
                server.status = status.to_string();
            }
        }
    }

    fn start_action(
        &mut self,
        command: &'static str,
        server: u64,
        effect: Option<&'static str>,
        now: Instant,
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
                finishes_at: now + self.action_delay,
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

    /// `DELETE /servers/{id}`: the server leaves the project at once.
    pub(crate) fn delete_server(&mut self, id: u64, now: Instant) -> Result<u64, FakeError> {
        self.servers
            .remove(&id)
            .ok_or_else(|| FakeError::not_found("server"))?;
        Ok(self.start_action("delete_server", id, None, now))
    }

    /// `POST /servers/{id}/actions/poweroff|poweron`. Powering a server into the state it
    /// is in succeeds, as at Hetzner.
    pub(crate) fn power(&mut self, id: u64, on: bool, now: Instant) -> Result<u64, FakeError> {
        let server = self
            .servers
            .get_mut(&id)
            .ok_or_else(|| FakeError::not_found("server"))?;
        let (command, status, transitional) = if on {
            ("start_server", "running", "starting")
        } else {
            ("stop_server", "off", "stopping")
        };
        if server.status != status {
            server.status = transitional.to_string();
        }
        Ok(self.start_action(command, id, Some(status), now))
    }
}

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
}
