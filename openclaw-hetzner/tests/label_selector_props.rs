//! Properties of the fake's label-selector parser: it never panics, and what it prints it
//! parses back to the same selector that matches the same labels.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use openclaw_hetzner::fake::label_selector::{LabelSelector, Requirement};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9]{0,8}",
        "[a-z]{1,6}\\.[a-z]{2,3}/[a-z][a-z0-9_-]{0,6}[a-z0-9]",
        Just("openclaw/owner".to_string()),
        Just("openclaw/instance".to_string()),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9]{1,8}", "[a-z0-9][a-z0-9._-]{0,6}[a-z0-9]"]
}

fn requirement() -> impl Strategy<Value = Requirement> {
    prop_oneof![
        (key(), value()).prop_map(|(key, value)| Requirement::Equals { key, value }),
        (key(), value()).prop_map(|(key, value)| Requirement::NotEquals { key, value }),
        key().prop_map(Requirement::Exists),
        key().prop_map(Requirement::NotExists),
        (key(), prop::collection::vec(value(), 1..4))
            .prop_map(|(key, values)| Requirement::In { key, values }),
        (key(), prop::collection::vec(value(), 1..4))
            .prop_map(|(key, values)| Requirement::NotIn { key, values }),
    ]
}

fn labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(key(), value(), 0..5)
}

proptest! {
    #[test]
    fn never_panics(text in "\\PC{0,60}") {
        let _ = LabelSelector::parse(&text);
    }

    #[test]
    fn never_panics_on_selector_like_text(text in "[a-z!=(), ]{0,40}") {
        if let Ok(selector) = LabelSelector::parse(&text) {
            // Whatever parsed prints as something that parses to the same thing.
            prop_assert_eq!(LabelSelector::parse(&selector.to_string()).unwrap(), selector);
        }
    }

    #[test]
    fn round_trips(requirements in prop::collection::vec(requirement(), 0..5), labels in labels()) {
        let selector = LabelSelector { requirements };
        let printed = selector.to_string();
        let parsed = LabelSelector::parse(&printed).unwrap();
        prop_assert_eq!(&parsed, &selector, "{}", printed);
        prop_assert_eq!(parsed.matches(&labels), selector.matches(&labels));
    }

    #[test]
    fn a_selector_is_the_conjunction_of_its_parts(
        requirements in prop::collection::vec(requirement(), 1..5),
        labels in labels(),
    ) {
        let whole = LabelSelector { requirements: requirements.clone() };
        let each = requirements.iter().all(|r| r.matches(&labels));
        prop_assert_eq!(whole.matches(&labels), each);
    }
}
