//! Where the binary keeps the instances' backups (`[backup_store]`): a local directory by
//! default, memory beside an in-memory database, or any S3-compatible bucket (AWS S3,
//! Hetzner Object Storage, Cloudflare R2, MinIO, …). What is kept and for how long is the
//! engine's `[engine.backups]`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;
use openclaw_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::config::Secret;

/// The directory used when `url` is empty and the database is not a SQLite file.
pub const DEFAULT_BACKUP_DIR: &str = "openclaw-backups";

/// The backup store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupStoreConfig {
    /// Where: empty (the default) for a directory `openclaw-backups` beside the SQLite
    /// database (in the working directory for PostgreSQL; memory for a `memory` database),
    /// a directory (`/var/lib/openclaw/backups` or `file:///var/lib/openclaw/backups`),
    /// `memory`, or `s3://<bucket>[/<prefix>]`. `OPENCLAW_BACKUP_STORE_URL`.
    pub url: String,
    /// S3: the region (default `us-east-1`; any value for most S3-compatible services).
    /// `AWS_REGION`.
    pub region: Option<String>,
    /// S3: the endpoint of an S3-compatible service (`https://fsn1.your-objectstorage.com`);
    /// AWS itself when unset. `AWS_ENDPOINT_URL`.
    pub endpoint: Option<String>,
    /// S3: the access key id. `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// S3: the secret access key. Secret. `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<Secret>,
    /// S3: address buckets as `<bucket>.<endpoint>` rather than `<endpoint>/<bucket>`
    /// (default false: path style, which every S3-compatible service takes).
    pub virtual_hosted_style: bool,
    /// S3: allow an `http://` endpoint (default false; for a local test service only).
    pub allow_http: bool,
}

/// Where the backups go, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupLocation {
    /// In this process only.
    Memory,
    /// A local directory (created when missing).
    Directory(PathBuf),
    /// An S3-compatible bucket, under an optional prefix.
    S3 {
        /// The bucket.
        bucket: String,
        /// The folder in it (no leading or trailing `/`), maybe empty.
        prefix: String,
    },
}

