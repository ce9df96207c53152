//! The event log. Appends happen on the one writing connection, inside the transaction of
//! the change they record; SQLite commits one writer at a time, so events become visible in
//! sequence order and a reader resuming after `n` never misses one.

use openclaw_core::domain::{Event, EventKind, InstanceId, NewEvent, Topic};
use openclaw_core::Result;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;

use crate::connect::SqliteStore;
use crate::convert::{get, get_json, get_opt_uuid, get_ts, get_u64, json, limit, ts};
use crate::error::{self, corrupt};

/// What of an event is not a column.
#[derive(Serialize)]
struct EventBodyRef<'a> {
    kind: &'a EventKind,
    reason: &'a str,
}

#[derive(Deserialize)]
struct EventBody {
    kind: EventKind,
    reason: String,
}

/// Appends `event` on `conn` (in the caller's transaction).
pub(crate) async fn append_on(
    conn: &mut SqliteConnection,
    operation: &'static str,
    event: &NewEvent,
) -> Result<Event> {
    let body = json(&EventBodyRef {
        kind: &event.kind,
        reason: &event.reason,
    })?;
    let sequence: i64 = sqlx::query_scalar(
        "INSERT INTO events (topic, instance_id, at, body) VALUES (?1, ?2, ?3, ?4) \
         RETURNING sequence",
    )
    .bind(event.topic.as_str())
    .bind(event.instance_id.map(|id| id.to_string()))
    .bind(ts(event.at))
    .bind(body)
    .fetch_one(conn)
    .await
    .map_err(|e| error::map(operation, e))?;
    let sequence =
        u64::try_from(sequence).map_err(|_| corrupt(format!("event sequence {sequence}")))?;
    Ok(Event::from_new(sequence, event.clone()))
}

fn event_from_row(row: &SqliteRow) -> Result<Event> {
    let topic: String = get(row, "topic")?;
    let body: EventBody = get_json(row, "body")?;
    Ok(Event {
        sequence: get_u64(row, "sequence")?,
        topic: topic
            .parse::<Topic>()
            .map_err(|_| corrupt(format!("unknown topic {topic:?}")))?,
        instance_id: get_opt_uuid(row, "instance_id")?.map(InstanceId::from_uuid),
        kind: body.kind,
        reason: body.reason,
        at: get_ts(row, "at")?,
    })
}

impl SqliteStore {
    pub(crate) async fn append(&self, event: &NewEvent) -> Result<Event> {
        let mut conn = self
            .inner
            .writer
            .acquire()
            .await
            .map_err(|e| error::map("append_event", e))?;
        append_on(&mut conn, "append_event", event).await
    }

    pub(crate) async fn read_events_after(&self, after: u64, max: usize) -> Result<Vec<Event>> {
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(
            "SELECT sequence, topic, instance_id, at, body FROM events \
             WHERE sequence > ?1 ORDER BY sequence LIMIT ?2",
        )
        .bind(after)
        .bind(limit(max))
        .fetch_all(&self.inner.readers)
        .await
        .map_err(|e| error::map("events_after", e))?;
        rows.iter().map(event_from_row).collect()
    }

    pub(crate) async fn read_instance_events(&self, id: InstanceId) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT sequence, topic, instance_id, at, body FROM events \
             WHERE instance_id = ?1 ORDER BY sequence",
        )
        .bind(id.to_string())
        .fetch_all(&self.inner.readers)
        .await
        .map_err(|e| error::map("instance_events", e))?;
        rows.iter().map(event_from_row).collect()
    }
}
