//! The binary's configuration: a TOML file (`--config`, `OPENCLAW_CONFIG`, or
//! `./openclaw.toml` when it exists), then `OPENCLAW_*` environment variables on top.
//!
//! Every secret is a [`Secret`], whose `Debug` and `Serialize` print `[redacted]`, so the
//! whole configuration can be logged or printed by `openclaw config check` as it is.
//! Validation errors name the field (`hetzner.token`, `engine.workers.heartbeat`, …).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use openclaw_core::{EngineConfig, Error, Result, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rate_limit::RateLimitConfig;

/// The file read when no `--config` is given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "openclaw.toml";
/// The database of any configuration that names none: SQLite beside the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://openclaw.db";
/// Where generated keys are kept (mode 0600).
pub const DEFAULT_SECRETS_FILE: &str = "openclaw.secrets";
/// The control plane URL cloud-init gets when none is configured: it never resolves.
pub(crate) const PLACEHOLDER_CONTROL_PLANE: &str = "https://openclaw.invalid";

/// A secret from the configuration. `Debug` and `Serialize` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub SecretString);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::new(value))
    }

    /// The value, for where it must leave the process.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// A database URL. `Debug` and `Serialize` replace its password with `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    /// The URL itself, password included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL with its password hidden.
    pub fn redacted(&self) -> String {
        if self.0.contains("://") && !self.0.starts_with("sqlite:") {
            openclaw_store_postgres::redact_url(&self.0)
        } else {
            self.0.clone()
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d).map(DatabaseUrl)
    }
}

/// Durations as seconds (fractions allowed), as in the engine's own configuration.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// Which providers the server talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Live when a Hetzner token is configured, else sandbox.
    #[default]
    Auto,
    /// Fake Hetzner and Cloudflare (in process, or at configured endpoints) and fake machines
    /// answering health: no credentials, nothing real is created.
    Sandbox,
    /// Real providers and the HTTPS health probe.
    Live,
}

/// The HTTP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest request body in bytes (default 64 KiB).
    pub body_limit: usize,
    /// Longest a request may take until its response starts, in seconds (default 30).
    /// Event streams run on after that.
    #[serde(with = "secs")]
    pub request_timeout: Duration,
    /// Longest a graceful shutdown waits for requests and jobs, in seconds (default 30).
    #[serde(with = "secs")]
    pub shutdown_timeout: Duration,
    /// How long a checked API key is trusted without reading the store again, in seconds
    /// (default 5): a revoked key stops working within this.
    #[serde(with = "secs")]
    pub key_cache_ttl: Duration,
    /// Requests per API key (default burst 100, 20 per second).
    pub rate_limit: RateLimitConfig,
    /// Event streams (SSE and WebSocket) one API key may hold open at once (default 10).
    pub max_streams_per_key: usize,
    /// Failed authentications per client address (default burst 20, 1 per second); past
    /// them the client is answered 429 before its token is looked up.
    pub failed_auth_rate_limit: RateLimitConfig,
    /// The bearer token `/metrics` asks for (`Authorization: Bearer <token>`); required in
    /// live mode, open in the sandbox when unset. Secret. `OPENCLAW_METRICS_TOKEN`.
    pub metrics_token: Option<Secret>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
            key_cache_ttl: Duration::from_secs(5),
            rate_limit: RateLimitConfig {
                burst: 100,
                per_second: 20.0,
            },
            max_streams_per_key: 10,
            failed_auth_rate_limit: RateLimitConfig {
                burst: 20,
                per_second: 1.0,
            },
            metrics_token: None,
        }
    }
}

/// Hetzner Cloud.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HetznerConfig {
    /// API token (read and write). `OPENCLAW_HETZNER_TOKEN` or `HCLOUD_TOKEN`.
    pub token: Option<Secret>,
    /// API base URL (default Hetzner's; in the sandbox, a fake started in process unless
    /// this names one).
    pub endpoint: Option<String>,
    /// Longest wait for one request, in seconds (default 30).
    #[serde(with = "secs")]
    pub request_timeout: Duration,
    /// Time between polls of pending power actions, in seconds (default 1).
    #[serde(with = "secs")]
    pub poll_interval: Duration,
    /// openclaw's own limit on requests (default Hetzner's: 3600, one per second).
    pub rate_limit: RateLimitConfig,
}

