-- Accounts and access records. Timestamps are RFC 3339 text in UTC with exactly nine fractional
-- digits (`2025-01-02T03:04:05.123000000Z`), so comparing the text compares the instants.

CREATE TABLE orgs (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    region_code TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    org_id        INTEGER REFERENCES orgs (id),
    region_code   TEXT,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);
CREATE INDEX users_org ON users (org_id);

-- Technology managers and the organisations that appointed them.
CREATE TABLE appointments (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id  INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, org_id)
) WITHOUT ROWID;
CREATE INDEX appointments_org ON appointments (org_id);

-- Login sessions, keyed by the hash of the cookie value.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ip         TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- API tokens; `scopes` is a space-separated list ("read write").
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    last_used_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Matchmaking requests for a listing's contact details. They go when the listing is deleted.
CREATE TABLE contact_requests (
    id           INTEGER PRIMARY KEY,
    listing_id   TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    from_org     TEXT NOT NULL,
    from_user_id INTEGER NOT NULL REFERENCES users (id),
    to_org       TEXT NOT NULL,
    message      TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    decided_by   INTEGER REFERENCES users (id),
    decided_at   TEXT
);
CREATE INDEX contact_requests_listing ON contact_requests (listing_id);
CREATE INDEX contact_requests_from ON contact_requests (from_org);
CREATE INDEX contact_requests_to ON contact_requests (to_org);

-- Regions where publication waits for a region operator's review.
CREATE TABLE review_regions (
    region_code TEXT PRIMARY KEY
) WITHOUT ROWID;

-- Review decisions. They go when the listing is deleted (the audit trail keeps the history).
CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY,
    listing_id  TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    reviewer_id INTEGER NOT NULL REFERENCES users (id),
    approved    INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX reviews_listing ON reviews (listing_id, id);

-- The audit trail: append-only, enforced by the triggers below. `actor_id` has no foreign key
-- so entries outlive anything they mention.
CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor_id    INTEGER,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    region_code TEXT,
    ip          TEXT,
    detail      TEXT NOT NULL DEFAULT 'null'
);
CREATE INDEX audit_region ON audit (region_code, seq);
CREATE INDEX audit_actor ON audit (actor, seq);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit trail is append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit trail is append-only');
END;
