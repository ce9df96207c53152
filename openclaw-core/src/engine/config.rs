//! How the engine behaves: deployment identity, timings, and the rollback policy.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bootstrap::BootstrapKey;
use crate::cloud_init::CloudInitConfig;
use crate::domain::{Catalog, DeploymentName, RollbackLevel};
use crate::error::{Error, Result};
use crate::instance_secrets::SealingKey;

/// What can start an automatic rollback of a provisioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The whole provisioning took longer than
    /// [`RollbackPolicy::provision_timeout`].
    ProvisionTimeout,
    /// Creating the server failed for good: an error no retry can fix (a refused request,
    /// a quota reached).
    ServerCreateFailed,
    /// The DNS step took longer than [`RollbackPolicy::dns_timeout`].
    DnsTimeout,
    /// [`RollbackPolicy::max_failed_health_checks`] health checks in a row failed.
    HealthChecksFailed,
    /// A provider kept answering with server errors (5xx) until retries ran out.
    ServerErrorsExhausted,
    /// A step failed in a way no retry can fix: a DNS record that is not ours, a refused
    /// credential, an invalid request.
    PermanentError,
    /// The provisioning job used up its attempts (retryable errors that never cleared, or a
    /// worker that kept dying).
    AttemptsExhausted,
}

impl Trigger {
    /// Every trigger.
    pub const ALL: [Trigger; 7] = [
        Trigger::ProvisionTimeout,
        Trigger::ServerCreateFailed,
        Trigger::DnsTimeout,
        Trigger::HealthChecksFailed,
        Trigger::ServerErrorsExhausted,
        Trigger::PermanentError,
        Trigger::AttemptsExhausted,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::ProvisionTimeout => "provision_timeout",
            Trigger::ServerCreateFailed => "server_create_failed",
            Trigger::DnsTimeout => "dns_timeout",
            Trigger::HealthChecksFailed => "health_checks_failed",
            Trigger::ServerErrorsExhausted => "server_errors_exhausted",
            Trigger::PermanentError => "permanent_error",
            Trigger::AttemptsExhausted => "attempts_exhausted",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When and how far a failed provisioning is rolled back automatically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RollbackPolicy {
    /// The level automatic rollbacks run at (default: partial). `soft` leaves the server
    /// running and marks the instance `failed` for a person to look at.
    pub level: RollbackLevel,
    /// The triggers that start a rollback (default: all). A provisioning that cannot finish
    /// rolls back through `permanent_error` or `attempts_exhausted`; with those disabled it
    /// goes `failed` instead. The deadlines (`provision_timeout`, `dns_timeout`) are enforced
    /// only while their trigger is enabled; a failure whose trigger is disabled is retried.
    pub triggers: BTreeSet<Trigger>,
    /// Longest a provisioning may take, from `provisioning` to `active` (default 5 min).
    #[serde(with = "duration_secs")]
    pub provision_timeout: Duration,
    /// Longest the DNS step may take (default 1 min).
    #[serde(with = "duration_secs")]
    pub dns_timeout: Duration,
    /// Failed health checks in a row that count as a failed provisioning (default 3). An
    /// answer of "still starting" or "healthy" starts the count again.
    pub max_failed_health_checks: u32,
    /// Attempts of a compensating job (rollback, terminate) before the instance goes `failed`
    /// with an alert (default 5). Each attempt already retries its provider calls.
    pub compensation_attempts: u32,
}

impl Default for RollbackPolicy {
    fn default() -> Self {
        RollbackPolicy {
            level: RollbackLevel::Partial,
            triggers: Trigger::ALL.into_iter().collect(),
            provision_timeout: Duration::from_secs(5 * 60),
            dns_timeout: Duration::from_secs(60),
            max_failed_health_checks: 3,
            compensation_attempts: 5,
        }
    }
}

impl RollbackPolicy {
    /// Whether `trigger` starts a rollback.
    pub fn enabled(&self, trigger: Trigger) -> bool {
        self.triggers.contains(&trigger)
    }
}

/// Timings of the job workers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkerConfig {
    /// Jobs run at once by one `run_workers` call (default 4).
    pub concurrency: usize,
    /// Name prefix shown as the lease holder (default `openclaw`).
    pub name: String,
    /// Lease length, by the store's clock; a worker that dies loses its job after this
    /// (default 60 s).
    #[serde(with = "duration_secs")]
    pub lease: Duration,
    /// How often a running job extends its lease (default 15 s; `heartbeat + lease_margin`
    /// must be below `lease`). A heartbeat that takes longer than this is given up.
    #[serde(with = "duration_secs")]
    pub heartbeat: Duration,
    /// How long before its lease would run out a worker stops on its own when no heartbeat
    /// got through (default 5 s): room for the clocks of this host and the store to differ
    /// and for a provider call that just started. Never more than half the time between a
    /// heartbeat and the end of the lease ([`effective_lease_margin`](Self::effective_lease_margin)),
    /// so short leases in tests keep a useful margin.
    #[serde(with = "duration_secs")]
    pub lease_margin: Duration,
    /// Longest wait for new jobs before polling the store again (default 2 s).
    #[serde(with = "duration_secs")]
    pub poll_interval: Duration,
    /// Attempts of a provisioning, suspend or unsuspend job (default 5).
    pub max_attempts: u32,
    /// First delay before a failed job runs again; doubles per attempt with full jitter
    /// (default 5 s).
    #[serde(with = "duration_secs")]
    pub retry_base: Duration,
    /// Longest delay before a failed job runs again (default 5 min).
    #[serde(with = "duration_secs")]
    pub retry_max: Duration,
    /// How often workers look for dead-lettered jobs whose instance is still in progress
    /// (default 30 s).
    #[serde(with = "duration_secs")]
    pub reap_interval: Duration,
    /// How often workers look for provisionings past their deadline, whether or not a
    /// worker still runs them (default 5 s).
    #[serde(with = "duration_secs")]
    pub deadline_check_interval: Duration,
    /// How long finished jobs and expired idempotency keys are kept (default 7 days).
    #[serde(with = "duration_secs")]
    pub retention: Duration,
    /// How often finished jobs and expired idempotency keys are purged (default 1 h).
    #[serde(with = "duration_secs")]
    pub purge_interval: Duration,
}

impl WorkerConfig {
    /// The margin in use: `lease_margin`, at most half of `lease - heartbeat`.
    pub fn effective_lease_margin(&self) -> Duration {
        self.lease_margin
            .min(self.lease.saturating_sub(self.heartbeat) / 2)
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 4,
            name: "openclaw".to_string(),
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(15),
            lease_margin: Duration::from_secs(5),
            poll_interval: Duration::from_secs(2),
            max_attempts: 5,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(5 * 60),
            reap_interval: Duration::from_secs(30),
            deadline_check_interval: Duration::from_secs(5),
            retention: Duration::from_secs(7 * 24 * 3600),
            purge_interval: Duration::from_secs(3600),
        }
    }
}

