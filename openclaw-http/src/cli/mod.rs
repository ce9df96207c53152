//! The `openclaw` command line.
//!
//! Local commands read the configuration and work on the deployment directly: `serve`,
//! `migrate`, `keys`, `config check`. Client commands talk to a running server over its API
//! (`--server`, default from the configuration's `listen`; the key from `OPENCLAW_API_KEY`
//! or `--api-key-file`, never the command line): `instances …` and `sweep`, which runs in the server so that it shares
//! the server's provider rate limits.

pub mod client;
pub mod sse;
pub mod wait;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use openclaw_core::domain::{CustomerId, Scope};
use reqwest::Method;

use crate::config::Config;
use crate::model::{
    ChangePlanRequest, CreateInstanceRequest, InstancePage, InstanceView, Level, RollbackRequest,
    Status, SweepRequest, SweepView,
};
use crate::store::{self, StoreUrl};
use client::ApiClient;
use wait::Goal;

/// openclaw: managed OpenClaw hosting on Hetzner Cloud and Cloudflare.
///
/// With no configuration it runs a sandbox: fake providers on loopback, nothing real is
/// created, no credentials needed.
#[derive(Debug, Parser)]
#[command(name = "openclaw", version, propagate_version = true)]
pub struct Cli {
    /// Configuration file (default: ./openclaw.toml if it exists).
    #[arg(long, global = true, env = "OPENCLAW_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server and the provisioning workers (until SIGTERM or Ctrl-C).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Find (and delete) servers and DNS records no live instance claims, through the
    /// running server.
    Sweep {
        /// Only report what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Where the server is, and the key to use.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Manage API keys (directly in the database).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write the files cloud-init writes on an instance's server, rendered with this
    /// deployment's configuration and keys, under a directory (paths kept: DIR/etc/…,
    /// DIR/usr/local/sbin/…), together with the agent script the control plane serves and
    /// the agent's credential as the bootstrap would write it (DIR/etc/openclaw/agent.env,
    /// mode 0600). For looking at what runs on an instance, and for running it elsewhere.
    /// The files hold the instance's bootstrap token and agent credential: keep them private.
    InstanceFiles {
        /// The instance's id.
        id: String,
        /// The instance's name (`<subdomain>.<zone>`).
        #[arg(long)]
        fqdn: String,
        /// Where to write them (created if missing).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Run one of the sandbox's fake providers on its own (the same fakes as the
    /// `openclaw-fake-hetzner` and `openclaw-fake-cloudflare` binaries), for a server pointed
    /// at it with `hetzner.endpoint` or `cloudflare.base_url`.
    #[command(subcommand)]
    Fake(FakeCommand),
    /// Upgrade the whole fleet through the running server (admin key).
    Fleet {
        /// Where the server is, and the key to use.
        #[command(flatten)]
        server: ServerArgs,
        /// The fleet command.
        #[command(subcommand)]
        command: FleetCommand,
    },
    /// Create and manage instances through the running server.
    Instances {
        /// Where the server is, and the key to use.
        #[command(flatten)]
        server: ServerArgs,
        /// The instance command.
        #[command(subcommand)]
        command: InstancesCommand,
    },
}

/// Where a running server is. Both options go before or after the subcommand. The API key
/// (`ock_<id>.<secret>`) is read from `OPENCLAW_API_KEY` or from `--api-key-file`, never from
/// the command line, where other users of the machine would see it.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The server's base URL (default: `http://<listen>` from the configuration).
    #[arg(long, env = "OPENCLAW_URL", value_name = "URL", global = true)]
    pub server: Option<String>,
    /// A file holding the API key (its first line), instead of `OPENCLAW_API_KEY`.
    #[arg(long, value_name = "FILE", global = true)]
    pub api_key_file: Option<PathBuf>,
}

impl ServerArgs {
    /// The API key: from `--api-key-file`, else `OPENCLAW_API_KEY`.
    fn api_key(&self) -> Result<String, String> {
        if let Some(path) = &self.api_key_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read --api-key-file {}: {e}", path.display()))?;
            let key = text.lines().next().unwrap_or("").trim().to_string();
            if key.is_empty() {
                return Err(format!("--api-key-file {} is empty", path.display()));
            }
            return Ok(key);
        }
        std::env::var("OPENCLAW_API_KEY")
            .ok()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                "an API key is needed: set OPENCLAW_API_KEY or pass --api-key-file FILE (the \
                 server prints an admin key on its first start)"
                    .to_string()
            })
    }
}

