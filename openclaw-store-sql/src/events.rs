//! Events as rows: the columns both schemas give the `events` table, the JSON `body` that
//! holds an event's kind and reason, and the assembly of an [`Event`] from a row.

use openclaw_core::domain::{Event, EventKind, InstanceId, NewEvent, Topic};
use openclaw_core::Result;
use serde::{Deserialize, Serialize};

use crate::columns::Columns;
use crate::errors::corrupt;
use crate::numbers::to_u64;

/// The columns of `events`, in the order the statements of both stores select them.
pub const EVENT_COLUMNS: &str = "sequence, topic, instance_id, at, body";

/// What of an event is not a column, to store.
#[derive(Debug, Serialize)]
pub struct BodyRef<'a> {
    kind: &'a EventKind,
    reason: &'a str,
}

impl<'a> BodyRef<'a> {
    /// The body of `event`.
    pub fn of(event: &'a NewEvent) -> Self {
        BodyRef {
            kind: &event.kind,
            reason: &event.reason,
        }
    }
}

/// What of an event is not a column, read back.
#[derive(Debug, Deserialize)]
struct Body {
    kind: EventKind,
    reason: String,
}

/// The event in a row of [`EVENT_COLUMNS`].
pub fn event_from(row: &impl Columns) -> Result<Event> {
    let topic = row.text("topic")?;
    let body: Body = row.json("body")?;
    Ok(Event {
        sequence: to_u64(row.int("sequence")?, "events.sequence")?,
        topic: topic
            .parse::<Topic>()
            .map_err(|_| corrupt(format!("unknown topic {topic:?}")))?,
        instance_id: row.opt_uuid("instance_id")?.map(InstanceId::from_uuid),
        kind: body.kind,
        reason: body.reason,
        at: row.time("at")?,
    })
}
