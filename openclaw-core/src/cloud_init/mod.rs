//! The cloud-init user data that turns a fresh Ubuntu 24.04 VPS into an OpenClaw instance.
//!
//! [`render_user_data`] writes one `#cloud-config` document per instance. On every boot, before
//! any package, file or download (`bootcmd`), it locks root's password and applies the
//! firewall with the image's `ufw`: 80 and 443 open, 22 only from the admin networks, 18789
//! never. On first boot it then:
//!
//! 1. installs `caddy`, `ufw`, `curl`, `ca-certificates` and `jq` from Ubuntu;
//! 2. creates the system user `openclaw` (home `/var/lib/openclaw`, no login shell);
//! 3. checks the firewall is on (nothing is downloaded otherwise), then installs the pinned
//!    Node.js from nodejs.org into `/opt/node`, checked against the SHA-256 pinned for its
//!    architecture in `cloud_init.node_sha256` and the release's `SHASUMS256.txt`, with
//!    `node`, `npm` and `npx` linked into `/usr/local/bin`;
//! 4. installs the pinned OpenClaw release from its npm tarball, checked against
//!    `cloud_init.openclaw_integrity` (npm's SHA-512);
//! 5. fetches the instance's secrets once with its single-use bootstrap token
//!    (`POST <control plane>/v1/bootstrap`, the token as `Authorization: Bearer`, answered with
//!    `{"env": {"OPENCLAW_GATEWAY_TOKEN": "…", "ANTHROPIC_API_KEY": "…", …}}`) into
//!    `/etc/openclaw/openclaw.env` (root, `0600`);
//! 6. enables and starts `openclaw-gateway.service` (`openclaw gateway --port 18789` as
//!    `openclaw`, `Restart=always`, `RestartPreventExitStatus=78`), configured by
//!    `~/.openclaw/openclaw.json` to bind to loopback and take token auth;
//! 7. reloads Caddy, which serves `https://<fqdn>` with an automatic certificate and proxies
//!    it (WebSockets included) to `127.0.0.1:18789`.
//!
//! Steps 3 to 7 are one chain: a step that fails stops the rest, so the token is never spent
//! on a broken machine.
//!
//! The control plane then sees the gateway as healthy through Caddy: `GET /healthz` answers
//! once the process lives, `GET /startupz` turns from 503 to 200 once it is ready (`/readyz`
//! is not a gate: no channel is configured at first boot).
//!
//! The only secret in the user data is the bootstrap token (see [`crate::bootstrap`]): Hetzner
//! keeps user data and shows it to anything on the VPS that asks its metadata service, so the
//! gateway token and provider keys are fetched, not embedded, and the token is worthless once
//! used.
//!
//! Every value from outside is validated into a charset that is inert in YAML, shell,
//! systemd and Caddyfile syntax, and the document is typed data written by `serde_json` after
//! the `#cloud-config` line (JSON is YAML): every value a JSON string, so no input can change
//! the document's structure.
//!
//! ```
//! use openclaw_core::{render_user_data, BootstrapKey, CloudInitConfig, domain::{InstanceId, JobId}};
//!
//! let config = CloudInitConfig {
//!     control_plane_url: "https://panel.example.com".into(),
//!     admin_ssh_cidrs: vec!["203.0.113.0/24".into()],
//!     acme_email: Some("ops@example.com".into()),
//!     ..CloudInitConfig::default()
//! };
//! let instance = InstanceId::new();
//! let token = BootstrapKey::random().token_for(instance, JobId::new());
//! let user_data = render_user_data(&config, instance, "alice.claw.example.com", &token)?;
//! assert!(user_data.expose().starts_with("#cloud-config\n"));
//! # Ok::<(), openclaw_core::Error>(())
//! ```

mod config;
mod document;
mod files;

pub use config::{
    CloudInitConfig, DEFAULT_NODE_SHA256_X64, DEFAULT_NODE_VERSION, DEFAULT_OPENCLAW_INTEGRITY,
    DEFAULT_OPENCLAW_VERSION, MAX_ADMIN_SSH_CIDRS, MAX_CONTROL_PLANE_URL_LEN, MAX_EMAIL_LEN,
    MAX_FQDN_LEN, MAX_VERSION_LEN, MIN_NODE_VERSION, NODE_ARCHITECTURES,
};

use crate::bootstrap;
use crate::domain::InstanceId;
use crate::error::{Error, Result};
use crate::secret::SecretString;
use document::{CloudConfig, WriteFile};
use files::{fill, sh_quote};

/// Hetzner's limit on a server's user data, in bytes.
pub const MAX_USER_DATA_BYTES: usize = 32 * 1024;

/// The port the gateway listens on (loopback only); Caddy proxies to it and health probes
/// reach it through Caddy.
pub const GATEWAY_PORT: u16 = files::GATEWAY_PORT;

