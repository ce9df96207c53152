//! Configuration of the Cloudflare adapter.

use std::fmt;
use std::time::Duration;

use openclaw_core::domain::DeploymentName;
use openclaw_core::{Error, Result, SecretString};
use serde::{Deserialize, Deserializer};

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";
/// Where the API token comes from when the configuration has none.
pub const TOKEN_ENV: &str = "CLOUDFLARE_API_TOKEN";
/// Zone id for [`CloudflareConfig::from_env`].
pub const ZONE_ID_ENV: &str = "CLOUDFLARE_ZONE_ID";
/// Zone name for [`CloudflareConfig::from_env`].
pub const ZONE_NAME_ENV: &str = "CLOUDFLARE_ZONE_NAME";
/// Base URL override for [`CloudflareConfig::from_env`] (the fake server, a proxy).
pub const BASE_URL_ENV: &str = "CLOUDFLARE_API_BASE_URL";

/// The schema's largest `per_page`.
const MAX_PAGE_SIZE: u32 = 5_000_000;

/// How to reach Cloudflare and which zone to manage.
///
/// Deserializes from a configuration file (durations in seconds, unknown keys refused);
/// `Debug` never shows the token.
///
/// ```
/// use openclaw_cloudflare::CloudflareConfig;
/// use openclaw_core::{domain::DeploymentName, SecretString};
///
/// let config = CloudflareConfig::new(
///     "023e105f4ecef8ad9ca31a8372d0c353",
///     "claw.example.com",
///     DeploymentName::parse("prod-eu").unwrap(),
/// )
/// .with_api_token(SecretString::new("cf-token"));
/// assert!(!format!("{config:?}").contains("cf-token"));
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudflareConfig {
    /// API token (sent as `Authorization: Bearer`). `None`: read `CLOUDFLARE_API_TOKEN`
    /// when the adapter is built. Needs `Zone.DNS: Edit` on the zone.
    #[serde(default)]
    pub api_token: Option<SecretString>,
    /// The zone's id (32 hex digits, on the zone's overview page).
    pub zone_id: String,
    /// The zone's name (`claw.example.com`); names outside it are refused before any call.
    pub zone_name: String,
    /// This deployment: written into every record's ownership mark, and the only owner
    /// whose records `list_owned` returns.
    #[serde(default)]
    pub owner: DeploymentName,
    /// API base URL; default [`DEFAULT_BASE_URL`].
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Forces this TTL on every record written, whatever the engine asks for. `None` (the
    /// default) uses the TTL of the [`RecordSpec`](openclaw_core::ports::RecordSpec).
    #[serde(default)]
    pub ttl: Option<u32>,
    /// Forces proxying on or off for every record written. `None` (the default) uses the
    /// [`RecordSpec`](openclaw_core::ports::RecordSpec).
    #[serde(default)]
    pub proxied: Option<bool>,
    /// Time to open a connection; default 10 s.
    #[serde(default = "default_connect_timeout", deserialize_with = "seconds")]
    pub connect_timeout: Duration,
    /// Time for a whole request, response included; default 30 s.
    #[serde(default = "default_request_timeout", deserialize_with = "seconds")]
    pub request_timeout: Duration,
    /// Records per page when listing; default 100 (the API's default).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_page_size() -> u32 {
    100
}

fn seconds<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    let secs = f64::deserialize(d)?;
    Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
}

impl CloudflareConfig {
    /// A configuration with every default: token from `CLOUDFLARE_API_TOKEN`, the production
    /// API, the spec's TTL and proxying.
    pub fn new(
        zone_id: impl Into<String>,
        zone_name: impl Into<String>,
        owner: DeploymentName,
    ) -> Self {
        CloudflareConfig {
            api_token: None,
            zone_id: zone_id.into(),
            zone_name: zone_name.into(),
            owner,
            base_url: default_base_url(),
            ttl: None,
            proxied: None,
            connect_timeout: default_connect_timeout(),
            request_timeout: default_request_timeout(),
            page_size: default_page_size(),
        }
    }

