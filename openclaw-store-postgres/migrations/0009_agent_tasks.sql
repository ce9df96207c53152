-- The instance agents' task queue (a few tasks per instance, leased like jobs) and each
-- agent's latest heartbeat. No foreign key to instances: tasks outlive a full rollback's
-- delete until the purge takes them, as jobs do.
CREATE TABLE agent_tasks (
    -- Enqueue order: an instance's tasks are handed out oldest first.
    seq              bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    id               uuid        PRIMARY KEY,
    instance_id      uuid        NOT NULL,
    kind             jsonb       NOT NULL,
    state            text        NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    attempts         bigint      NOT NULL CHECK (attempts >= 0),
    max_attempts     bigint      NOT NULL CHECK (max_attempts >= 1),
    lease_expires_at timestamptz,
    -- The sealed output, base64url: only the control plane opens it.
    output           text,
    error            text,
    requested_by     text        NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CHECK ((state = 'running') = (lease_expires_at IS NOT NULL))
);

-- What a claim looks at (an instance's unfinished tasks), listings, and the purge.
CREATE INDEX agent_tasks_due ON agent_tasks (instance_id, seq)
    WHERE state IN ('queued', 'running');
CREATE INDEX agent_tasks_by_instance ON agent_tasks (instance_id, seq);
CREATE INDEX agent_tasks_finished ON agent_tasks (updated_at)
    WHERE state IN ('succeeded', 'failed');

CREATE TABLE agent_presence (
    instance_id uuid        PRIMARY KEY,
    last_seen   timestamptz NOT NULL,
    report      jsonb       NOT NULL
);

-- Fleet upgrades: one version for every active instance, wave by wave (waves: a JSON array
-- of arrays of instance ids, fixed at the start). One runs at a time.
CREATE TABLE fleet_upgrades (
    seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id           uuid NOT NULL UNIQUE,
    version      text NOT NULL,
    waves        jsonb NOT NULL,
    state        text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    message      text NOT NULL,
    requested_by text NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX fleet_upgrades_one_running ON fleet_upgrades (state) WHERE state = 'running';
