-- Talent mobility (issue 18): regions' credential issuing keys (the private key sealed with
-- XChaCha20-Poly1305 under the node's credential key), talent evaluation credentials with their
-- status-list entries, mutual-recognition rules, flexible engagements and the cross-region
-- service catalogue. Instants are UTC milliseconds; dates ISO `YYYY-MM-DD`.
CREATE TABLE issuer_keys (
    region_code   TEXT PRIMARY KEY,
    public_key    TEXT NOT NULL,
    sealed_secret TEXT NOT NULL,
    next_index    INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE talent_credentials (
    id             TEXT PRIMARY KEY,
    talent_id      TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    issuer_region  TEXT NOT NULL REFERENCES issuer_keys (region_code),
    level          TEXT NOT NULL,
    field          TEXT NOT NULL,
    valid_from_ms  INTEGER NOT NULL,
    valid_until_ms INTEGER NOT NULL,
    status_list    TEXT NOT NULL,
    status_index   INTEGER NOT NULL,
    document       TEXT NOT NULL,
    issued_by      TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    revoked_at_ms  INTEGER,
    revoke_reason  TEXT,
    UNIQUE (status_list, status_index)
);
CREATE INDEX talent_credentials_talent ON talent_credentials (talent_id, created_at_ms);

CREATE TABLE recognition_rules (
    id               INTEGER PRIMARY KEY,
    verifier_region  TEXT NOT NULL,
    issuer_region    TEXT NOT NULL,
    issuer_level     TEXT NOT NULL,
    recognised_level TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    UNIQUE (verifier_region, issuer_region, issuer_level)
);

CREATE TABLE engagements (
    id            INTEGER PRIMARY KEY,
    talent_id     TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    talent_region TEXT NOT NULL,
    sector        TEXT NOT NULL,
    org_id        INTEGER NOT NULL REFERENCES orgs (id),
    organisation  TEXT NOT NULL,
    org_region    TEXT NOT NULL,
    mode          TEXT NOT NULL,
    start_date    TEXT NOT NULL,
    end_date      TEXT NOT NULL,
    weekdays      TEXT NOT NULL,
    share_percent INTEGER NOT NULL,
    state         TEXT NOT NULL,
    version       INTEGER NOT NULL,
    proposed_by   TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX engagements_talent ON engagements (talent_id, state);

CREATE TABLE services (
    id              INTEGER PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    area            TEXT NOT NULL,
    regions         TEXT NOT NULL,
    cross_region    INTEGER NOT NULL,
    documents       TEXT NOT NULL,
    office          TEXT NOT NULL,
    time_limit_days INTEGER NOT NULL
);
CREATE INDEX services_area ON services (area, code);
