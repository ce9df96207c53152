//! Bootstrap tokens: derived per instance, verified in constant time, and refused in every
//! form but the one the key made.

// Test helpers outside `#[test]` functions unwrap and panic too: a failed assumption is a
// failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use openclaw_core::bootstrap::TOKEN_LEN;
use openclaw_core::domain::{InstanceId, JobId};
use openclaw_core::{BootstrapKey, Error};
use proptest::prelude::*;

fn instance() -> InstanceId {
    "01936f6e-8a3c-7b2d-9e4f-0a1b2c3d4e5f".parse().unwrap()
}

fn key() -> BootstrapKey {
    BootstrapKey::from_bytes([42u8; 32])
}

/// The provisioning job the tokens here are made for.
fn job() -> JobId {
    JobId::from_uuid("01936f6e-8a3c-7b2d-9e4f-0a1b2c3d4e60".parse().unwrap())
}

/// The instance `token` verifies for with [`job`], as the control plane checks it.
fn verifies(key: &BootstrapKey, token: &str) -> Option<InstanceId> {
    key.instance_of(token)
        .filter(|instance| key.verify(token, *instance, job()))
}

#[test]
fn tokens_round_trip() {
    let key = BootstrapKey::random();
    for _ in 0..16 {
        let id = InstanceId::new();
        let token = key.token_for(id, job());
        assert_eq!(token.expose().len(), TOKEN_LEN);
        assert!(token
            .expose()
            .starts_with(&id.as_uuid().simple().to_string()));
        assert_eq!(verifies(&key, token.expose()), Some(id));
        // Derived, not random: the same instance always gets the same token.
        assert_eq!(key.token_for(id, job()), token);
    }
    let restored = BootstrapKey::from_base64(key.to_base64().expose()).unwrap();
    let id = InstanceId::new();
    assert_eq!(
        verifies(&restored, key.token_for(id, job()).expose()),
        Some(id)
    );
    let with_newline = format!("{}\n", key.to_base64().expose());
    assert!(BootstrapKey::from_base64(&with_newline).is_ok());
}

#[test]
fn keys_must_be_32_base64url_bytes() {
    for bad in [
        String::new(),
        "AAAA".into(),
        "A".repeat(42),
        "A".repeat(44),
        format!("{}=", "A".repeat(43)),
        "+".repeat(43),
        "é".repeat(43),
        // 43 characters whose last one carries bits past the 32nd byte.
        format!("{}B", "A".repeat(42)),
    ] {
        match BootstrapKey::from_base64(&bad) {
            Err(Error::InvalidInput { field, message }) => {
                assert_eq!(field, "bootstrap_key");
                assert!(
                    bad.is_empty() || !message.contains(&bad),
                    "the message repeats the input"
                );
            }
            other => panic!("{bad:?}: expected InvalidInput, got {other:?}"),
        }
    }
}

#[test]
fn forged_and_malformed_tokens_are_refused() {
    let key = key();
    let id = instance();
    let token = key.token_for(id, job()).expose().to_string();

    // Any single character changed, anywhere.
    for at in 0..token.len() {
        let mut bytes = token.clone().into_bytes();
        bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(verifies(&key, &tampered), None, "position {at}");
    }
    // Made with another key.
    assert_eq!(
        verifies(&BootstrapKey::from_bytes([43u8; 32]), &token),
        None
    );
    // Made for another provisioning attempt of the same instance.
    let other_attempt = key.token_for(id, JobId::new()).expose().to_string();
    assert_ne!(other_attempt, token);
    assert_eq!(verifies(&key, &other_attempt), None);
    // Another instance's id in front of this instance's MAC, and vice versa.
    let other = InstanceId::new();
    let other_token = key.token_for(other, job()).expose().to_string();
    let swapped = format!("{}{}", &other_token[..32], &token[32..]);
    assert_eq!(verifies(&key, &swapped), None);
    let swapped = format!("{}{}", &token[..32], &other_token[32..]);
    assert_eq!(verifies(&key, &swapped), None);
    // Other spellings of the same instance.
    let hyphenated = format!("{}{}", id, &token[32..]);
    assert_eq!(verifies(&key, &hyphenated), None);
    assert_eq!(verifies(&key, &token.to_uppercase()), None);
    // Shapes that are not tokens.
    for bad in [
        String::new(),
        ".".into(),
        token[..token.len() - 1].to_string(),
        format!("{token}A"),
        format!("{token}\n"),
        format!(" {token}"),
        format!("{}=", &token),
        token.replace('.', ""),
        "é".repeat(38),
        format!("{}é{}", &token[..32], &token[34..]),
        "x".repeat(10 * 1024 * 1024),
        "\u{0}".repeat(76),
    ] {
        assert_eq!(verifies(&key, &bad), None, "{:?}", bad.get(..80));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn verify_never_panics_on_any_string(s in any::<String>()) {
        prop_assert_eq!(verifies(&key(), &s), None);
    }

    #[test]
    fn verify_refuses_every_edit_of_a_token(at in 0usize..76, c in any::<char>(), delete in any::<bool>()) {
        let key = key();
        let token = key.token_for(instance(), job()).expose().to_string();
        let mut chars: Vec<char> = token.chars().collect();
        if delete {
            chars.remove(at);
        } else {
            prop_assume!(chars[at] != c);
            chars[at] = c;
        }
        let edited: String = chars.into_iter().collect();
        prop_assert_eq!(verifies(&key, &edited), None);
    }
}
