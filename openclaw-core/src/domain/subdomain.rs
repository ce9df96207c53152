//! The customer's subdomain: one DNS label under the deployment's zone.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Labels no customer may take: they name the service itself or are commonly trusted.
pub const RESERVED_SUBDOMAINS: &[&str] = &[
    "www",
    "api",
    "admin",
    "app",
    "mail",
    "smtp",
    "imap",
    "pop",
    "ftp",
    "ns",
    "ns1",
    "ns2",
    "dns",
    "mx",
    "status",
    "support",
    "help",
    "billing",
    "whmcs",
    "dashboard",
    "console",
    "control",
    "static",
    "cdn",
    "assets",
    "auth",
    "login",
    "sso",
    "root",
    "openclaw",
    "localhost",
    "autodiscover",
    "autoconfig",
    "_dmarc",
];

/// A validated DNS label: lowercase ASCII letters, digits and hyphens, 1–63 characters, no
/// hyphen at either end, not reserved (see [`RESERVED_SUBDOMAINS`]) and not an IDNA-encoded
/// label (`xn--`), so it looks like exactly what it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Subdomain(String);

impl Subdomain {
    /// Validates a subdomain; the error names the field `subdomain` and says what is wrong.
    pub fn parse(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        let fail = |message: &str| Err(Error::invalid("subdomain", message));
        if value.is_empty() {
            return fail("must not be empty");
        }
        if value.len() > 63 {
            return fail("must be at most 63 characters");
        }
        if let Some(bad) = value
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(Error::invalid(
                "subdomain",
                format!(
                    "may only contain lowercase letters, digits and hyphens (found {:?})",
                    bad
                ),
            ));
        }
        if value.starts_with('-') || value.ends_with('-') {
            return fail("must not start or end with a hyphen");
        }
        if value.len() >= 4 && &value[2..4] == "--" {
            return fail("must not have hyphens in the third and fourth position (IDNA labels)");
        }
        if RESERVED_SUBDOMAINS.contains(&value.as_str()) {
            return fail("is reserved");
        }
        Ok(Subdomain(value))
    }

    /// The label as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The fully qualified name under `zone` (`<label>.<zone>`).
    pub fn fqdn(&self, zone: &str) -> String {
        format!("{}.{}", self.0, zone.trim_end_matches('.'))
    }
}

impl fmt::Display for Subdomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Subdomain {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for Subdomain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(value: &str) -> String {
        match Subdomain::parse(value) {
            Err(Error::InvalidInput { field, message }) => {
                assert_eq!(field, "subdomain");
                message
            }
            other => panic!("{value:?} should be invalid, got {other:?}"),
        }
    }

    #[test]
    fn accepts_plain_labels() {
        for ok in ["a", "alice", "team-42", "0x", &"a".repeat(63)] {
            assert_eq!(Subdomain::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_what_is_not_a_label() {
        assert!(message("").contains("empty"));
        assert!(message(&"a".repeat(64)).contains("63"));
        assert!(message("Alice").contains("lowercase"));
        assert!(message("a.b").contains("lowercase"));
        assert!(message("a_b").contains("lowercase"));
        assert!(message("-a").contains("hyphen"));
        assert!(message("a-").contains("hyphen"));
        assert!(message("xn--bcher-kva").contains("IDNA"));
        assert!(message("www").contains("reserved"));
        assert!(message("api").contains("reserved"));
        assert!(message("admin").contains("reserved"));
        assert!(message("a\nb").contains("lowercase"));
        assert!(message("ä").contains("lowercase"));
    }

    #[test]
    fn fqdn_joins_under_the_zone() {
        let s = Subdomain::parse("alice").unwrap();
        assert_eq!(s.fqdn("claw.example.com."), "alice.claw.example.com");
    }
}