/// `openclaw keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key and print its token once.
    Create {
        /// A name for people (`whmcs-production`).
        #[arg(long)]
        name: String,
        /// What it may do.
        #[arg(long, value_enum, default_value_t = ScopeArg::Manage)]
        scope: ScopeArg,
        /// Bind it to one customer: it sees and creates only that customer's instances.
        #[arg(long, value_name = "CUSTOMER_ID")]
        customer: Option<String>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke {
        /// The key's id (the part between `ock_` and the dot).
        id: String,
    },
    /// Re-seal every instance's secrets and every agent task output with `secrets_key`.
    /// After changing `secrets_key`, keep the old key in `retired_secrets_keys`, run this
    /// (safe while servers run; running it again finds nothing to do), then remove the old
    /// key.
    RotateSecrets,
}

/// A key's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// Everything, including sweeping.
    Admin,
    /// Create and manage instances (what WHMCS uses).
    Manage,
    /// Read instances and events.
    Read,
}

impl From<ScopeArg> for Scope {
    fn from(s: ScopeArg) -> Self {
        match s {
            ScopeArg::Admin => Scope::Admin,
            ScopeArg::Manage => Scope::Manage,
            ScopeArg::Read => Scope::Read,
        }
    }
}

/// `openclaw fake …`.
#[derive(Debug, Subcommand)]
pub enum FakeCommand {
    /// A fake Hetzner Cloud API with fake machines; prints its base URL first.
    Hetzner {
        /// Port on 127.0.0.1 (0: any free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Milliseconds a power action takes.
        #[arg(long, default_value_t = 50)]
        action_delay_ms: u64,
        /// Milliseconds a machine takes to boot.
        #[arg(long, default_value_t = 500)]
        boot_delay_ms: u64,
        /// Milliseconds between a machine's bootstrap attempts.
        #[arg(long, default_value_t = 5000)]
        bootstrap_retry_delay_ms: u64,
        /// Bootstrap attempts of a machine.
        #[arg(long, default_value_t = 11)]
        bootstrap_attempts: u32,
        /// Rate limit: requests in the bucket.
        #[arg(long, default_value_t = 3600)]
        rate_limit: u32,
        /// Rate limit: requests refilled per second.
        #[arg(long, default_value_t = 1.0)]
        refill_per_second: f64,
    },
    /// A fake Cloudflare DNS API with one zone; prints `base_url=`, `zone_id=`, `zone_name=`.
    Cloudflare {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// The zone.
        #[arg(long, default_value = "openclaw.localhost")]
        zone: String,
        /// Requests allowed per window.
        #[arg(long, default_value_t = 1200)]
        rate_limit: u32,
    },
}

/// `openclaw config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print it as in effect, secrets redacted.
    Check,
}

