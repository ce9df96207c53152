-- The job queue. A job is `running` exactly when it holds a lease (token and expiry).
CREATE TABLE jobs (
    id               uuid        PRIMARY KEY,
    -- Enqueue order: ties between equal run_at times, and the order of listings.
    seq              bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    -- No foreign key: a full rollback deletes the instance while its job is still running.
    instance_id      uuid        NOT NULL,
    kind             jsonb       NOT NULL,
    state            text        NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts         bigint      NOT NULL CHECK (attempts >= 0),
    max_attempts     bigint      NOT NULL CHECK (max_attempts >= 0),
    run_at           timestamptz NOT NULL,
    lease_token      uuid,
    lease_expires_at timestamptz,
    worker           text,
    last_error       text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CHECK ((state = 'running') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL))
);

-- What a claim looks at: queued jobs by run_at, and running jobs by lease expiry (rescue).
-- Done and dead jobs are in neither, so a long history does not slow claims down.
CREATE INDEX jobs_queued ON jobs (run_at, seq) WHERE state = 'queued';
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE state = 'running';
-- At most one running job per instance, enforced by the database rather than by claims
-- being careful.
CREATE UNIQUE INDEX jobs_one_running_per_instance ON jobs (instance_id) WHERE state = 'running';
-- Listings.
CREATE INDEX jobs_instance ON jobs (instance_id, seq);
CREATE INDEX jobs_state ON jobs (state, seq);
