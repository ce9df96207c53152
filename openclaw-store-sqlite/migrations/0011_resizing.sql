-- Plan changes: the `resizing` status, for an instance whose server is moving to another
-- plan's server type. SQLite cannot alter a CHECK constraint, so the table is rebuilt: a
-- new table, the rows copied, the old one dropped, the new one renamed, its indexes and
-- count triggers made again. The migration runs in one transaction with foreign keys on,
-- so dropping the old table deletes the rows of `instance_secrets` (ON DELETE CASCADE):
-- they are kept aside first and put back once the new table holds their instances.
CREATE TEMP TABLE instance_secrets_kept AS SELECT * FROM instance_secrets;
CREATE TABLE instances_resizing (
    id                TEXT    NOT NULL PRIMARY KEY,
    customer_id       TEXT    NOT NULL,
    external_ref      TEXT,
    fqdn              TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN (
                          'pending', 'provisioning', 'active', 'suspending', 'suspended',
                          'unsuspending', 'terminating', 'terminated', 'rolling_back',
                          'rolled_back', 'failed', 'resizing')),
    version           INTEGER NOT NULL CHECK (version >= 1),
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    status_changed_at TEXT    NOT NULL,
    details           TEXT    NOT NULL
) STRICT;
INSERT INTO instances_resizing (id, customer_id, external_ref, fqdn, status, version,
                                created_at, updated_at, status_changed_at, details)
SELECT id, customer_id, external_ref, fqdn, status, version,
       created_at, updated_at, status_changed_at, details
FROM instances;
-- Dropping the table drops its indexes and its count triggers; they are made again below.
DROP TABLE instances;
ALTER TABLE instances_resizing RENAME TO instances;

CREATE UNIQUE INDEX instances_live_external_ref ON instances (external_ref)
    WHERE external_ref IS NOT NULL AND status NOT IN ('terminated', 'rolled_back');
CREATE UNIQUE INDEX instances_live_fqdn ON instances (fqdn)
    WHERE status NOT IN ('terminated', 'rolled_back');
CREATE INDEX instances_customer ON instances (customer_id, id);
CREATE INDEX instances_status ON instances (status, id);
CREATE INDEX instances_external_ref ON instances (external_ref, id) WHERE external_ref IS NOT NULL;

CREATE TRIGGER instances_counted_insert AFTER INSERT ON instances BEGIN
    UPDATE store_counts SET n = n + 1 WHERE kind = 'instances' AND name = NEW.status;
END;
CREATE TRIGGER instances_counted_update AFTER UPDATE OF status ON instances
WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE store_counts SET n = n - 1 WHERE kind = 'instances' AND name = OLD.status;
    UPDATE store_counts SET n = n + 1 WHERE kind = 'instances' AND name = NEW.status;
END;
CREATE TRIGGER instances_counted_delete AFTER DELETE ON instances BEGIN
    UPDATE store_counts SET n = n - 1 WHERE kind = 'instances' AND name = OLD.status;
END;

INSERT INTO instance_secrets SELECT * FROM instance_secrets_kept;
DROP TABLE instance_secrets_kept;

INSERT INTO store_counts (kind, name, n) VALUES ('instances', 'resizing', 0);
