//! The files cloud-init writes onto the VPS. Each template is plain text with `{{name}}` holes
//! filled in one pass by [`fill`], so a value can never be read as another hole; every value
//! that reaches a shell script is single-quoted by [`sh_quote`] on top of having been validated.

use crate::error::{Error, Result};

/// The port the gateway listens on, on loopback only.
pub(crate) const GATEWAY_PORT: u16 = 18789;

pub(crate) const NODE_INSTALLER_PATH: &str = "/usr/local/sbin/openclaw-install-node";
pub(crate) const GATEWAY_INSTALLER_PATH: &str = "/usr/local/sbin/openclaw-install-gateway";
pub(crate) const BOOTSTRAP_PATH: &str = "/usr/local/sbin/openclaw-bootstrap";
pub(crate) const UNIT_PATH: &str = "/etc/systemd/system/openclaw-gateway.service";
pub(crate) const CADDYFILE_PATH: &str = "/etc/caddy/Caddyfile";
pub(crate) const OPENCLAW_HOME: &str = "/var/lib/openclaw";
pub(crate) const OPENCLAW_CONFIG_PATH: &str = "/var/lib/openclaw/.openclaw/openclaw.json";
pub(crate) const AGENT_INSTALLER_PATH: &str = "/usr/local/sbin/openclaw-install-agent";
pub(crate) const AGENT_UNIT_PATH: &str = "/etc/systemd/system/openclaw-agent.service";

/// The instance agent (docs/agent-protocol.md); its one hole is `{{control_plane_url}}`.
pub(crate) const AGENT: &str = include_str!("agent.sh");

pub(crate) const AGENT_INSTALLER: &str = r#"#!/bin/sh
# Fetches the instance agent from the control plane and installs it only if its SHA-256 is the
# one pinned below (the control plane rendered both). The agent is served rather than carried
# here because, with its comments, it would fill most of the user data's 32 KiB.
set -eu
umask 022
staged=$(mktemp /usr/local/sbin/.openclaw-agent.XXXXXX)
trap 'rm -f "$staged"' EXIT
curl --fail --silent --show-error --proto '=https,http' \
  --connect-timeout 10 --max-time 60 \
  --retry 10 --retry-connrefused --retry-delay 5 \
  --output "$staged" {{agent_url}}
if ! printf '%s  %s\n' {{agent_sha256}} "$staged" | sha256sum --check --status; then
  echo "openclaw-install-agent: the agent from the control plane does not match its checksum" >&2
  exit 1
fi
chmod 0755 "$staged"
mv "$staged" /usr/local/sbin/openclaw-agent
"#;

pub(crate) const AGENT_UNIT: &str = r#"# The instance agent: connects out to the control plane only (docs/agent-protocol.md).
[Unit]
Description=OpenClaw instance agent
Wants=network-online.target
After=network-online.target openclaw-gateway.service

[Service]
Type=simple
# root: it restarts the gateway, rewrites /etc/openclaw/openclaw.env and runs npm -g; it runs
# OpenClaw's own commands as openclaw (runuser).
Environment=HOME=/root
ExecStart=/usr/local/sbin/openclaw-agent
# Exit 0 means the control plane answered 410 (the instance is gone): stay down.
Restart=on-failure
RestartSec=10
TimeoutStopSec=30
NoNewPrivileges=true
PrivateTmp=true

[Install]
WantedBy=multi-user.target
"#;

/// Fills `{{name}}` holes from `values` in a single left-to-right pass. A hole without a value,
/// or an unclosed one, is a bug in the template.
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> Result<String> {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(Error::internal("unclosed {{ in a cloud-init template"));
        };
        let name = &after[..end];
        let Some((_, value)) = values.iter().find(|(key, _)| *key == name) else {
            return Err(Error::internal(format!(
                "cloud-init template hole {{{{{name}}}}} has no value"
            )));
        };
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `value` as one single-quoted POSIX shell word.
pub(crate) fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

