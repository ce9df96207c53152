-- Instances. The columns hold what is filtered, indexed or constrained; `details` holds the
-- rest of the domain type (subdomain, plan, region, resources, last error) as JSON, so a new
-- field there needs no migration. Every write sets both from the same value.
-- Ids are hyphenated lowercase UUIDs, whose text order is their byte order (cursor paging);
-- times are UTC RFC 3339 with nine fractional digits, whose text order is time order.
CREATE TABLE instances (
    id                TEXT    NOT NULL PRIMARY KEY,
    customer_id       TEXT    NOT NULL,
    external_ref      TEXT,
    fqdn              TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN (
                          'pending', 'provisioning', 'active', 'suspending', 'suspended',
                          'unsuspending', 'terminating', 'terminated', 'rolling_back',
                          'rolled_back', 'failed')),
    version           INTEGER NOT NULL CHECK (version >= 1),
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    status_changed_at TEXT    NOT NULL,
    details           TEXT    NOT NULL
) STRICT;

-- At most one live instance (not terminated, not rolled back) per billing reference and per
-- DNS name.
CREATE UNIQUE INDEX instances_live_external_ref ON instances (external_ref)
    WHERE external_ref IS NOT NULL AND status NOT IN ('terminated', 'rolled_back');
CREATE UNIQUE INDEX instances_live_fqdn ON instances (fqdn)
    WHERE status NOT IN ('terminated', 'rolled_back');

-- Listings filter by one of these and page by id.
CREATE INDEX instances_customer ON instances (customer_id, id);
CREATE INDEX instances_status ON instances (status, id);
CREATE INDEX instances_external_ref ON instances (external_ref, id) WHERE external_ref IS NOT NULL;