impl Default for HetznerConfig {
    fn default() -> Self {
        HetznerConfig {
            token: None,
            endpoint: None,
            request_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            rate_limit: RateLimitConfig {
                burst: 3600,
                per_second: 1.0,
            },
        }
    }
}

/// Cloudflare DNS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudflareConfig {
    /// API token with Zone → DNS → Edit. `OPENCLAW_CLOUDFLARE_API_TOKEN` or
    /// `CLOUDFLARE_API_TOKEN`.
    pub api_token: Option<Secret>,
    /// The zone's id (its name is `engine.zone`). `OPENCLAW_CLOUDFLARE_ZONE_ID` or
    /// `CLOUDFLARE_ZONE_ID`.
    pub zone_id: Option<String>,
    /// API base URL (default Cloudflare's; in the sandbox, a fake started in process unless
    /// this names one).
    pub base_url: Option<String>,
    /// Longest wait for one request, in seconds (default 30).
    #[serde(with = "secs")]
    pub request_timeout: Duration,
    /// openclaw's own limit on requests (default 100 at once, 3.5 per second: under
    /// Cloudflare's 1200 per 5 minutes).
    pub rate_limit: RateLimitConfig,
}

impl Default for CloudflareConfig {
    fn default() -> Self {
        CloudflareConfig {
            api_token: None,
            zone_id: None,
            base_url: None,
            request_timeout: Duration::from_secs(30),
            rate_limit: RateLimitConfig {
                burst: 100,
                per_second: 3.5,
            },
        }
    }
}

/// The health probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    /// Longest one check may take, in seconds (default 5).
    #[serde(with = "secs")]
    pub timeout: Duration,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            timeout: Duration::from_secs(5),
        }
    }
}

/// The fakes the sandbox starts in process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Time a fake machine takes to boot, in seconds (default 0.5; 0 allowed).
    #[serde(with = "secs")]
    pub boot_delay: Duration,
    /// Time a fake power action takes, in seconds (default 0.05).
    #[serde(with = "secs")]
    pub action_delay: Duration,
    /// Wait between a fake machine's bootstrap attempts, in seconds (default 1).
    #[serde(with = "secs")]
    pub bootstrap_retry_delay: Duration,
    /// Replaces `engine.health.interval` in the sandbox, in seconds (default 0.25): fake
    /// machines boot in a moment, and a new user should not wait 5 s per check.
    #[serde(with = "secs")]
    pub health_interval: Duration,
    /// Whether the fake machines run the instance agent's protocol themselves (default
    /// true). Off, an instance's agent is whatever connects with its credential — the real
    /// agent script, in the real-gateway test.
    pub fake_agents: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            boot_delay: Duration::from_millis(500),
            action_delay: Duration::from_millis(50),
            bootstrap_retry_delay: Duration::from_secs(1),
            health_interval: Duration::from_millis(250),
            fake_agents: true,
        }
    }
}

