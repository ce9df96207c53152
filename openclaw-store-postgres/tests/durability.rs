//! What the default commit mode promises: a write with an event is on disk when it returns,
//! and so is every event `events_after` hands out. Checked against PostgreSQL's own flush
//! position: a write committed without a flush moves the insert position past the flush
//! position, and the store's next acknowledgement must have flushed past it.

// Helpers outside `#[test]` functions stop the test on failure, as the tests themselves do.
#![allow(clippy::expect_used)]

mod common;

use chrono::Utc;
use openclaw_core::domain::NewEvent;
use openclaw_core::ports::Store;
use sqlx::{Connection, PgConnection};

/// Commits a write without waiting for the disk; returns the log position it reached.
async fn unflushed_write(conn: &mut PgConnection) -> String {
    sqlx::query("SET synchronous_commit = off")
        .execute(&mut *conn)
        .await
        .expect("set");
    sqlx::query("SELECT pg_logical_emit_message(true, 'openclaw.test', 'unflushed')")
        .execute(&mut *conn)
        .await
        .expect("unflushed write");
    sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
        .fetch_one(&mut *conn)
        .await
        .expect("insert position")
}

async fn flushed_past(conn: &mut PgConnection, lsn: &str) -> bool {
    sqlx::query_scalar("SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn")
        .bind(lsn)
        .fetch_one(&mut *conn)
        .await
        .expect("flush position")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_and_returned_events_are_on_disk() {
    let store = common::store().await;
    let mut conn = PgConnection::connect(&common::database_url())
        .await
        .expect("connection");

    let lsn = unflushed_write(&mut conn).await;
    store
        .append_event(&NewEvent::alert(None, "test", "durable", Utc::now()))
        .await
        .expect("append");
    assert!(
        flushed_past(&mut conn, &lsn).await,
        "append_event returned before the log was on disk"
    );

    let lsn = unflushed_write(&mut conn).await;
    let events = store.events_after(0, 10).await.expect("events");
    assert!(!events.is_empty());
    assert!(
        flushed_past(&mut conn, &lsn).await,
        "events_after returned events before the log was on disk"
    );
}