pub(crate) const NODE_INSTALLER: &str = r#"#!/bin/sh
# Installs the pinned Node.js release from nodejs.org into /opt/node, after checking the
# tarball twice: against the SHA-256 pinned in the control plane's configuration for this
# architecture (cloud_init.node_sha256), and against the release's SHASUMS256.txt. Links node,
# npm and npx into /usr/local/bin.
set -eu
version={{node_version}}
case "$(uname -m)" in
  x86_64) arch=x64; pinned={{node_sha256_x64}} ;;
  aarch64) arch=arm64; pinned={{node_sha256_arm64}} ;;
  *) echo "openclaw-install-node: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
if [ -z "$pinned" ]; then
  echo "openclaw-install-node: no SHA-256 is pinned for Node $version on $arch (cloud_init.node_sha256.$arch)" >&2
  exit 1
fi
name="node-v${version}-linux-${arch}"
base="https://nodejs.org/dist/v${version}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fetch() {
  curl --fail --silent --show-error --location --proto '=https' \
    --retry 5 --retry-connrefused --retry-delay 5 --output "$1" "$2"
}
fetch SHASUMS256.txt "$base/SHASUMS256.txt"
fetch "$name.tar.gz" "$base/$name.tar.gz"
# Keep only the line for this exact file, so the check cannot pass on another entry.
awk -v file="$name.tar.gz" '$2 == file' SHASUMS256.txt > expected
if [ ! -s expected ]; then
  echo "openclaw-install-node: $name.tar.gz is not in SHASUMS256.txt" >&2
  exit 1
fi
sha256sum --check --strict expected
printf '%s  %s\n' "$pinned" "$name.tar.gz" | sha256sum --check --strict -
rm -rf /opt/node
mkdir -p /opt/node
tar -xzf "$name.tar.gz" -C /opt/node --strip-components=1 --no-same-owner
for tool in node npm npx; do
  ln -sf "/opt/node/bin/$tool" "/usr/local/bin/$tool"
done
/usr/local/bin/node --version
"#;

pub(crate) const GATEWAY_INSTALLER: &str = r#"#!/bin/sh
# Installs the pinned OpenClaw release (into Node's prefix, /opt/node) from its npm tarball,
# checked against the SHA-512 pinned in the control plane's configuration
# (cloud_init.openclaw_integrity, npm's own `dist.integrity`), and links its command into
# /usr/local/bin, where the gateway unit starts it. The pin covers the openclaw package
# itself; npm resolves its dependencies from the registry and checks each against the
# registry's integrity data.
set -eu
version={{openclaw_version}}
sha512={{openclaw_sha512}}
# cloud-init runs this without a login environment; npm wants a HOME for its cache.
export HOME=/root
export PATH="/usr/local/bin:$PATH"
export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball="$work/openclaw-${version}.tgz"
curl --fail --silent --show-error --location --proto '=https' \
  --retry 5 --retry-connrefused --retry-delay 5 --output "$tarball" \
  "https://registry.npmjs.org/openclaw/-/openclaw-${version}.tgz"
printf '%s  %s\n' "$sha512" "$tarball" | sha512sum --check --strict -
npm install --global "$tarball"
ln -sf /opt/node/bin/openclaw /usr/local/bin/openclaw
test -x /usr/local/bin/openclaw
"#;

pub(crate) const BOOTSTRAP: &str = r#"#!/bin/sh
# Fetches this instance's secrets (the gateway token, provider keys) from the control plane
# once and writes them to /etc/openclaw/openclaw.env, which the gateway unit reads. The token
# below is single-use: the control plane answers a second call with 410 (or 409 once the
# instance is active), so the user data Hetzner keeps opens nothing once this has run. It
# travels in the Authorization header, never in the URL (proxies log paths).
set -eu
umask 077
env_file=/etc/openclaw/openclaw.env
if [ -s "$env_file" ]; then
  echo "openclaw-bootstrap: $env_file already exists, nothing to do" >&2
  exit 0
