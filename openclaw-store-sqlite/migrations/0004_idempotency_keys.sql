-- Idempotency keys: the first request's hash and, once handled, its response (JSON).
CREATE TABLE idempotency_keys (
    key          TEXT NOT NULL PRIMARY KEY,
    request_hash TEXT NOT NULL,
    response     TEXT,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
) STRICT;
-- The purge deletes by expiry.
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
