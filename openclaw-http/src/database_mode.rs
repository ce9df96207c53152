//! The mode a database's instances were provisioned in, recorded in the database on the first
//! start and checked on every start after: a database of live instances is never opened in
//! the sandbox (its queued jobs would run against in-process fakes, and terminations would
//! "succeed" while the real servers keep billing), and a sandbox database never goes live (its
//! instances are fakes).

use openclaw_core::ports::{DeploymentFacts, MODE_FACT};
use openclaw_core::{Error, Result};

use crate::config::Mode;
use crate::store::StoreUrl;

fn name(mode: Mode) -> &'static str {
    match mode {
        Mode::Live => "live",
        _ => "sandbox",
    }
}

/// Records `mode` as the database's mode when it has none, and refuses a mode other than the
/// one recorded. `configured` is the mode the configuration asked for (`auto` resolves by
/// the Hetzner token), so the error can name the cause. An in-memory store is never checked.
pub async fn check(
    facts: &dyn DeploymentFacts,
    url: &StoreUrl,
    configured: Mode,
    mode: Mode,
) -> Result<()> {
    if *url == StoreUrl::Memory {
        return Ok(());
    }
    let recorded = facts.record_fact(MODE_FACT, name(mode)).await?;
    if recorded == name(mode) {
        return Ok(());
    }
    let database = url.describe();
    Err(match (recorded.as_str(), configured) {
        ("live", Mode::Auto) => Error::invalid(
            "mode",
            format!(
                "{database} holds instances provisioned live, but no Hetzner token is \
                 configured, so the server would start in sandbox mode and run their jobs \
                 against fakes while the real servers keep running. Set \
                 OPENCLAW_HETZNER_TOKEN (and the other live settings), or give the sandbox a \
                 database of its own (database_url)"
            ),
        ),
        ("live", _) => Error::invalid(
            "mode",
            format!(
                "{database} holds instances provisioned live; mode = \"sandbox\" would run \
                 their jobs against fakes while the real servers keep running. Use live mode \
                 on it, or give the sandbox a database of its own (database_url)"
            ),
        ),
        ("sandbox", _) => Error::invalid(
            "mode",
            format!(
                "{database} was used by the sandbox and its instances are fakes; live mode \
                 needs a database of its own (database_url), or remove this one if nothing \
                 in it is needed"
            ),
        ),
        (other, _) => Error::invalid(
            "mode",
            format!("{database} records an unknown mode {other:?}; refusing to guess"),
        ),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use openclaw_core::InMemoryStore;

    use super::*;

    fn sqlite() -> StoreUrl {
        StoreUrl::parse("sqlite://openclaw.db").unwrap()
    }

    #[tokio::test]
    async fn the_first_start_records_the_mode_and_later_starts_must_match() {
        let facts = InMemoryStore::new();
        check(&facts, &sqlite(), Mode::Auto, Mode::Live)
            .await
            .unwrap();
        check(&facts, &sqlite(), Mode::Live, Mode::Live)
            .await
            .unwrap();
        for (configured, why) in [
            (Mode::Auto, "no Hetzner token is configured"),
            (Mode::Sandbox, "mode = \"sandbox\""),
        ] {
            let err = check(&facts, &sqlite(), configured, Mode::Sandbox)
                .await
                .unwrap_err();
            match err {
                Error::InvalidInput { field, message } => {
                    assert_eq!(field, "mode");
                    assert!(message.contains("provisioned live"), "{message}");
                    assert!(message.contains(why), "{message}");
                }
                other => panic!("{other:?}"),
            }
        }

        let sandbox = InMemoryStore::new();
        check(&sandbox, &sqlite(), Mode::Auto, Mode::Sandbox)
            .await
            .unwrap();
        let err = check(&sandbox, &sqlite(), Mode::Auto, Mode::Live)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("used by the sandbox"), "{err}");
    }

    #[tokio::test]
    async fn an_in_memory_store_is_not_checked() {
        let facts = InMemoryStore::new();
        check(&facts, &StoreUrl::Memory, Mode::Auto, Mode::Live)
            .await
            .unwrap();
        check(&facts, &StoreUrl::Memory, Mode::Auto, Mode::Sandbox)
            .await
            .unwrap();
    }
}