/// The orphan sweep that runs on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SweepConfig {
    /// Whether workers sweep on their own (default true).
    pub enabled: bool,
    /// Time between sweeps (default 15 min).
    #[serde(with = "duration_secs")]
    pub interval: Duration,
    /// Resources younger than this (by the provider's creation time) are left alone, by
    /// every sweep (default 10 min).
    #[serde(with = "duration_secs")]
    pub grace: Duration,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            enabled: true,
            interval: Duration::from_secs(15 * 60),
            grace: Duration::from_secs(10 * 60),
        }
    }
}

/// How the control plane deals with the agents on the instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentConfig {
    /// How often agents send a heartbeat (default 30 s; told to each agent at bootstrap).
    #[serde(with = "duration_secs")]
    pub heartbeat: Duration,
    /// An agent is connected while its last heartbeat is younger than this many heartbeats
    /// (default 3).
    pub silent_after: u32,
    /// How long an agent holds a task it took before the task is handed out again
    /// (default 10 min: an upgrade may take that long).
    #[serde(with = "duration_secs")]
    pub task_lease: Duration,
    /// How long `access` waits for the agent to mint a link (default 20 s).
    #[serde(with = "duration_secs")]
    pub access_wait: Duration,
    /// How long finished tasks are kept (default 7 days).
    #[serde(with = "duration_secs")]
    pub retention: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            heartbeat: Duration::from_secs(30),
            silent_after: 3,
            task_lease: Duration::from_secs(600),
            access_wait: Duration::from_secs(20),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl AgentConfig {
    /// How old the last heartbeat may be for the agent to count as connected.
    pub fn connected_within(&self) -> Duration {
        self.heartbeat.saturating_mul(self.silent_after.max(1))
    }
}

