//! How resources at the providers are marked as ours: deterministic names plus ownership
//! labels (Hetzner) or comments (Cloudflare). Neither provider has idempotency keys, so these
//! marks are what make "never create twice" and "never leave anything behind" possible.

use std::collections::BTreeMap;

use crate::domain::{DeploymentName, InstanceId};

/// Label key naming the instance a server belongs to.
pub const LABEL_INSTANCE: &str = "openclaw/instance";
/// Label key naming the deployment that owns a server.
pub const LABEL_OWNER: &str = "openclaw/owner";

/// The deterministic server name of an instance: a provider that refuses duplicate names
/// (Hetzner does) then refuses a second server for the same instance.
pub fn server_name(instance: InstanceId) -> String {
    format!("openclaw-{instance}")
}

/// The ownership labels of an instance's server.
pub fn server_labels(owner: &DeploymentName, instance: InstanceId) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_INSTANCE.to_string(), instance.to_string()),
        (LABEL_OWNER.to_string(), owner.to_string()),
    ])
}

/// The owner and instance that labels name, when both are present and well-formed.
pub fn owner_from_labels(labels: &BTreeMap<String, String>) -> Option<Ownership> {
    let owner = DeploymentName::parse(labels.get(LABEL_OWNER)?.as_str()).ok()?;
    let instance = labels.get(LABEL_INSTANCE)?.parse().ok()?;
    Some(Ownership { owner, instance })
}

/// Which deployment and instance a resource belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Ownership {
    /// The deployment.
    pub owner: DeploymentName,
    /// The instance.
    pub instance: InstanceId,
}

/// Prefix of the DNS record comment that marks a record as ours.
pub const DNS_COMMENT_PREFIX: &str = "openclaw:";

impl Ownership {
    /// The DNS comment that marks a record: `openclaw:<deployment>:<instance>` (at most 78
    /// characters, inside Cloudflare's 100).
    pub fn dns_comment(&self) -> String {
        format!("{DNS_COMMENT_PREFIX}{}:{}", self.owner, self.instance)
    }

    /// Parses a comment written by [`Ownership::dns_comment`]; anything else is `None`.
    pub fn from_dns_comment(comment: &str) -> Option<Ownership> {
        let rest = comment.strip_prefix(DNS_COMMENT_PREFIX)?;
        let (owner, instance) = rest.split_once(':')?;
        Some(Ownership {
            owner: DeploymentName::parse(owner).ok()?,
            instance: instance.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip() {
        let owner = DeploymentName::parse("prod-eu").unwrap();
        let instance = InstanceId::new();
        let labels = server_labels(&owner, instance);
        let o = owner_from_labels(&labels).unwrap();
        assert_eq!(o.instance, instance);
        let comment = o.dns_comment();
        assert!(comment.len() <= 100);
        assert_eq!(Ownership::from_dns_comment(&comment), Some(o));
        assert_eq!(Ownership::from_dns_comment("managed by hand"), None);
        assert_eq!(Ownership::from_dns_comment("openclaw:x:not-a-uuid"), None);
        assert!(server_name(instance).len() <= 63);
    }
}
