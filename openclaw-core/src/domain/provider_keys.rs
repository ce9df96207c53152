//! Which environment variables an order may set on its instance: the provider keys OpenClaw
//! reads (model providers, search, chat channels) plus names a deployment adds. Everything
//! else is refused — an order can never set `NODE_OPTIONS`, `LD_PRELOAD`, `PATH`, `HOME` or
//! anything else that changes how the gateway's process runs.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The variables OpenClaw 2026.9.6 reads for model providers, web search and chat channels.
pub const KNOWN_PROVIDER_KEYS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OPENROUTER_API_KEY",
    "MISTRAL_API_KEY",
    "GROQ_API_KEY",
    "XAI_API_KEY",
    "DEEPSEEK_API_KEY",
    "MOONSHOT_API_KEY",
    "KIMI_API_KEY",
    "MINIMAX_API_KEY",
    "ZAI_API_KEY",
    "QWEN_API_KEY",
    "DASHSCOPE_API_KEY",
    "CEREBRAS_API_KEY",
    "FIREWORKS_API_KEY",
    "DEEPINFRA_API_KEY",
    "NVIDIA_API_KEY",
    "VENICE_API_KEY",
    "PERPLEXITY_API_KEY",
    "OLLAMA_API_KEY",
    "VOYAGE_API_KEY",
    "TAVILY_API_KEY",
    "TELEGRAM_BOT_TOKEN",
    "DISCORD_BOT_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
];

/// Names no configuration can allow: they change how a process starts, loads code or finds
/// files, or are openclaw's own.
const NEVER: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "SHELL",
    "TMPDIR",
    "PWD",
    "IFS",
    "ENV",
    "BASH_ENV",
    "NODE_OPTIONS",
    "NODE_PATH",
    "NODE_EXTRA_CA_CERTS",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Whether `name` is shaped like an environment variable of ours: `[A-Z][A-Z0-9_]*`, at most
/// 64 characters.
pub fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Whether `name` can never be an instance variable, whatever the configuration says.
pub fn is_forbidden_variable(name: &str) -> bool {
    NEVER.contains(&name)
        || ["OPENCLAW_", "NODE_", "NPM_", "LD_", "SYSTEMD_", "XDG_"]
            .iter()
            .any(|p| name.starts_with(p))
}

/// The provider keys a deployment accepts in orders (`[engine.provider_keys]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderKeyPolicy {
    /// Names accepted besides [`KNOWN_PROVIDER_KEYS`] (`["MY_PROXY_API_KEY"]`). Names that
    /// change how a process runs (`NODE_OPTIONS`, `LD_*`, `PATH`, `HOME`, `OPENCLAW_*`, …)
    /// are refused here too.
    pub extra: Vec<String>,
}

impl ProviderKeyPolicy {
    /// Checks the configured extras.
    pub fn validate(&self) -> Result<()> {
        for name in &self.extra {
            if !is_variable_name(name) {
                return Err(Error::invalid(
                    "provider_keys.extra",
                    format!("{name:?} is not an environment variable name like MY_API_KEY"),
                ));
            }
            if is_forbidden_variable(name) {
                return Err(Error::invalid(
                    "provider_keys.extra",
                    format!("{name} changes how the gateway's process runs; it cannot be allowed"),
                ));
            }
        }
        Ok(())
    }

    /// Whether an order may set `name`.
    pub fn allows(&self, name: &str) -> bool {
        !is_forbidden_variable(name)
            && (KNOWN_PROVIDER_KEYS.contains(&name) || self.extra.iter().any(|e| e == name))
    }

    /// `InvalidInput` naming the first variable of `names` an order may not set.
    pub fn check<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> Result<()> {
        for name in names {
            if !self.allows(name) {
                return Err(Error::invalid(
                    format!("provider_keys.{name}"),
                    "is not a provider key this deployment accepts (the known ones are \
                     ANTHROPIC_API_KEY, OPENAI_API_KEY, GEMINI_API_KEY, OPENROUTER_API_KEY, …; \
                     an operator can add names in [engine.provider_keys] extra)",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_and_extras_pass_and_process_variables_never_do() {
        let policy = ProviderKeyPolicy {
            extra: vec!["MY_PROXY_API_KEY".into()],
        };
        policy.validate().unwrap();
        for ok in [
            "ANTHROPIC_API_KEY",
            "TELEGRAM_BOT_TOKEN",
            "MY_PROXY_API_KEY",
        ] {
            assert!(policy.allows(ok), "{ok}");
        }
        for bad in [
            "NODE_OPTIONS",
            "LD_PRELOAD",
            "PATH",
            "HOME",
            "OPENCLAW_GATEWAY_TOKEN",
            "SOMETHING_ELSE",
        ] {
            assert!(!policy.allows(bad), "{bad}");
            let err = policy.check([&bad.to_string()]).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidInput { field, .. } if field == &format!("provider_keys.{bad}")),
                "{err:?}"
            );
        }
        for extra in [
            "NODE_OPTIONS",
            "LD_PRELOAD",
            "PATH",
            "OPENCLAW_X",
            "lower",
            "",
        ] {
            let policy = ProviderKeyPolicy {
                extra: vec![extra.into()],
            };
            assert!(policy.validate().is_err(), "{extra}");
        }
        assert!(KNOWN_PROVIDER_KEYS
            .iter()
            .all(|k| !is_forbidden_variable(k)));
    }
}
