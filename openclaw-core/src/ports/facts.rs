//! The `DeploymentFacts` port: what a database must remember about the deployment that uses
//! it, written once and read on every start — above all the mode its instances were
//! provisioned in, so that a database of live instances is never opened in the sandbox.

use async_trait::async_trait;

use crate::error::Result;

/// The fact naming the mode (`sandbox` or `live`) a database's instances were provisioned in.
pub const MODE_FACT: &str = "mode";

/// Write-once facts about the deployment, kept by the same database as everything else.
///
/// # Contract
///
/// - `fact` returns the value recorded under `name`, or `None`.
/// - `record_fact` records `value` under `name` when nothing is recorded there, and returns
///   the value in force afterwards: `value`, or the one recorded before (which it leaves
///   as it was). Of concurrent callers for one name, exactly one value is recorded and all
///   of them get it back.
/// - Names and values are non-empty text of at most 200 characters; anything else is
///   `InvalidInput`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait DeploymentFacts: Send + Sync + 'static {
    /// The value recorded under `name`.
    async fn fact(&self, name: &str) -> Result<Option<String>>;
    /// Records `value` under `name` unless a value is recorded; returns the value in force.
    async fn record_fact(&self, name: &str, value: &str) -> Result<String>;
}

/// Checks a fact's name and value against the contract's limits.
pub fn check_fact(name: &str, value: &str) -> Result<()> {
    for (field, text) in [("name", name), ("value", value)] {
        if text.is_empty() || text.chars().count() > 200 {
            return Err(crate::Error::invalid(
                format!("fact {field}"),
                "must be 1-200 characters",
            ));
        }
    }
    Ok(())
}
