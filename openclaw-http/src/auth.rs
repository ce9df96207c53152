//! API keys: `ock_<id>.<secret>` bearer tokens, stored as the SHA-256 of the secret and
//! compared in constant time, with a scope (admin, manage, read) and optionally a customer.
//!
//! The id is public (it names the key in listings, logs and audit events); the secret is
//! shown once, when the key is made, and never stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::Utc;
use openclaw_core::domain::{ApiKey, CustomerId, Instance, Scope};
use openclaw_core::ports::ApiKeyStore;
use openclaw_core::{Error, Result, SecretString};
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::AppError;
use crate::state::AppState;

/// The [`Caller::key_id`] of a customer signed in with Firebase: `firebase:<uid>` (an API
/// key's id never has a colon).
pub const FIREBASE_CALLER_PREFIX: &str = "firebase:";

/// Every token starts with this, so a leaked one is easy to grep for.
pub const TOKEN_PREFIX: &str = "ock_";

/// Who is calling: the key that authenticated the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's public id.
    pub key_id: String,
    /// The key's name (what audit events record as the actor).
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// The only customer it sees, if bound to one.
    pub customer: Option<CustomerId>,
}

impl Caller {
    /// `Forbidden` unless the key's scope allows `needed`.
    pub fn require(&self, needed: Scope) -> std::result::Result<(), AppError> {
        if self.scope.allows(needed) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this key has scope {}; this needs {}",
                self.scope, needed
            )))
        }
    }

    /// Whether the key may see `instance` (every key unbound to a customer sees everything).
    pub fn sees(&self, instance: &Instance) -> bool {
        self.customer
            .as_ref()
            .is_none_or(|c| *c == instance.customer_id)
    }

    /// Whether this is a customer signed in with a Firebase ID token (not an API key).
    pub fn is_signed_in_user(&self) -> bool {
        self.key_id.starts_with(FIREBASE_CALLER_PREFIX)
    }

    /// What audit events record: the key's name and id, never its secret.
    pub fn actor(&self) -> String {
        format!("api key {} ({})", self.name, self.key_id)
    }
}

/// A new key: what to store, and the token to hand to its owner once.
#[derive(Debug)]
pub struct NewKey {
    /// The stored key (the secret's hash only).
    pub key: ApiKey,
    /// `ock_<id>.<secret>`: show once, store nowhere.
    pub token: SecretString,
}

/// Makes a key with a random id (12 base32 characters) and a random 32-byte secret.
pub fn generate(name: &str, scope: Scope, customer: Option<CustomerId>) -> Result<NewKey> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(Error::invalid("name", "must be 1-64 printable characters"));
    }
    if scope == Scope::Admin && customer.is_some() {
        return Err(Error::invalid(
            "scope",
            "a key bound to a customer cannot have the admin scope (admin reaches every \
             customer's instances and the whole deployment); give it manage or read",
        ));
    }
    let mut rng = rand::rngs::StdRng::from_os_rng();
    // Lowercase letters and digits only, so the id reads well and never needs quoting.
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let id: String = (0..12)
        .map(|_| char::from(ALPHABET[(rng.next_u32() % 32) as usize]))
        .collect();
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let key = ApiKey {
        id: id.clone(),
        name: name.to_string(),
        scope,
        customer_id: customer,
        secret_hash: hash_secret(&secret),
        created_at: Utc::now(),
        revoked_at: None,
    };
    Ok(NewKey {
        key,
        token: SecretString::new(format!("{TOKEN_PREFIX}{id}.{secret}")),
    })
}

/// Hex SHA-256 of a key's secret half.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(byte & 15), 16).unwrap_or('0'));
    }
    out
}

/// Splits `ock_<id>.<secret>`; `None` for anything else.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('.')?;
    let ok = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (ok(id, 64) && ok(secret, 128)).then_some((id, secret))
}

/// Recently read keys, so a busy client does not cost a store read per request. A revoked
/// key stops working within the cache's time to live — or at once, when the revocation's
/// audit event reaches the server ([`crate::revocation`]).
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (ApiKey, Instant)>>,
}

impl KeyCache {
    /// A cache keeping keys for `ttl` (zero: no caching).
    pub fn new(ttl: Duration) -> Self {
        KeyCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a key with this id was read recently (its client is known to hold real keys).
    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// Forgets every key (one was revoked): the next request of each reads the store.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn get(&self, id: &str) -> Option<ApiKey> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(id)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(key, _)| key.clone())
    }

    fn put(&self, key: &ApiKey) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded: a flood of unknown ids never gets here, and real keys are few.
        if entries.len() >= 10_000 {
            entries.clear();
        }
        entries.insert(key.id.clone(), (key.clone(), Instant::now()));
    }
}