/// Everything the binary reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `auto` (default), `sandbox` or `live`. `OPENCLAW_MODE`.
    pub mode: Mode,
    /// Address to listen on (default `127.0.0.1:8080`). `OPENCLAW_LISTEN`.
    pub listen: String,
    /// `sqlite://PATH` (default `sqlite://openclaw.db`), `postgres://…` or `memory`.
    /// `OPENCLAW_DATABASE_URL`. Migrations run when the server starts.
    pub database_url: DatabaseUrl,
    /// PostgreSQL only: the schema the tables live in (created if missing; default the
    /// server's `search_path`). `OPENCLAW_DATABASE_SCHEMA`.
    pub database_schema: Option<String>,
    /// PostgreSQL only: connections in the pool (default 10).
    pub database_max_connections: Option<u32>,
    /// File where generated keys are kept, mode 0600 (default `openclaw.secrets`).
    /// `OPENCLAW_SECRETS_FILE`.
    pub secrets_file: PathBuf,
    /// Key of the single-use bootstrap tokens (32 bytes, base64url). Generated into the
    /// secrets file when not given. `OPENCLAW_BOOTSTRAP_KEY`.
    pub bootstrap_key: Option<Secret>,
    /// Key instance secrets are sealed with (32 bytes, base64). Generated into the secrets
    /// file when not given. `OPENCLAW_SECRETS_KEY`.
    pub secrets_key: Option<Secret>,
    /// Sealing keys that came before `secrets_key`: they still open what they sealed, seal
    /// nothing new. Keep one here after changing `secrets_key`, run
    /// `openclaw keys rotate-secrets`, then remove it. `OPENCLAW_RETIRED_SECRETS_KEYS`
    /// (comma-separated).
    pub retired_secrets_keys: Vec<Secret>,
    /// Redis, for several replicas: when set, the providers' rate limits are one budget in
    /// Redis shared by every replica of the deployment (`RedisRateLimiter`). Secret (it may
    /// carry a password). `OPENCLAW_REDIS_URL`.
    pub redis_url: Option<Secret>,
    /// How many replicas share the providers' budgets: while Redis does not answer, each
    /// takes `1/redis_replicas` of them (default 1).
    pub redis_replicas: u32,
    /// The HTTP server.
    pub http: HttpConfig,
    /// Hetzner Cloud.
    pub hetzner: HetznerConfig,
    /// Cloudflare.
    pub cloudflare: CloudflareConfig,
    /// The health probe.
    pub health: ProbeConfig,
    /// The sandbox's fakes.
    pub sandbox: SandboxConfig,
    /// Where the instances' backups are kept (what is kept: `engine.backups`).
    pub backup_store: crate::backup_store::BackupStoreConfig,
    /// The engine: `deployment`, `zone`, `catalog`, `cloud_init` (its `control_plane_url`
    /// is this server's public URL), `workers`, `health`, `rollback`, …
    pub engine: EngineConfig,
    /// Customer sign-in with Firebase Auth (off without a project id).
    pub firebase: FirebaseConfig,
}

/// Customer sign-in with Firebase Auth: a Firebase ID token of this project, sent as
/// `Authorization: Bearer <token>`, acts as a key bound to the customer whose id is the
/// user's uid, with the read scope (its own instances, their events, the access link).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FirebaseConfig {
    /// The Firebase project whose ID tokens are accepted; unset (the default), customer
    /// sign-in is off. `OPENCLAW_FIREBASE_PROJECT_ID`.
    pub project_id: Option<String>,
    /// Where Google's signing keys are read, a JWK set (default Google's; another only for
    /// tests). `OPENCLAW_FIREBASE_KEYS_URL`.
    pub keys_url: String,
    /// The project's Web API key, which the dashboard's sign-in form sends to Firebase Auth
    /// (public by Firebase's design: it names the project, it grants nothing). Without it
    /// the dashboard cannot sign customers in, though the API still takes their ID tokens.
    /// `OPENCLAW_FIREBASE_API_KEY`.
    pub api_key: Option<String>,
    /// Where the dashboard signs customers in with email and password: Firebase Auth's
    /// Identity Toolkit (default `https://identitytoolkit.googleapis.com`; the Auth emulator
    /// or a test server otherwise). `OPENCLAW_FIREBASE_AUTH_URL`.
    pub auth_url: String,
}

/// Firebase Auth's sign-in service.
pub const FIREBASE_AUTH_URL: &str = "https://identitytoolkit.googleapis.com";

