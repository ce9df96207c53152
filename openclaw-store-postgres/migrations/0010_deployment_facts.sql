-- Write-once facts about the deployment that uses this database: above all the mode
-- (sandbox or live) its instances were provisioned in, checked on every start.
CREATE TABLE deployment_facts (
    name        text        PRIMARY KEY,
    value       text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
