//! Single-use bootstrap tokens: the one secret a new VPS's user data carries, with which it
//! fetches its real secrets (gateway token, provider keys) from the control plane once.
//!
//! Tokens are derived, not stored: `token = instance || HMAC(key, instance, job)`, where `job`
//! is the provisioning job the server was created by. A create that is retried after a crash
//! (the same job) therefore renders byte-identical user data, while every provisioning attempt
//! (a new job: a retry, a re-provisioning) gets a new token and the previous one dies with its
//! job. The control plane reads the instance from the token, then checks the MAC against the
//! jobs of that instance (single use is the control plane's job: it answers 410 on the second
//! call).
//!
//! ```
//! use openclaw_core::{BootstrapKey, domain::{InstanceId, JobId}};
//!
//! let key = BootstrapKey::random();
//! let instance = InstanceId::new();
//! let job = JobId::new();
//! let token = key.token_for(instance, job);
//! assert_eq!(key.instance_of(token.expose()), Some(instance));
//! assert!(key.verify(token.expose(), instance, job));
//! assert!(!key.verify(token.expose(), instance, JobId::new()));
//! assert!(!BootstrapKey::random().verify(token.expose(), instance, job));
//! ```

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::{RngCore, SeedableRng};
use sha2::Sha256;
use uuid::Uuid;

use crate::domain::{InstanceId, JobId};
use crate::error::{Error, Result};
use crate::secret::SecretString;

type HmacSha256 = Hmac<Sha256>;

/// Domain separation: a MAC made with this key for anything else can never pass as a token.
const CONTEXT: &str = "openclaw-bootstrap-v2:";
/// The same for the instance agent's credential: an agent token never passes as a bootstrap
/// token, nor the other way round.
const AGENT_CONTEXT: &str = "openclaw-agent-v1:";

/// Characters of the instance part (the UUID's 32 lowercase hex digits).
const INSTANCE_LEN: usize = 32;
/// Characters of the MAC part (32 bytes in unpadded base64url).
const MAC_LEN: usize = 43;
/// Every token has exactly this length: `<32 hex>.<43 base64url>`.
pub const TOKEN_LEN: usize = INSTANCE_LEN + 1 + MAC_LEN;

/// The 32-byte HMAC-SHA256 key bootstrap tokens are derived from. One per deployment; rotating
/// it invalidates every token not yet used.
///
/// `Debug` prints `BootstrapKey([redacted])`; the bytes leave only through
/// [`BootstrapKey::to_base64`].
#[derive(Clone)]
pub struct BootstrapKey([u8; 32]);

impl BootstrapKey {
    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        BootstrapKey(bytes)
    }

    /// A fresh key from a CSPRNG seeded by the operating system.
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::StdRng::from_os_rng().fill_bytes(&mut bytes);
        BootstrapKey(bytes)
    }

    /// Reads a key written by [`BootstrapKey::to_base64`]: 32 bytes as base64url without
    /// padding (43 characters; surrounding whitespace such as a file's final newline is
    /// ignored). Anything else is [`Error::InvalidInput`] for `bootstrap_key`, whose message
    /// does not repeat the input.
    pub fn from_base64(s: &str) -> Result<Self> {
        let invalid = || {
            Error::invalid(
                "bootstrap_key",
                "must be 32 bytes as base64url without padding",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(s.trim()).map_err(|_| invalid())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| invalid())?;
        Ok(BootstrapKey(bytes))
    }

    /// The key as base64url without padding, for storing it in a deployment's configuration.
    pub fn to_base64(&self) -> SecretString {
        SecretString::new(URL_SAFE_NO_PAD.encode(self.0))
    }

    /// The bootstrap token of `instance`'s server created by provisioning job `job`:
    /// `<instance UUID as 32 lowercase hex digits>.<base64url, unpadded, of
    /// HMAC-SHA256(key, "openclaw-bootstrap-v2:" + instance UUID hyphenated + ":" + job UUID
    /// hyphenated)>`, always [`TOKEN_LEN`] characters of `0-9 a-z A-Z _ - .`.
    pub fn token_for(&self, instance: InstanceId, job: JobId) -> SecretString {
        Self::render(instance, self.job_mac(instance, job))
    }

    fn job_mac(&self, instance: InstanceId, job: JobId) -> HmacSha256 {
        let mut mac = self.mac(CONTEXT, instance);
        mac.update(b":");
        mac.update(job.to_string().as_bytes());
        mac
    }

    /// The instance agent's credential for `instance`: the same shape as a bootstrap token,
    /// MAC'd under `"openclaw-agent-v1:"`. It is handed to the server with its secrets at
    /// bootstrap and sent by the agent on every call; the control plane checks it without a
    /// look-up ([`verify_agent`](Self::verify_agent)), and it names the one instance whose
    /// tasks it may take.
    pub fn agent_token_for(&self, instance: InstanceId) -> SecretString {
        Self::render(instance, self.mac(AGENT_CONTEXT, instance))
    }

    /// The instance an agent token was issued for; `None` for anything else, bootstrap
    /// tokens included.
    pub fn verify_agent(&self, token: &str) -> Option<InstanceId> {
        let (instance, mac) = split_token(token)?;
        let tag = URL_SAFE_NO_PAD.decode(mac).ok()?;
        self.mac(AGENT_CONTEXT, instance).verify_slice(&tag).ok()?;
        Some(instance)
    }

    fn render(instance: InstanceId, mac: HmacSha256) -> SecretString {
        let tag = mac.finalize().into_bytes();
        SecretString::new(format!(
            "{}.{}",
            instance.as_uuid().simple(),
            URL_SAFE_NO_PAD.encode(tag)
        ))
    }

    /// The instance a well-formed bootstrap token names — not yet verified: see
    /// [`verify`](Self::verify). `None` for anything not of the shape.
    pub fn instance_of(&self, token: &str) -> Option<InstanceId> {
        split_token(token).map(|(instance, _)| instance)
    }

    /// Whether `token` is the one this key made for `instance` and provisioning job `job`;
    /// `false` for anything else (malformed, truncated, forged, made with another key or for
    /// another job, any length, any bytes). The MAC is compared in constant time, and nothing
    /// here panics.
    pub fn verify(&self, token: &str, instance: InstanceId, job: JobId) -> bool {
        let Some((named, mac)) = split_token(token) else {
            return false;
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(mac) else {
            return false;
        };
        named == instance && self.job_mac(instance, job).verify_slice(&tag).is_ok()
    }

    fn mac(&self, context: &str, instance: InstanceId) -> HmacSha256 {
        // HMAC zero-pads keys shorter than the hash's 64-byte block (RFC 2104), so handing it
        // the padded block is the same MAC as handing it the 32 bytes, through the infallible
        // constructor rather than the one that returns a `Result` it never fails.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.0);
        let mut mac = HmacSha256::new(&block.into());
        mac.update(context.as_bytes());
        mac.update(instance.to_string().as_bytes());
        mac
    }
}

/// Equality lets configurations that hold a key be compared. It looks at every byte whatever
/// the first difference, so comparing against a guessed key reveals nothing through timing.
impl PartialEq for BootstrapKey {
    fn eq(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
    }
}

impl Eq for BootstrapKey {}

impl fmt::Debug for BootstrapKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BootstrapKey([redacted])")
    }
}