/// `openclaw instances …`.
#[derive(Debug, Subcommand)]
pub enum InstancesCommand {
    /// Order a new instance.
    Create {
        /// The billing customer.
        #[arg(long)]
        customer: Option<String>,
        /// The DNS label.
        #[arg(long)]
        subdomain: String,
        /// The plan.
        #[arg(long, default_value = "starter")]
        plan: String,
        /// The region.
        #[arg(long, default_value = "eu-west")]
        region: String,
        /// The billing reference (a WHMCS service id).
        #[arg(long)]
        external_ref: Option<String>,
        /// A model-provider key by name (repeatable): `NAME` reads its value from standard
        /// input (one key at most), `NAME=@FILE` from a file. Never the value itself: the
        /// command line is visible to every user of the machine.
        #[arg(long = "provider-key", value_name = "NAME | NAME=@FILE")]
        provider_keys: Vec<String>,
        /// An Idempotency-Key for the request.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Follow it until it is active (or rolled back).
        #[arg(long)]
        wait: bool,
    },
    /// Show one instance.
    Get {
        /// Its id.
        id: String,
    },
    /// List instances.
    List {
        /// Only this customer's.
        #[arg(long)]
        customer: Option<String>,
        /// Only in this status (`active`, `suspended`, …).
        #[arg(long)]
        status: Option<String>,
        /// Only with this billing reference.
        #[arg(long)]
        external_ref: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<usize>,
        /// The cursor of the previous page.
        #[arg(long)]
        after: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Power an active instance off.
    Suspend(OperationArgs),
    /// Power a suspended instance on.
    Unsuspend(OperationArgs),
    /// Move an active or suspended instance to another plan (its server changes type, its
    /// disk is kept; a suspended instance stays suspended). With `--wait`, exits non-zero if
    /// the change failed and the instance went back to its old plan.
    ChangePlan {
        /// The instance.
        #[command(flatten)]
        op: OperationArgs,
        /// The plan to move to (`starter`, `professional`, `enterprise`, …).
        plan: String,
    },
    /// Delete an instance's server and DNS records.
    Terminate(OperationArgs),
    /// Run a failed operation again.
    Retry(OperationArgs),
    /// Roll an instance back.
    Rollback {
        /// The instance.
        #[command(flatten)]
        op: OperationArgs,
        /// How far.
        #[arg(long, value_enum, default_value_t = LevelArg::Partial)]
        level: LevelArg,
    },
    /// Print a one-time pairing link for the customer (minted on the instance by its agent).
    Access {
        /// The instance's id.
        id: String,
    },
    /// Have the instance's agent do something, and print the task.
    Action {
        /// The instance's id.
        id: String,
        /// What to do.
        #[arg(value_enum)]
        action: ActionArg,
        /// `upgrade`: the OpenClaw version to install.
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// `revoke-device`: the device's id.
        #[arg(long)]
        device: Option<String>,
        /// `restore`: the backup's id (see `instances backups`).
        #[arg(long)]
        backup: Option<String>,
        /// Wait until the agent reports (up to 15 minutes) and print the finished task;
        /// exits non-zero if it failed.
        #[arg(long)]
        wait: bool,
    },
    /// List the instance's backups, newest first.
    Backups {
        /// The instance's id.
        id: String,
    },
}

/// What an instance's agent can be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ActionArg {
    /// Restart the gateway.
    Restart,
    /// A new gateway token (old links and sessions stop working).
    RotateToken,
    /// Install another OpenClaw version (rolled back on failure).
    Upgrade,
    /// List the paired devices.
    ListDevices,
    /// Unpair a device.
    RevokeDevice,
    /// Archive the instance's OpenClaw state into the backup store.
    Backup,
    /// Replace the instance's OpenClaw state with a backup (rolled back on failure).
    Restore,
}

impl ActionArg {
    fn path(self) -> &'static str {
        match self {
            ActionArg::Restart => "restart",
            ActionArg::RotateToken => "rotate-token",
            ActionArg::Upgrade => "upgrade",
            ActionArg::ListDevices => "list-devices",
            ActionArg::RevokeDevice => "revoke-device",
            ActionArg::Backup => "backup",
            ActionArg::Restore => "restore",
        }
    }
}

/// `openclaw fleet …`.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Upgrade every active instance: the canary first, then batches; stops at the first
    /// failure.
    Upgrade {
        /// The OpenClaw version to install.
        #[arg(long, value_name = "VERSION")]
        to: String,
        /// How many instances go first, alone.
        #[arg(long, default_value_t = 1)]
        canary: usize,
        /// How many at once after the canary.
        #[arg(long, default_value_t = 10)]
        batch_size: usize,
    },
    /// Fleet upgrades, newest first.
    List,
}

/// An operation on one instance.
#[derive(Debug, Clone, Args)]
pub struct OperationArgs {
    /// The instance's id.
    pub id: String,
    /// Follow it until the operation settles.
    #[arg(long)]
    pub wait: bool,
}

/// A rollback level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    /// Mark failed; touch nothing.
    Soft,
    /// Delete records and server.
    Partial,
    /// Partial, then delete the instance.
    Full,
}

impl From<LevelArg> for Level {
    fn from(l: LevelArg) -> Self {
        match l {
            LevelArg::Soft => Level::Soft,
            LevelArg::Partial => Level::Partial,
            LevelArg::Full => Level::Full,
        }
    }
}

/// Output streams, so tests can capture what a command prints.
pub struct Io<'a> {
    /// Results.
    pub out: &'a mut (dyn Write + Send),
    /// Progress and errors.
    pub err: &'a mut (dyn Write + Send),
}

