//! The `Dns` port: the records that point an instance's name at its server.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ownership::Ownership;
use crate::domain::{InstanceId, RecordId};
use crate::error::Result;

/// The record types openclaw manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RecordType {
    /// IPv4 address record.
    A,
    /// IPv6 address record.
    #[serde(rename = "AAAA")]
    Aaaa,
}

impl RecordType {
    /// `A` or `AAAA`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The records an instance should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSpec {
    /// Who owns them (written as the ownership mark).
    pub ownership: Ownership,
    /// The fully qualified name.
    pub name: String,
    /// Content of the A record.
    pub ipv4: Ipv4Addr,
    /// Content of the AAAA record, when the server has IPv6.
    pub ipv6: Option<Ipv6Addr>,
    /// TTL in seconds (1 means automatic at Cloudflare).
    pub ttl: u32,
    /// Whether the provider proxies traffic (Cloudflare's orange cloud).
    pub proxied: bool,
}

impl RecordSpec {
    /// The `(type, content)` pairs the spec asks for.
    pub fn wanted(&self) -> Vec<(RecordType, String)> {
        let mut out = vec![(RecordType::A, self.ipv4.to_string())];
        if let Some(v6) = self.ipv6 {
            out.push((RecordType::Aaaa, v6.to_string()));
        }
        out
    }
}

/// A record as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    /// Provider id.
    pub id: RecordId,
    /// Fully qualified name.
    pub name: String,
    /// Type.
    pub record_type: RecordType,
    /// Content (an address).
    pub content: String,
    /// TTL in seconds.
    pub ttl: u32,
    /// Whether it is proxied.
    pub proxied: bool,
    /// The ownership mark it carries, if it is ours (of any deployment).
    pub ownership: Option<Ownership>,
    /// When the provider created it, when it says.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}

impl DnsRecord {
    /// Whether the record is marked as belonging to `instance`.
    pub fn belongs_to(&self, ownership: &Ownership) -> bool {
        self.ownership.as_ref() == Some(ownership)
    }

    /// The instance its mark names, if any.
    pub fn instance_id(&self) -> Option<InstanceId> {
        self.ownership.as_ref().map(|o| o.instance)
    }
}

/// DNS records in one zone, as one deployment sees them.
///
/// # Contract
///
/// - `ensure_records` makes the records of `spec` exist (A, and AAAA when `spec.ipv6` is set)
///   and returns them. For each type it looks up the exact name first: a record carrying
///   `spec.ownership` is adopted (and updated if its content, TTL or proxying differ); a record
///   at that name and type without our mark is `Conflict` and is never overwritten; otherwise
///   the record is created with the mark. Calling it again with the same spec changes nothing
///   and creates nothing: at most one record per name and type per instance.
/// - `find_records` returns every A/AAAA record at exactly `name`, ours or not.
/// - `delete_record` is idempotent: a record that is already gone is success.
/// - `list_owned` returns every record carrying this deployment's mark.
/// - Errors are classified ([`Error::class`](crate::Error::class)).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Dns: Send + Sync + 'static {
    /// Creates, adopts or updates the records of `spec`.
    async fn ensure_records(&self, spec: &RecordSpec) -> Result<Vec<DnsRecord>>;
    /// Every A/AAAA record at `name`.
    async fn find_records(&self, name: &str) -> Result<Vec<DnsRecord>>;
    /// Deletes a record; already gone is success.
    async fn delete_record(&self, id: &RecordId) -> Result<()>;
    /// Every record this deployment owns.
    async fn list_owned(&self) -> Result<Vec<DnsRecord>>;
}
