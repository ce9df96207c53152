//! How the adapter reaches Hetzner: endpoint, token, owner and timings.

use std::fmt;
use std::time::Duration;

use openclaw_core::domain::DeploymentName;
use openclaw_core::{Error, Result, SecretString};

/// Hetzner Cloud's public API.
pub const DEFAULT_ENDPOINT: &str = "https://api.hetzner.cloud/v1";

/// Environment variable for the API token (the name Hetzner's own CLI and libraries read).
pub const ENV_TOKEN: &str = "HCLOUD_TOKEN";

/// Environment variable for the API base URL (the name Hetzner's own CLI and libraries read).
pub const ENV_ENDPOINT: &str = "HCLOUD_ENDPOINT";

/// Everything the adapter needs to talk to Hetzner Cloud for one deployment.
///
/// `Debug` leaves the token out, so a config can be logged whole.
///
/// ```
/// use openclaw_core::domain::DeploymentName;
/// use openclaw_core::SecretString;
/// use openclaw_hetzner::HetznerConfig;
///
/// let config = HetznerConfig::new(SecretString::new("secret-token"), DeploymentName::default())
///     .with_endpoint("http://127.0.0.1:8080/v1");
/// assert!(!format!("{config:?}").contains("secret-token"));
/// ```
#[derive(Clone)]
pub struct HetznerConfig {
    /// The project's API token (read and write).
    pub token: SecretString,
    /// Base URL of the API, without a trailing slash (default [`DEFAULT_ENDPOINT`]).
    pub endpoint: String,
    /// The deployment whose servers this adapter creates and sees.
    pub owner: DeploymentName,
    /// Longest wait for a TCP/TLS connection (default 10 s).
    pub connect_timeout: Duration,
    /// Longest wait for a whole request, response included (default 30 s). A create that
    /// runs into it is ambiguous.
    pub request_timeout: Duration,
    /// Time between two polls of pending actions (default 1 s). All pending actions of all
    /// callers share one poll.
    pub poll_interval: Duration,
    /// Longest wait for one action (a power on or off) to finish (default 5 min).
    pub action_timeout: Duration,
}

impl HetznerConfig {
    /// A config for `owner` with `token` and every default.
    pub fn new(token: SecretString, owner: DeploymentName) -> Self {
        HetznerConfig {
            token,
            endpoint: DEFAULT_ENDPOINT.to_string(),
            owner,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            action_timeout: Duration::from_secs(5 * 60),
        }
    }

    /// A config for `owner` from the environment: the token from `HCLOUD_TOKEN` (required),
    /// the endpoint from `HCLOUD_ENDPOINT` (optional).
    pub fn from_env(owner: DeploymentName) -> Result<Self> {
        Self::from_lookup(owner, |name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`, so tests need
    /// not change the process environment.
    pub fn from_lookup(
        owner: DeploymentName,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let token = lookup(ENV_TOKEN)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| Error::invalid(ENV_TOKEN, "is not set"))?;
        let mut config = Self::new(SecretString::new(token.trim()), owner);
        if let Some(endpoint) = lookup(ENV_ENDPOINT).filter(|e| !e.trim().is_empty()) {
            config = config.with_endpoint(endpoint.trim());
        }
        Ok(config)
    }

    /// The same config with another base URL (a trailing `/` is dropped).
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into().trim_end_matches('/').to_string();
        self
    }

    /// The same config with other connect and request timeouts.
    #[must_use]
    pub fn with_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.connect_timeout = connect;
        self.request_timeout = request;
        self
    }

    /// The same config with another action poll interval.
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The same config with another action timeout.
    #[must_use]
    pub fn with_action_timeout(mut self, timeout: Duration) -> Self {
        self.action_timeout = timeout;
        self
    }

    /// Checks what cannot work: an empty token, an endpoint that is not http(s), zero
    /// timings. The error names the field.
    pub fn validate(&self) -> Result<()> {
        if self.token.is_empty() {
            return Err(Error::invalid("token", "must not be empty"));
        }
        if !(self.endpoint.starts_with("https://") || self.endpoint.starts_with("http://")) {
            return Err(Error::invalid(
                "endpoint",
                "must be an http:// or https:// URL",
            ));
        }
        for (field, value) in [
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
            ("poll_interval", self.poll_interval),
            ("action_timeout", self.action_timeout),
        ] {
            if value.is_zero() {
                return Err(Error::invalid(field, "must be above zero"));
            }
        }
        Ok(())
    }
}

impl fmt::Debug for HetznerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HetznerConfig")
            .field("token", &"[redacted]")
            .field("endpoint", &self.endpoint)
            .field("owner", &self.owner)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("poll_interval", &self.poll_interval)
            .field("action_timeout", &self.action_timeout)
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
    fn reads_hetzners_own_variables() {
        let config = HetznerConfig::from_lookup(owner(), |name| match name {
            ENV_TOKEN => Some(" tok-123 ".into()),
            ENV_ENDPOINT => Some("http://127.0.0.1:9/v1/".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.token.expose(), "tok-123");
        assert_eq!(config.endpoint, "http://127.0.0.1:9/v1");
        config.validate().unwrap();
    }

    #[test]
    fn missing_token_names_the_variable() {
        let err = HetznerConfig::from_lookup(owner(), |_| None).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == ENV_TOKEN));
        let defaulted =
            HetznerConfig::from_lookup(owner(), |n| (n == ENV_TOKEN).then(|| "t".into())).unwrap();
        assert_eq!(defaulted.endpoint, DEFAULT_ENDPOINT);
    }

    #[test]
    fn debug_hides_the_token() {
        let config = HetznerConfig::new(SecretString::new("hunter2-token"), owner());
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("api.hetzner.cloud"));
    }

    #[test]
    fn validation_names_the_field() {
        let bad = HetznerConfig::new(SecretString::new("t"), owner()).with_endpoint("ftp://x");
        assert!(
            matches!(bad.validate(), Err(Error::InvalidInput { ref field, .. }) if field == "endpoint")
        );
        let zero =
            HetznerConfig::new(SecretString::new("t"), owner()).with_poll_interval(Duration::ZERO);
        assert!(
            matches!(zero.validate(), Err(Error::InvalidInput { ref field, .. }) if field == "poll_interval")
        );
    }
}
