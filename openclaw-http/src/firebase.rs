//! Firebase Auth for customers: verifying the ID tokens Firebase gives a signed-in user.
//!
//! A Firebase ID token is a JWT signed by Google with RS256. It is accepted when (Firebase's
//! documented checks): the header's `alg` is `RS256` and its `kid` is one of Google's
//! published keys; the signature verifies with that key; `aud` is the project id; `iss` is
//! `https://securetoken.google.com/<project id>`; `exp` is in the future, `iat` and
//! `auth_time` are not (each with a small leeway for clock skew); `sub` (the user's uid) is
//! not empty. Nothing else is trusted: a token that fails any check is refused with the
//! check's stable code.
//!
//! Google's keys are fetched from [`GOOGLE_KEYS_URL`] (a JWK set; the URL is configurable
//! for tests), kept for as long as the answer's `Cache-Control: max-age` says, and fetched
//! again once when a token names a key that is not among them (Google rotates its keys).

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use serde::Deserialize;
use tokio::sync::Mutex;

/// Where Google publishes the keys that sign Firebase ID tokens, as a JWK set.
pub const GOOGLE_KEYS_URL: &str =
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com";

/// How far `exp`, `iat` and `auth_time` may be off, for clocks that disagree a little.
pub const LEEWAY: Duration = Duration::from_secs(60);

/// How long keys are kept when Google's answer says nothing about it.
const DEFAULT_KEYS_TTL: Duration = Duration::from_secs(60 * 60);

/// The least time between two fetches of the keys: a token naming a key that was not there
/// a moment ago is refused without asking Google again, so made-up `kid`s cannot make this
/// server hammer Google's endpoint.
pub const MIN_REFETCH: Duration = Duration::from_secs(30);

/// Why a token was refused. Every variant but [`TokenError::KeysUnavailable`] means the
/// token is not good (401); that one means Google's keys could not be read (503, retry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// The header names no key.
    #[error("the token's header has no kid")]
    MissingKid,
    /// Not RS256 (`none`, `HS256`, …).
    #[error("the token is signed with {0}, not RS256")]
    UnsupportedAlgorithm(String),
    /// The key it names is not among Google's, even after fetching them again.
    #[error("the token names a key Google does not publish")]
    UnknownKid,
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `aud` is not this project.
    #[error("the token is for another Firebase project")]
    WrongAudience,
    /// `iss` is not this project's issuer.
    #[error("the token was not issued for this Firebase project")]
    WrongIssuer,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `iat` is in the future.
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// `auth_time` is in the future.
    #[error("the token's sign-in time is in the future")]
    AuthTimeInFuture,
    /// `sub` is empty (or longer than Firebase's 128 characters).
    #[error("the token names no user")]
    EmptySubject,
    /// Google's keys could not be fetched or read.
    #[error("Firebase's signing keys are unavailable: {0}")]
    KeysUnavailable(String),
}

impl TokenError {
    /// The stable code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed",
            TokenError::MissingKid => "missing_kid",
            TokenError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            TokenError::UnknownKid => "unknown_kid",
            TokenError::BadSignature => "bad_signature",
            TokenError::WrongAudience => "wrong_audience",
            TokenError::WrongIssuer => "wrong_issuer",
            TokenError::Expired => "expired",
            TokenError::IssuedInFuture => "issued_in_future",
            TokenError::AuthTimeInFuture => "auth_time_in_future",
            TokenError::EmptySubject => "empty_subject",
            TokenError::KeysUnavailable(_) => "keys_unavailable",
        }
    }
}

/// What a verified token says about its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirebaseUser {
    /// The Firebase uid (`sub`).
    pub uid: String,
    /// The user's e-mail address, when the token carries one.
    pub email: Option<String>,
    /// When the token stops being valid (seconds since the epoch).
    pub expires_at: u64,
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    aud: Option<String>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    exp: u64,
    iat: u64,
    #[serde(default)]
    auth_time: Option<u64>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Debug, Deserialize)]
struct Jwk {
    kid: String,
    #[serde(default)]
    kty: Option<String>,
    n: String,
    e: String,
}

/// Google's keys as last fetched.
#[derive(Debug, Default)]
struct KeySet {
    keys: HashMap<String, RsaPublicKeyComponents<Vec<u8>>>,
    fetched: Option<SystemTime>,
    ttl: Duration,
}

impl KeySet {
    fn fresh(&self, now: SystemTime) -> bool {
        self.fetched
            .is_some_and(|at| now.duration_since(at).unwrap_or_default() < self.ttl)
    }
}

/// Verifies Firebase ID tokens of one project.
#[derive(Debug)]
pub struct FirebaseVerifier {
    project_id: String,
    issuer: String,
    keys_url: String,
    http: reqwest::Client,
    keys: Mutex<KeySet>,
}

