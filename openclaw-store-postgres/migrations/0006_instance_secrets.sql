-- Instance secrets, sealed by the engine (the store never sees them in the clear), and
-- whether the one bootstrap has taken them. Deleted with their instance.
CREATE TABLE instance_secrets (
    instance_id  uuid        PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    sealed       bytea       NOT NULL,
    delivered_at timestamptz
);
