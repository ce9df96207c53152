//! Events: every state change (and every alert) is one, written to the store's log in the same
//! transaction as the change, then fanned out on the bus.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::InstanceId;
use super::status::InstanceStatus;
use crate::error::{Error, Result};

/// A stream of events subscribers can follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// Instance state changes.
    Provisioning,
    /// Things a person must look at (a rollback that could not finish, a dead job).
    Alerts,
    /// Security-relevant reads and writes (an access link handed out).
    Audit,
}

/// Every topic.
pub const ALL_TOPICS: [Topic; 3] = [Topic::Provisioning, Topic::Alerts, Topic::Audit];

impl Topic {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Provisioning => "provisioning",
            Topic::Alerts => "alerts",
            Topic::Audit => "audit",
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Topic {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        ALL_TOPICS
            .iter()
            .copied()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| Error::invalid("topic", format!("unknown topic {s:?}")))
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The instance moved from `from` to `to` (`from` is `None` when it was created).
    StatusChanged {
        /// Previous status.
        from: Option<InstanceStatus>,
        /// New status.
        to: InstanceStatus,
    },
    /// Something needs a person: `code` says what (`manual_intervention_required`, …).
    Alert {
        /// Stable code of the alert.
        code: String,
    },
    /// An audited action (`access_link_issued`, …).
    Audit {
        /// What was done.
        action: String,
        /// Who did it (an API key name, never a secret).
        actor: String,
    },
}

/// An event before the store has given it a sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Where it is published.
    pub topic: Topic,
    /// The instance it concerns, if any.
    pub instance_id: Option<InstanceId>,
    /// What happened.
    pub kind: EventKind,
    /// Why, for a human. Never contains a secret.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl NewEvent {
    /// A status change of `instance_id` on the provisioning topic.
    pub fn status_changed(
        instance_id: InstanceId,
        from: Option<InstanceStatus>,
        to: InstanceStatus,
        reason: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Self {
        NewEvent {
            topic: Topic::Provisioning,
            instance_id: Some(instance_id),
            kind: EventKind::StatusChanged { from, to },
            reason: reason.into(),
            at,
        }
    }

    /// An alert on the alerts topic.
    pub fn alert(
        instance_id: Option<InstanceId>,
        code: impl Into<String>,
        reason: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Self {
        NewEvent {
            topic: Topic::Alerts,
            instance_id,
            kind: EventKind::Alert { code: code.into() },
            reason: reason.into(),
            at,
        }
    }
}

/// An event in the log. Sequence numbers are global across topics and strictly increasing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log; a subscriber resumes after the last one it saw.
    pub sequence: u64,
    /// Where it is published.
    pub topic: Topic,
    /// The instance it concerns, if any.
    pub instance_id: Option<InstanceId>,
    /// What happened.
    pub kind: EventKind,
    /// Why, for a human.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl Event {
    /// Gives `event` its place in the log.
    pub fn from_new(sequence: u64, event: NewEvent) -> Self {
        Event {
            sequence,
            topic: event.topic,
            instance_id: event.instance_id,
            kind: event.kind,
            reason: event.reason,
            at: event.at,
        }
    }

    /// `(from, to)` when this is a status change.
    pub fn status_change(&self) -> Option<(Option<InstanceStatus>, InstanceStatus)> {
        match self.kind {
            EventKind::StatusChanged { from, to } => Some((from, to)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_a_type_tag() {
        let id = InstanceId::new();
        let e = Event::from_new(
            7,
            NewEvent::status_changed(
                id,
                Some(InstanceStatus::Pending),
                InstanceStatus::Provisioning,
                "worker picked it up",
                Utc::now(),
            ),
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"]["type"], "status_changed");
        assert_eq!(json["kind"]["from"], "pending");
        assert_eq!(json["topic"], "provisioning");
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
        assert_eq!(
            back.status_change(),
            Some((Some(InstanceStatus::Pending), InstanceStatus::Provisioning))
        );
    }

    #[test]
    fn topics_parse() {
        assert_eq!("alerts".parse::<Topic>().unwrap(), Topic::Alerts);
        assert!("gossip".parse::<Topic>().is_err());
    }
}
