-- Derived rows are replaced by listing id on every update; without these indexes each update
-- scanned the whole table.
CREATE INDEX listing_regions_listing ON listing_regions (listing_id);
CREATE INDEX listing_industries_listing ON listing_industries (listing_id);