/// Runs a parsed command line.
pub async fn run(cli: Cli, io: Io<'_>) -> ExitCode {
    let Io { out, err } = io;
    let config = match Config::load(cli.config.as_deref(), |n| std::env::var(n).ok()) {
        Ok(config) => config,
        Err(e) => {
            let _ = writeln!(err, "openclaw: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Serve => crate::server::serve(config, out, crate::server::shutdown_signal())
            .await
            .map_err(|e| e.to_string()),
        Command::Migrate => migrate(&config, out).await,
        Command::Config(ConfigCommand::Check) => config_check(&config, out),
        Command::InstanceFiles { id, fqdn, out: dir } => {
            instance_files(&config, &id, &fqdn, &dir, out).await
        }
        Command::Keys(command) => keys(&config, command, out).await,
        Command::Sweep { dry_run, server } => sweep(&config, &server, dry_run, out).await,
        Command::Fake(command) => fake(command, out).await,
        Command::Fleet { server, command } => fleet(&config, &server, command, out).await,
        Command::Instances { server, command } => {
            instances(&config, &server, command, out, err).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(err, "openclaw: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn fake(command: FakeCommand, out: &mut dyn Write) -> Result<(), String> {
    use std::time::Duration;
    match command {
        FakeCommand::Hetzner {
            port,
            action_delay_ms,
            boot_delay_ms,
            bootstrap_retry_delay_ms,
            bootstrap_attempts,
            rate_limit,
            refill_per_second,
        } => {
            let fake = openclaw_hetzner::fake::FakeHetzner::start_with(
                openclaw_hetzner::fake::FakeOptions {
                    port,
                    rate_limit,
                    refill_per_second,
                    action_delay: Duration::from_millis(action_delay_ms),
                    vps: openclaw_hetzner::fake::VpsOptions {
                        boot_delay: Duration::from_millis(boot_delay_ms),
                        bootstrap_retry_delay: Duration::from_millis(bootstrap_retry_delay_ms),
                        bootstrap_attempts,
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| format!("cannot start the fake Hetzner: {e}"))?;
            let _ = writeln!(out, "{}", fake.base_url());
            let _ = out.flush();
            crate::server::shutdown_signal().await;
        }
        FakeCommand::Cloudflare {
            listen,
            zone,
            rate_limit,
        } => {
            let fake = openclaw_cloudflare::fake::FakeCloudflare::bind(
                listen,
                openclaw_cloudflare::fake::FakeOptions {
                    token: None,
                    rate_limit: openclaw_cloudflare::fake::RateLimitSettings {
                        limit: rate_limit,
                        ..Default::default()
                    },
                },
            )
            .await
            .map_err(|e| format!("cannot start the fake Cloudflare: {e}"))?;
            let zone_id = fake.create_zone(&zone);
            let _ = writeln!(
                out,
                "base_url={}\nzone_id={zone_id}\nzone_name={zone}",
                fake.base_url()
            );
            let _ = out.flush();
            crate::server::shutdown_signal().await;
        }
    }
    Ok(())
}

/// The job that created the instance's current server: its newest provisioning job in the
/// database, when the database is there to ask; a fresh id (a token that opens nothing)
/// otherwise.
async fn provisioning_job(
    config: &Config,
    id: openclaw_core::domain::InstanceId,
) -> openclaw_core::domain::JobId {
    let fresh = openclaw_core::domain::JobId::new;
    let Ok(url) = StoreUrl::parse(config.database_url.as_str()) else {
        return fresh();
    };
    if !url.is_durable() {
        return fresh();
    }
    let Ok(stores) = store::open(&url, &config.store_options(), false).await else {
        return fresh();
    };
    openclaw_core::engine::newest_provisioning_job(stores.store.as_ref(), id)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(fresh)
}

async fn instance_files(
    config: &Config,
    id: &str,
    fqdn: &str,
    dir: &std::path::Path,
    out: &mut dyn Write,
) -> Result<(), String> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let id: openclaw_core::domain::InstanceId = id
        .parse()
        .map_err(|e: openclaw_core::Error| e.to_string())?;
    let mode = config.resolve().map_err(|e| e.to_string())?;
    let keys = crate::secrets_file::load_or_create(config, mode).map_err(|e| e.to_string())?;
    let mut cloud_init = config.engine.cloud_init.clone();
    // As `serve` does: a sandbox's fake machines call back over loopback.
    if mode == crate::config::Mode::Sandbox
        && cloud_init.control_plane_url == crate::config::PLACEHOLDER_CONTROL_PLANE
    {
        let listen: std::net::SocketAddr = config
            .listen
            .parse()
            .map_err(|_| format!("listen {:?} is not an address", config.listen))?;
        cloud_init.control_plane_url = crate::deployment::local_url(listen);
    }
    let token = keys
        .bootstrap
        .token_for(id, provisioning_job(config, id).await);
    let mut files =
        openclaw_core::render_files(&cloud_init, id, fqdn, &token).map_err(|e| e.to_string())?;
    files.push(openclaw_core::InstanceFile {
        path: "/usr/local/sbin/openclaw-agent".to_string(),
        permissions: "0755",
        content: openclaw_core::agent_script(&cloud_init).map_err(|e| e.to_string())?,
        deferred: false,
    });
    files.push(openclaw_core::InstanceFile {
        path: "/etc/openclaw/agent.env".to_string(),
        permissions: "0600",
        content: format!(
            "OPENCLAW_AGENT_TOKEN=\"{}\"\nOPENCLAW_AGENT_HEARTBEAT=\"{}\"\n",
            keys.bootstrap.agent_token_for(id).expose(),
            config.engine.agent.heartbeat.as_secs().max(1)
        ),
        deferred: false,
    });
    for file in &files {
        let path = dir.join(file.path.trim_start_matches('/'));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let mode = u32::from_str_radix(file.permissions, 8).unwrap_or(0o600);
        // Created with its mode (never readable by others for a moment), and set again in
        // case the file was there already.
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, file.content.as_bytes()))
            .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)));
        written.map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let _ = writeln!(out, "{} {}", file.permissions, path.display());
    }
    Ok(())
}

fn config_check(config: &Config, out: &mut dyn Write) -> Result<(), String> {
    let mode = config.resolve().map_err(|e| e.to_string())?;
    let text = config.to_redacted_toml().map_err(|e| e.to_string())?;
    let _ = writeln!(
        out,
        "# the configuration is valid; effective mode: {mode:?}\n{text}"
    );
    Ok(())
}

async fn migrate(config: &Config, out: &mut dyn Write) -> Result<(), String> {
    let url = StoreUrl::parse(config.database_url.as_str()).map_err(|e| e.to_string())?;
    let done = store::migrate(&url, &config.store_options())
        .await
        .map_err(|e| e.to_string())?;
    let _ = writeln!(out, "{done}");
    Ok(())
}

async fn keys(config: &Config, command: KeysCommand, out: &mut dyn Write) -> Result<(), String> {
    let url = StoreUrl::parse(config.database_url.as_str()).map_err(|e| e.to_string())?;
    if !url.is_durable() {
        return Err(
            "keys live in the database, and database_url is memory: the server's keys are \
             not reachable from here (the server prints an admin key on start)"
                .to_string(),
        );
    }
    let stores = store::open(&url, &config.store_options(), true)
        .await
        .map_err(|e| e.to_string())?;
    match command {
        KeysCommand::Create {
            name,
            scope,
            customer,
        } => {
            let customer = customer
                .map(CustomerId::parse)
                .transpose()
                .map_err(|e| e.to_string())?;
            let new =
                crate::auth::generate(&name, scope.into(), customer).map_err(|e| e.to_string())?;
            stores
                .keys
                .insert_api_key(&new.key)
                .await
                .map_err(|e| e.to_string())?;
            let _ = writeln!(out, "{}", new.token.expose());
        }
        KeysCommand::List => {
            let keys = stores
                .keys
                .list_api_keys()
                .await
                .map_err(|e| e.to_string())?;
            let _ = writeln!(
                out,
                "{:<14} {:<24} {:<7} {:<16} {:<26} revoked",
                "id", "name", "scope", "customer", "created"
            );
            for key in keys {
                let _ = writeln!(
                    out,
                    "{:<14} {:<24} {:<7} {:<16} {:<26} {}",
                    key.id,
                    key.name,
                    key.scope,
                    key.customer_id.as_ref().map_or("-", |c| c.as_str()),
                    key.created_at.to_rfc3339(),
                    key.revoked_at.map_or("-".to_string(), |t| t.to_rfc3339())
                );
            }
        }
        KeysCommand::RotateSecrets => {
            let report = reseal(config, &stores).await.map_err(|e| e.to_string())?;
            print_json(out, &report);
        }
        KeysCommand::Revoke { id } => {
            let revoked = stores
                .keys
                .revoke_api_key(&id, chrono::Utc::now())
                .await
                .map_err(|e| e.to_string())?;
            if revoked {
                announce_revocation(config, &stores, &id).await;
            }
            let _ = writeln!(
                out,
                "{}",
                if revoked {
                    format!("revoked {id}")
                } else {
                    format!("{id} was already revoked")
                }
            );
        }
    }
    Ok(())
}

/// Tells the running servers that key `id` was revoked, so that they drop it from their
/// caches at once ([`crate::revocation`]): an audit event in the log, published through Redis
/// when `redis_url` is set. The key is revoked in the store either way; a failure here only
/// leaves servers to notice within their cache's lifetime, and is said so.
async fn announce_revocation(config: &Config, stores: &store::Stores, id: &str) {
    let event = match stores
        .store
        .append_event(&crate::revocation::revoked_event(id, "cli"))
        .await
    {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(%error, "the revocation is not in the event log; servers notice it within key_cache_ttl");
            return;
        }
    };
    let Some(url) = &config.redis_url else {
        return;
    };
    let bus = crate::redis::bus(
        url.expose(),
        config.engine.deployment.as_str(),
        stores,
        std::sync::Arc::new(openclaw_bus_redis::NoObserver),
    )
    .await;
    let published = match bus {
        Ok(bus) => openclaw_core::ports::EventBus::publish(&bus, &event).await,
        Err(error) => Err(error),
    };
    if let Err(error) = published {
        tracing::warn!(%error, "the revocation was not published to Redis; servers read it from the log within a second");
    }
}

