//! How to reach the database: the URL, the pool, the schema, and whether to migrate.

use std::fmt;
use std::time::Duration;

use openclaw_core::{Error, Result};

/// The environment variable [`PgConfig::from_env`] reads.
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";

/// Where the store's tables live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaChoice {
    /// The server's default `search_path` (normally `public`).
    Default,
    /// A named schema, created if it does not exist; every connection of the pool uses it.
    Named(String),
    /// A fresh schema with a unique name, dropped with everything in it when the last clone
    /// of the store is dropped. For tests and throwaway environments: several stores can
    /// share one database without seeing each other.
    Ephemeral,
}

/// Configuration of a [`PgStore`](crate::PgStore).
///
/// `Debug` prints the URL without its password, so a config can be logged.
#[derive(Clone)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/database?options` (also `postgresql://`).
    pub url: String,
    /// Most connections the pool opens (one of them listens for job notifications).
    pub max_connections: u32,
    /// How long to wait for the first connection at start, and for a free connection of
    /// the pool afterwards.
    pub connect_timeout: Duration,
    /// Where the tables live.
    pub schema: SchemaChoice,
    /// Shown in `pg_stat_activity`, so operators can tell openclaw's sessions apart.
    pub application_name: String,
    /// How a write that appends an event commits. Appends are serialized (that is what
    /// keeps events visible in sequence order), so what matters is whether the disk flush
    /// happens while the next append waits:
    ///
    /// - `false` (the default): the write commits without waiting for the flush, releasing
    ///   the event log at once, and then waits for the flush before it returns. Every
    ///   acknowledged write is on disk, and `events_after` only returns events that are;
    ///   other reads may see a write up to one disk flush before it is durable (a server
    ///   crash in that instant takes it back). Appends run at the rate of the CPU, not of
    ///   the disk. Job claims and completions return without waiting for the flush either:
    ///   a claim lost in a crash is a lease lost (the job is claimed again and its first
    ///   worker is fenced off at its next heartbeat), a completion lost makes the job run
    ///   again after its lease, and a job run again finds its work already stored.
    /// - `true`: PostgreSQL's own synchronous commit everywhere: nothing is visible
    ///   before it is durable, and appends run at most one per disk flush (about 300/s on
    ///   a disk that flushes in 3 ms).
    pub durable_before_visible: bool,
    /// Whether [`PgStore::connect`](crate::PgStore::connect) applies pending migrations.
    /// When `false`, run [`PgStore::migrate`](crate::PgStore::migrate) (the binary's
    /// `migrate` command) before serving.
    pub migrate_on_connect: bool,
}

impl PgConfig {
    /// Defaults for everything but the URL: 10 connections, a 10 s connect timeout, the
    /// default schema, migrations on connect.
    pub fn new(url: impl Into<String>) -> Self {
        PgConfig {
            url: url.into(),
            max_connections: 10,
            connect_timeout: Duration::from_secs(10),
            schema: SchemaChoice::Default,
            application_name: "openclaw".to_string(),
            durable_before_visible: false,
            migrate_on_connect: true,
        }
    }

    /// The URL from the `DATABASE_URL` environment variable.
    pub fn from_env() -> Result<Self> {
        match std::env::var(DATABASE_URL_ENV) {
            Ok(url) if !url.trim().is_empty() => Ok(Self::new(url)),
            _ => Err(Error::invalid(
                "database_url",
                format!("set {DATABASE_URL_ENV} to postgres://user:password@host:port/database"),
            )),
        }
    }

    /// Uses the named schema.
    pub fn schema(mut self, name: impl Into<String>) -> Self {
        self.schema = SchemaChoice::Named(name.into());
        self
    }

    /// Uses a fresh schema that is dropped with the store (see [`SchemaChoice::Ephemeral`]).
    pub fn ephemeral_schema(mut self) -> Self {
        self.schema = SchemaChoice::Ephemeral;
        self
    }

    /// Sets the pool size.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the application name.
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = name.into();
        self
    }

    /// Sets [`PgConfig::durable_before_visible`].
    pub fn durable_before_visible(mut self, strict: bool) -> Self {
        self.durable_before_visible = strict;
        self
    }

    /// Whether `connect` runs pending migrations.
    pub fn migrate_on_connect(mut self, migrate: bool) -> Self {
        self.migrate_on_connect = migrate;
        self
    }

    /// The URL with its password replaced by `***`, for messages and logs.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("schema", &self.schema)
            .field("application_name", &self.application_name)
            .field("durable_before_visible", &self.durable_before_visible)
            .field("migrate_on_connect", &self.migrate_on_connect)
            .finish()
    }
}

/// Replaces the password of a connection URL, in the user-info part and in a `password=`
/// query parameter, with `***`. Anything that does not look like a URL is hidden whole:
/// a message must never carry a secret because the URL was written in an unexpected form.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return "<database url>".to_string();
    };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.find(':') {
                Some(colon) => format!("{}:***{host}", &userinfo[..colon]),
                None => authority.to_string(),
            }
        }
        None => authority.to_string(),
    };
    let tail = match tail.find('?') {
        Some(q) => {
            let (path, query) = tail.split_at(q + 1);
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}{authority}{tail}")
}

/// A schema name we can put into `search_path` and DDL without quoting: lowercase letters,
/// digits and `_`, not starting with a digit, at most 63 bytes (PostgreSQL's limit).
pub(crate) fn check_schema_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && !name.starts_with("pg_");
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(
            "schema",
            "must be 1-63 lowercase letters, digits or _, not starting with a digit or pg_",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_survive_redaction() {
        assert_eq!(
            redact_url("postgres://postgres:s3cret@127.0.0.1:5432/test"),
            "postgres://postgres:***@127.0.0.1:5432/test"
        );
        assert_eq!(
            redact_url("postgresql://u:p%40ss@db/x?sslmode=require&password=s3cret"),
            "postgresql://u:***@db/x?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://user@host/db"),
            "postgres://user@host/db"
        );
        assert_eq!(redact_url("postgres://host"), "postgres://host");
        assert_eq!(redact_url("host=db password=s3cret"), "<database url>");
        let config = PgConfig::new("postgres://a:topsecret@h/d");
        assert!(!format!("{config:?}").contains("topsecret"));
    }

    #[test]
    fn schema_names_are_checked() {
        assert!(check_schema_name("openclaw").is_ok());
        assert!(check_schema_name("t_0123abc").is_ok());
        assert!(check_schema_name("Bad").is_err());
        assert!(check_schema_name("1abc").is_err());
        assert!(check_schema_name("a;drop").is_err());
        assert!(check_schema_name("pg_temp").is_err());
        assert!(check_schema_name(&"a".repeat(64)).is_err());
    }
}