/// Checks a bearer token against the stored keys.
pub async fn authenticate(
    keys: &Arc<dyn ApiKeyStore>,
    cache: &KeyCache,
    token: &str,
) -> std::result::Result<Caller, AppError> {
    let invalid = AppError::Unauthenticated("the API key is not valid");
    let (id, secret) = parse_token(token).ok_or(AppError::Unauthenticated(
        "the API key is malformed; it looks like ock_<id>.<secret>",
    ))?;
    let key = match cache.get(id) {
        Some(key) => key,
        None => {
            let Some(key) = keys.get_api_key(id).await? else {
                return Err(invalid);
            };
            cache.put(&key);
            key
        }
    };
    let presented = hash_secret(secret);
    let matches: bool = presented
        .as_bytes()
        .ct_eq(key.secret_hash.as_bytes())
        .into();
    if !matches || key.revoked_at.is_some() {
        return Err(invalid);
    }
    // A customer-bound key stored with the admin scope (made before that was refused)
    // acts with manage at most: it never reaches beyond its customer.
    let scope = match (&key.customer_id, key.scope) {
        (Some(_), Scope::Admin) => Scope::Manage,
        (_, scope) => scope,
    };
    Ok(Caller {
        key_id: key.id,
        name: key.name,
        scope,
        customer: key.customer_id,
    })
}

/// Whether `token` is a JWT (three dot-separated parts) rather than an API key: a Firebase
/// ID token.
fn looks_like_jwt(token: &str) -> bool {
    !token.starts_with("ock_") && token.split('.').count() == 3
}

/// The caller a Firebase ID token stands for: bound to the customer an operator linked the
/// user to (`/v1/customer-links`), else to the customer whose id is the user's uid, with the
/// read scope. Refused when customer sign-in is off.
async fn firebase_caller(state: &AppState, token: &str) -> std::result::Result<Caller, AppError> {
    use crate::firebase::TokenError;
    let Some(verifier) = &state.firebase else {
        return Err(AppError::Unauthenticated(
            "customer sign-in with Firebase is off on this server (no firebase.project_id)",
        ));
    };
    let user = verifier.verify(token).await.map_err(|error| match error {
        TokenError::KeysUnavailable(reason) => AppError::Domain(Error::unavailable(
            "firebase",
            format!("cannot read Firebase's signing keys: {reason}"),
        )),
        TokenError::Expired => {
            AppError::Unauthenticated("the Firebase ID token has expired: sign in again")
        }
        TokenError::WrongAudience | TokenError::WrongIssuer => {
            AppError::Unauthenticated("the Firebase ID token is for another Firebase project")
        }
        _ => AppError::Unauthenticated("the Firebase ID token is not valid"),
    })?;
    let linked = match openclaw_core::domain::validate_uid(&user.uid) {
        Ok(()) => state.keys.get_customer_link(&user.uid).await?,
        Err(_) => None,
    };
    let customer = match linked {
        Some(link) => link.customer_id,
        None => CustomerId::parse(&user.uid).map_err(|_| {
            AppError::Unauthenticated("this Firebase user id cannot name a customer")
        })?,
    };
    Ok(Caller {
        key_id: format!("{FIREBASE_CALLER_PREFIX}{}", user.uid),
        name: format!("{FIREBASE_CALLER_PREFIX}{}", user.uid),
        scope: Scope::Read,
        customer: Some(customer),
    })
}

/// The token of an `Authorization: Bearer <token>` header (either case of `Bearer`), trimmed;
/// `None` when there is none. Every credential the server takes arrives this way: API keys,
/// agent credentials, bootstrap tokens, the metrics token.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Middleware of every authenticated route: reads `Authorization: Bearer`, checks the key,
/// applies its rate limit, and puts the [`Caller`] into the request's extensions.
pub async fn require_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer(request.headers()) else {
        return axum::response::IntoResponse::into_response(AppError::Unauthenticated(
            "send an API key as Authorization: Bearer ock_<id>.<secret>",
        ));
    };
    // The client's address, when the server knows it (it serves with connect info).
    let client = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let cached = parse_token(token).is_some_and(|(id, _)| state.key_cache.contains(id));
    if let Some(client) = client.filter(|_| !cached) {
        if let Err(wait) = state.auth_failures.check(client) {
            state.metrics.api_rate_limited.incr();
            return axum::response::IntoResponse::into_response(AppError::TooManyRequests(wait));
        }
    }
    let signed_in = if looks_like_jwt(token) {
        firebase_caller(&state, token).await
    } else {
        authenticate(&state.keys, &state.key_cache, token).await
    };
    let caller = match signed_in {
        Ok(caller) => caller,
        Err(error) => {
            if let (Some(client), AppError::Unauthenticated(_)) = (client, &error) {
                state.auth_failures.record(client);
            }
            return axum::response::IntoResponse::into_response(error);
        }
    };
    if let Err(wait) = state.api_limits.check(&caller.key_id).await {
        state.metrics.api_rate_limited.incr();
        return axum::response::IntoResponse::into_response(AppError::TooManyRequests(wait));
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_hash() {
        let new = generate("whmcs", Scope::Manage, None).unwrap();
        let token = new.token.expose();
        assert!(token.starts_with("ock_"));
        let (id, secret) = parse_token(token).unwrap();
        assert_eq!(id, new.key.id);
        assert_eq!(id.len(), 12);
        assert_eq!(hash_secret(secret), new.key.secret_hash);
        assert!(!format!("{new:?}").contains(secret));
        assert_ne!(
            generate("a", Scope::Read, None).unwrap().key.id,
            generate("a", Scope::Read, None).unwrap().key.id
        );
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in [
            "",
            "ock_",
            "ock_abc",
            "ock_.x",
            "ock_a.",
            "xyz_a.b",
            "ock_a b.c",
            "ock_a.b.c",
        ] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
        assert!(generate("", Scope::Read, None).is_err());
        assert!(generate("a\nb", Scope::Read, None).is_err());
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
