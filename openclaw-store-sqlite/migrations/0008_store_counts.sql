-- Counts for metrics (`stats`, read on every scrape): instances by status and jobs by state,
-- kept by triggers in the transaction of every write, so reading them costs a few rows
-- however large the tables grow (a `GROUP BY` over both tables did before). SQLite has one
-- writer at a time, so one row per count is contention-free.
CREATE TABLE store_counts (
    kind TEXT    NOT NULL CHECK (kind IN ('instances', 'jobs')),
    name TEXT    NOT NULL,
    n    INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
) STRICT, WITHOUT ROWID;

-- Every row a trigger may touch exists (the names are the CHECK constraints' of the
-- tables), counting what is there already. The migration's transaction keeps other
-- writers out until the triggers exist.
INSERT INTO store_counts (kind, name, n)
SELECT 'instances', s.name, (SELECT count(*) FROM instances i WHERE i.status = s.name)
FROM (SELECT 'pending' AS name UNION ALL SELECT 'provisioning' UNION ALL SELECT 'active'
      UNION ALL SELECT 'suspending' UNION ALL SELECT 'suspended'
      UNION ALL SELECT 'unsuspending' UNION ALL SELECT 'terminating'
      UNION ALL SELECT 'terminated' UNION ALL SELECT 'rolling_back'
      UNION ALL SELECT 'rolled_back' UNION ALL SELECT 'failed') s;
INSERT INTO store_counts (kind, name, n)
SELECT 'jobs', s.name, (SELECT count(*) FROM jobs j WHERE j.state = s.name)
FROM (SELECT 'queued' AS name UNION ALL SELECT 'running' UNION ALL SELECT 'done'
      UNION ALL SELECT 'dead') s;

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

CREATE TRIGGER jobs_counted_insert AFTER INSERT ON jobs BEGIN
    UPDATE store_counts SET n = n + 1 WHERE kind = 'jobs' AND name = NEW.state;
END;
CREATE TRIGGER jobs_counted_update AFTER UPDATE OF state ON jobs
WHEN OLD.state IS NOT NEW.state BEGIN
    UPDATE store_counts SET n = n - 1 WHERE kind = 'jobs' AND name = OLD.state;
    UPDATE store_counts SET n = n + 1 WHERE kind = 'jobs' AND name = NEW.state;
END;
CREATE TRIGGER jobs_counted_delete AFTER DELETE ON jobs BEGIN
    UPDATE store_counts SET n = n - 1 WHERE kind = 'jobs' AND name = OLD.state;
END;
