-- Counts for metrics (`stats`, read on every scrape): instances by status and jobs by state,
-- kept by triggers in the transaction of every write, so reading them costs a few rows
-- however large the tables grow (a `GROUP BY` over both tables did before).
--
-- Each count is striped over 8 slots; a transaction adds to the slot of its transaction id,
-- so concurrent writers mostly touch different rows (one row per count would make every
-- claim wait for the previous claim's commit). `stats` sums the slots. A slot may go
-- negative; the sum may not.
CREATE TABLE store_counts (
    kind text     NOT NULL CHECK (kind IN ('instances', 'jobs')),
    name text     NOT NULL,
    slot smallint NOT NULL CHECK (slot >= 0 AND slot < 8),
    n    bigint   NOT NULL,
    PRIMARY KEY (kind, name, slot)
);

-- Every row a trigger may touch exists: the names are the CHECK constraints' of the tables.
INSERT INTO store_counts (kind, name, slot, n)
SELECT 'instances', status, slot, 0
FROM unnest(ARRAY['pending', 'provisioning', 'active', 'suspending', 'suspended',
                  'unsuspending', 'terminating', 'terminated', 'rolling_back', 'rolled_back',
                  'failed']) AS status,
     generate_series(0, 7) AS slot;
INSERT INTO store_counts (kind, name, slot, n)
SELECT 'jobs', state, slot, 0
FROM unnest(ARRAY['queued', 'running', 'done', 'dead']) AS state, generate_series(0, 7) AS slot;

-- What is there already, counted once. The lock keeps writers out until the triggers
-- below exist and the migration commits.
LOCK TABLE instances, jobs IN SHARE MODE;
UPDATE store_counts c SET n = t.n
FROM (SELECT status, count(*) AS n FROM instances GROUP BY status) t
WHERE c.kind = 'instances' AND c.name = t.status AND c.slot = 0;
UPDATE store_counts c SET n = t.n
FROM (SELECT state, count(*) AS n FROM jobs GROUP BY state) t
WHERE c.kind = 'jobs' AND c.name = t.state AND c.slot = 0;

-- Moves one `kind` from `minus` to `plus` (either may be NULL: an insert, a delete).
-- The two rows are updated in name order, whoever calls, and every write's count rows come
-- after its other locks (triggers fire at the end of the statement), so two writers never
-- wait on each other in opposite orders.
CREATE FUNCTION store_counts_move(count_kind text, minus text, plus text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    stripe smallint := txid_current() % 8;
BEGIN
    IF minus IS NOT NULL AND (plus IS NULL OR minus < plus) THEN
        UPDATE store_counts SET n = n - 1
        WHERE kind = count_kind AND name = minus AND slot = stripe;
        minus := NULL;
    END IF;
    IF plus IS NOT NULL THEN
        UPDATE store_counts SET n = n + 1
        WHERE kind = count_kind AND name = plus AND slot = stripe;
    END IF;
    IF minus IS NOT NULL THEN
        UPDATE store_counts SET n = n - 1
        WHERE kind = count_kind AND name = minus AND slot = stripe;
    END IF;
END
$$;

CREATE FUNCTION store_counts_instances() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM store_counts_move('instances', NULL, NEW.status);
    ELSE
        PERFORM store_counts_move('instances', OLD.status, NEW.status);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION store_counts_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM store_counts_move('jobs', NULL, NEW.state);
    ELSE
        PERFORM store_counts_move('jobs', OLD.state, NEW.state);
    END IF;
    RETURN NULL;
END
$$;

-- Deletes are counted per statement: the purge deletes jobs by the thousand, and one
-- update per state beats one per row. Names in order, as above.
CREATE FUNCTION store_counts_instances_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    gone record;
BEGIN
    FOR gone IN
        SELECT status, count(*) AS n FROM deleted_rows GROUP BY status ORDER BY status
    LOOP
        UPDATE store_counts SET n = n - gone.n
        WHERE kind = 'instances' AND name = gone.status AND slot = txid_current() % 8;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION store_counts_jobs_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    gone record;
BEGIN
    FOR gone IN
        SELECT state, count(*) AS n FROM deleted_rows GROUP BY state ORDER BY state
    LOOP
        UPDATE store_counts SET n = n - gone.n
        WHERE kind = 'jobs' AND name = gone.state AND slot = txid_current() % 8;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER instances_counted_insert AFTER INSERT ON instances
    FOR EACH ROW EXECUTE FUNCTION store_counts_instances();
CREATE TRIGGER instances_counted_update AFTER UPDATE OF status ON instances
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION store_counts_instances();
CREATE TRIGGER instances_counted_delete AFTER DELETE ON instances
    REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION store_counts_instances_deleted();

CREATE TRIGGER jobs_counted_insert AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION store_counts_jobs();
CREATE TRIGGER jobs_counted_update AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION store_counts_jobs();
CREATE TRIGGER jobs_counted_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION store_counts_jobs_deleted();