/// Runs [`Provisioner::reseal_secrets`](openclaw_core::Provisioner::reseal_secrets) on the
/// database: the keys as the server would load them (never generated here), and providers
/// that are never called (re-sealing touches only the database).
async fn reseal(
    config: &Config,
    stores: &store::Stores,
) -> openclaw_core::Result<openclaw_core::engine::ResealReport> {
    use openclaw_core::{InMemoryCompute, InMemoryDns, InMemoryHealth};
    use std::sync::Arc;
    let keys = crate::secrets_file::load_or_create(config, crate::config::Mode::Live)?;
    let mut engine = config.engine.clone();
    engine.bootstrap_key = Some(keys.bootstrap);
    engine.secrets_key = Some(keys.sealing);
    engine.retired_secrets_keys = keys.retired;
    let compute = InMemoryCompute::new(engine.deployment.clone());
    let dns = InMemoryDns::new(engine.deployment.clone(), &engine.zone);
    let provisioner = openclaw_core::Provisioner::builder()
        .health(Arc::new(InMemoryHealth::following(compute.clone())))
        .compute(Arc::new(compute))
        .dns(Arc::new(dns))
        .store(stores.store.clone())
        .agents(stores.agents.clone())
        .config(engine)
        .without_retries()
        .build()?;
    provisioner.reseal_secrets("cli:keys rotate-secrets").await
}

