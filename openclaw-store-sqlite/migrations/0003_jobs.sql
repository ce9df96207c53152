-- The job queue. A job is `running` exactly when it holds a lease (token and expiry).
CREATE TABLE jobs (
    -- Enqueue order: ties between equal run_at times, and the order of listings.
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT    NOT NULL UNIQUE,
    -- No foreign key: a full rollback deletes the instance while its job is still running.
    instance_id      TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts         INTEGER NOT NULL CHECK (attempts >= 0),
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 0),
    run_at           TEXT    NOT NULL,
    lease_token      TEXT,
    lease_expires_at TEXT,
    worker           TEXT,
    last_error       TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    CHECK ((state = 'running') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL))
) STRICT;

-- What a claim looks at: queued jobs by run_at, running jobs by lease expiry (rescue).
CREATE INDEX jobs_queued ON jobs (run_at, seq) WHERE state = 'queued';
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE state = 'running';
-- At most one running job per instance, enforced by the database.
CREATE UNIQUE INDEX jobs_one_running_per_instance ON jobs (instance_id) WHERE state = 'running';
-- Listings.
CREATE INDEX jobs_instance ON jobs (instance_id, seq);
CREATE INDEX jobs_state ON jobs (state, seq);