fi
install -d -o root -g root -m 0700 /etc/openclaw
response=$(mktemp /etc/openclaw/.response.XXXXXX)
staged=$(mktemp /etc/openclaw/.openclaw.env.XXXXXX)
agent_staged=$(mktemp /etc/openclaw/.agent.env.XXXXXX)
config_staged=$(mktemp /var/lib/openclaw/.openclaw/.openclaw.json.XXXXXX)
trap 'rm -f "$response" "$staged" "$agent_staged" "$config_staged"' EXIT
# curl reads the URL and the header from its config on stdin, not from argv, so the token
# never shows in the process list. --retry repeats only transient failures (timeouts, 408,
# 429, 5xx, refused connections); any other 4xx, such as 410 for a used token, ends it at once.
{
  printf 'url = "%s"\n' {{bootstrap_url}}
  printf 'header = "Authorization: Bearer %s"\n' {{bootstrap_token}}
} |
  curl --config - --fail --silent --show-error --data '' \
    --header 'Accept: application/json' \
    --connect-timeout 10 --max-time 60 \
    --retry 10 --retry-connrefused --retry-delay 5 \
    --output "$response"
# Anything unexpected stops here rather than start a gateway with half its settings. Values
# are written double-quoted with the four characters systemd unescapes there (" \ ` $)
# escaped, so every value reaches the gateway exactly as sent. Messages name keys, never values.
jq --raw-output --from-file /dev/stdin "$response" > "$staged" <<'JQ'
if (.env | type) == "object" then .env else error("the response has no env object") end
| if has("OPENCLAW_GATEWAY_TOKEN") then . else error("the response has no OPENCLAW_GATEWAY_TOKEN") end
| to_entries[]
| if (.key | test("^[A-Z][A-Z0-9_]*$")) then . else error("refusing variable name \(.key | tojson)") end
| if (.value | type) == "string" then . else error("\(.key) is not a string") end
| if (.value | test("[\\x00-\\x1f\\x7f]")) then error("\(.key) contains a control character") else . end
| "\(.key)=\"\(.value | gsub("(?<c>[\"\\\\`$])"; "\\\(.c)"))\""
JQ
# The agent's credential goes to a file of its own: the gateway never sees it.
jq --raw-output --from-file /dev/stdin "$response" > "$agent_staged" <<'JQ'
if (.agent.token | type) == "string" and (.agent.token | test("^[A-Za-z0-9._-]{16,256}$"))
then "OPENCLAW_AGENT_TOKEN=\"\(.agent.token)\"\nOPENCLAW_AGENT_HEARTBEAT=\"\(.agent.heartbeat_seconds // 30 | floor)\""
else error("the response has no agent token") end
JQ
# OpenClaw's own default model follows none of the provider keys; the control plane names the
# one for this order's keys (or nothing).
model=$(jq --raw-output '.default_model // empty' "$response")
if [ -n "$model" ]; then
  case $model in
    *[!A-Za-z0-9/._:-]*) echo "openclaw-bootstrap: refusing the default model's name" >&2; exit 1 ;;
  esac
  config=/var/lib/openclaw/.openclaw/openclaw.json
  jq --arg model "$model" '.agents.defaults.model.primary = $model' "$config" > "$config_staged"
  chown --reference="$config" "$config_staged"
  chmod 0600 "$config_staged"
  mv "$config_staged" "$config"
fi
chmod 0600 "$staged" "$agent_staged"
mv "$agent_staged" /etc/openclaw/agent.env
mv "$staged" "$env_file"
echo "openclaw-bootstrap: wrote $(wc -l < "$env_file") variables to $env_file" >&2
"#;

/// The firewall as argv lists for `bootcmd`, which runs on every boot before `write_files`,
/// packages or any download: the world may reach Caddy on 80 and 443; SSH only the admin
/// networks (`networks`, already validated and normalised; none: SSH stays closed); the
/// gateway's port 18789 listens on loopback and is never opened. Starting from a reset means
/// no rule from the image survives.
pub(crate) fn firewall_commands<T: std::fmt::Display>(networks: &[T]) -> Vec<Vec<String>> {
    let argv = |args: &[&str]| args.iter().map(|a| (*a).to_string()).collect::<Vec<_>>();
    let mut commands = vec![
        argv(&["ufw", "--force", "reset"]),
        argv(&["ufw", "default", "deny", "incoming"]),
        argv(&["ufw", "default", "allow", "outgoing"]),
        argv(&["ufw", "allow", "80/tcp"]),
        argv(&["ufw", "allow", "443/tcp"]),
    ];
    for network in networks {
        let network = network.to_string();
        commands.push(argv(&[
            "ufw", "allow", "proto", "tcp", "from", &network, "to", "any", "port", "22",
        ]));
    }
    commands.push(argv(&["ufw", "--force", "enable"]));
    commands
}

