-- Idempotency keys of POST requests: a retried request with the same key returns the first
-- answer instead of doing the work again. `status` is NULL while the first request runs (or if
-- it was interrupted), so a concurrent or post-crash retry is refused rather than duplicated.
CREATE TABLE idempotency (
    scope        TEXT NOT NULL,     -- who sent it: user:<id> or anon:<ip>
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,     -- hash of method, path and body
    status       INTEGER,
    content_type TEXT,
    location     TEXT,
    body         BLOB,
    created_at   INTEGER NOT NULL,  -- unix seconds
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);
