//! The deployment's own keys — the bootstrap-token key and the key instance secrets are
//! sealed with — when the configuration does not give them: generated once into a file of
//! mode 0600 (`openclaw.secrets` beside the database by default) and read back on every
//! start, so a restart can still verify tokens and open sealed secrets.
//!
//! Losing the file means the sealed secrets of existing instances cannot be opened: back it
//! up with the database.

use std::io::Write as _;
use std::path::Path;

use openclaw_core::instance_secrets::SealingKey;
use openclaw_core::{BootstrapKey, Error, Result};
use serde::Deserialize;

use crate::config::{Config, Mode};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    bootstrap_key: String,
    secrets_key: String,
}

/// The two keys a deployment needs.
#[derive(Debug, Clone)]
pub struct DeploymentKeys {
    /// Derives and verifies bootstrap tokens.
    pub bootstrap: BootstrapKey,
    /// Seals instance secrets.
    pub sealing: SealingKey,
    /// Open what they sealed, seal nothing: `retired_secrets_keys`, and the secrets file's
    /// key when the configuration gives another.
    pub retired: Vec<SealingKey>,
    /// Whether they were generated just now (the startup line says so).
    pub generated: bool,
}

/// The keys from the configuration, else from its secrets file, else — in the sandbox only —
/// generated into it. Live mode never generates them: both must be configured
/// (`OPENCLAW_BOOTSTRAP_KEY`, `OPENCLAW_SECRETS_KEY`) or be in an existing secrets file.
pub fn load_or_create(config: &Config, mode: Mode) -> Result<DeploymentKeys> {
    let mut retired = config
        .retired_secrets_keys
        .iter()
        .map(|k| SealingKey::from_base64(k.expose()))
        .collect::<Result<Vec<_>>>()?;
    if let (Some(bootstrap), Some(sealing), false) = (
        &config.bootstrap_key,
        &config.secrets_key,
        config.secrets_file.exists(),
    ) {
        return Ok(DeploymentKeys {
            bootstrap: BootstrapKey::from_base64(bootstrap.expose())?,
            sealing: SealingKey::from_base64(sealing.expose())?,
            retired,
            generated: false,
        });
    }
    let path = config.secrets_file.as_path();
    let (mut keys, generated) = if path.exists() {
        (read(path)?, false)
    } else if mode == Mode::Live {
        // 32 random bytes each; the bootstrap key as base64url without padding.
        let (field, env, make) = if config.bootstrap_key.is_none() {
            (
                "bootstrap_key",
                "OPENCLAW_BOOTSTRAP_KEY",
                "head -c 32 /dev/urandom | basenc --base64url | tr -d =",
            )
        } else {
            (
                "secrets_key",
                "OPENCLAW_SECRETS_KEY",
                "head -c 32 /dev/urandom | base64",
            )
        };
        return Err(Error::invalid(
            field,
            format!(
                "live mode never generates the deployment keys: set {env} (make one with \
                 `{make}` and keep it safe) or point secrets_file at the file that holds \
                 them ({} does not exist)",
                path.display()
            ),
        ));
    } else {
        let keys = (BootstrapKey::random(), SealingKey::random());
        write(path, &keys)?;
        (keys, true)
    };
    // A key given in the configuration wins over the file's.
    if let Some(bootstrap) = &config.bootstrap_key {
        keys.0 = BootstrapKey::from_base64(bootstrap.expose())?;
    }
    if let Some(sealing) = &config.secrets_key {
        let configured = SealingKey::from_base64(sealing.expose())?;
        if configured != keys.1 {
            // What the file's key sealed still opens until it is re-sealed.
            retired.push(std::mem::replace(&mut keys.1, configured));
        }
    }
    Ok(DeploymentKeys {
        bootstrap: keys.0,
        sealing: keys.1,
        retired,
        generated,
    })
}

