//! Backups of an instance's OpenClaw state: what the control plane keeps of each archive.
//!
//! An archive is made on the instance by its agent (a `backup` task) and uploaded to the
//! control plane, which keeps it in the backup store next to a manifest: this record, as
//! JSON. The manifest is written last, so a backup is listed only once its archive is whole.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::agent::AgentTaskId;
use super::ids::InstanceId;

/// One backup of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    /// Its id: the id of the `backup` task that made it (UUIDv7, so ids sort by time).
    pub id: AgentTaskId,
    /// The instance it was taken of.
    pub instance_id: InstanceId,
    /// When the control plane had the whole archive.
    pub created_at: DateTime<Utc>,
    /// The archive's size in bytes.
    pub bytes: u64,
    /// The archive's SHA-256, 64 lowercase hex digits.
    pub sha256: String,
    /// The OpenClaw version the instance reported when the archive arrived, if known.
    pub openclaw_version: Option<String>,
}