fn connect(config: &Config, server: &ServerArgs) -> Result<ApiClient, String> {
    let base = match &server.server {
        Some(url) => url.clone(),
        None => crate::deployment::local_url(config.listen_addr().map_err(|e| e.to_string())?),
    };
    let key = server.api_key()?;
    ApiClient::new(&base, &key).map_err(|e| e.to_string())
}

/// The values of `--provider-key NAME` (standard input) and `NAME=@FILE` (a file), without
/// the trailing newline.
fn read_provider_keys(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut keys = BTreeMap::new();
    let mut from_stdin = None;
    for arg in args {
        let (name, value) = match arg.split_once('=') {
            None => {
                if let Some(first) = &from_stdin {
                    return Err(format!(
                        "only one --provider-key can read standard input ({first} does); \
                         give {arg} as {arg}=@FILE"
                    ));
                }
                from_stdin = Some(arg.clone());
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .map_err(|e| format!("reading {arg} from standard input: {e}"))?;
                (arg.as_str(), text)
            }
            Some((name, file)) => {
                let Some(path) = file.strip_prefix('@') else {
                    return Err(format!(
                        "--provider-key {name}=…: a key's value never goes on the command line \
                         (every user of the machine can read it there); pass --provider-key \
                         {name} and the value on standard input, or {name}=@FILE"
                    ));
                };
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("--provider-key {name}: cannot read {path}: {e}"))?;
                (name, text)
            }
        };
        let value = value.trim_end_matches(['\n', '\r']).to_string();
        if value.is_empty() {
            return Err(format!("--provider-key {name}: the value is empty"));
        }
        keys.insert(name.to_string(), value);
    }
    Ok(keys)
}

fn print_json(out: &mut dyn Write, value: &impl serde::Serialize) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let _ = writeln!(out, "{text}");
}

