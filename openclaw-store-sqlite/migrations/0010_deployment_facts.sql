-- Write-once facts about the deployment that uses this database: above all the mode
-- (sandbox or live) its instances were provisioned in, checked on every start.
CREATE TABLE deployment_facts (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