impl Default for FirebaseConfig {
    fn default() -> Self {
        FirebaseConfig {
            project_id: None,
            keys_url: crate::firebase::GOOGLE_KEYS_URL.to_string(),
            api_key: None,
            auth_url: FIREBASE_AUTH_URL.to_string(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Auto,
            listen: "127.0.0.1:8080".to_string(),
            database_url: DatabaseUrl(DEFAULT_DATABASE_URL.to_string()),
            database_schema: None,
            database_max_connections: None,
            secrets_file: PathBuf::from(DEFAULT_SECRETS_FILE),
            bootstrap_key: None,
            secrets_key: None,
            retired_secrets_keys: Vec::new(),
            redis_url: None,
            redis_replicas: 1,
            http: HttpConfig::default(),
            hetzner: HetznerConfig::default(),
            cloudflare: CloudflareConfig::default(),
            health: ProbeConfig::default(),
            sandbox: SandboxConfig::default(),
            backup_store: crate::backup_store::BackupStoreConfig::default(),
            engine: EngineConfig::default(),
            firebase: FirebaseConfig::default(),
        }
    }
}

/// Each environment variable and the setting it overrides (the first name wins).
pub const ENV_VARS: &[(&[&str], &str)] = &[
    (&["OPENCLAW_MODE"], "mode"),
    (&["OPENCLAW_LISTEN"], "listen"),
    (&["OPENCLAW_DATABASE_URL"], "database_url"),
    (&["OPENCLAW_DATABASE_SCHEMA"], "database_schema"),
    (&["OPENCLAW_SECRETS_FILE"], "secrets_file"),
    (&["OPENCLAW_BOOTSTRAP_KEY"], "bootstrap_key"),
    (&["OPENCLAW_SECRETS_KEY"], "secrets_key"),
    (&["OPENCLAW_RETIRED_SECRETS_KEYS"], "retired_secrets_keys"),
    (&["OPENCLAW_REDIS_URL"], "redis_url"),
    (&["OPENCLAW_FIREBASE_PROJECT_ID"], "firebase.project_id"),
    (&["OPENCLAW_FIREBASE_KEYS_URL"], "firebase.keys_url"),
    (&["OPENCLAW_FIREBASE_API_KEY"], "firebase.api_key"),
    (&["OPENCLAW_FIREBASE_AUTH_URL"], "firebase.auth_url"),
    (&["OPENCLAW_HETZNER_TOKEN", "HCLOUD_TOKEN"], "hetzner.token"),
    (
        &["OPENCLAW_HETZNER_ENDPOINT", "HCLOUD_ENDPOINT"],
        "hetzner.endpoint",
    ),
    (
        &["OPENCLAW_CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_TOKEN"],
        "cloudflare.api_token",
    ),
    (
        &["OPENCLAW_CLOUDFLARE_ZONE_ID", "CLOUDFLARE_ZONE_ID"],
        "cloudflare.zone_id",
    ),
    (
        &["OPENCLAW_CLOUDFLARE_BASE_URL", "CLOUDFLARE_API_BASE_URL"],
        "cloudflare.base_url",
    ),
    (&["OPENCLAW_METRICS_TOKEN"], "http.metrics_token"),
    (&["OPENCLAW_BACKUP_STORE_URL"], "backup_store.url"),
    (&["AWS_REGION"], "backup_store.region"),
    (&["AWS_ENDPOINT_URL"], "backup_store.endpoint"),
    (&["AWS_ACCESS_KEY_ID"], "backup_store.access_key_id"),
    (&["AWS_SECRET_ACCESS_KEY"], "backup_store.secret_access_key"),
    (&["OPENCLAW_ZONE"], "engine.zone"),
    (&["OPENCLAW_DEPLOYMENT"], "engine.deployment"),
    (
        &["OPENCLAW_CONTROL_PLANE_URL"],
        "engine.cloud_init.control_plane_url",
    ),
];

impl Config {
    /// Reads `path` (or `./openclaw.toml` if it exists when `path` is `None`), then applies
    /// the environment through `lookup`. Does not validate: see [`Config::resolve`].
    pub fn load(path: Option<&Path>, lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut config = match path {
            Some(path) => Self::from_file(path)?,
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                Self::from_file(Path::new(DEFAULT_CONFIG_FILE))?
            }
            None => Config::default(),
        };
        config.apply_env(lookup)?;
        Ok(config)
    }