/// Splits a token into its instance and its (still encoded) MAC, checking the shape only: the
/// exact length, 32 lowercase hex digits, a dot, 43 base64url characters. Only the canonical
/// spelling is accepted, so one instance has exactly one valid token per key.
pub(crate) fn split_token(token: &str) -> Option<(InstanceId, &str)> {
    if token.len() != TOKEN_LEN {
        return None;
    }
    let (instance, rest) = token.split_at_checked(INSTANCE_LEN)?;
    let mac = rest.strip_prefix('.')?;
    let hex_ok = instance
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let mac_ok = mac
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !hex_ok || !mac_ok {
        return None;
    }
    let uuid = Uuid::try_parse(instance).ok()?;
    Some((InstanceId::from_uuid(uuid), mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_is_hmac_sha256_over_the_context_and_the_hyphenated_id() {
        let key = BootstrapKey::from_bytes([7u8; 32]);
        let instance: InstanceId = "0192f0c1-7e5a-7cc0-8b8e-4c3f2a1b0d9e".parse().unwrap();
        let job = JobId::from_uuid(
            uuid::Uuid::parse_str("0192f0c1-7e5a-7cc0-8b8e-4c3f2a1b0daa").unwrap(),
        );
        let mut reference = HmacSha256::new_from_slice(&[7u8; 32]).unwrap();
        reference.update(
            b"openclaw-bootstrap-v2:0192f0c1-7e5a-7cc0-8b8e-4c3f2a1b0d9e:\
              0192f0c1-7e5a-7cc0-8b8e-4c3f2a1b0daa",
        );
        let expected = format!(
            "0192f0c17e5a7cc08b8e4c3f2a1b0d9e.{}",
            URL_SAFE_NO_PAD.encode(reference.finalize().into_bytes())
        );
        assert_eq!(key.token_for(instance, job).expose(), expected);
        assert_eq!(expected.len(), TOKEN_LEN);
    }

    #[test]
    fn agent_and_bootstrap_tokens_never_pass_for_each_other() {
        let key = BootstrapKey::from_bytes([3u8; 32]);
        let instance = InstanceId::new();
        let agent = key.agent_token_for(instance);
        let job = JobId::new();
        let bootstrap = key.token_for(instance, job);
        assert_ne!(agent.expose(), bootstrap.expose());
        assert_eq!(agent.expose().len(), TOKEN_LEN);
        assert_eq!(key.verify_agent(agent.expose()), Some(instance));
        assert_eq!(key.verify_agent(bootstrap.expose()), None);
        assert!(!key.verify(agent.expose(), instance, job));
        assert_eq!(
            BootstrapKey::from_bytes([4u8; 32]).verify_agent(agent.expose()),
            None
        );
    }

    #[test]
    fn keys_compare_by_value() {
        let key = BootstrapKey::from_bytes([9u8; 32]);
        assert_eq!(key, key.clone());
        assert_eq!(
            key,
            BootstrapKey::from_base64(key.to_base64().expose()).unwrap()
        );
        let mut other = [9u8; 32];
        other[31] = 8;
        assert_ne!(key, BootstrapKey::from_bytes(other));
    }

    #[test]
    fn split_checks_the_shape() {
        let key = BootstrapKey::from_bytes([1u8; 32]);
        let instance = InstanceId::new();
        let token = key.token_for(instance, JobId::new());
        assert_eq!(split_token(token.expose()).map(|(i, _)| i), Some(instance));
        let upper = token.expose().to_uppercase();
        assert!(split_token(&upper).is_none());
        let moved_dot = format!("{}x{}", &token.expose()[..32], &token.expose()[33..]);
        assert!(split_token(&moved_dot).is_none());
    }
}
