-- Deals (对接): a deal per (listing, asking organisation) while it is open, its timeline of
-- events and the technology managers brokering for each side. They go with their listing.
CREATE TABLE deals (
    id              INTEGER PRIMARY KEY,
    listing_id      TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    from_listing_id TEXT REFERENCES listings (id) ON DELETE SET NULL,
    asker_org       TEXT NOT NULL,
    owner_org       TEXT NOT NULL,
    asker_user_id   INTEGER NOT NULL REFERENCES users (id),
    message         TEXT NOT NULL,
    state           TEXT NOT NULL,
    version         INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX deals_open_pair ON deals (listing_id, asker_org)
    WHERE state IN ('proposed', 'accepted', 'meeting', 'signed');
CREATE INDEX deals_asker ON deals (asker_org, id);
CREATE INDEX deals_owner ON deals (owner_org, id);

CREATE TABLE deal_events (
    id        INTEGER PRIMARY KEY,
    deal_id   INTEGER NOT NULL REFERENCES deals (id) ON DELETE CASCADE,
    event     TEXT NOT NULL,
    side      TEXT NOT NULL,
    actor_id  INTEGER,
    actor     TEXT NOT NULL,
    state     TEXT NOT NULL,
    at        TEXT NOT NULL
);
CREATE INDEX deal_events_deal ON deal_events (deal_id, id);

CREATE TABLE deal_brokers (
    deal_id  INTEGER NOT NULL REFERENCES deals (id) ON DELETE CASCADE,
    side     TEXT NOT NULL,
    user_id  INTEGER NOT NULL REFERENCES users (id),
    username TEXT NOT NULL,
    PRIMARY KEY (deal_id, side, user_id)
);
CREATE INDEX deal_brokers_user ON deal_brokers (user_id, deal_id);