fn read(path: &Path) -> Result<(BootstrapKey, SealingKey)> {
    let bad = |m: String| Error::invalid("secrets_file", m);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(file = %path.display(), "the secrets file is readable by others; chmod 600 it");
            }
        }
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    let file: File = toml::from_str(&text).map_err(|e| {
        bad(format!(
            "{} is not a secrets file: {}",
            path.display(),
            e.message()
        ))
    })?;
    Ok((
        BootstrapKey::from_base64(&file.bootstrap_key)?,
        SealingKey::from_base64(&file.secrets_key)?,
    ))
}

fn write(path: &Path, (bootstrap, sealing): &(BootstrapKey, SealingKey)) -> Result<()> {
    let bad = |e: std::io::Error| {
        Error::invalid(
            "secrets_file",
            format!("cannot create {}: {e}", path.display()),
        )
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(bad)?;
    }
    let mut options = std::fs::OpenOptions::new();
    // `create_new`: two processes starting at once must not overwrite each other's keys.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(bad)?;
    let text = format!(
        "# openclaw's generated keys. Keep this file private (mode 0600) and back it up with the\n\
         # database: without secrets_key the sealed instance secrets cannot be opened.\n\
         bootstrap_key = \"{}\"\nsecrets_key = \"{}\"\n",
        bootstrap.to_base64().expose(),
        sealing.to_base64().expose()
    );
    file.write_all(text.as_bytes()).map_err(bad)?;
    file.sync_all().map_err(bad)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_mode_never_generates_keys() {
        let dir = std::env::temp_dir().join(format!("openclaw-secrets-{}", uuid::Uuid::now_v7()));
        let mut config = Config {
            secrets_file: dir.join("openclaw.secrets"),
            ..Config::default()
        };
        let err = load_or_create(&config, Mode::Live).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field, .. } if field == "bootstrap_key"),
            "{err:?}"
        );
        assert!(err.to_string().contains("OPENCLAW_BOOTSTRAP_KEY"), "{err}");
        assert!(!config.secrets_file.exists(), "nothing was written");
        config.bootstrap_key = Some(crate::config::Secret::new(
            BootstrapKey::random().to_base64().expose(),
        ));
        let err = load_or_create(&config, Mode::Live).unwrap_err();
        assert!(err.to_string().contains("OPENCLAW_SECRETS_KEY"), "{err}");
        config.secrets_key = Some(crate::config::Secret::new(
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ));
        let keys = load_or_create(&config, Mode::Live).unwrap();
        assert!(!keys.generated);
        assert!(
            !config.secrets_file.exists(),
            "configured keys write no file"
        );
    }

    #[test]
    fn a_configured_key_retires_the_files_key() {
        let dir = std::env::temp_dir().join(format!("openclaw-secrets-{}", uuid::Uuid::now_v7()));
        let mut config = Config {
            secrets_file: dir.join("openclaw.secrets"),
            ..Config::default()
        };
        let generated = load_or_create(&config, Mode::Sandbox).unwrap();
        assert!(generated.retired.is_empty());
        let new = SealingKey::random();
        let older = SealingKey::random();
        config.secrets_key = Some(crate::config::Secret::new(new.to_base64().expose()));
        config.retired_secrets_keys = vec![crate::config::Secret::new(older.to_base64().expose())];
        let rotated = load_or_create(&config, Mode::Sandbox).unwrap();
        assert_eq!(rotated.sealing, new);
        assert_eq!(rotated.retired, vec![older, generated.sealing]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn keys_are_generated_once_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!("openclaw-secrets-{}", uuid::Uuid::now_v7()));
        let config = Config {
            secrets_file: dir.join("openclaw.secrets"),
            ..Config::default()
        };
        let first = load_or_create(&config, Mode::Sandbox).unwrap();
        assert!(first.generated);
        let second = load_or_create(&config, Mode::Live).unwrap();
        assert!(!second.generated);
        assert_eq!(first.bootstrap, second.bootstrap);
        assert_eq!(first.sealing, second.sealing);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&config.secrets_file)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
