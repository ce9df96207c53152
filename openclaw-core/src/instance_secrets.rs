//! The secrets of an instance — the gateway token openclaw generates and the model-provider
//! keys a customer gives at order time — and how they are kept: sealed (encrypted and
//! authenticated) with a key from configuration before they reach any store, opened only to
//! hand them to the instance's server once, or to build the customer's access link.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::domain::InstanceId;
use crate::error::{Error, Result};
use crate::secret::SecretString;

/// The environment variable the gateway reads its token from.
pub const GATEWAY_TOKEN_VAR: &str = "OPENCLAW_GATEWAY_TOKEN";
/// Bytes of randomness in a generated gateway token (DESIGN: 32 or more).
pub const GATEWAY_TOKEN_BYTES: usize = 32;
/// Most provider keys one instance may carry.
pub const MAX_PROVIDER_KEYS: usize = 16;
/// Longest provider key value accepted.
pub const MAX_PROVIDER_KEY_LEN: usize = 4096;

/// An instance's secrets in the clear. `Debug` shows the variable names only.
#[derive(Clone, PartialEq, Eq)]
pub struct InstanceSecrets {
    /// The token that opens the gateway (`OPENCLAW_GATEWAY_TOKEN`).
    pub gateway_token: SecretString,
    /// Model-provider keys by environment variable name (`ANTHROPIC_API_KEY`, …).
    pub provider_keys: BTreeMap<String, SecretString>,
}

impl fmt::Debug for InstanceSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstanceSecrets")
            .field("gateway_token", &"[redacted]")
            .field(
                "provider_keys",
                &self.provider_keys.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl InstanceSecrets {
    /// Fresh secrets: a random gateway token of [`GATEWAY_TOKEN_BYTES`] bytes, and the given
    /// provider keys after [`validate_provider_keys`].
    pub fn generate(provider_keys: BTreeMap<String, SecretString>) -> Result<Self> {
        validate_provider_keys(&provider_keys)?;
        Ok(InstanceSecrets {
            gateway_token: SecretString::random(GATEWAY_TOKEN_BYTES),
            provider_keys,
        })
    }

    /// The environment the server's gateway runs with: the token and every provider key.
    pub fn environment(&self) -> BTreeMap<String, SecretString> {
        let mut env = self.provider_keys.clone();
        env.insert(GATEWAY_TOKEN_VAR.to_string(), self.gateway_token.clone());
        env
    }
}

/// Checks provider keys: at most [`MAX_PROVIDER_KEYS`], names like `ANTHROPIC_API_KEY`
/// (`[A-Z][A-Z0-9_]*`, at most 64 characters, not `OPENCLAW_*`), values of 1 to
/// [`MAX_PROVIDER_KEY_LEN`] printable characters. Errors name the field
/// `provider_keys.<NAME>` and never repeat a value.
pub fn validate_provider_keys(keys: &BTreeMap<String, SecretString>) -> Result<()> {
    if keys.len() > MAX_PROVIDER_KEYS {
        return Err(Error::invalid(
            "provider_keys",
            format!("at most {MAX_PROVIDER_KEYS} keys"),
        ));
    }
    for (name, value) in keys {
        if !crate::domain::is_variable_name(name) {
            return Err(Error::invalid(
                "provider_keys",
                "names must be environment variable names like ANTHROPIC_API_KEY",
            ));
        }
        if name.starts_with("OPENCLAW_") {
            return Err(Error::invalid(
                format!("provider_keys.{name}"),
                "OPENCLAW_* variables are set by openclaw",
            ));
        }
        let v = value.expose();
        if v.is_empty() || v.len() > MAX_PROVIDER_KEY_LEN || v.chars().any(char::is_control) {
            return Err(Error::invalid(
                format!("provider_keys.{name}"),
                format!("must be 1-{MAX_PROVIDER_KEY_LEN} printable characters"),
            ));
        }
    }
    Ok(())
}

/// Sealed secrets as a store keeps them: opaque bytes (a format version, the id of the key
/// that sealed them, a nonce, and the authenticated ciphertext). `Debug` shows only the
/// length.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecrets(Vec<u8>);

impl SealedSecrets {
    /// Wraps bytes read back from a store.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        SealedSecrets(bytes)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The id of the key that sealed this value; `None` for values written before sealed
    /// values carried one (format 1) or for bytes of no known format.
    pub fn key_id(&self) -> Option<SealingKeyId> {
        match self.0.split_first() {
            Some((&FORMAT_V2, rest)) if rest.len() >= KEY_ID_LEN + NONCE_LEN => {
                let mut id = [0u8; KEY_ID_LEN];
                id.copy_from_slice(&rest[..KEY_ID_LEN]);
                Some(SealingKeyId(id))
            }
            _ => None,
        }
    }
}

/// Which sealing key sealed a value: the first 8 bytes of SHA-256 over a fixed context and the
/// key, so it names a key without revealing it. Shown as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SealingKeyId([u8; KEY_ID_LEN]);

impl fmt::Display for SealingKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SealingKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealingKeyId({self})")
    }
}

impl fmt::Debug for SealedSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSecrets({} bytes)", self.0.len())
    }
}

