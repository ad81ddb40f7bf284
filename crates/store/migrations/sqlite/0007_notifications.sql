-- Notifications: each user's inbox, each organisation's webhooks, and the outbox of deliveries
-- (webhook calls and e-mails) still to make. Inbox and outbox rows are written in the
-- transaction of the event they tell about.
ALTER TABLE users ADD COLUMN email TEXT;

CREATE TABLE inbox (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    title_zh   TEXT NOT NULL,
    title_en   TEXT NOT NULL,
    body_zh    TEXT NOT NULL,
    body_en    TEXT NOT NULL,
    link       TEXT NOT NULL,
    deal_id    INTEGER,
    listing_id TEXT,
    created_at TEXT NOT NULL,
    read_at    TEXT
);
CREATE INDEX inbox_user ON inbox (user_id, id);
CREATE INDEX inbox_unread ON inbox (user_id) WHERE read_at IS NULL;

-- Secrets are kept in clear: each delivery is signed with them.
CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES orgs (id),
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    events     TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX webhooks_org ON webhooks (org_id) WHERE active = 1;

-- channel 'webhook' (webhook_id set) or 'email' (email_to set); state pending, delivered or
-- failed; a worker holds a row while lease_until is in the future.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,
    webhook_id      INTEGER REFERENCES webhooks (id) ON DELETE CASCADE,
    email_to        TEXT,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'pending',
    next_attempt_at TEXT NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_webhook ON outbox (webhook_id, id);
