//! The event log. Every statement that appends an event takes its sequence from the one row
//! of `event_log_head` in the same transaction (see `0002_events.sql`): appends therefore
//! commit in sequence order, and a reader resuming after `n` never misses an event.

use chrono::{DateTime, Utc};
use openclaw_core::domain::{Event, InstanceId, NewEvent};
use openclaw_core::Result;
use openclaw_store_sql::{event_from, limit, to_u64, BodyRef, EVENT_COLUMNS};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::connect::PgStore;
use crate::error;
use crate::row::{get, PgColumns};

/// The values of `event` in the order of the `topic, instance_id, at, body` columns.
pub(crate) type EventValues<'a> = (&'static str, Option<Uuid>, DateTime<Utc>, Json<BodyRef<'a>>);

/// The values of `event`, to bind.
pub(crate) fn event_values(event: &NewEvent) -> EventValues<'_> {
    (
        event.topic.as_str(),
        event.instance_id.map(|id| id.as_uuid()),
        event.at,
        Json(BodyRef::of(event)),
    )
}

/// The stored event: `event` with the sequence and time the database holds.
pub(crate) fn stored_event(event: &NewEvent, row: &PgRow) -> Result<Event> {
    let sequence = to_u64(get(row, "sequence")?, "events.sequence")?;
    let mut stored = Event::from_new(sequence, event.clone());
    stored.at = get(row, "at")?;
    Ok(stored)
}

impl PgStore {
    pub(crate) async fn append(&self, event: &NewEvent) -> Result<Event> {
        let (topic, instance_id, at, body) = event_values(event);
        let row = sqlx::query(
            "WITH head AS ( \
                 UPDATE event_log_head SET last_sequence = last_sequence + 1 \
                 WHERE set_config('synchronous_commit', $5, true) IS NOT NULL \
                 RETURNING last_sequence) \
             INSERT INTO events (sequence, topic, instance_id, at, body) \
             SELECT last_sequence, $1, $2, $3, $4 FROM head \
             RETURNING sequence, at",
        )
        .bind(topic)
        .bind(instance_id)
        .bind(at)
        .bind(body)
        .bind(self.commit_setting())
        .fetch_one(self.pool_ref())
        .await
        .map_err(|e| error::map("append_event", e))?;
        self.make_durable("append_event").await?;
        stored_event(event, &row)
    }

    pub(crate) async fn read_events_after(&self, after: u64, max: usize) -> Result<Vec<Event>> {
        // Past i64::MAX there is nothing to read.
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE sequence > $1 ORDER BY sequence LIMIT $2"
        ))
        .bind(after)
        .bind(limit(max))
        .fetch_all(self.pool_ref())
        .await
        .map_err(|e| error::map("events_after", e))?;
        if !rows.is_empty() {
            // Never hand out an event a crash could still take back: a subscriber would
            // resume past a sequence that is then given to another event.
            self.make_durable("events_after").await?;
        }
        rows.iter().map(|r| event_from(&PgColumns(r))).collect()
    }

    pub(crate) async fn read_instance_events(&self, id: InstanceId) -> Result<Vec<Event>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE instance_id = $1 ORDER BY sequence"
        ))
        .bind(id.as_uuid())
        .fetch_all(self.pool_ref())
        .await
        .map_err(|e| error::map("instance_events", e))?;
        rows.iter().map(|r| event_from(&PgColumns(r))).collect()
    }
}
