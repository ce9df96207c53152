-- Instance secrets, sealed by the engine (the store never sees them in the clear), and
-- whether the one bootstrap has taken them. Deleted with their instance (the store's
-- connections turn foreign keys on).
CREATE TABLE instance_secrets (
    instance_id  TEXT NOT NULL PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    sealed       BLOB NOT NULL,
    delivered_at TEXT
) STRICT;
