-- Counts for metrics (`stats`, read on every scrape): instances by status and jobs by state,
-- kept by triggers in the transaction of every write, so reading them costs a few rows
-- however large the tables grow (a `GROUP BY` over both tables did before).
--
-- One row per count. Striping each count over 8 rows (a writer adding to the row of its
-- transaction id) was measured too and was slower here: 8 to 18 % fewer transitions with
-- 8 writers and up to 27 % fewer jobs with 4 workers (BENCHMARKS.md), since a count row
-- is locked only from the end of a statement to its commit.
CREATE TABLE store_counts (
    kind text   NOT NULL CHECK (kind IN ('instances', 'jobs')),
    name text   NOT NULL,
    n    bigint NOT NULL CHECK (n >= 0),
    PRIMARY KEY (kind, name)
);

-- Every row a trigger may touch exists (the names are the CHECK constraints' of the
-- tables), counting what is there already. The lock keeps writers out until the triggers
-- below exist and the migration commits.
LOCK TABLE instances, jobs IN SHARE MODE;
INSERT INTO store_counts (kind, name, n)
SELECT 'instances', s.name, (SELECT count(*) FROM instances i WHERE i.status = s.name)
FROM unnest(ARRAY['pending', 'provisioning', 'active', 'suspending', 'suspended',
                  'unsuspending', 'terminating', 'terminated', 'rolling_back', 'rolled_back',
                  'failed']) AS s(name);
INSERT INTO store_counts (kind, name, n)
SELECT 'jobs', s.name, (SELECT count(*) FROM jobs j WHERE j.state = s.name)
FROM unnest(ARRAY['queued', 'running', 'done', 'dead']) AS s(name);

-- Moves one `kind` from `minus` to `plus` (either may be NULL: an insert, a delete).
-- The two rows are updated in name order, whoever calls, and every write's count rows come
-- after its other locks (triggers fire at the end of the statement), so two writers never
-- wait on each other in opposite orders.
CREATE FUNCTION store_counts_move(count_kind text, minus text, plus text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF minus IS NOT NULL AND (plus IS NULL OR minus < plus) THEN
        UPDATE store_counts SET n = n - 1 WHERE kind = count_kind AND name = minus;
        minus := NULL;
    END IF;
    IF plus IS NOT NULL THEN
        UPDATE store_counts SET n = n + 1 WHERE kind = count_kind AND name = plus;
    END IF;
    IF minus IS NOT NULL THEN
        UPDATE store_counts SET n = n - 1 WHERE kind = count_kind AND name = minus;
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
        WHERE kind = 'instances' AND name = gone.status;
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
        WHERE kind = 'jobs' AND name = gone.state;
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