/// What is kept of the instances' backups, and when they are taken. Where they are kept is
/// the backup store given to the builder ([`ProvisionerBuilder::backup_store`](super::ProvisionerBuilder::backup_store)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// Backups kept per instance, newest first (default 7). Older ones are deleted after
    /// each new backup and by the periodic pass.
    pub keep_last: u32,
    /// Backups older than this are deleted whatever `keep_last` says, except an
    /// instance's newest (default 30 days; 0: by count only).
    #[serde(with = "duration_secs")]
    pub max_age: Duration,
    /// Back up every active instance this often (default 0: only when asked).
    #[serde(with = "duration_secs")]
    pub every: Duration,
    /// How long the backups of a terminated (or deleted) instance are kept before they are
    /// deleted (default 7 days).
    #[serde(with = "duration_secs")]
    pub keep_after_termination: Duration,
    /// The largest archive accepted, in bytes (default 4 GiB).
    pub max_bytes: u64,
    /// How often the periodic pass (schedule, retention, terminated instances) runs
    /// (default 1 h).
    #[serde(with = "duration_secs")]
    pub check_interval: Duration,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            keep_last: 7,
            max_age: Duration::from_secs(30 * 24 * 3600),
            every: Duration::ZERO,
            keep_after_termination: Duration::from_secs(7 * 24 * 3600),
            max_bytes: 4 << 30,
            check_interval: Duration::from_secs(3600),
        }
    }
}

/// A provider key and the model OpenClaw should use by default when the order brings it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultModel {
    /// The environment variable of the provider key (`ANTHROPIC_API_KEY`).
    pub key: String,
    /// The model, as OpenClaw names it (`anthropic/claude-opus-5`).
    pub model: String,
}

/// The defaults OpenClaw gets on an instance's first boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FirstRunConfig {
    /// In order of preference: the first entry whose key the order brought sets
    /// `agents.defaults.model.primary` (OpenClaw's own default follows none of the keys).
    pub default_models: Vec<DefaultModel>,
}

impl Default for FirstRunConfig {
    /// Each provider's default model in the pinned OpenClaw release (2026.9.6), as its own
    /// onboarding sets it: Anthropic `anthropic/claude-opus-5`, OpenAI `openai/gpt-6-astra`,
    /// Gemini `google/gemini-3.1-pro-preview`, OpenRouter `openrouter/auto`. (Older names such
    /// as `claude-sonnet-4-5` are retired versions there.) `scripts/test-openclaw-gateway`
    /// checks that the release names each of them.
    fn default() -> Self {
        let pair = |key: &str, model: &str| DefaultModel {
            key: key.to_string(),
            model: model.to_string(),
        };
        FirstRunConfig {
            default_models: vec![
                pair("ANTHROPIC_API_KEY", "anthropic/claude-opus-5"),
                pair("OPENAI_API_KEY", "openai/gpt-6-astra"),
                pair("GEMINI_API_KEY", "google/gemini-3.1-pro-preview"),
                pair("OPENROUTER_API_KEY", "openrouter/auto"),
            ],
        }
    }
}

impl FirstRunConfig {
    /// The model for an order that brought the keys `present`, if any entry matches.
    pub fn default_model(&self, present: impl Fn(&str) -> bool) -> Option<&str> {
        self.default_models
            .iter()
            .find(|d| present(&d.key))
            .map(|d| d.model.as_str())
    }

    fn validate(&self) -> Result<()> {
        for (i, d) in self.default_models.iter().enumerate() {
            let key_ok = !d.key.is_empty()
                && d.key
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            let model_ok = (3..=128).contains(&d.model.len())
                && d.model.contains('/')
                && d.model.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_' | b':')
                });
            if !key_ok || !model_ok {
                return Err(Error::invalid(
                    format!("first_run.default_models[{i}]"),
                    "key must be an environment variable name and model provider/model",
                ));
            }
        }
        Ok(())
    }
}

/// How the engine waits for a new server to become healthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    /// Time between checks (default 5 s). Checks hit the VPS, not the provider.
    #[serde(with = "duration_secs")]
    pub interval: Duration,
    /// Longest an unsuspend waits for health before the instance goes `failed`
    /// (default 5 min).
    #[serde(with = "duration_secs")]
    pub unsuspend_timeout: Duration,
    /// Longest a server on its new plan's type (or back on its old one) waits for health
    /// before the plan change is undone (or, undoing it, the instance goes `failed`)
    /// (default 10 min: the provider copies the disk).
    #[serde(with = "duration_secs")]
    pub resize_timeout: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            interval: Duration::from_secs(5),
            unsuspend_timeout: Duration::from_secs(5 * 60),
            resize_timeout: Duration::from_secs(10 * 60),
        }
    }
}

