-- Industry chains edited by the admin (the edited version replaces the shipped chain of the same
-- id) and recorded enclaves (飞地). Issue 19.
CREATE TABLE chain_edits (
    chain_id   TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_by INTEGER REFERENCES users (id),
    updated_at TEXT NOT NULL
);

CREATE TABLE enclaves (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    home_region TEXT NOT NULL,
    host_region TEXT NOT NULL,
    host_park   TEXT NOT NULL,
    enterprises TEXT NOT NULL,
    created_by  INTEGER REFERENCES users (id),
    created_at  TEXT NOT NULL
);
