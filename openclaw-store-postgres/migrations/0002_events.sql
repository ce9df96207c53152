-- The event log (the outbox). Sequences come from the one row of `event_log_head`, updated in
-- the transaction that writes the event: the row lock makes appends commit in sequence
-- order, so a reader that resumes after sequence n can never miss an event committed later
-- with a smaller number (which a plain sequence or identity column allows).
CREATE TABLE event_log_head (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_sequence bigint  NOT NULL CHECK (last_sequence >= 0)
);
INSERT INTO event_log_head (singleton, last_sequence) VALUES (true, 0);

CREATE TABLE events (
    sequence    bigint      PRIMARY KEY CHECK (sequence >= 1),
    topic       text        NOT NULL,
    -- No foreign key: the events of an instance outlive its row (full rollback).
    instance_id uuid,
    at          timestamptz NOT NULL,
    -- The event's kind and reason.
    body        jsonb       NOT NULL
);
CREATE INDEX events_instance ON events (instance_id, sequence) WHERE instance_id IS NOT NULL;
