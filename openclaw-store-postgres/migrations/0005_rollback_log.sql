-- One entry per finished rollback, kept after a full rollback deletes the instance row.
-- `entry` is the whole log entry (with the instance as it was); the columns are for
-- operators' queries.
CREATE TABLE rollback_log (
    seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id uuid        NOT NULL,
    level       text        NOT NULL,
    at          timestamptz NOT NULL,
    entry       jsonb       NOT NULL
);
CREATE INDEX rollback_log_instance ON rollback_log (instance_id);
