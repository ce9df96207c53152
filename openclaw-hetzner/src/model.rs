//! The serde shapes of the few Hetzner Cloud resources openclaw uses, as the OpenAPI spec
//! describes them.
//!
//! Only the fields openclaw reads are declared; everything else in a response is ignored, so
//! a field Hetzner adds tomorrow breaks nothing. Fields the spec marks nullable are `Option`s
//! and collections default to empty, so a sparse response still decodes.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A server (`#/components/schemas/server`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerModel {
    /// Hetzner's id.
    pub id: u64,
    /// Unique name in the project.
    pub name: String,
    /// `initializing`, `starting`, `running`, `stopping`, `off`, `deleting`, `migrating`,
    /// `rebuilding`, `unknown` (kept as text so a new status does not break decoding).
    pub status: String,
    /// When it was created.
    #[serde(default)]
    pub created: Option<DateTime<Utc>>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Public addresses.
    #[serde(default)]
    pub public_net: PublicNetModel,
    /// Its server type.
    #[serde(default)]
    pub server_type: Option<ServerTypeModel>,
    /// Size of the primary disk in GB.
    #[serde(default)]
    pub primary_disk_size: Option<u32>,
}

/// `server.server_type` (only its name is read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerTypeModel {
    /// The type's name (`cpx22`).
    pub name: String,
}

/// `change_type_of_server_request`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeTypeRequest {
    /// The type to move to.
    pub server_type: String,
    /// Whether to grow the disk to the new type's (openclaw never does: it would make a
    /// later downgrade impossible).
    pub upgrade_disk: bool,
}

/// `server.public_net`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicNetModel {
    /// The primary IPv4, if the server has one.
    #[serde(default)]
    pub ipv4: Option<IpModel>,
    /// The primary IPv6 network (`2001:db8::/64`), if the server has one.
    #[serde(default)]
    pub ipv6: Option<IpModel>,
}

/// `public_net.ipv4` / `public_net.ipv6`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpModel {
    /// The address (IPv4) or network in CIDR notation (IPv6).
    pub ip: String,
}

impl IpModel {
    /// The IPv4 address, or `None` if `ip` is not one.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        self.ip.parse().ok()
    }

    /// The server's IPv6 address: Hetzner reports the /64 network (`2001:db8::/64`) and the
    /// server answers on its first address (`2001:db8::1`). A plain address is taken as is.
    pub fn ipv6(&self) -> Option<Ipv6Addr> {
        match self.ip.split_once('/') {
            Some((network, _prefix)) => {
                let network: Ipv6Addr = network.parse().ok()?;
                Some(Ipv6Addr::from(u128::from(network) | 1))
            }
            None => self.ip.parse().ok(),
        }
    }
}

/// An action (`#/components/schemas/action`): the progress of an asynchronous change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionModel {
    /// Hetzner's id.
    pub id: u64,
    /// What it does (`start_server`, `stop_server`, …).
    pub command: String,
    /// `running`, `success` or `error`.
    pub status: String,
    /// Percent done.
    #[serde(default)]
    pub progress: u32,
    /// Why it failed, when `status` is `error`.
    #[serde(default)]
    pub error: Option<ActionErrorModel>,
}

impl ActionModel {
    /// Whether the action is over (successfully or not).
    pub fn is_finished(&self) -> bool {
        self.status == "success" || self.status == "error"
    }
}

/// `action.error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionErrorModel {
    /// Machine-readable code.
    pub code: String,
    /// Message for a human.
    pub message: String,
}

/// The body of every failed request (`#/components/schemas/error_response`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorModel,
}

/// `error_response.error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorModel {
    /// Machine-readable code (`uniqueness_error`, `rate_limit_exceeded`, …); classification
    /// reads only this.
    pub code: String,
    /// Message for a human.
    pub message: String,
    /// Code-specific details.
    #[serde(default)]
    pub details: Option<serde_json::Value>,
}

/// `meta.pagination` of list responses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaginationModel {
    /// This page.
    pub page: u64,
    /// Entries per page.
    pub per_page: u64,
    /// The next page, `None` on the last one.
    #[serde(default)]
    pub next_page: Option<u64>,
    /// The last page, when known.
    #[serde(default)]
    pub last_page: Option<u64>,
    /// Entries in all pages, when known.
    #[serde(default)]
    pub total_entries: Option<u64>,
}

/// `meta` of list responses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaModel {
    /// Where this page is.
    pub pagination: PaginationModel,
}

/// `GET /servers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListServersResponse {
    /// One page of servers.
    pub servers: Vec<ServerModel>,
    /// Pagination; absent means a single page.
    #[serde(default)]
    pub meta: Option<MetaModel>,
}

/// `GET /servers/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerResponse {
    /// The server.
    pub server: ServerModel,
}

/// `POST /servers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateServerResponse {
    /// The new server, addresses included.
    pub server: ServerModel,
    /// The create action.
    pub action: ActionModel,
    /// Actions started after it (`start_server`).
    #[serde(default)]
    pub next_actions: Vec<ActionModel>,
}

/// Responses that carry one action (`POST /servers/{id}/actions/*`, `DELETE /servers/{id}`,
/// `GET /actions/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResponse {
    /// The action.
    pub action: ActionModel,
}

/// `GET /actions?id=…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionListResponse {
    /// The actions asked for.
    pub actions: Vec<ActionModel>,
}

/// The body of `POST /servers` (`#/components/schemas/create_server_request`), with only
/// the fields openclaw sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateServerRequest {
    /// Unique, deterministic name.
    pub name: String,
    /// Server type name (`cpx22`).
    pub server_type: String,
    /// Image name (`ubuntu-24.04`).
    pub image: String,
    /// Location name (`fsn1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Labels, the ownership labels among them.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Cloud-init user data (at most 32 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// SSH key names or ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_keys: Vec<String>,
    /// Firewalls to apply at creation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firewalls: Vec<FirewallRef>,
    /// Which public addresses to attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_net: Option<PublicNetRequest>,
    /// Power the server on once it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after_create: Option<bool>,
}

/// `create_server_request.firewalls[]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRef {
    /// The firewall's id.
    pub firewall: u64,
}

/// `create_server_request.public_net`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicNetRequest {
    /// Attach a new primary IPv4.
    pub enable_ipv4: bool,
    /// Attach a new primary IPv6 network.
    pub enable_ipv6: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_the_first_address_of_the_network() {
        let net = IpModel {
            ip: "2001:db8::/64".into(),
        };
        assert_eq!(net.ipv6(), Some("2001:db8::1".parse().unwrap()));
        let plain = IpModel {
            ip: "2001:db8::5".into(),
        };
        assert_eq!(plain.ipv6(), Some("2001:db8::5".parse().unwrap()));
        assert_eq!(
            IpModel {
                ip: "nope/64".into()
            }
            .ipv6(),
            None
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let server: ServerModel = serde_json::from_value(serde_json::json!({
            "id": 1, "name": "a", "status": "brand_new_status", "surprise": {"x": 1},
            "public_net": {"ipv4": null, "ipv6": null, "floating_ips": []}
        }))
        .unwrap();
        assert_eq!(server.status, "brand_new_status");
        assert!(server.labels.is_empty());
    }
}
