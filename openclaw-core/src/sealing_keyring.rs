//! The sealing keys of a deployment: the current key, which seals everything new, and the
//! retired keys, which still open what they sealed. Rotation is: configure a new key, keep the
//! old one as retired, re-seal everything with the new one
//! ([`Provisioner::reseal_secrets`](crate::Provisioner::reseal_secrets), the binary's
//! `openclaw keys rotate-secrets`), then drop the retired key.
//!
//! A sealed value names its key ([`SealedSecrets::key_id`]), so opening picks the one key
//! that sealed it; values from before key ids existed are tried against each key in turn.
//!
//! ```
//! use openclaw_core::domain::InstanceId;
//! use openclaw_core::instance_secrets::{InstanceSecrets, SealingKey};
//! use openclaw_core::SealingKeyring;
//!
//! let old = SealingKey::random();
//! let new = SealingKey::random();
//! let instance = InstanceId::new();
//! let secrets = InstanceSecrets::generate(Default::default()).unwrap();
//! let sealed = SealingKeyring::new(old.clone()).seal(instance, &secrets).unwrap();
//!
//! let rotated = SealingKeyring::new(new.clone()).with_retired(vec![old]);
//! assert!(rotated.needs_reseal(&sealed));
//! let opened = rotated.open(instance, &sealed).unwrap();
//! let resealed = rotated.seal(instance, &opened).unwrap();
//! assert!(!rotated.needs_reseal(&resealed));
//! assert!(SealingKeyring::new(new).open(instance, &resealed).is_ok());
//! ```

use std::fmt;

use crate::domain::{AgentTaskId, InstanceId};
use crate::error::{Error, Result};
use crate::instance_secrets::{InstanceSecrets, SealedSecrets, SealingKey, SealingKeyId};

/// The current sealing key and the retired ones. `Debug` shows key ids only.
#[derive(Clone, PartialEq, Eq)]
pub struct SealingKeyring {
    current: SealingKey,
    retired: Vec<SealingKey>,
}