/// Everything the engine needs to know that is not a port.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// This deployment's name: the owner mark on every resource it creates.
    pub deployment: DeploymentName,
    /// The DNS zone instances get names in (`claw.example.com`).
    pub zone: String,
    /// Plans and regions on offer.
    pub catalog: Catalog,
    /// What cloud-init installs on each server.
    pub cloud_init: CloudInitConfig,
    /// Key the single-use bootstrap tokens are derived from. Secret.
    #[serde(skip)]
    pub bootstrap_key: Option<BootstrapKey>,
    /// Key instance secrets are sealed with before they reach the store. Secret.
    #[serde(skip)]
    pub secrets_key: Option<SealingKey>,
    /// Keys that sealed values before `secrets_key` replaced them: they still open what they
    /// sealed and seal nothing new (see [`SealingKeyring`](crate::SealingKeyring)). Secret.
    #[serde(skip)]
    pub retired_secrets_keys: Vec<SealingKey>,
    /// SSH keys (names or ids at the provider) installed for admins.
    pub ssh_keys: Vec<String>,
    /// Provider firewall ids attached to every server.
    pub firewalls: Vec<String>,
    /// Whether servers get IPv6 (and an AAAA record).
    pub enable_ipv6: bool,
    /// TTL of DNS records in seconds (1 = automatic).
    pub dns_ttl: u32,
    /// Whether DNS records are proxied by the DNS provider.
    pub dns_proxied: bool,
    /// Job worker timings.
    pub workers: WorkerConfig,
    /// Health waiting.
    pub health: HealthConfig,
    /// Automatic rollback.
    pub rollback: RollbackPolicy,
    /// The scheduled orphan sweep.
    pub sweep: SweepConfig,
    /// The instance agents.
    pub agent: AgentConfig,
    /// What OpenClaw is configured with on first boot.
    pub first_run: FirstRunConfig,
    /// Backups of the instances' OpenClaw state.
    pub backups: BackupConfig,
    /// Which provider keys orders may set.
    pub provider_keys: crate::domain::ProviderKeyPolicy,
    /// Seed of the engine's jitter, for reproducible tests; random when `None`.
    pub seed: Option<u64>,
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("deployment", &self.deployment)
            .field("zone", &self.zone)
            .field("catalog", &self.catalog)
            .field("cloud_init", &self.cloud_init)
            .field(
                "bootstrap_key",
                &self.bootstrap_key.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "secrets_key",
                &self.secrets_key.as_ref().map(|_| "[redacted]"),
            )
            .field("retired_secrets_keys", &self.retired_secrets_keys.len())
            .field("ssh_keys", &self.ssh_keys)
            .field("firewalls", &self.firewalls)
            .field("enable_ipv6", &self.enable_ipv6)
            .field("dns_ttl", &self.dns_ttl)
            .field("dns_proxied", &self.dns_proxied)
            .field("workers", &self.workers)
            .field("health", &self.health)
            .field("rollback", &self.rollback)
            .field("sweep", &self.sweep)
            .field("agent", &self.agent)
            .field("first_run", &self.first_run)
            .field("backups", &self.backups)
            .field("provider_keys", &self.provider_keys)
            .field("seed", &self.seed)
            .finish()
    }
}

impl Default for EngineConfig {
    /// A configuration for local use: deployment `openclaw`, zone `openclaw.localhost`, the
    /// default catalog and timings, and a random bootstrap key.
    fn default() -> Self {
        EngineConfig {
            deployment: DeploymentName::default(),
            zone: "openclaw.localhost".to_string(),
            catalog: Catalog::default(),
            cloud_init: CloudInitConfig::default(),
            bootstrap_key: None,
            secrets_key: None,
            retired_secrets_keys: Vec::new(),
            ssh_keys: Vec::new(),
            firewalls: Vec::new(),
            enable_ipv6: true,
            dns_ttl: 300,
            dns_proxied: false,
            workers: WorkerConfig::default(),
            health: HealthConfig::default(),
            rollback: RollbackPolicy::default(),
            sweep: SweepConfig::default(),
            agent: AgentConfig::default(),
            first_run: FirstRunConfig::default(),
            backups: BackupConfig::default(),
            provider_keys: crate::domain::ProviderKeyPolicy::default(),
            seed: None,
        }
    }
}

