-- Listings are stored whole as JSON in `body`; the other columns are derived from it for
-- filtering, uniqueness and ordering.
CREATE TABLE listings (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    visibility  TEXT NOT NULL,
    title       TEXT NOT NULL,
    owner_org   TEXT,
    external_id TEXT,
    uscc        TEXT,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX listings_kind_status ON listings (kind, status, id);
CREATE INDEX listings_updated ON listings (updated_at, id);
CREATE INDEX listings_title ON listings (kind, title);
CREATE UNIQUE INDEX listings_external ON listings (kind, IFNULL(owner_org, ''), external_id)
    WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX listings_uscc ON listings (uscc) WHERE uscc IS NOT NULL;

-- Each listing's region codes plus all their ancestors, so a filter on a province is one lookup.
CREATE TABLE listing_regions (
    code       TEXT NOT NULL,
    listing_id TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    PRIMARY KEY (code, listing_id)
) WITHOUT ROWID;

-- Each listing's industry codes plus all their ancestors (3741 -> 374, 37, C).
CREATE TABLE listing_industries (
    code       TEXT NOT NULL,
    listing_id TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    PRIMARY KEY (code, listing_id)
) WITHOUT ROWID;

-- Enterprise sites, for cross-region flow dashboards.
CREATE TABLE enterprise_sites (
    listing_id  TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    region_code TEXT NOT NULL,
    role        TEXT NOT NULL
);
CREATE INDEX enterprise_sites_listing ON enterprise_sites (listing_id);

-- Append-only change log; the search index replays it.
CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    listing_id TEXT NOT NULL,
    at         TEXT NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