impl fmt::Debug for SealingKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKeyring")
            .field("current", &self.current.id())
            .field(
                "retired",
                &self.retired.iter().map(SealingKey::id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SealingKeyring {
    /// A keyring of one key.
    pub fn new(current: SealingKey) -> Self {
        SealingKeyring {
            current,
            retired: Vec::new(),
        }
    }

    /// Adds keys that still open what they sealed but seal nothing new. The current key among
    /// them, or a key given twice, is kept once.
    pub fn with_retired(mut self, retired: Vec<SealingKey>) -> Self {
        for key in retired {
            if key != self.current && !self.retired.contains(&key) {
                self.retired.push(key);
            }
        }
        self
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> SealingKeyId {
        self.current.id()
    }

    /// The ids of the retired keys.
    pub fn retired_ids(&self) -> Vec<SealingKeyId> {
        self.retired.iter().map(SealingKey::id).collect()
    }

    /// Whether `sealed` was sealed by another key than the current one (or carries no key
    /// id): re-sealing it moves it to the current key.
    pub fn needs_reseal(&self, sealed: &SealedSecrets) -> bool {
        sealed.key_id() != Some(self.current.id())
    }

    /// Seals with the current key ([`SealingKey::seal`]).
    pub fn seal(&self, instance: InstanceId, secrets: &InstanceSecrets) -> Result<SealedSecrets> {
        self.current.seal(instance, secrets)
    }

    /// Seals a task output with the current key ([`SealingKey::seal_task_output`]).
    pub fn seal_task_output(
        &self,
        task: AgentTaskId,
        output: &serde_json::Value,
    ) -> Result<SealedSecrets> {
        self.current.seal_task_output(task, output)
    }

    /// Opens with the key that sealed `sealed` ([`SealingKey::open`]).
    pub fn open(&self, instance: InstanceId, sealed: &SealedSecrets) -> Result<InstanceSecrets> {
        self.try_keys(sealed, |key| key.open(instance, sealed))
    }

    /// Opens a task output with the key that sealed it ([`SealingKey::open_task_output`]).
    pub fn open_task_output(
        &self,
        task: AgentTaskId,
        sealed: &SealedSecrets,
    ) -> Result<serde_json::Value> {
        self.try_keys(sealed, |key| key.open_task_output(task, sealed))
    }

    fn keys(&self) -> impl Iterator<Item = &SealingKey> {
        std::iter::once(&self.current).chain(self.retired.iter())
    }

    /// Runs `open` with the key named in `sealed`, or with each key in turn for a value that
    /// names none; the first key's error when none opens it.
    fn try_keys<T>(
        &self,
        sealed: &SealedSecrets,
        open: impl Fn(&SealingKey) -> Result<T>,
    ) -> Result<T> {
        if let Some(id) = sealed.key_id() {
            return match self.keys().find(|k| k.id() == id) {
                Some(key) => open(key),
                None => Err(Error::internal(format!(
                    "sealed with key {id}, which is neither secrets_key ({}) nor one of \
                     retired_secrets_keys: configure that key as retired to open it",
                    self.current.id()
                ))),
            };
        }
        let mut first = None;
        for key in self.keys() {
            match open(key) {
                Ok(value) => return Ok(value),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        Err(first.unwrap_or_else(|| Error::internal("no sealing key")))
    }
}

impl From<SealingKey> for SealingKeyring {
    fn from(key: SealingKey) -> Self {
        SealingKeyring::new(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn secrets() -> InstanceSecrets {
        InstanceSecrets::generate(BTreeMap::new()).unwrap()
    }

    #[test]
    fn the_current_key_seals_and_retired_keys_still_open() {
        let (a, b) = (SealingKey::random(), SealingKey::random());
        let id = InstanceId::new();
        let s = secrets();
        let by_a = SealingKeyring::new(a.clone()).seal(id, &s).unwrap();
        assert_eq!(by_a.key_id(), Some(a.id()));
        let ring = SealingKeyring::new(b.clone()).with_retired(vec![a.clone(), b.clone()]);
        assert_eq!(ring.retired_ids(), vec![a.id()]);
        assert_eq!(ring.open(id, &by_a).unwrap(), s);
        assert!(ring.needs_reseal(&by_a));
        let by_b = ring.seal(id, &s).unwrap();
        assert_eq!(by_b.key_id(), Some(b.id()));
        assert!(!ring.needs_reseal(&by_b));
        // Without the retired key, the old value names the key it needs.
        let err = SealingKeyring::new(b).open(id, &by_a).unwrap_err();
        assert!(err.to_string().contains(&a.id().to_string()), "{err}");
    }

    #[test]
    fn task_outputs_open_with_the_key_that_sealed_them() {
        let (a, b) = (SealingKey::random(), SealingKey::random());
        let task = AgentTaskId::new();
        let output = serde_json::json!({"token": "t"});
        let sealed = a.seal_task_output(task, &output).unwrap();
        let ring = SealingKeyring::new(b).with_retired(vec![a]);
        assert_eq!(ring.open_task_output(task, &sealed).unwrap(), output);
    }

    #[test]
    fn a_changed_key_id_does_not_open() {
        let a = SealingKey::random();
        let id = InstanceId::new();
        let sealed = a.seal(id, &secrets()).unwrap();
        let mut bytes = sealed.as_bytes().to_vec();
        bytes[1] ^= 1;
        let ring = SealingKeyring::new(a);
        assert!(ring.open(id, &SealedSecrets::from_bytes(bytes)).is_err());
    }

    #[test]
    fn values_without_a_key_id_are_tried_against_every_key() {
        let (a, b) = (SealingKey::random(), SealingKey::random());
        let id = InstanceId::new();
        let s = secrets();
        let legacy = a.seal_v1(id, &s);
        assert_eq!(legacy.key_id(), None);
        let ring = SealingKeyring::new(b.clone()).with_retired(vec![a]);
        assert!(ring.needs_reseal(&legacy));
        assert_eq!(
            ring.open(id, &legacy).unwrap().gateway_token,
            s.gateway_token
        );
        assert!(SealingKeyring::new(b).open(id, &legacy).is_err());
    }

    #[test]
    fn debug_shows_ids_only() {
        let key = SealingKey::from_bytes([5; 32]);
        let shown = format!("{:?}", SealingKeyring::new(key.clone()));
        assert!(shown.contains(&key.id().to_string()));
        assert!(!shown.contains("5, 5"));
    }
}