impl std::fmt::Display for BackupLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupLocation::Memory => f.write_str("memory"),
            BackupLocation::Directory(dir) => write!(f, "directory {}", dir.display()),
            BackupLocation::S3 { bucket, prefix } if prefix.is_empty() => {
                write!(f, "s3://{bucket}")
            }
            BackupLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl BackupStoreConfig {
    /// Where the backups go, for a server whose database is `database_url`.
    pub fn location(&self, database_url: &str) -> Result<BackupLocation> {
        let url = self.url.trim();
        let bad = |why: &str| Error::invalid("backup_store.url", why.to_string());
        if url.is_empty() {
            if database_url == "memory" {
                return Ok(BackupLocation::Memory);
            }
            let beside = database_url
                .strip_prefix("sqlite://")
                .or_else(|| database_url.strip_prefix("sqlite:"))
                .map(|file| file.split('?').next().unwrap_or(file))
                .and_then(|file| Path::new(file).parent())
                .map(|dir| dir.join(DEFAULT_BACKUP_DIR))
                .unwrap_or_else(|| PathBuf::from(DEFAULT_BACKUP_DIR));
            return Ok(BackupLocation::Directory(beside));
        }
        if url == "memory" {
            return Ok(BackupLocation::Memory);
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid_bucket = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                });
            if !valid_bucket {
                return Err(bad("the bucket must be 3-63 characters of a-z 0-9 . -"));
            }
            return Ok(BackupLocation::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if url.contains("://") && !url.starts_with("file://") {
            return Err(bad(
                "must be empty, memory, a directory, file://DIR or s3://BUCKET[/PREFIX]",
            ));
        }
        let dir = url.strip_prefix("file://").unwrap_or(url);
        if dir.is_empty() {
            return Err(bad("file:// needs a directory"));
        }
        Ok(BackupLocation::Directory(PathBuf::from(dir)))
    }

    /// Opens the store at `location`. A directory is created (mode 0700) when missing.
    pub fn open(&self, location: &BackupLocation) -> Result<Arc<dyn ObjectStore>> {
        let unavailable = |e: &dyn std::fmt::Display| {
            Error::invalid("backup_store", format!("cannot open {location}: {e}"))
        };
        Ok(match location {
            BackupLocation::Memory => Arc::new(InMemory::new()),
            BackupLocation::Directory(dir) => {
                create_private_dir(dir).map_err(|e| unavailable(&e))?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(dir)
                        .map_err(|e| unavailable(&e))?
                        .with_automatic_cleanup(true),
                )
            }
            BackupLocation::S3 { bucket, prefix } => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(self.region.as_deref().unwrap_or("us-east-1"))
                    .with_virtual_hosted_style_request(self.virtual_hosted_style)
                    .with_allow_http(self.allow_http);
                if let Some(endpoint) = &self.endpoint {
                    builder = builder.with_endpoint(endpoint.trim_end_matches('/'));
                }
                match (&self.access_key_id, &self.secret_access_key) {
                    (Some(id), Some(secret)) => {
                        builder = builder
                            .with_access_key_id(id)
                            .with_secret_access_key(secret.expose());
                    }
                    (None, None) => {}
                    _ => {
                        return Err(Error::invalid(
                            "backup_store",
                            "access_key_id and secret_access_key go together",
                        ))
                    }
                }
                let s3 = builder.build().map_err(|e| unavailable(&e))?;
                if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix.as_str()))
                }
            }
        })
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(url: &str, database: &str) -> Result<BackupLocation> {
        BackupStoreConfig {
            url: url.to_string(),
            ..BackupStoreConfig::default()
        }
        .location(database)
    }

    #[test]
    fn the_default_sits_beside_the_database() {
        assert_eq!(
            at("", "sqlite:///var/lib/openclaw/openclaw.db?mode=rwc").unwrap(),
            BackupLocation::Directory(PathBuf::from("/var/lib/openclaw/openclaw-backups"))
        );
        assert_eq!(
            at("", "sqlite://openclaw.db").unwrap(),
            BackupLocation::Directory(PathBuf::from("openclaw-backups"))
        );
        assert_eq!(
            at("", "postgres://db/openclaw").unwrap(),
            BackupLocation::Directory(PathBuf::from("openclaw-backups"))
        );
        assert_eq!(at("", "memory").unwrap(), BackupLocation::Memory);
    }

    #[test]
    fn urls_name_a_directory_memory_or_a_bucket() {
        assert_eq!(
            at("file:///srv/backups", "memory").unwrap(),
            BackupLocation::Directory(PathBuf::from("/srv/backups"))
        );
        assert_eq!(
            at("s3://claw-backups/eu/prod/", "memory").unwrap(),
            BackupLocation::S3 {
                bucket: "claw-backups".into(),
                prefix: "eu/prod".into()
            }
        );
        for bad in ["s3://UPPER", "s3://a", "gs://bucket", "file://"] {
            match at(bad, "memory") {
                Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "backup_store.url"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn half_a_credential_is_refused_and_the_secret_never_prints() {
        let config = BackupStoreConfig {
            url: "s3://claw-backups".into(),
            access_key_id: Some("AKIDEXAMPLE".into()),
            ..BackupStoreConfig::default()
        };
        let location = config.location("memory").unwrap();
        assert!(config.open(&location).is_err());
        let config = BackupStoreConfig {
            secret_access_key: Some(Secret::new("wJalrXUtnFEMI/K7MDENG")),
            ..config
        };
        assert!(config.open(&location).is_ok());
        assert!(!format!("{config:?}").contains("wJalr"));
        assert!(!toml::to_string(&config).unwrap().contains("wJalr"));
    }
}
