-- The instance agents' task queue (a few tasks per instance, leased like jobs) and each
-- agent's latest heartbeat. No foreign key to instances: tasks outlive a full rollback's
-- delete until the purge takes them, as jobs do.
CREATE TABLE agent_tasks (
    -- Enqueue order: an instance's tasks are handed out oldest first.
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT    NOT NULL UNIQUE,
    instance_id      TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    state            TEXT    NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    attempts         INTEGER NOT NULL CHECK (attempts >= 0),
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
    lease_expires_at TEXT,
    -- The sealed output, base64url: only the control plane opens it.
    output           TEXT,
    error            TEXT,
    requested_by     TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    CHECK ((state = 'running') = (lease_expires_at IS NOT NULL))
) STRICT;

CREATE INDEX agent_tasks_due ON agent_tasks (instance_id, seq)
    WHERE state IN ('queued', 'running');
CREATE INDEX agent_tasks_by_instance ON agent_tasks (instance_id, seq);
CREATE INDEX agent_tasks_finished ON agent_tasks (updated_at)
    WHERE state IN ('succeeded', 'failed');

CREATE TABLE agent_presence (
    instance_id TEXT PRIMARY KEY,
    last_seen   TEXT NOT NULL,
    report      TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Fleet upgrades: one version for every active instance, wave by wave (waves: a JSON array
-- of arrays of instance ids, fixed at the start). One runs at a time.
CREATE TABLE fleet_upgrades (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    version      TEXT NOT NULL,
    waves        TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    message      TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX fleet_upgrades_one_running ON fleet_upgrades (state) WHERE state = 'running';
