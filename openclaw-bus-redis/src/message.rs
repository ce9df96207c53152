//! What the bus writes to Redis: its key names and the JSON of one message.
//!
//! Every event is published on its topic's channel and kept in the deployment's stream as one
//! JSON object: the event as the HTTP API shows it (`sequence`, `topic`, `instance_id`, `kind`,
//! `reason`, `at`) with the stream's `epoch` in front:
//!
//! ```json
//! {"epoch":"1764547200123456","sequence":42,"topic":"provisioning",
//!  "instance_id":"0193…","kind":{"type":"status_changed","from":"pending","to":"provisioning"},
//!  "reason":"a worker picked it up","at":"2026-11-30T23:00:00.123Z"}
//! ```
//!
//! `sequence` is the store's: global across topics, strictly increasing, and the order to
//! read events in. A channel may carry an event twice or out of order (two replicas publish
//! concurrently); a reader orders by `sequence` and drops what it has seen. `epoch` changes
//! when the stream is recreated (Redis lost it): entries from before are gone.

use openclaw_core::domain::{Event, Topic};
use serde::Deserialize;

/// The names of one deployment's keys and channels, all under `openclaw:<deployment>:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisKeys {
    prefix: String,
    /// The event log's identity, when the store has one: part of the stream's key.
    log: Option<String>,
}

impl RedisKeys {
    /// The keys of `deployment`.
    pub fn for_deployment(deployment: &str) -> Self {
        RedisKeys {
            prefix: format!("openclaw:{deployment}"),
            log: None,
        }
    }

    /// The same keys, the stream's named after the event log `log` too
    /// (`openclaw:<deployment>:events:<log>`): sequences are only meaningful within one log,
    /// so a new database under an old deployment name never reads the old database's stream.
    pub fn with_log(mut self, log: Option<&str>) -> Self {
        self.log = log.map(str::to_string);
        self
    }

    /// The Pub/Sub channel of `topic`: `openclaw:<deployment>:provisioning|alerts|audit`.
    pub fn channel(&self, topic: Topic) -> String {
        format!("{}:{}", self.prefix, topic.as_str())
    }

    /// The stream of recent events: `openclaw:<deployment>:events[:<log>]`.
    pub fn stream(&self) -> String {
        match &self.log {
            Some(log) => format!("{}:events:{log}", self.prefix),
            None => format!("{}:events", self.prefix),
        }
    }

    /// The stream's epoch: the stream's key followed by `:epoch`.
    pub fn epoch(&self) -> String {
        format!("{}:epoch", self.stream())
    }

    /// The budget of a rate limit named `name`: `openclaw:<deployment>:limit:<name>`.
    pub fn limit(&self, name: &str) -> String {
        format!("{}:limit:{name}", self.prefix)
    }
}

/// One message as read back from a channel or the stream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BusMessage {
    /// The stream's epoch when the event was published.
    pub epoch: String,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

impl BusMessage {
    /// Reads a message; `None` for anything else (a tool publishing on our channel).
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// The stream id of the event with `sequence`.
pub(crate) fn stream_id(sequence: u64) -> String {
    format!("{sequence}-0")
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use openclaw_core::domain::NewEvent;

    use super::*;

    #[test]
    fn keys_are_named_after_the_deployment() {
        let keys = RedisKeys::for_deployment("prod");
        assert_eq!(
            keys.channel(Topic::Provisioning),
            "openclaw:prod:provisioning"
        );
        assert_eq!(keys.channel(Topic::Alerts), "openclaw:prod:alerts");
        assert_eq!(keys.channel(Topic::Audit), "openclaw:prod:audit");
        assert_eq!(keys.stream(), "openclaw:prod:events");
        assert_eq!(keys.epoch(), "openclaw:prod:events:epoch");
        assert_eq!(keys.limit("hetzner"), "openclaw:prod:limit:hetzner");
        let keys = keys.with_log(Some("0193ab"));
        assert_eq!(keys.stream(), "openclaw:prod:events:0193ab");
        assert_eq!(keys.epoch(), "openclaw:prod:events:0193ab:epoch");
        assert_eq!(keys.channel(Topic::Alerts), "openclaw:prod:alerts");
    }

    #[test]
    fn a_message_is_the_event_with_the_epoch_in_front() {
        let event = Event::from_new(42, NewEvent::alert(None, "code", "why", Utc::now()));
        let json = serde_json::to_string(&event).unwrap();
        // What the publish script does.
        let message = format!("{{\"epoch\":\"17\",{}", &json[1..]);
        let parsed = BusMessage::parse(&message).unwrap();
        assert_eq!(parsed.epoch, "17");
        assert_eq!(parsed.event, event);
        assert_eq!(BusMessage::parse("hello"), None);
        assert_eq!(BusMessage::parse(&json), None, "no epoch");
    }
}