/// The packages installed from Ubuntu 24.04 (`caddy` is in `universe`).
pub const PACKAGES: &[&str] = &["caddy", "ufw", "curl", "ca-certificates", "jq"];

/// Renders the `#cloud-config` user data for one instance.
///
/// Validates `config` ([`CloudInitConfig::validate`]), `fqdn` (a lowercase DNS name, field
/// `fqdn`) and `bootstrap_token` (the shape [`crate::BootstrapKey::token_for`] makes, issued for
/// `instance_id`; field `bootstrap_token`). The result is at most [`MAX_USER_DATA_BYTES`], or
/// [`Error::InvalidInput`] for `user_data`. It is returned as a [`SecretString`] because it
/// carries the bootstrap token until that token is used.
///
/// The output depends only on the arguments, so a retried create renders the same bytes.
pub fn render_user_data(
    config: &CloudInitConfig,
    instance_id: InstanceId,
    fqdn: &str,
    bootstrap_token: &SecretString,
) -> Result<SecretString> {
    let token = checked_token(config, instance_id, fqdn, bootstrap_token)?;
    let write_files = instance_files(config, fqdn, token)?
        .into_iter()
        .map(|f| WriteFile {
            path: f.path,
            owner: "root:root",
            permissions: f.permissions,
            content: f.content,
            defer: f.deferred,
        })
        .collect();
    // Every boot, before packages, files or downloads: the root password locked, then the
    // firewall.
    let mut bootcmd = vec![argv(&["usermod", "--lock", "root"])];
    let networks = config::admin_networks(&config.admin_ssh_cidrs)?;
    bootcmd.extend(files::firewall_commands(&networks));
    let root = CloudConfig {
        // No password logins over SSH, and no root password at all.
        ssh_pwauth: false,
        bootcmd,
        package_update: true,
        packages: PACKAGES.iter().map(|p| (*p).to_string()).collect(),
        write_files,
        runcmd: run_commands(),
    };
    let document = document::to_user_data(&root, "user_data")?;
    if document.len() > MAX_USER_DATA_BYTES {
        return Err(Error::invalid(
            "user_data",
            format!(
                "is {} bytes, over Hetzner's limit of {MAX_USER_DATA_BYTES}",
                document.len()
            ),
        ));
    }
    Ok(SecretString::new(document))
}

/// The instance agent as the control plane serves it at `GET /v1/agent/script`, with this
/// deployment's control plane URL filled in. The user data pins its SHA-256.
pub fn agent_script(config: &CloudInitConfig) -> Result<String> {
    fill(
        files::AGENT,
        &[(
            "control_plane_url",
            &sh_quote(config.control_plane_url.trim_end_matches('/')),
        )],
    )
}

/// Where the agent fetches itself from.
fn agent_script_url(config: &CloudInitConfig) -> String {
    format!(
        "{}/v1/agent/script",
        config.control_plane_url.trim_end_matches('/')
    )
}

/// The SHA-256 of [`agent_script`], as 64 lowercase hex digits.
pub fn agent_script_sha256(config: &CloudInitConfig) -> Result<String> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(agent_script(config)?.as_bytes());
    Ok(crate::domain::to_hex(&digest))
}

/// Validates the inputs of a rendering; the bootstrap token's text.
fn checked_token<'t>(
    config: &CloudInitConfig,
    instance_id: InstanceId,
    fqdn: &str,
    bootstrap_token: &'t SecretString,
) -> Result<&'t str> {
    config.validate()?;
    config::validate_fqdn(fqdn)?;
    let token = bootstrap_token.expose();
    match bootstrap::split_token(token) {
        Some((issued_for, _)) if issued_for == instance_id => {}
        Some(_) => {
            return Err(Error::invalid(
                "bootstrap_token",
                "was issued for another instance",
            ))
        }
        None => {
            return Err(Error::invalid(
                "bootstrap_token",
                "is not a bootstrap token (<32 hex digits>.<43 base64url characters>)",
            ))
        }
    }
    Ok(token)
}

/// One file cloud-init writes on an instance's server (all owned by root).
#[derive(Clone, PartialEq, Eq)]
pub struct InstanceFile {
    /// Where it goes.
    pub path: String,
    /// Its mode, as octal text (`0755`).
    pub permissions: &'static str,
    /// Its content (the bootstrap script holds the bootstrap token).
    pub content: String,
    /// Written after the packages are installed.
    pub deferred: bool,
}

impl std::fmt::Debug for InstanceFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceFile")
            .field("path", &self.path)
            .field("permissions", &self.permissions)
            .field("bytes", &self.content.len())
            .finish()
    }
}

impl InstanceFile {
    fn new(path: &str, permissions: &'static str, content: String, deferred: bool) -> Self {
        InstanceFile {
            path: path.to_string(),
            permissions,
            content,
            deferred,
        }
    }
}

