//! API keys of the HTTP API: who may call it, with which scope, for which customer.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::CustomerId;
use crate::error::{Error, Result};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Everything, including managing keys and sweeping.
    Admin,
    /// Create and manage instances (what WHMCS uses).
    Manage,
    /// Read instances and events.
    Read,
}

impl Scope {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Manage => "manage",
            Scope::Read => "read",
        }
    }

    /// Whether a key of this scope may do what `needed` allows.
    pub fn allows(self, needed: Scope) -> bool {
        match self {
            Scope::Admin => true,
            Scope::Manage => needed != Scope::Admin,
            Scope::Read => needed == Scope::Read,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "admin" => Ok(Scope::Admin),
            "manage" => Ok(Scope::Manage),
            "read" => Ok(Scope::Read),
            _ => Err(Error::invalid(
                "scope",
                format!("unknown scope {s:?}; use admin, manage or read"),
            )),
        }
    }
}

/// A stored API key. The secret half of the key is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// The public id (the part of the token before the dot), shown in listings and logs.
    pub id: String,
    /// A name for people (`whmcs-production`).
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// When set, the key sees only this customer's instances.
    pub customer_id: Option<CustomerId>,
    /// Hex SHA-256 of the secret half.
    pub secret_hash: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked key opens nothing.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A signed-in user (a Firebase uid) linked to an existing customer id, such as a WHMCS
/// client id: the user then acts for that customer instead of the customer named by their
/// uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerLink {
    /// The user's id at the identity provider (Firebase's `sub`).
    pub uid: String,
    /// The customer the user acts for.
    pub customer_id: CustomerId,
    /// When the link was made (or last changed).
    pub linked_at: DateTime<Utc>,
}

/// Checks a user id for a [`CustomerLink`]: 1-128 characters of letters, digits and
/// `._:@-` (Firebase's generated uids are 28 letters and digits).
pub fn validate_uid(uid: &str) -> crate::error::Result<()> {
    let ok = (1..=128).contains(&uid.len())
        && uid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(crate::error::Error::invalid(
            "uid",
            "must be 1-128 letters, digits or ._:@-",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest() {
        assert!(Scope::Admin.allows(Scope::Admin));
        assert!(Scope::Manage.allows(Scope::Read));
        assert!(!Scope::Manage.allows(Scope::Admin));
        assert!(!Scope::Read.allows(Scope::Manage));
        assert_eq!("manage".parse::<Scope>().unwrap(), Scope::Manage);
        assert!("root".parse::<Scope>().is_err());
    }
}
