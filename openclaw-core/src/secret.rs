//! Secrets: strings that never show up in `Debug`, `Display`, logs or serialized output.

use std::fmt;

use rand::{RngCore, SeedableRng};

/// A secret string (an API token, a gateway token, user data carrying a bootstrap token).
///
/// `Debug` prints `SecretString([redacted])`; there is no `Display` and no `Serialize`: the only
/// way to the value is [`SecretString::expose`], which makes every use greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }

    /// A random secret of `bytes` bytes from a CSPRNG seeded by the OS, base64url-encoded
    /// without padding.
    pub fn random(bytes: usize) -> Self {
        use base64::Engine as _;
        let mut buf = vec![0u8; bytes];
        rand::rngs::StdRng::from_os_rng().fill_bytes(&mut buf);
        SecretString(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
    }

    /// The secret itself. Call only where it must leave the process (an Authorization
    /// header, the user data sent to the provider).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        SecretString(value)
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretString)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let s = SecretString::new("hunter2-token");
        let shown = format!("{s:?} {:?}", Some(&s));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(s.expose(), "hunter2-token");
    }

    #[test]
    fn random_secrets_are_long_and_distinct() {
        let a = SecretString::random(32);
        let b = SecretString::random(32);
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
    }
}
