-- Bookable facilities: a calendar per facility listing, bookings with their timeline,
-- clearances, and innovation vouchers (创新券) with their ledger. Instants are UTC milliseconds;
-- money is in fen (分). A voucher's balance never goes below zero (CHECK besides the store's
-- locked read).
CREATE TABLE facility_calendars (
    facility_id   TEXT PRIMARY KEY REFERENCES listings (id) ON DELETE CASCADE,
    calendar      TEXT NOT NULL,
    version       INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

CREATE TABLE vouchers (
    id               INTEGER PRIMARY KEY,
    org_id           INTEGER NOT NULL REFERENCES orgs (id),
    organisation     TEXT NOT NULL,
    amount_fen       INTEGER NOT NULL CHECK (amount_fen > 0),
    balance_fen      INTEGER NOT NULL CHECK (balance_fen >= 0),
    reserved_fen     INTEGER NOT NULL CHECK (reserved_fen >= 0),
    spent_fen        INTEGER NOT NULL CHECK (spent_fen >= 0),
    issuing_region   TEXT NOT NULL,
    accepted_regions TEXT NOT NULL,
    valid_until_ms   INTEGER NOT NULL,
    issued_by        TEXT NOT NULL,
    created_at_ms    INTEGER NOT NULL
);
CREATE INDEX vouchers_org ON vouchers (org_id, id);

CREATE TABLE bookings (
    id            INTEGER PRIMARY KEY,
    facility_id   TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    booker_id     INTEGER NOT NULL REFERENCES users (id),
    booker        TEXT NOT NULL,
    booker_org    TEXT,
    start_ms      INTEGER NOT NULL,
    end_ms        INTEGER NOT NULL,
    quantity      INTEGER NOT NULL CHECK (quantity > 0),
    units         INTEGER NOT NULL,
    purpose       TEXT NOT NULL,
    state         TEXT NOT NULL,
    version       INTEGER NOT NULL,
    charge_fen    INTEGER NOT NULL,
    voucher_id    INTEGER REFERENCES vouchers (id),
    voucher_fen   INTEGER NOT NULL,
    charged       INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    CHECK (end_ms > start_ms)
);
CREATE INDEX bookings_facility ON bookings (facility_id, state, start_ms);
CREATE INDEX bookings_booker ON bookings (booker_id, start_ms);

CREATE TABLE booking_events (
    id         INTEGER PRIMARY KEY,
    booking_id INTEGER NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    detail     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    state      TEXT NOT NULL,
    at_ms      INTEGER NOT NULL
);
CREATE INDEX booking_events_booking ON booking_events (booking_id, id);

CREATE TABLE facility_clearances (
    facility_id    TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users (id),
    username       TEXT NOT NULL,
    valid_until_ms INTEGER NOT NULL,
    granted_by     TEXT NOT NULL,
    granted_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (facility_id, user_id)
);

CREATE TABLE voucher_ledger (
    id                INTEGER PRIMARY KEY,
    voucher_id        INTEGER NOT NULL REFERENCES vouchers (id),
    booking_id        INTEGER REFERENCES bookings (id) ON DELETE SET NULL,
    kind              TEXT NOT NULL,
    amount_fen        INTEGER NOT NULL,
    reserved_fen      INTEGER NOT NULL,
    balance_after_fen INTEGER NOT NULL,
    at_ms             INTEGER NOT NULL
);
CREATE INDEX voucher_ledger_voucher ON voucher_ledger (voucher_id, id);
