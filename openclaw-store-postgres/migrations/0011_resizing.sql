-- Plan changes: the `resizing` status, for an instance whose server is moving to another
-- plan's server type. The status constraint gains it, and the counts gain its row.
ALTER TABLE instances DROP CONSTRAINT instances_status_check;
ALTER TABLE instances ADD CONSTRAINT instances_status_check CHECK (status IN (
    'pending', 'provisioning', 'active', 'suspending', 'suspended',
    'unsuspending', 'terminating', 'terminated', 'rolling_back',
    'rolled_back', 'failed', 'resizing'));
INSERT INTO store_counts (kind, name, n) VALUES ('instances', 'resizing', 0);