/// The 32-byte key instance secrets are sealed with (ChaCha20-Poly1305). `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealingKey([u8; 32]);

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}

/// What a task output is authenticated with: a prefix no instance id (16 bytes) has.
fn task_aad(task: crate::domain::AgentTaskId) -> Vec<u8> {
    let mut aad = b"openclaw-agent-task-v1:".to_vec();
    aad.extend_from_slice(task.as_uuid().as_bytes());
    aad
}

/// The first format: version, nonce, ciphertext. Still opened (by trying each key).
const FORMAT_V1: u8 = 1;
/// The format written now: version, key id, nonce, ciphertext; the version and the key id
/// are authenticated with the data.
const FORMAT_V2: u8 = 2;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
/// What a key id is derived under.
const KEY_ID_CONTEXT: &[u8] = b"openclaw-sealing-key-id-v1:";

#[derive(Serialize, Deserialize)]
struct Plain {
    gateway_token: String,
    provider_keys: BTreeMap<String, String>,
}

impl SealingKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SealingKey(bytes)
    }

    /// This key's id, written into every value it seals.
    pub fn id(&self) -> SealingKeyId {
        use sha2::Digest as _;
        let digest = sha2::Sha256::new()
            .chain_update(KEY_ID_CONTEXT)
            .chain_update(self.0)
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        SealingKeyId(id)
    }

    /// A random key from a CSPRNG seeded by the OS.
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::StdRng::from_os_rng().fill_bytes(&mut bytes);
        SealingKey(bytes)
    }

    /// A key from base64 (standard or URL-safe, padded or not) of exactly 32 bytes;
    /// `InvalidInput` on field `secrets_key` otherwise.
    pub fn from_base64(text: &str) -> Result<Self> {
        let text = text.trim();
        let engines = [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        engines
            .iter()
            .find_map(|e| e.decode(text).ok())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(SealingKey)
            .ok_or_else(|| Error::invalid("secrets_key", "must be 32 bytes in base64"))
    }

    /// The key as URL-safe base64 without padding (for writing a generated key to a config
    /// file).
    pub fn to_base64(&self) -> SecretString {
        SecretString::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0))
    }

    /// Seals `secrets` for `instance`. The instance id is authenticated with the data, so a
    /// sealed value copied to another instance's row does not open.
    pub fn seal(&self, instance: InstanceId, secrets: &InstanceSecrets) -> Result<SealedSecrets> {
        let plain = Plain {
            gateway_token: secrets.gateway_token.expose().to_string(),
            provider_keys: secrets
                .provider_keys
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string()))
                .collect(),
        };
        let json = serde_json::to_vec(&plain)
            .map_err(|e| Error::internal(format!("sealing secrets: {e}")))?;
        self.seal_bytes(instance.as_uuid().as_bytes(), &json)
    }

    /// Seals what an instance's agent reported for one of its tasks (it may carry a secret:
    /// a pairing token, a new gateway token). The task id is authenticated with it, so the
    /// output of one task never opens as another's, nor as instance secrets.
    pub fn seal_task_output(
        &self,
        task: crate::domain::AgentTaskId,
        output: &serde_json::Value,
    ) -> Result<SealedSecrets> {
        let json = serde_json::to_vec(output)
            .map_err(|e| Error::internal(format!("sealing a task output: {e}")))?;
        self.seal_bytes(&task_aad(task), &json)
    }

    /// Opens what [`seal_task_output`](SealingKey::seal_task_output) sealed for `task`.
    pub fn open_task_output(
        &self,
        task: crate::domain::AgentTaskId,
        sealed: &SealedSecrets,
    ) -> Result<serde_json::Value> {
        let json = self.open_bytes(&task_aad(task), sealed)?;
        serde_json::from_slice(&json)
            .map_err(|_| Error::internal("a sealed task output holds malformed data"))
    }

    fn seal_bytes(&self, aad: &[u8], msg: &[u8]) -> Result<SealedSecrets> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::StdRng::from_os_rng().fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + msg.len() + 16);
        out.push(FORMAT_V2);
        out.extend_from_slice(&self.id().0);
        let header = out.clone();
        let aad = [header.as_slice(), aad].concat();
        let cipher = ChaCha20Poly1305::new(&Key::from(self.0));
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), Payload { msg, aad: &aad })
            .map_err(|_| Error::internal("sealing secrets failed"))?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(SealedSecrets(out))
    }

    fn open_bytes(&self, aad: &[u8], sealed: &SealedSecrets) -> Result<Vec<u8>> {
        let bytes = sealed.as_bytes();
        let unknown = || Error::internal("sealed secrets have an unknown format");
        let (header_len, aad) = match bytes.first() {
            Some(&FORMAT_V1) if bytes.len() > NONCE_LEN => (1, aad.to_vec()),
            Some(&FORMAT_V2) if bytes.len() >= 1 + KEY_ID_LEN + NONCE_LEN => {
                let header = &bytes[..1 + KEY_ID_LEN];
                if header[1..] != self.id().0 {
                    return Err(Error::internal(format!(
                        "sealed secrets were sealed with key {}, not with this key ({})",
                        sealed
                            .key_id()
                            .map_or_else(String::new, |id| id.to_string()),
                        self.id()
                    )));
                }
                (header.len(), [header, aad].concat())
            }
            _ => return Err(unknown()),
        };
        let (nonce, body) = bytes[header_len..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| unknown())?;
        let cipher = ChaCha20Poly1305::new(&Key::from(self.0));
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                Error::internal(
                    "sealed secrets do not open with this key for this instance \
                     (wrong secrets_key, or tampered data)",
                )
            })
    }

    /// Seals in the first format, without a key id: only to test that such values still open.
    #[cfg(test)]
    pub(crate) fn seal_v1(&self, instance: InstanceId, secrets: &InstanceSecrets) -> SealedSecrets {
        let plain = Plain {
            gateway_token: secrets.gateway_token.expose().to_string(),
            provider_keys: BTreeMap::new(),
        };
        let msg = serde_json::to_vec(&plain).unwrap();
        let nonce = [7u8; NONCE_LEN];
        let cipher = ChaCha20Poly1305::new(&Key::from(self.0));
        let uuid = instance.as_uuid();
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &msg,
                    aad: uuid.as_bytes(),
                },
            )
            .unwrap();
        SealedSecrets([&[FORMAT_V1][..], &nonce, &sealed].concat())
    }

    /// Opens what [`seal`](SealingKey::seal) produced for `instance`. A wrong key, another
    /// instance, or tampered bytes is an `Internal` error (the message says which check failed,
    /// never what was inside).
    pub fn open(&self, instance: InstanceId, sealed: &SealedSecrets) -> Result<InstanceSecrets> {
        let json = self.open_bytes(instance.as_uuid().as_bytes(), sealed)?;
        let plain: Plain = serde_json::from_slice(&json)
            .map_err(|_| Error::internal("sealed secrets hold malformed data"))?;
        Ok(InstanceSecrets {
            gateway_token: SecretString::new(plain.gateway_token),
            provider_keys: plain
                .provider_keys
                .into_iter()
                .map(|(k, v)| (k, SecretString::new(v)))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), SecretString::new(*v)))
            .collect()
    }

    #[test]
    fn seal_and_open_round_trip() {
        let key = SealingKey::random();
        let id = InstanceId::new();
        let secrets =
            InstanceSecrets::generate(keys(&[("ANTHROPIC_API_KEY", "sk-ant-123")])).unwrap();
        assert!(secrets.gateway_token.expose().len() >= 43);
        let sealed = key.seal(id, &secrets).unwrap();
        assert!(!String::from_utf8_lossy(sealed.as_bytes()).contains("sk-ant-123"));
        assert_eq!(key.open(id, &sealed).unwrap(), secrets);
        let env = secrets.environment();
        assert_eq!(env.len(), 2);
        assert!(env.contains_key(GATEWAY_TOKEN_VAR));
    }

    #[test]
    fn the_wrong_key_instance_or_bytes_do_not_open() {
        let key = SealingKey::random();
        let id = InstanceId::new();
        let sealed = key
            .seal(id, &InstanceSecrets::generate(BTreeMap::new()).unwrap())
            .unwrap();
        assert!(SealingKey::random().open(id, &sealed).is_err());
        assert!(key.open(InstanceId::new(), &sealed).is_err());
        let mut bytes = sealed.as_bytes().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(key.open(id, &SealedSecrets::from_bytes(bytes)).is_err());
        assert!(key
            .open(id, &SealedSecrets::from_bytes(vec![9; 40]))
            .is_err());
        assert!(key.open(id, &SealedSecrets::from_bytes(vec![])).is_err());
    }

    #[test]
    fn provider_keys_are_validated_without_echoing_values() {
        assert!(validate_provider_keys(&keys(&[("OPENAI_API_KEY", "sk-1")])).is_ok());
        for (name, value) in [
            ("lowercase", "x"),
            ("1ABC", "x"),
            ("A-B", "x"),
            ("OPENCLAW_GATEWAY_TOKEN", "x"),
            ("EMPTY", ""),
            ("NEWLINE", "a\nb"),
        ] {
            let err = validate_provider_keys(&keys(&[(name, value)])).unwrap_err();
            assert_eq!(err.code(), "invalid_input", "{name}");
            assert!(!err.to_string().contains("a\nb"));
        }
        let many: BTreeMap<_, _> = (0..17)
            .map(|i| (format!("K{i}"), SecretString::new("v")))
            .collect();
        assert!(validate_provider_keys(&many).is_err());
    }

    #[test]
    fn keys_parse_from_base64_and_hide_in_debug() {
        let key = SealingKey::random();
        let text = key.to_base64();
        assert_eq!(SealingKey::from_base64(text.expose()).unwrap(), key);
        assert!(SealingKey::from_base64("short").is_err());
        assert_eq!(format!("{key:?}"), "SealingKey([redacted])");
        let secrets = InstanceSecrets::generate(keys(&[("A_KEY", "hunter2")])).unwrap();
        let shown = format!("{secrets:?}");
        assert!(!shown.contains("hunter2") && shown.contains("A_KEY"));
    }
}
