-- The event log (the outbox). AUTOINCREMENT: a sequence is never reused, even if old events
-- are deleted one day. SQLite has one writer at a time, so events commit in sequence order
-- and a reader resuming after sequence n never misses one.
CREATE TABLE events (
    sequence    INTEGER PRIMARY KEY AUTOINCREMENT,
    topic       TEXT    NOT NULL,
    -- No foreign key: the events of an instance outlive its row (full rollback).
    instance_id TEXT,
    at          TEXT    NOT NULL,
    -- The event's kind and reason (JSON).
    body        TEXT    NOT NULL
) STRICT;
CREATE INDEX events_instance ON events (instance_id, sequence) WHERE instance_id IS NOT NULL;
