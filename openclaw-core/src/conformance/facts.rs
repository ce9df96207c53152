//! The [`DeploymentFacts`] contract as checks. Checks use names of their own, so a shared
//! store works too.

use std::sync::Arc;

use super::{join, unique};
use crate::error::Error;
use crate::ports::DeploymentFacts;

/// Nothing is recorded under a new name; the first value recorded stays, and a second
/// `record_fact` returns it unchanged.
pub async fn facts_are_written_once(facts: Arc<dyn DeploymentFacts>) {
    let name = format!("fact-{}", unique());
    assert_eq!(
        facts.fact(&name).await.unwrap(),
        None,
        "a new name has no fact"
    );
    assert_eq!(facts.record_fact(&name, "live").await.unwrap(), "live");
    assert_eq!(
        facts.record_fact(&name, "sandbox").await.unwrap(),
        "live",
        "a recorded fact is never replaced"
    );
    assert_eq!(facts.fact(&name).await.unwrap().as_deref(), Some("live"));
    for (name, value) in [("", "live"), ("x", ""), ("x", &"v".repeat(201))] {
        assert!(
            matches!(
                facts.record_fact(name, value).await,
                Err(Error::InvalidInput { .. })
            ),
            "{name:?} = {value:?} is refused"
        );
    }
}

/// Of concurrent `record_fact` calls for one name, one value wins and every caller gets it.
pub async fn concurrent_records_agree(facts: Arc<dyn DeploymentFacts>) {
    let name = format!("fact-{}", unique());
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let facts = facts.clone();
            let name = name.clone();
            tokio::spawn(async move { facts.record_fact(&name, &format!("v{i}")).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for racer in racers {
        seen.push(join(racer).await);
    }
    let recorded = facts
        .fact(&name)
        .await
        .unwrap()
        .expect("a value is recorded");
    assert!(
        seen.iter().all(|v| *v == recorded),
        "every caller gets the recorded value {recorded}: {seen:?}"
    );
}