    /// Everything from the environment: `CLOUDFLARE_API_TOKEN`, `CLOUDFLARE_ZONE_ID`,
    /// `CLOUDFLARE_ZONE_NAME` and, optionally, `CLOUDFLARE_API_BASE_URL`.
    pub fn from_env(owner: DeploymentName) -> Result<Self> {
        Self::from_lookup(owner, |key| std::env::var(key).ok())
    }

    /// [`from_env`](Self::from_env) with the environment given as a function (for tests).
    pub fn from_lookup(
        owner: DeploymentName,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let required = |key: &str| {
            lookup(key)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| Error::invalid(key, "must be set"))
        };
        let mut config = Self::new(required(ZONE_ID_ENV)?, required(ZONE_NAME_ENV)?, owner)
            .with_api_token(SecretString::new(required(TOKEN_ENV)?));
        if let Some(base) = lookup(BASE_URL_ENV).filter(|v| !v.trim().is_empty()) {
            config = config.with_base_url(base);
        }
        config.validate()?;
        Ok(config)
    }

    /// Sets the API token.
    pub fn with_api_token(mut self, token: SecretString) -> Self {
        self.api_token = Some(token);
        self
    }

    /// Sets the API base URL (the fake server's, for tests).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Forces a TTL on every record.
    pub fn with_ttl(mut self, ttl: u32) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Forces proxying on or off on every record.
    pub fn with_proxied(mut self, proxied: bool) -> Self {
        self.proxied = Some(proxied);
        self
    }

    /// Sets the connect and whole-request timeouts.
    pub fn with_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.connect_timeout = connect;
        self.request_timeout = request;
        self
    }

    /// Sets the page size of list calls.
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size;
        self
    }

    /// The token: the configured one, else `CLOUDFLARE_API_TOKEN` as `lookup` reads it.
    pub fn resolve_token(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<SecretString> {
        let token = match &self.api_token {
            Some(token) => token.clone(),
            None => lookup(TOKEN_ENV).map(SecretString::new).ok_or_else(|| {
                Error::invalid(
                    "api_token",
                    format!("not configured and {TOKEN_ENV} is not set"),
                )
            })?,
        };
        let token_ok = !token.is_empty() && token.expose().bytes().all(|b| b.is_ascii_graphic());
        if !token_ok {
            // Never echo the token, not even a bad one.
            return Err(Error::invalid(
                "api_token",
                "must be non-empty printable ASCII without spaces",
            ));
        }
        Ok(token)
    }

    /// The zone name as records carry it: lowercase, without a trailing dot.
    pub fn zone_apex(&self) -> String {
        self.zone_name.trim_end_matches('.').to_ascii_lowercase()
    }

    /// Checks everything but the token; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let id_ok = !self.zone_id.is_empty()
            && self.zone_id.len() <= 32
            && self.zone_id.bytes().all(|b| b.is_ascii_alphanumeric());
        if !id_ok {
            return Err(Error::invalid(
                "zone_id",
                "must be 1-32 letters or digits (Cloudflare's zone id)",
            ));
        }
        let apex = self.zone_apex();
        let name_ok = !apex.is_empty()
            && apex.len() <= 253
            && apex
                .split('.')
                .all(|label| !label.is_empty() && label.len() <= 63)
            && apex
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !name_ok {
            return Err(Error::invalid(
                "zone_name",
                "must be a DNS name such as example.com",
            ));
        }
        if !(self.base_url.starts_with("https://") || self.base_url.starts_with("http://")) {
            return Err(Error::invalid(
                "base_url",
                "must be an http:// or https:// URL",
            ));
        }
        if let Some(ttl) = self.ttl {
            check_ttl(ttl).map_err(|m| Error::invalid("ttl", m))?;
        }
        if self.connect_timeout.is_zero() || self.request_timeout.is_zero() {
            return Err(Error::invalid("timeout", "must be more than zero"));
        }
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(Error::invalid(
                "page_size",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        Ok(())
    }
}

/// TTLs the schema accepts: 1 (automatic) or 30–86400 seconds. (The live API wants at least
/// 60 outside Enterprise zones and says so itself.)
pub(crate) fn check_ttl(ttl: u32) -> std::result::Result<(), String> {
    if ttl == 1 || (30..=86_400).contains(&ttl) {
        Ok(())
    } else {
        Err(format!("{ttl} is not 1 (automatic) or 30-86400 seconds"))
    }
}

impl fmt::Debug for CloudflareConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = match &self.api_token {
            Some(_) => "[redacted]",
            None => "<from CLOUDFLARE_API_TOKEN>",
        };
        f.debug_struct("CloudflareConfig")
            .field("api_token", &token)
            .field("zone_id", &self.zone_id)
            .field("zone_name", &self.zone_name)
            .field("owner", &self.owner)
            .field("base_url", &self.base_url)
            .field("ttl", &self.ttl)
            .field("proxied", &self.proxied)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("page_size", &self.page_size)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> DeploymentName {
        DeploymentName::parse("prod").unwrap()
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = CloudflareConfig::new("abc123", "claw.example.com", owner())
            .with_api_token(SecretString::new("very-secret-token"));
        let shown = format!("{c:?} {c:#?}");
        assert!(!shown.contains("very-secret-token"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn token_from_config_or_environment() {
        let c = CloudflareConfig::new("abc123", "claw.example.com", owner());
        let env = |k: &str| (k == TOKEN_ENV).then(|| "from-env".to_string());
        assert_eq!(c.resolve_token(env).unwrap().expose(), "from-env");
        let err = c.resolve_token(|_| None).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "api_token"));
        let c = c.with_api_token(SecretString::new("from-config"));
        assert_eq!(c.resolve_token(env).unwrap().expose(), "from-config");
        let bad = c.with_api_token(SecretString::new("has space"));
        let err = bad.resolve_token(|_| None).unwrap_err();
        assert!(!err.to_string().contains("has space"));
    }

    #[test]
    fn deserializes_with_defaults_and_refuses_unknown_keys() {
        let c: CloudflareConfig = serde_json::from_str(
            r#"{"zone_id":"023e105f4ecef8ad9ca31a8372d0c353","zone_name":"Claw.Example.com.",
                "owner":"prod-eu","request_timeout":2.5}"#,
        )
        .unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.request_timeout, Duration::from_millis(2500));
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.zone_apex(), "claw.example.com");
        assert_eq!(c.page_size, 100);
        c.validate().unwrap();
        assert!(serde_json::from_str::<CloudflareConfig>(
            r#"{"zone_id":"a","zone_name":"b.c","zoneid":"typo"}"#
        )
        .is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let field = |c: CloudflareConfig| match c.validate() {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let base = CloudflareConfig::new("abc123", "claw.example.com", owner());
        assert_eq!(
            field(CloudflareConfig {
                zone_id: "../x".into(),
                ..base.clone()
            }),
            "zone_id"
        );
        assert_eq!(
            field(CloudflareConfig {
                zone_name: "a..b".into(),
                ..base.clone()
            }),
            "zone_name"
        );
        assert_eq!(field(base.clone().with_base_url("ftp://x")), "base_url");
        assert_eq!(field(base.clone().with_ttl(20)), "ttl");
        assert_eq!(field(base.clone().with_page_size(0)), "page_size");
        assert_eq!(
            field(base.with_timeouts(Duration::ZERO, Duration::from_secs(1))),
            "timeout"
        );
    }

    #[test]
    fn from_lookup_reads_every_variable() {
        let env = |k: &str| match k {
            TOKEN_ENV => Some("t0ken".to_string()),
            ZONE_ID_ENV => Some("abc123".to_string()),
            ZONE_NAME_ENV => Some("claw.example.com".to_string()),
            BASE_URL_ENV => Some("http://127.0.0.1:9/client/v4".to_string()),
            _ => None,
        };
        let c = CloudflareConfig::from_lookup(owner(), env).unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:9/client/v4");
        assert_eq!(c.api_token.unwrap().expose(), "t0ken");
        let missing = CloudflareConfig::from_lookup(owner(), |_| None).unwrap_err();
        assert!(matches!(missing, Error::InvalidInput { ref field, .. } if field == ZONE_ID_ENV));
    }
}
