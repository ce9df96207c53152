-- API keys of the HTTP API. Only the hash of a key's secret half is stored.
CREATE TABLE api_keys (
    -- Insertion order: listings are oldest first.
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    scope       TEXT    NOT NULL CHECK (scope IN ('admin', 'manage', 'read')),
    customer_id TEXT,
    secret_hash TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    revoked_at  TEXT
) STRICT;
