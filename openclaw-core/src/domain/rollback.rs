//! Rollback levels and the log kept of every rollback.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::InstanceId;
use super::instance::Instance;
use crate::error::{Error, Result};

/// How far a rollback goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackLevel {
    /// Mark the instance `failed` and alert; touch nothing at the providers.
    Soft,
    /// Delete the DNS records and the server; the instance ends `rolled_back`.
    Partial,
    /// Partial, then delete the instance row, keeping a rollback log entry.
    Full,
}

impl RollbackLevel {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RollbackLevel::Soft => "soft",
            RollbackLevel::Partial => "partial",
            RollbackLevel::Full => "full",
        }
    }
}

impl fmt::Display for RollbackLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RollbackLevel {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "soft" => Ok(RollbackLevel::Soft),
            "partial" => Ok(RollbackLevel::Partial),
            "full" => Ok(RollbackLevel::Full),
            _ => Err(Error::invalid(
                "level",
                format!("unknown rollback level {s:?}; use soft, partial or full"),
            )),
        }
    }
}

/// A record of one finished rollback, kept even when the instance row is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackLogEntry {
    /// The instance rolled back.
    pub instance_id: InstanceId,
    /// How far.
    pub level: RollbackLevel,
    /// Why (the trigger or the operator's reason).
    pub reason: String,
    /// What was deleted at the providers (`server 42`, `dns record ab12…`).
    pub deleted: Vec<String>,
    /// The instance as it was when the rollback finished.
    pub instance: Instance,
    /// When.
    pub at: DateTime<Utc>,
}