/// The install chain's first link: nothing is downloaded unless the firewall `bootcmd` set up
/// is on (an image without `ufw` stops here, before the token is spent).
pub(crate) const FIREWALL_CHECK: &str = "ufw status | grep -qx 'Status: active'";

pub(crate) const GATEWAY_UNIT: &str = r#"# The OpenClaw gateway: one process, on loopback only, behind Caddy.
[Unit]
Description=OpenClaw gateway
Documentation=https://docs.openclaw.ai
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=openclaw
Group=openclaw
WorkingDirectory=/var/lib/openclaw
Environment=HOME=/var/lib/openclaw
Environment=NODE_ENV=production
# Written once by openclaw-bootstrap: OPENCLAW_GATEWAY_TOKEN and the provider keys.
EnvironmentFile=/etc/openclaw/openclaw.env
ExecStart=/usr/local/bin/openclaw gateway --port 18789
Restart=always
RestartSec=5
# 78 (EX_CONFIG) is how the gateway reports an invalid configuration: restarting cannot help.
RestartPreventExitStatus=78
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=full
ProtectHome=true

[Install]
WantedBy=multi-user.target
"#;

pub(crate) const CADDYFILE: &str = r#"# Automatic HTTPS for this instance's name in front of the gateway, which listens on
# loopback only. reverse_proxy passes WebSocket upgrades through as they are.
{{global_options}}{{fqdn}} {
    reverse_proxy 127.0.0.1:18789
}
"#;

/// The Caddyfile's global options block: only the ACME account address, when there is one.
pub(crate) fn caddy_global_options(acme_email: Option<&str>) -> String {
    match acme_email {
        Some(email) => format!("{{\n    email {email}\n}}\n\n"),
        None => String::new(),
    }
}

/// OpenClaw's own configuration. Its schema is strict (an unknown key stops the gateway), so
/// this writes exactly the keys the design names and nothing else; the gateway token comes
/// from `OPENCLAW_GATEWAY_TOKEN` in the environment, never from this file.
pub(crate) fn openclaw_json(fqdn: &str) -> Result<String> {
    let config = serde_json::json!({
        "gateway": {
            "mode": "local",
            "bind": "loopback",
            "auth": { "mode": "token" },
            "trustedProxies": ["127.0.0.1"],
            "controlUi": { "allowedOrigins": [format!("https://{fqdn}")] },
        }
    });
    let mut text = serde_json::to_string_pretty(&config)
        .map_err(|e| Error::internal(format!("cannot write openclaw.json: {e}")))?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_is_one_pass() {
        let out = fill("a={{a}} b={{b}}", &[("a", "{{b}}"), ("b", "2")]).unwrap();
        assert_eq!(out, "a={{b}} b=2");
        assert!(fill("{{missing}}", &[]).is_err());
        assert!(fill("{{open", &[]).is_err());
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_templates_only_have_known_holes() {
        for (template, holes) in [
            (
                NODE_INSTALLER,
                &["node_version", "node_sha256_x64", "node_sha256_arm64"][..],
            ),
            (
                GATEWAY_INSTALLER,
                &["openclaw_version", "openclaw_sha512"][..],
            ),
            (BOOTSTRAP, &["bootstrap_url", "bootstrap_token"][..]),
            (GATEWAY_UNIT, &[][..]),
            (CADDYFILE, &["global_options", "fqdn"][..]),
        ] {
            let values: Vec<(&str, &str)> = holes.iter().map(|h| (*h, "")).collect();
            fill(template, &values).unwrap();
        }
    }

    #[test]
    fn the_unit_and_caddyfile_use_the_gateway_port() {
        let port = GATEWAY_PORT.to_string();
        assert!(GATEWAY_UNIT.contains(&format!("--port {port}")));
        assert!(CADDYFILE.contains(&format!("127.0.0.1:{port}")));
    }
}