impl FirebaseVerifier {
    /// A verifier for `project_id`, reading Google's keys from `keys_url`.
    pub fn new(project_id: &str, keys_url: &str) -> Self {
        FirebaseVerifier {
            project_id: project_id.to_string(),
            issuer: format!("https://securetoken.google.com/{project_id}"),
            keys_url: keys_url.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            keys: Mutex::new(KeySet::default()),
        }
    }

    /// The project whose tokens this verifier accepts.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// Checks `token` at the current time.
    pub async fn verify(&self, token: &str) -> Result<FirebaseUser, TokenError> {
        self.verify_at(token, SystemTime::now()).await
    }

    /// Checks `token` as of `now`.
    pub async fn verify_at(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<FirebaseUser, TokenError> {
        let mut parts = token.trim().split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_json(header)?;
        if header.alg != "RS256" {
            return Err(TokenError::UnsupportedAlgorithm(header.alg));
        }
        let kid = header
            .kid
            .filter(|k| !k.is_empty())
            .ok_or(TokenError::MissingKid)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let key = self.key(&kid, now).await?;
        let signed = &token.trim()[..header_and_payload_len(token.trim())];
        key.verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = decode_json(payload)?;
        if claims.aud.as_deref() != Some(self.project_id.as_str()) {
            return Err(TokenError::WrongAudience);
        }
        if claims.iss.as_deref() != Some(self.issuer.as_str()) {
            return Err(TokenError::WrongIssuer);
        }
        let now_secs = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let leeway = LEEWAY.as_secs();
        if claims.exp.saturating_add(leeway) <= now_secs {
            return Err(TokenError::Expired);
        }
        if claims.iat > now_secs + leeway {
            return Err(TokenError::IssuedInFuture);
        }
        if claims.auth_time.is_some_and(|t| t > now_secs + leeway) {
            return Err(TokenError::AuthTimeInFuture);
        }
        let uid = claims
            .sub
            .filter(|s| !s.is_empty() && s.len() <= 128)
            .ok_or(TokenError::EmptySubject)?;
        Ok(FirebaseUser {
            uid,
            email: claims.email,
            expires_at: claims.exp,
        })
    }

    /// The key `kid`: from the cached set while it is fresh and has it, else from a fetch
    /// (one per unknown `kid`: Google may just have rotated).
    async fn key(
        &self,
        kid: &str,
        now: SystemTime,
    ) -> Result<RsaPublicKeyComponents<Vec<u8>>, TokenError> {
        let mut keys = self.keys.lock().await;
        if keys.fresh(now) {
            if let Some(key) = keys.keys.get(kid) {
                return Ok(key.clone());
            }
            let since = keys
                .fetched
                .and_then(|at| now.duration_since(at).ok())
                .unwrap_or_default();
            if since < MIN_REFETCH {
                return Err(TokenError::UnknownKid);
            }
        }
        *keys = self.fetch(now).await?;
        keys.keys.get(kid).cloned().ok_or(TokenError::UnknownKid)
    }

    async fn fetch(&self, now: SystemTime) -> Result<KeySet, TokenError> {
        let unavailable = |e: String| TokenError::KeysUnavailable(e);
        let response = self
            .http
            .get(&self.keys_url)
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("HTTP {}", response.status())));
        }
        let ttl = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(DEFAULT_KEYS_TTL);
        let set: JwkSet = response
            .json()
            .await
            .map_err(|e| unavailable(format!("not a JWK set: {}", e.without_url())))?;
        let mut keys = HashMap::new();
        for jwk in set.keys {
            if jwk.kty.as_deref().is_some_and(|k| k != "RSA") {
                continue;
            }
            let (Ok(n), Ok(e)) = (
                URL_SAFE_NO_PAD.decode(&jwk.n),
                URL_SAFE_NO_PAD.decode(&jwk.e),
            ) else {
                continue;
            };
            keys.insert(jwk.kid, RsaPublicKeyComponents { n, e });
        }
        tracing::debug!(
            keys = keys.len(),
            ttl_secs = ttl.as_secs(),
            "Firebase signing keys fetched"
        );
        Ok(KeySet {
            keys,
            fetched: Some(now),
            ttl,
        })
    }
}

/// The length of `header.payload` in a token (what the signature covers).
fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// `max-age` of a `Cache-Control` value.
fn max_age(value: &str) -> Option<Duration> {
    value.split(',').find_map(|directive| {
        let (name, seconds) = directive.trim().split_once('=')?;
        if name.trim().eq_ignore_ascii_case("max-age") {
            seconds.trim().parse().ok().map(Duration::from_secs)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=19845, must-revalidate, no-transform"),
            Some(Duration::from_secs(19845))
        );
        assert_eq!(max_age("no-cache"), None);
        assert_eq!(max_age("max-age=abc"), None);
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(TokenError::UnknownKid.code(), "unknown_kid");
        assert_eq!(
            TokenError::UnsupportedAlgorithm("none".into()).code(),
            "unsupported_algorithm"
        );
    }
}