impl EngineConfig {
    /// A default configuration for `deployment` under `zone`.
    pub fn new(deployment: DeploymentName, zone: impl Into<String>) -> Self {
        EngineConfig {
            deployment,
            zone: zone.into(),
            ..EngineConfig::default()
        }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        validate_zone(&self.zone)?;
        self.first_run.validate()?;
        self.provider_keys.validate()?;
        let b = &self.backups;
        if b.keep_last == 0 || b.max_bytes == 0 || b.check_interval.is_zero() {
            return Err(Error::invalid(
                "backups",
                "keep_last, max_bytes and check_interval must be above zero",
            ));
        }
        let a = &self.agent;
        if a.heartbeat.is_zero() || a.silent_after == 0 || a.task_lease.is_zero() {
            return Err(Error::invalid(
                "agent",
                "heartbeat, silent_after and task_lease must be above zero",
            ));
        }
        self.catalog.validate()?;
        self.cloud_init.validate()?;
        let w = &self.workers;
        if w.concurrency == 0 {
            return Err(Error::invalid("workers.concurrency", "must be at least 1"));
        }
        if w.heartbeat.is_zero() || w.heartbeat >= w.lease {
            return Err(Error::invalid(
                "workers.heartbeat",
                "must be above zero and shorter than workers.lease",
            ));
        }
        for (field, value) in [
            ("workers.reap_interval", w.reap_interval),
            ("workers.deadline_check_interval", w.deadline_check_interval),
            ("workers.purge_interval", w.purge_interval),
            ("sweep.interval", self.sweep.interval),
        ] {
            if value.is_zero() {
                return Err(Error::invalid(field, "must be above zero"));
            }
        }
        if w.max_attempts == 0 {
            return Err(Error::invalid("workers.max_attempts", "must be at least 1"));
        }
        if w.poll_interval.is_zero() {
            return Err(Error::invalid(
                "workers.poll_interval",
                "must be above zero",
            ));
        }
        if self.health.interval.is_zero() {
            return Err(Error::invalid("health.interval", "must be above zero"));
        }
        if self.rollback.compensation_attempts == 0 {
            return Err(Error::invalid(
                "rollback.compensation_attempts",
                "must be at least 1",
            ));
        }
        if self.rollback.max_failed_health_checks == 0 {
            return Err(Error::invalid(
                "rollback.max_failed_health_checks",
                "must be at least 1",
            ));
        }
        if self.dns_ttl == 0 || self.dns_ttl > 86_400 {
            return Err(Error::invalid("dns_ttl", "must be between 1 and 86400"));
        }
        Ok(())
    }
}

/// Checks a DNS zone name: lowercase labels of letters, digits and hyphens.
pub fn validate_zone(zone: &str) -> Result<()> {
    let zone = zone.trim_end_matches('.');
    let fail = |m: &str| Err(Error::invalid("zone", m));
    if zone.is_empty() || zone.len() > 190 {
        return fail("must be 1-190 characters (room for a 63-character subdomain)");
    }
    for label in zone.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return fail("must be lowercase DNS labels separated by dots");
        }
    }
    Ok(())
}

/// Serializes durations as whole seconds (as in config files).
mod duration_secs {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        EngineConfig::default().validate().unwrap();
    }

    #[test]
    fn bad_fields_are_named() {
        let mut c = EngineConfig::default();
        c.workers.heartbeat = c.workers.lease;
        assert!(
            matches!(c.validate(), Err(Error::InvalidInput { ref field, .. }) if field == "workers.heartbeat")
        );
        let c = EngineConfig {
            zone: "Bad_Zone".into(),
            ..EngineConfig::default()
        };
        assert!(
            matches!(c.validate(), Err(Error::InvalidInput { ref field, .. }) if field == "zone")
        );
    }

    #[test]
    fn debug_hides_the_bootstrap_key() {
        let c = EngineConfig {
            bootstrap_key: Some(BootstrapKey::from_bytes([7; 32])),
            ..EngineConfig::default()
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("[redacted]"));
        assert!(!shown.contains(
            &BootstrapKey::from_bytes([7; 32])
                .to_base64()
                .expose()
                .to_string()
        ));
    }

    #[test]
    fn policy_round_trips_through_json() {
        let p = RollbackPolicy::default();
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"provision_timeout\":300"));
        let back: RollbackPolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }
}
