-- Idempotency keys: the first request's hash and, once handled, its response.
CREATE TABLE idempotency_keys (
    key          text        PRIMARY KEY,
    request_hash text        NOT NULL,
    response     jsonb,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
-- The purge deletes by expiry.
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
