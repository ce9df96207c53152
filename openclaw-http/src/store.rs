//! Which store a `database_url` names, and opening it as the two ports the binary uses.

use std::sync::Arc;

use openclaw_core::memory::InMemoryStore;
use openclaw_core::ports::{AgentStore, ApiKeyStore, DeploymentFacts, Store};
use openclaw_core::{Error, Result};
use openclaw_store_postgres::{PgConfig, PgStore};
use openclaw_store_sqlite::{SqliteConfig, SqliteStore};

/// A parsed `database_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `memory`: everything is lost when the process ends.
    Memory,
    /// `sqlite://PATH` or `sqlite:PATH`.
    Sqlite(String),
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
}

impl StoreUrl {
    /// Parses a `database_url`; the error names the field.
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        if url == "memory" {
            Ok(StoreUrl::Memory)
        } else if url.starts_with("sqlite:") {
            Ok(StoreUrl::Sqlite(url.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreUrl::Postgres(url.to_string()))
        } else {
            Err(Error::invalid(
                "database_url",
                "must be memory, sqlite://PATH or postgres://…",
            ))
        }
    }

    /// A description without credentials, for the startup line and logs.
    pub fn describe(&self) -> String {
        match self {
            StoreUrl::Memory => "in-memory store (nothing survives a restart)".to_string(),
            StoreUrl::Sqlite(url) => format!("SQLite {url}"),
            StoreUrl::Postgres(url) => {
                format!("PostgreSQL {}", openclaw_store_postgres::redact_url(url))
            }
        }
    }

    /// Whether what is written survives a restart.
    pub fn is_durable(&self) -> bool {
        !matches!(self, StoreUrl::Memory)
    }
}

/// A store's connection pool at one moment (for `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolFigures {
    /// Connections lent out now.
    pub in_use: u32,
    /// Connections open and waiting.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// Reads a store's pool figures now.
pub type PoolProbe = Arc<dyn Fn() -> PoolFigures + Send + Sync>;

impl PoolFigures {
    /// The figures of one pool: `size` connections open, `idle` of them waiting, at most
    /// `max`.
    fn of(size: u32, idle: usize, max: u32) -> Self {
        let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
        PoolFigures {
            in_use: size - idle,
            idle,
            max,
        }
    }

    /// Two pools' figures together.
    fn plus(self, other: PoolFigures) -> Self {
        PoolFigures {
            in_use: self.in_use + other.in_use,
            idle: self.idle + other.idle,
            max: self.max + other.max,
        }
    }
}

/// The store and the key store (one database holds both).
#[derive(Clone)]
pub struct Stores {
    /// Instances, events, jobs, idempotency keys.
    pub store: Arc<dyn Store>,
    /// API keys.
    pub keys: Arc<dyn ApiKeyStore>,
    /// The instance agents' tasks and heartbeats.
    pub agents: Arc<dyn AgentStore>,
    /// Write-once facts about the deployment (the mode its instances were provisioned in).
    pub facts: Arc<dyn DeploymentFacts>,
    /// The database's connection pool (`None` for the in-memory store).
    pub pool: Option<PoolProbe>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}

/// Where and how to open the store, beyond its URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// PostgreSQL: the schema the tables live in (created if missing); `None` for the
    /// server's default `search_path`.
    pub schema: Option<String>,
    /// PostgreSQL: the pool size.
    pub max_connections: Option<u32>,
}

/// Opens the store `url` names, applying pending migrations when `migrate` is set.
pub async fn open(url: &StoreUrl, options: &StoreOptions, migrate: bool) -> Result<Stores> {
    match url {
        StoreUrl::Memory => {
            let store = InMemoryStore::new();
            Ok(Stores {
                store: Arc::new(store.clone()),
                keys: Arc::new(store.clone()),
                agents: Arc::new(store.clone()),
                facts: Arc::new(store),
                pool: None,
            })
        }
        StoreUrl::Sqlite(url) => {
            let config = SqliteConfig::from_url(url)?.migrate_on_connect(migrate);
            if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::invalid(
                        "database_url",
                        format!("cannot create {}: {e}", dir.display()),
                    )
                })?;
            }
            let store = Arc::new(SqliteStore::connect(&config).await?);
            let probed = store.clone();
            Ok(Stores {
                store: store.clone(),
                keys: store.clone(),
                agents: store.clone(),
                facts: store,
                pool: Some(Arc::new(move || {
                    let (w, r) = (probed.writer(), probed.readers());
                    PoolFigures::of(w.size(), w.num_idle(), w.options().get_max_connections()).plus(
                        PoolFigures::of(r.size(), r.num_idle(), r.options().get_max_connections()),
                    )
                })),
            })
        }
        StoreUrl::Postgres(url) => {
            let mut config = PgConfig::new(url.clone()).migrate_on_connect(migrate);
            if let Some(schema) = &options.schema {
                config = config.schema(schema.clone());
            }
            if let Some(n) = options.max_connections {
                config = config.max_connections(n);
            }
            let store = Arc::new(PgStore::connect(&config).await?);
            let probed = store.clone();
            Ok(Stores {
                store: store.clone(),
                keys: store.clone(),
                agents: store.clone(),
                facts: store,
                pool: Some(Arc::new(move || {
                    let p = probed.pool();
                    PoolFigures::of(p.size(), p.num_idle(), p.options().get_max_connections())
                })),
            })
        }
    }
}

/// Applies pending migrations; returns what was done, for a person.
pub async fn migrate(url: &StoreUrl, options: &StoreOptions) -> Result<String> {
    match url {
        StoreUrl::Memory => Ok("the in-memory store has no schema to migrate".to_string()),
        StoreUrl::Sqlite(sqlite) => {
            let config = SqliteConfig::from_url(sqlite)?.migrate_on_connect(false);
            SqliteStore::connect(&config).await?.migrate().await?;
            Ok(format!("{} is up to date", url.describe()))
        }
        StoreUrl::Postgres(pg) => {
            let mut config = PgConfig::new(pg.clone()).migrate_on_connect(false);
            if let Some(schema) = &options.schema {
                config = config.schema(schema.clone());
            }
            PgStore::connect(&config).await?.migrate().await?;
            Ok(format!("{} is up to date", url.describe()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_hide_passwords() {
        assert_eq!(StoreUrl::parse("memory").unwrap(), StoreUrl::Memory);
        assert!(matches!(
            StoreUrl::parse("sqlite://openclaw.db").unwrap(),
            StoreUrl::Sqlite(_)
        ));
        let pg = StoreUrl::parse("postgres://u:hunter2@db:5432/openclaw").unwrap();
        assert!(!pg.describe().contains("hunter2"));
        assert!(
            pg.describe().contains("db:5432/openclaw"),
            "{}",
            pg.describe()
        );
        assert!(StoreUrl::parse("mysql://x").is_err());
    }
}
