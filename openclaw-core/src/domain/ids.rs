//! Identifiers: the instance id (UUIDv7), and bounded, charset-checked strings for everything
//! that comes from outside (customer ids, external references, provider ids).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

/// The id of an instance: a UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstanceId(Uuid);

impl InstanceId {
    /// A new id for the current time.
    pub fn new() -> Self {
        InstanceId(Uuid::now_v7())
    }

    /// Wraps an existing UUID (for stores reading rows back).
    pub fn from_uuid(uuid: Uuid) -> Self {
        InstanceId(uuid)
    }

    /// The UUID inside.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for InstanceId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for InstanceId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Uuid::parse_str(s)
            .map(InstanceId)
            .map_err(|_| Error::invalid("instance_id", "must be a UUID"))
    }
}

/// The id of a job in the store's queue: a UUIDv7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(Uuid);

impl JobId {
    /// A new id for the current time.
    pub fn new() -> Self {
        JobId(Uuid::now_v7())
    }

    /// Wraps an existing UUID.
    pub fn from_uuid(uuid: Uuid) -> Self {
        JobId(uuid)
    }

    /// The UUID inside.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Declares a validated string newtype with `parse`, `as_str`, `Display`, `FromStr` and serde
/// that validates on deserialize.
macro_rules! bounded_string {
    (
        $(#[$meta:meta])*
        $name:ident, field = $field:literal, max = $max:literal, allowed = $allowed:expr, describe = $describe:literal
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in bytes.
            pub const MAX_LEN: usize = $max;

            /// Validates `value`; the error names the field.
            pub fn parse(value: impl Into<String>) -> Result<Self> {
                let value = value.into();
                if value.is_empty() {
                    return Err(Error::invalid($field, "must not be empty"));
                }
                if value.len() > $max {
                    return Err(Error::invalid(
                        $field,
                        format!("must be at most {} characters", $max),
                    ));
                }
                let allowed: fn(char) -> bool = $allowed;
                if !value.chars().all(allowed) {
                    return Err(Error::invalid($field, concat!("may only contain ", $describe)));
                }
                Ok($name(value))
            }

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn is_reference_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@')
}

fn is_provider_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
}

bounded_string!(
    /// The billing system's customer id (a WHMCS client id, for example).
    CustomerId, field = "customer_id", max = 64, allowed = is_reference_char,
    describe = "letters, digits and - _ . : @"
);

bounded_string!(
    /// A reference in the billing system, such as a WHMCS service id. At most one live
    /// instance carries a given reference.
    ExternalRef, field = "external_ref", max = 128, allowed = is_reference_char,
    describe = "letters, digits and - _ . : @"
);

bounded_string!(
    /// The id a compute provider gave a server (Hetzner's are integers, kept as text).
    ServerId, field = "server_id", max = 128, allowed = is_provider_id_char,
    describe = "letters, digits and - _ . :"
);

bounded_string!(
    /// The id a DNS provider gave a record (Cloudflare's are 32 hex digits).
    RecordId, field = "record_id", max = 128, allowed = is_provider_id_char,
    describe = "letters, digits and - _ . :"
);

/// The name of this deployment of openclaw; every resource it creates at a provider carries it
/// as the owner mark, so two deployments sharing a provider account never touch each other's
/// resources. Lowercase letters, digits and `-`, 1–32 characters, starting and ending with a
/// letter or digit (valid as a Hetzner label value, and short enough that the DNS ownership
/// comment fits Cloudflare's 100-character limit).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DeploymentName(String);

impl DeploymentName {
    /// The longest accepted name.
    pub const MAX_LEN: usize = 32;

    /// Validates a deployment name.
    pub fn parse(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        let ok_chars = value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if value.is_empty() || value.len() > Self::MAX_LEN || !ok_chars {
            return Err(Error::invalid(
                "deployment",
                "must be 1-32 lowercase letters, digits or hyphens",
            ));
        }
        if value.starts_with('-') || value.ends_with('-') {
            return Err(Error::invalid(
                "deployment",
                "must start and end with a letter or digit",
            ));
        }
        Ok(DeploymentName(value))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for DeploymentName {
    /// `openclaw`.
    fn default() -> Self {
        DeploymentName("openclaw".to_string())
    }
}

impl fmt::Display for DeploymentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DeploymentName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for DeploymentName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_are_v7_and_round_trip() {
        let id = InstanceId::new();
        assert_eq!(id.as_uuid().get_version_num(), 7);
        let parsed: InstanceId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
        let err = "not-a-uuid".parse::<InstanceId>().unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "instance_id"));
    }

    #[test]
    fn bounded_strings_check_length_and_charset() {
        assert!(CustomerId::parse("client-42").is_ok());
        let long = "a".repeat(65);
        let err = CustomerId::parse(long).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "customer_id"));
        assert!(ExternalRef::parse("whmcs:service:1001").is_ok());
        assert!(ExternalRef::parse("a b").is_err());
        assert!(ExternalRef::parse("").is_err());
        assert!(ExternalRef::parse("x\n").is_err());
        assert!(serde_json::from_str::<ExternalRef>("\"bad ref\"").is_err());
    }

    #[test]
    fn deployment_names_are_label_safe() {
        assert!(DeploymentName::parse("prod-eu").is_ok());
        assert!(DeploymentName::parse("Prod").is_err());
        assert!(DeploymentName::parse("-prod").is_err());
        assert!(DeploymentName::parse("a".repeat(32)).is_ok());
        assert!(DeploymentName::parse("a".repeat(33)).is_err());
    }
}