async fn sweep(
    config: &Config,
    server: &ServerArgs,
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<(), String> {
    let client = connect(config, server)?;
    let report: SweepView = client
        .call(
            Method::POST,
            "/v1/sweep",
            Some(&SweepRequest { dry_run }),
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    print_json(out, &report);
    Ok(())
}

async fn instances(
    config: &Config,
    server: &ServerArgs,
    command: InstancesCommand,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> Result<(), String> {
    let client = connect(config, server)?;
    if matches!(
        command,
        InstancesCommand::Access { .. }
            | InstancesCommand::Action { .. }
            | InstancesCommand::Backups { .. }
    ) {
        return agent_command(&client, command, out).await;
    }
    let none = None::<&()>;
    // A plan change that settles on another plan went back after a failure.
    let mut wanted_plan: Option<String> = None;
    let (instance, goal): (InstanceView, Option<Goal>) = match command {
        InstancesCommand::Create {
            customer,
            subdomain,
            plan,
            region,
            external_ref,
            provider_keys,
            idempotency_key,
            wait,
        } => {
            let keys = read_provider_keys(&provider_keys)?;
            let request = CreateInstanceRequest {
                customer_id: customer,
                external_ref,
                subdomain,
                plan,
                region,
                provider_keys: keys,
            };
            let instance = client
                .call(
                    Method::POST,
                    "/v1/instances",
                    Some(&request),
                    idempotency_key.as_deref(),
                )
                .await
                .map_err(|e| e.to_string())?;
            (instance, wait.then_some(Goal::Active))
        }
        InstancesCommand::Get { id } => {
            let instance = client
                .call(Method::GET, &format!("/v1/instances/{id}"), none, None)
                .await
                .map_err(|e| e.to_string())?;
            (instance, None)
        }
        InstancesCommand::List {
            customer,
            status,
            external_ref,
            limit,
            after,
            json,
        } => {
            let query = serde_urlencoded::to_string(
                [
                    ("customer_id", customer),
                    ("status", status),
                    ("external_ref", external_ref),
                    ("limit", limit.map(|l| l.to_string())),
                    ("after", after),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect::<Vec<_>>(),
            )
            .map_err(|e| e.to_string())?;
            let page: InstancePage = client
                .call(Method::GET, &format!("/v1/instances?{query}"), none, None)
                .await
                .map_err(|e| e.to_string())?;
            if json {
                print_json(out, &page);
            } else {
                let _ = writeln!(
                    out,
                    "{:<36}  {:<13} {:<40} customer",
                    "id", "status", "fqdn"
                );
                for i in &page.items {
                    let _ = writeln!(
                        out,
                        "{:<36}  {:<13} {:<40} {}",
                        i.id,
                        wait::status_name(i.status),
                        i.fqdn,
                        i.customer_id
                    );
                }
                if let Some(next) = page.next {
                    let _ = writeln!(out, "more: --after {next}");
                }
            }
            return Ok(());
        }
        InstancesCommand::Suspend(op) => {
            operation(&client, &op, "suspend", Goal::Suspended).await?
        }
        InstancesCommand::Unsuspend(op) => {
            operation(&client, &op, "unsuspend", Goal::Active).await?
        }
        InstancesCommand::Retry(op) => operation(&client, &op, "retry", Goal::Active).await?,
        InstancesCommand::ChangePlan { op, plan } => {
            let body = ChangePlanRequest { plan: plan.clone() };
            let instance: InstanceView = client
                .call(
                    Method::POST,
                    &format!("/v1/instances/{}/plan", op.id),
                    Some(&body),
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            // Back where it came from: active, or suspended.
            let resume = instance
                .plan_change
                .as_ref()
                .map_or(instance.status, |change| change.resume);
            let goal = match resume {
                Status::Suspended => Goal::Suspended,
                _ => Goal::Active,
            };
            wanted_plan = Some(plan);
            (instance, op.wait.then_some(goal))
        }
        InstancesCommand::Terminate(op) => {
            let instance = client
                .call(
                    Method::DELETE,
                    &format!("/v1/instances/{}", op.id),
                    none,
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            (instance, op.wait.then_some(Goal::Terminated))
        }
        InstancesCommand::Rollback { op, level } => {
            let body = RollbackRequest {
                level: level.into(),
            };
            let instance = client
                .call(
                    Method::POST,
                    &format!("/v1/instances/{}/rollback", op.id),
                    Some(&body),
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            let goal = match level {
                LevelArg::Soft => None,
                _ => Some(Goal::RolledBack),
            };
            (instance, goal.filter(|_| op.wait))
        }
        InstancesCommand::Access { .. }
        | InstancesCommand::Action { .. }
        | InstancesCommand::Backups { .. } => return Err("not an instance command".to_string()),
    };
    let Some(goal) = goal else {
        print_json(out, &instance);
        return Ok(());
    };
    match wait::follow(&client, &instance, goal, err).await {
        Ok(_) => {
            let settled: InstanceView = client
                .call(
                    Method::GET,
                    &format!("/v1/instances/{}", instance.id),
                    none,
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            print_json(out, &settled);
            match wanted_plan {
                Some(plan) if settled.plan != plan => {
                    let why = settled
                        .last_error
                        .as_ref()
                        .map_or_else(String::new, |e| format!(": {}", e.message));
                    Err(format!(
                        "the change to plan {plan} failed and instance {} is back on plan {}{why}",
                        settled.id, settled.plan
                    ))
                }
                _ => Ok(()),
            }
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn fleet(
    config: &Config,
    server: &ServerArgs,
    command: FleetCommand,
    out: &mut (dyn Write + Send),
) -> Result<(), String> {
    let client = connect(config, server)?;
    let value: serde_json::Value = match command {
        FleetCommand::Upgrade {
            to,
            canary,
            batch_size,
        } => {
            let body = serde_json::json!({
                "version": to, "canary": canary, "batch_size": batch_size
            });
            client
                .call(Method::POST, "/v1/fleet/upgrade", Some(&body), None)
                .await
        }
        FleetCommand::List => {
            client
                .call(Method::GET, "/v1/fleet/upgrades", None::<&()>, None)
                .await
        }
    }
    .map_err(|e| e.to_string())?;
    print_json(out, &value);
    Ok(())
}

/// `instances access`, `instances action` and `instances backups`, which answer with
/// something else than an instance.
async fn agent_command(
    client: &ApiClient,
    command: InstancesCommand,
    out: &mut (dyn Write + Send),
) -> Result<(), String> {
    use serde_json::{json, Value};
    match command {
        InstancesCommand::Access { id } => {
            let view: crate::model::AccessView = client
                .call(
                    Method::GET,
                    &format!("/v1/instances/{id}/access"),
                    None::<&()>,
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            let _ = writeln!(out, "{}", view.url);
            Ok(())
        }
        InstancesCommand::Action {
            id,
            action,
            to,
            device,
            backup,
            wait,
        } => {
            let body = json!({ "version": to, "device": device, "backup": backup });
            let body = Value::Object(
                body.as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            );
            let task: Value = client
                .call(
                    Method::POST,
                    &format!("/v1/instances/{id}/actions/{}", action.path()),
                    Some(&body),
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            if !wait {
                print_json(out, &task);
                return Ok(());
            }
            let task_id = task["id"].as_str().unwrap_or_default().to_string();
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(900);
            loop {
                let current: Value = client
                    .call(
                        Method::GET,
                        &format!("/v1/instances/{id}/tasks/{task_id}"),
                        None::<&()>,
                        None,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                match current["state"].as_str() {
                    Some("succeeded") => {
                        print_json(out, &current);
                        return Ok(());
                    }
                    Some("failed") => {
                        print_json(out, &current);
                        return Err(format!(
                            "the agent reported a failure: {}",
                            current["error"].as_str().unwrap_or("no message")
                        ));
                    }
                    _ if tokio::time::Instant::now() >= deadline => {
                        return Err(format!("task {task_id} did not finish in 15 minutes"));
                    }
                    _ => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
                }
            }
        }
        InstancesCommand::Backups { id } => {
            let backups: Value = client
                .call(
                    Method::GET,
                    &format!("/v1/instances/{id}/backups"),
                    None::<&()>,
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            print_json(out, &backups);
            Ok(())
        }
        _ => Err("not an agent command".to_string()),
    }
}

async fn operation(
    client: &ApiClient,
    op: &OperationArgs,
    action: &str,
    goal: Goal,
) -> Result<(InstanceView, Option<Goal>), String> {
    let instance = client
        .call(
            Method::POST,
            &format!("/v1/instances/{}/{action}", op.id),
            None::<&()>,
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok((instance, op.wait.then_some(goal)))
}

/// Every status name the API knows, for help texts and checks.
pub fn status_names() -> Vec<String> {
    [
        Status::Pending,
        Status::Provisioning,
        Status::Active,
        Status::Suspending,
        Status::Suspended,
        Status::Unsuspending,
        Status::Terminating,
        Status::Terminated,
        Status::RollingBack,
        Status::RolledBack,
        Status::Failed,
        Status::Resizing,
    ]
    .into_iter()
    .map(wait::status_name)
    .collect()
}