/// The files [`render_user_data`] has cloud-init write, with the same checks: for
/// inspecting what runs on an instance, and for running it elsewhere (the real-gateway test
/// starts OpenClaw and the agent from exactly these).
pub fn render_files(
    config: &CloudInitConfig,
    instance_id: InstanceId,
    fqdn: &str,
    bootstrap_token: &SecretString,
) -> Result<Vec<InstanceFile>> {
    let token = checked_token(config, instance_id, fqdn, bootstrap_token)?;
    instance_files(config, fqdn, token)
}

fn instance_files(config: &CloudInitConfig, fqdn: &str, token: &str) -> Result<Vec<InstanceFile>> {
    let bootstrap_url = config::bootstrap_url(&config.control_plane_url);
    let caddy_globals = files::caddy_global_options(config.acme_email.as_deref());
    Ok(vec![
        InstanceFile::new(
            files::NODE_INSTALLER_PATH,
            "0755",
            fill(
                files::NODE_INSTALLER,
                &[
                    ("node_version", &sh_quote(&config.node_version)),
                    (
                        "node_sha256_x64",
                        &sh_quote(config.node_sha256.get("x64").map_or("", String::as_str)),
                    ),
                    (
                        "node_sha256_arm64",
                        &sh_quote(config.node_sha256.get("arm64").map_or("", String::as_str)),
                    ),
                ],
            )?,
            false,
        ),
        InstanceFile::new(
            files::GATEWAY_INSTALLER_PATH,
            "0755",
            fill(
                files::GATEWAY_INSTALLER,
                &[
                    ("openclaw_version", &sh_quote(&config.openclaw_version)),
                    (
                        "openclaw_sha512",
                        &sh_quote(&config::integrity_sha512_hex(&config.openclaw_integrity)?),
                    ),
                ],
            )?,
            false,
        ),
        // 0700: the script holds the bootstrap token until it has been used.
        InstanceFile::new(
            files::BOOTSTRAP_PATH,
            "0700",
            fill(
                files::BOOTSTRAP,
                &[
                    ("bootstrap_url", &sh_quote(&bootstrap_url)),
                    ("bootstrap_token", &sh_quote(token)),
                ],
            )?,
            false,
        ),
        InstanceFile::new(
            files::UNIT_PATH,
            "0644",
            files::GATEWAY_UNIT.to_string(),
            false,
        ),
        InstanceFile::new(
            files::AGENT_INSTALLER_PATH,
            "0755",
            fill(
                files::AGENT_INSTALLER,
                &[
                    ("agent_url", &sh_quote(&agent_script_url(config))),
                    ("agent_sha256", &sh_quote(&agent_script_sha256(config)?)),
                ],
            )?,
            false,
        ),
        InstanceFile::new(
            files::AGENT_UNIT_PATH,
            "0644",
            files::AGENT_UNIT.to_string(),
            false,
        ),
        // Deferred until after the packages are installed, so that installing caddy cannot
        // leave its default Caddyfile in place of ours.
        InstanceFile::new(
            files::CADDYFILE_PATH,
            "0644",
            fill(
                files::CADDYFILE,
                &[("global_options", &caddy_globals), ("fqdn", fqdn)],
            )?,
            true,
        ),
        // Written as root before the user exists; the first commands below hand it over.
        InstanceFile::new(
            files::OPENCLAW_CONFIG_PATH,
            "0600",
            files::openclaw_json(fqdn)?,
            false,
        ),
    ])
}

/// An argv list.
fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_string()).collect()
}

/// The first-boot commands, in order: user and home, Node, OpenClaw, secrets, gateway, Caddy,
/// firewall. Each is an argv list (no shell), and none depends on input, so the list is the
/// same for every instance.
fn run_commands() -> Vec<Vec<String>> {
    vec![
        argv(&[
            "useradd",
            "--system",
            "--user-group",
            "--home-dir",
            files::OPENCLAW_HOME,
            "--shell",
            "/usr/sbin/nologin",
            "openclaw",
        ]),
        argv(&["chown", "-R", "openclaw:openclaw", files::OPENCLAW_HOME]),
        argv(&["chmod", "0700", files::OPENCLAW_HOME]),
        // One chain: a failed install stops it before the bootstrap, so the single-use token
        // is never spent on a broken machine (and the rollback finds it unhealthy).
        argv(&["sh", "-ec", &install_chain()]),
    ]
}

/// The install steps, each only after the one before succeeded.
pub(crate) fn install_chain() -> String {
    [
        files::FIREWALL_CHECK,
        files::NODE_INSTALLER_PATH,
        files::GATEWAY_INSTALLER_PATH,
        files::BOOTSTRAP_PATH,
        "systemctl daemon-reload",
        "systemctl enable --now openclaw-gateway.service",
        files::AGENT_INSTALLER_PATH,
        "systemctl enable --now openclaw-agent.service",
        "systemctl reload-or-restart caddy.service",
    ]
    .join(" && ")
}
