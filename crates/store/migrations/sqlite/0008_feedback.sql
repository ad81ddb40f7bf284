-- Feedback on listings: match impressions per listing, day and viewer province (added in
-- batches), and the last reminder of a stale listing's owner. They go with their listing.
CREATE TABLE match_impressions (
    listing_id      TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    day             TEXT NOT NULL,
    viewer_province TEXT NOT NULL,
    count           INTEGER NOT NULL,
    PRIMARY KEY (listing_id, day, viewer_province)
);
CREATE INDEX match_impressions_day ON match_impressions (day);

CREATE TABLE stale_reminders (
    listing_id  TEXT PRIMARY KEY REFERENCES listings (id) ON DELETE CASCADE,
    reminded_at TEXT NOT NULL
);
