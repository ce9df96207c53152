//! The event log. Appends happen on the one writing connection, inside the transaction of
//! the change they record; SQLite commits one writer at a time, so events become visible in
//! sequence order and a reader resuming after `n` never misses one.

use openclaw_core::domain::{Event, InstanceId, NewEvent};
use openclaw_core::Result;
use openclaw_store_sql::{event_from, limit, to_u64, BodyRef, EVENT_COLUMNS};
use sqlx::SqliteConnection;

use crate::connect::SqliteStore;
use crate::convert::{json, ts};
use crate::error;
use crate::row::SqliteColumns;

/// Appends `event` on `conn` (in the caller's transaction).
pub(crate) async fn append_on(
    conn: &mut SqliteConnection,
    operation: &'static str,
    event: &NewEvent,
) -> Result<Event> {
    let sequence: i64 = sqlx::query_scalar(
        "INSERT INTO events (topic, instance_id, at, body) VALUES (?1, ?2, ?3, ?4) \
         RETURNING sequence",
    )
    .bind(event.topic.as_str())
    .bind(event.instance_id.map(|id| id.to_string()))
    .bind(ts(event.at))
    .bind(json(&BodyRef::of(event))?)
    .fetch_one(conn)
    .await
    .map_err(|e| error::map(operation, e))?;
    Ok(Event::from_new(
        to_u64(sequence, "events.sequence")?,
        event.clone(),
    ))
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
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE sequence > ?1 ORDER BY sequence LIMIT ?2"
        ))
        .bind(after)
        .bind(limit(max))
        .fetch_all(&self.inner.readers)
        .await
        .map_err(|e| error::map("events_after", e))?;
        rows.iter().map(|r| event_from(&SqliteColumns(r))).collect()
    }

    pub(crate) async fn read_instance_events(&self, id: InstanceId) -> Result<Vec<Event>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE instance_id = ?1 ORDER BY sequence"
        ))
        .bind(id.to_string())
        .fetch_all(&self.inner.readers)
        .await
        .map_err(|e| error::map("instance_events", e))?;
        rows.iter().map(|r| event_from(&SqliteColumns(r))).collect()
    }
}
