-- API keys of the HTTP API. Only the hash of a key's secret half is stored.
CREATE TABLE api_keys (
    id          text        PRIMARY KEY,
    -- Insertion order: listings are oldest first.
    seq         bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    name        text        NOT NULL,
    scope       text        NOT NULL CHECK (scope IN ('admin', 'manage', 'read')),
    customer_id text,
    secret_hash text        NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
