//! Where the database file is and how it is opened.

use std::path::PathBuf;
use std::time::Duration;

use openclaw_core::{Error, Result};

/// The environment variable [`SqliteConfig::from_env`] reads.
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";

/// The file used when none is configured.
pub const DEFAULT_PATH: &str = "./openclaw.db";

/// Configuration of a [`SqliteStore`](crate::SqliteStore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteConfig {
    /// The database file; created (with its directory's permission) if missing.
    pub path: PathBuf,
    /// Connections that only read. WAL lets them read while the one writer writes.
    pub readers: u32,
    /// How long a statement waits for a lock held by another process before it fails
    /// with a retryable error.
    pub busy_timeout: Duration,
    /// `true` (the default): every commit is on disk before it returns (`synchronous =
    /// FULL`). `false`: `synchronous = NORMAL`, faster, and a power cut may lose the last
    /// commits (never corrupt the file). Keep `true` unless losing the record of a server
    /// that was just created is acceptable.
    pub durable_commits: bool,
    /// Whether [`SqliteStore::connect`](crate::SqliteStore::connect) applies pending
    /// migrations. When `false`, call [`SqliteStore::migrate`](crate::SqliteStore::migrate)
    /// (the binary's `migrate` command) before serving.
    pub migrate_on_connect: bool,
    /// How long this process may answer `get_instance` from memory without reading the
    /// file (default 1 s; zero turns the cache off). Writes through this store are seen at
    /// once whatever this is; it bounds how late a write by *another* process is seen.
    pub instance_cache_ttl: Duration,
    /// The folder [`SqliteConfig::temporary`] made, deleted with the store. Private, so
    /// nothing else can ever be deleted.
    pub(crate) temporary_dir: Option<PathBuf>,
}

impl Default for SqliteConfig {
    /// `./openclaw.db`, 4 readers, a 5 s busy timeout, durable commits, migrations on
    /// connect.
    fn default() -> Self {
        SqliteConfig::new(DEFAULT_PATH)
    }
}

impl SqliteConfig {
    /// Defaults for everything but the path.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteConfig {
            path: path.into(),
            readers: 4,
            busy_timeout: Duration::from_secs(5),
            durable_commits: true,
            migrate_on_connect: true,
            instance_cache_ttl: Duration::from_secs(1),
            temporary_dir: None,
        }
    }

    /// A file in a new directory under the system's temporary directory, deleted with the
    /// store: for tests and throwaway runs.
    pub fn temporary() -> Self {
        let dir =
            std::env::temp_dir().join(format!("openclaw-sqlite-{}", uuid::Uuid::now_v7().simple()));
        SqliteConfig {
            temporary_dir: Some(dir.clone()),
            ..SqliteConfig::new(dir.join("openclaw.db"))
        }
    }

    /// Parses `sqlite://PATH` or `sqlite:PATH` (`sqlite:///var/lib/openclaw.db` is an
    /// absolute path, `sqlite://openclaw.db` a relative one). Query options are not
    /// supported: everything configurable is a field here.
    pub fn from_url(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                Error::invalid("database_url", format!("{url:?} is not a sqlite: URL"))
            })?;
        if rest.contains('?') {
            return Err(Error::invalid(
                "database_url",
                "sqlite URL options are not supported; configure the store instead",
            ));
        }
        if rest.is_empty() || rest == ":memory:" {
            return Err(Error::invalid(
                "database_url",
                "name a database file: an in-memory database cannot be shared by the store's \
                 connections",
            ));
        }
        Ok(SqliteConfig::new(rest))
    }

    /// `DATABASE_URL` when it is a `sqlite:` URL, else the default file `./openclaw.db`.
    pub fn from_env() -> Result<Self> {
        match std::env::var(DATABASE_URL_ENV) {
            Ok(url) if url.starts_with("sqlite:") => Self::from_url(&url),
            _ => Ok(Self::default()),
        }
    }

    /// Sets the number of reading connections.
    pub fn readers(mut self, n: u32) -> Self {
        self.readers = n;
        self
    }

    /// Sets the busy timeout.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Chooses durable (`FULL`) or faster (`NORMAL`) commits.
    pub fn durable_commits(mut self, durable: bool) -> Self {
        self.durable_commits = durable;
        self
    }

    /// Whether `connect` runs pending migrations.
    pub fn migrate_on_connect(mut self, migrate: bool) -> Self {
        self.migrate_on_connect = migrate;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_files() {
        assert_eq!(
            SqliteConfig::from_url("sqlite://openclaw.db").unwrap().path,
            PathBuf::from("openclaw.db")
        );
        assert_eq!(
            SqliteConfig::from_url("sqlite:///var/lib/openclaw/db.sqlite")
                .unwrap()
                .path,
            PathBuf::from("/var/lib/openclaw/db.sqlite")
        );
        assert_eq!(
            SqliteConfig::from_url("sqlite:data/oc.db").unwrap().path,
            PathBuf::from("data/oc.db")
        );
        assert!(SqliteConfig::from_url("postgres://x").is_err());
        assert!(SqliteConfig::from_url("sqlite::memory:").is_err());
        assert!(SqliteConfig::from_url("sqlite://x.db?mode=ro").is_err());
        assert_eq!(SqliteConfig::default().path, PathBuf::from("./openclaw.db"));
    }
}
