-- Instances. The columns hold what is filtered, indexed or constrained; `details` holds the
-- rest of the domain type (subdomain, plan, region, resources, last error) as JSON, so a new
-- field there needs no migration. Every write sets both from the same value.
CREATE TABLE instances (
    id                uuid        PRIMARY KEY,
    customer_id       text        NOT NULL,
    external_ref      text,
    fqdn              text        NOT NULL,
    status            text        NOT NULL CHECK (status IN (
                          'pending', 'provisioning', 'active', 'suspending', 'suspended',
                          'unsuspending', 'terminating', 'terminated', 'rolling_back',
                          'rolled_back', 'failed')),
    version           bigint      NOT NULL CHECK (version >= 1),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    status_changed_at timestamptz NOT NULL,
    details           jsonb       NOT NULL
);

-- At most one live instance (not terminated, not rolled back) per billing reference and per
-- DNS name. The database enforces it, so two concurrent creates cannot both win.
CREATE UNIQUE INDEX instances_live_external_ref ON instances (external_ref)
    WHERE external_ref IS NOT NULL AND status NOT IN ('terminated', 'rolled_back');
CREATE UNIQUE INDEX instances_live_fqdn ON instances (fqdn)
    WHERE status NOT IN ('terminated', 'rolled_back');

-- Listings filter by one of these and page by id.
CREATE INDEX instances_customer ON instances (customer_id, id);
CREATE INDEX instances_status ON instances (status, id);
CREATE INDEX instances_external_ref ON instances (external_ref, id) WHERE external_ref IS NOT NULL;