    /// Parses one TOML file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid("config", format!("cannot read {}: {e}", path.display()))
        })?;
        Self::from_toml(&text)
            .map_err(|e| Error::invalid("config", format!("{}: {e}", path.display())))
    }

    /// Parses TOML text; the error names the key and line.
    pub fn from_toml(text: &str) -> std::result::Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().to_string())
    }

    /// The configuration as TOML, every secret `[redacted]`.
    pub fn to_redacted_toml(&self) -> Result<String> {
        toml::to_string_pretty(self)
            .map_err(|e| Error::internal(format!("printing the configuration: {e}")))
    }

    /// Applies `OPENCLAW_*` (and the providers' own) variables; see [`ENV_VARS`].
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<()> {
        for (names, setting) in ENV_VARS {
            let Some((name, value)) = names
                .iter()
                .find_map(|n| lookup(n).filter(|v| !v.trim().is_empty()).map(|v| (*n, v)))
            else {
                continue;
            };
            let value = value.trim().to_string();
            let bad = |message: &str| Error::invalid(name, message.to_string());
            match *setting {
                "mode" => {
                    self.mode = match value.as_str() {
                        "auto" => Mode::Auto,
                        "sandbox" => Mode::Sandbox,
                        "live" => Mode::Live,
                        _ => return Err(bad("must be auto, sandbox or live")),
                    }
                }
                "listen" => self.listen = value,
                "database_url" => self.database_url = DatabaseUrl(value),
                "database_schema" => self.database_schema = Some(value),
                "secrets_file" => self.secrets_file = PathBuf::from(value),
                "bootstrap_key" => self.bootstrap_key = Some(Secret::new(value)),
                "secrets_key" => self.secrets_key = Some(Secret::new(value)),
                "retired_secrets_keys" => {
                    self.retired_secrets_keys = value
                        .split(',')
                        .map(str::trim)
                        .filter(|k| !k.is_empty())
                        .map(Secret::new)
                        .collect();
                }
                "hetzner.token" => self.hetzner.token = Some(Secret::new(value)),
                "hetzner.endpoint" => self.hetzner.endpoint = Some(value),
                "cloudflare.api_token" => self.cloudflare.api_token = Some(Secret::new(value)),
                "cloudflare.zone_id" => self.cloudflare.zone_id = Some(value),
                "cloudflare.base_url" => self.cloudflare.base_url = Some(value),
                "http.metrics_token" => self.http.metrics_token = Some(Secret::new(value)),
                "redis_url" => self.redis_url = Some(Secret::new(value)),
                "firebase.project_id" => self.firebase.project_id = Some(value),
                "firebase.keys_url" => self.firebase.keys_url = value,
                "firebase.api_key" => self.firebase.api_key = Some(value),
                "firebase.auth_url" => self.firebase.auth_url = value,
                "backup_store.url" => self.backup_store.url = value,
                "backup_store.region" => self.backup_store.region = Some(value),
                "backup_store.endpoint" => self.backup_store.endpoint = Some(value),
                "backup_store.access_key_id" => self.backup_store.access_key_id = Some(value),
                "backup_store.secret_access_key" => {
                    self.backup_store.secret_access_key = Some(Secret::new(value));
                }
                "engine.zone" => self.engine.zone = value,
                "engine.deployment" => {
                    self.engine.deployment = openclaw_core::domain::DeploymentName::parse(value)
                        .map_err(|_| bad("is not a valid deployment name"))?;
                }
                "engine.cloud_init.control_plane_url" => {
                    self.engine.cloud_init.control_plane_url = value;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The mode `auto` stands for: live when a Hetzner token is configured.
    pub fn effective_mode(&self) -> Mode {
        match self.mode {
            Mode::Auto if self.hetzner.token.is_some() => Mode::Live,
            Mode::Auto => Mode::Sandbox,
            other => other,
        }
    }

    /// The address to listen on.
    pub fn listen_addr(&self) -> Result<SocketAddr> {
        self.listen.parse().map_err(|_| {
            Error::invalid(
                "listen",
                "must be an address and port such as 127.0.0.1:8080",
            )
        })
    }

    /// The store options beside the URL.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            schema: self.database_schema.clone(),
            max_connections: self.database_max_connections,
        }
    }

    /// Checks everything and returns the effective mode. Errors name the field.
    pub fn resolve(&self) -> Result<Mode> {
        self.listen_addr()?;
        let store = crate::store::StoreUrl::parse(self.database_url.as_str())?;
        if !(1024..=16 * 1024 * 1024).contains(&self.http.body_limit) {
            return Err(Error::invalid(
                "http.body_limit",
                "must be between 1024 and 16777216 bytes",
            ));
        }
        for (field, value) in [
            ("http.request_timeout", self.http.request_timeout),
            ("http.shutdown_timeout", self.http.shutdown_timeout),
            ("hetzner.request_timeout", self.hetzner.request_timeout),
            ("hetzner.poll_interval", self.hetzner.poll_interval),
            (
                "cloudflare.request_timeout",
                self.cloudflare.request_timeout,
            ),
            ("health.timeout", self.health.timeout),
            ("sandbox.health_interval", self.sandbox.health_interval),
        ] {
            if value.is_zero() {
                return Err(Error::invalid(field, "must be above zero"));
            }
        }
        self.http.rate_limit.validate("http.rate_limit")?;
        self.http
            .failed_auth_rate_limit
            .validate("http.failed_auth_rate_limit")?;
        if self.http.max_streams_per_key == 0 {
            return Err(Error::invalid(
                "http.max_streams_per_key",
                "must be at least 1",
            ));
        }
        if let Some(token) = &self.http.metrics_token {
            if token.expose().len() < 16 {
                return Err(Error::invalid(
                    "http.metrics_token",
                    "must be at least 16 characters",
                ));
            }
        }
        self.hetzner.rate_limit.validate("hetzner.rate_limit")?;
        self.cloudflare
            .rate_limit
            .validate("cloudflare.rate_limit")?;
        for (field, url) in [
            ("hetzner.endpoint", &self.hetzner.endpoint),
            ("cloudflare.base_url", &self.cloudflare.base_url),
        ] {
            if let Some(url) = url {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(Error::invalid(field, "must be an http:// or https:// URL"));
                }
            }
        }
        if let Some(key) = &self.bootstrap_key {
            openclaw_core::BootstrapKey::from_base64(key.expose())?;
        }
        if let Some(key) = &self.secrets_key {
            openclaw_core::instance_secrets::SealingKey::from_base64(key.expose())?;
        }
        if self.redis_replicas == 0 {
            return Err(Error::invalid("redis_replicas", "must be at least 1"));
        }
        if let Some(project) = &self.firebase.project_id {
            // Firebase (Google Cloud) project ids: 6-30 lowercase letters, digits and
            // hyphens, starting with a letter, not ending with a hyphen.
            let ok = (6..=30).contains(&project.len())
                && project.starts_with(|c: char| c.is_ascii_lowercase())
                && !project.ends_with('-')
                && project
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(Error::invalid(
                    "firebase.project_id",
                    "must be a Firebase project id: 6-30 lowercase letters, digits and hyphens",
                ));
            }
        }
        for (field, url) in [
            ("firebase.keys_url", &self.firebase.keys_url),
            ("firebase.auth_url", &self.firebase.auth_url),
        ] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Error::invalid(field, "must be an http:// or https:// URL"));
            }
        }
        if let Some(key) = &self.firebase.api_key {
            // Firebase Web API keys: 39 characters of letters, digits, `-` and `_`; any such
            // token is accepted here (a test server's too), nothing that needs quoting.
            let ok = (1..=128).contains(&key.len())
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(Error::invalid(
                    "firebase.api_key",
                    "must be a Firebase Web API key (letters, digits, - and _)",
                ));
            }
        }
        if let Some(url) = &self.redis_url {
            if !(url.expose().starts_with("redis://") || url.expose().starts_with("rediss://")) {
                return Err(Error::invalid(
                    "redis_url",
                    "must be a redis:// or rediss:// URL",
                ));
            }
        }
        for key in &self.retired_secrets_keys {
            openclaw_core::instance_secrets::SealingKey::from_base64(key.expose()).map_err(
                |_| Error::invalid("retired_secrets_keys", "each must be 32 bytes in base64"),
            )?;
        }
        self.engine.validate().map_err(|e| match e {
            Error::InvalidInput { field, message } if !field.starts_with("engine.") => {
                Error::invalid(format!("engine.{field}"), message)
            }
            other => other,
        })?;
        let mode = self.effective_mode();
        if mode == Mode::Live {
            let missing = |field: &str, env: &str| {
                Error::invalid(field, format!("is required in live mode (or set {env})"))
            };
            if self.hetzner.token.is_none() {
                return Err(missing("hetzner.token", "OPENCLAW_HETZNER_TOKEN"));
            }
            if self.cloudflare.api_token.is_none() {
                return Err(missing(
                    "cloudflare.api_token",
                    "OPENCLAW_CLOUDFLARE_API_TOKEN",
                ));
            }
            if self.cloudflare.zone_id.is_none() {
                return Err(missing("cloudflare.zone_id", "OPENCLAW_CLOUDFLARE_ZONE_ID"));
            }
            if !store.is_durable() {
                return Err(Error::invalid(
                    "database_url",
                    "must be a sqlite:// or postgres:// database in live mode: an in-memory \
                     store forgets the servers it created",
                ));
            }
            if self.engine.cloud_init.control_plane_url == PLACEHOLDER_CONTROL_PLANE {
                return Err(Error::invalid(
                    "engine.cloud_init.control_plane_url",
                    "must be this server's public https URL in live mode (the new servers \
                     fetch their secrets there); or set OPENCLAW_CONTROL_PLANE_URL",
                ));
            }
            if self.http.metrics_token.is_none() {
                return Err(missing("http.metrics_token", "OPENCLAW_METRICS_TOKEN"));
            }
        }
        Ok(mode)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_default_is_a_valid_sandbox() {
        let config = Config::default();
        assert_eq!(config.resolve().unwrap(), Mode::Sandbox);
        assert_eq!(config.listen_addr().unwrap().port(), 8080);
    }

    #[test]
    fn a_hetzner_token_means_live_and_live_needs_the_rest() {
        let mut config = Config::default();
        config
            .apply_env(env(&[("HCLOUD_TOKEN", "hc-secret")]))
            .unwrap();
        assert_eq!(config.effective_mode(), Mode::Live);
        let err = config.resolve().unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { ref field, .. } if field == "cloudflare.api_token"),
            "{err}"
        );
        config
            .apply_env(env(&[
                ("CLOUDFLARE_API_TOKEN", "cf-secret"),
                (
                    "OPENCLAW_CLOUDFLARE_ZONE_ID",
                    "023e105f4ecef8ad9ca31a8372d0c353",
                ),
            ]))
            .unwrap();
        let err = config.resolve().unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { ref field, .. } if field == "engine.cloud_init.control_plane_url")
        );
        config
            .apply_env(env(&[(
                "OPENCLAW_CONTROL_PLANE_URL",
                "https://panel.example.com",
            )]))
            .unwrap();
        let err = config.resolve().unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { ref field, .. } if field == "http.metrics_token"),
            "{err}"
        );
        config
            .apply_env(env(&[("OPENCLAW_METRICS_TOKEN", "short")]))
            .unwrap();
        assert!(config.resolve().is_err(), "a metrics token of 5 characters");
        config
            .apply_env(env(&[(
                "OPENCLAW_METRICS_TOKEN",
                "metrics-token-0123456789",
            )]))
            .unwrap();
        assert_eq!(config.resolve().unwrap(), Mode::Live);
    }

    #[test]
    fn the_openclaw_variable_wins_over_the_providers_own() {
        let mut config = Config::default();
        config
            .apply_env(env(&[
                ("HCLOUD_TOKEN", "theirs"),
                ("OPENCLAW_HETZNER_TOKEN", "ours"),
            ]))
            .unwrap();
        assert_eq!(config.hetzner.token.unwrap().expose(), "ours");
    }

    #[test]
    fn printing_redacts_every_secret() {
        let mut config = Config::default();
        config
            .apply_env(env(&[
                ("HCLOUD_TOKEN", "hc-secret-1"),
                ("CLOUDFLARE_API_TOKEN", "cf-secret-2"),
                ("OPENCLAW_SECRETS_KEY", "sk-secret-3"),
                ("OPENCLAW_BOOTSTRAP_KEY", "bk-secret-4"),
            ]))
            .unwrap();
        let shown = format!("{}\n{config:?}", config.to_redacted_toml().unwrap());
        for secret in ["hc-secret-1", "cf-secret-2", "sk-secret-3", "bk-secret-4"] {
            assert!(!shown.contains(secret), "{secret} leaked:\n{shown}");
        }
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn files_parse_and_errors_name_the_key() {
        let config = Config::from_toml(
            "listen = \"127.0.0.1:9000\"\n[http]\nbody_limit = 4096\n[engine.workers]\nconcurrency = 2\n",
        )
        .unwrap();
        assert_eq!(config.http.body_limit, 4096);
        assert_eq!(config.engine.workers.concurrency, 2);
        let err = Config::from_toml("[http]\nbody_limitt = 1\n").unwrap_err();
        assert!(err.contains("body_limitt"), "{err}");
        let mut bad = Config::default();
        bad.engine.workers.concurrency = 0;
        let err = bad.resolve().unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { ref field, .. } if field == "engine.workers.concurrency"),
            "{err}"
        );
        bad = Config {
            listen: "nowhere".into(),
            ..Config::default()
        };
        assert!(
            matches!(bad.resolve(), Err(Error::InvalidInput { ref field, .. }) if field == "listen")
        );
    }

    #[test]
    fn the_printed_configuration_reads_back() {
        let config = Config::default();
        let text = config.to_redacted_toml().unwrap();
        let back = Config::from_toml(&text).unwrap();
        assert_eq!(back, config);
    }
}
