-- One entry per finished rollback, kept after a full rollback deletes the instance row.
-- `entry` is the whole log entry (JSON, with the instance as it was); the columns are for
-- operators' queries.
CREATE TABLE rollback_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    at          TEXT    NOT NULL,
    entry       TEXT    NOT NULL
) STRICT;
CREATE INDEX rollback_log_instance ON rollback_log (instance_id);
