-- Challenges that run (揭榜挂帅, 赛马制), keyed by the challenge listing's id: its phase (changed
-- only by checked moves), the teams' applications and members, the reviewers and their score
-- sheets, the milestones and the teams' reports with the gate decisions. They go with their
-- listing.
CREATE TABLE challenge_phases (
    listing_id TEXT PRIMARY KEY REFERENCES listings (id) ON DELETE CASCADE,
    phase      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    note       TEXT,
    updated_at TEXT NOT NULL
);

CREATE TABLE challenge_applications (
    id           INTEGER PRIMARY KEY,
    challenge_id TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    team_name    TEXT NOT NULL,
    lead_org     TEXT NOT NULL,
    lead_user_id INTEGER NOT NULL REFERENCES users (id),
    proposal     TEXT NOT NULL,
    state        TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX challenge_applications_one_per_org ON challenge_applications (challenge_id, lead_org)
    WHERE state <> 'withdrawn';
CREATE INDEX challenge_applications_lead ON challenge_applications (lead_org, id);

CREATE TABLE challenge_members (
    application_id INTEGER NOT NULL REFERENCES challenge_applications (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    name           TEXT NOT NULL,
    organisation   TEXT NOT NULL,
    region_code    TEXT NOT NULL,
    role           TEXT NOT NULL,
    PRIMARY KEY (application_id, position)
);
CREATE INDEX challenge_members_org ON challenge_members (organisation, application_id);

CREATE TABLE challenge_reviewers (
    challenge_id TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    username     TEXT NOT NULL,
    org          TEXT,
    appointed_at TEXT NOT NULL,
    PRIMARY KEY (challenge_id, user_id)
);
CREATE INDEX challenge_reviewers_user ON challenge_reviewers (user_id);

CREATE TABLE challenge_scores (
    application_id INTEGER NOT NULL REFERENCES challenge_applications (id) ON DELETE CASCADE,
    reviewer_id    INTEGER NOT NULL REFERENCES users (id),
    criterion      TEXT NOT NULL,
    score          REAL NOT NULL,
    submitted_at   TEXT NOT NULL,
    PRIMARY KEY (application_id, reviewer_id, criterion)
);

CREATE TABLE challenge_milestones (
    id           INTEGER PRIMARY KEY,
    challenge_id TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    due_on       TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX challenge_milestones_challenge ON challenge_milestones (challenge_id, due_on);

CREATE TABLE challenge_reports (
    id             INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES challenge_applications (id) ON DELETE CASCADE,
    milestone_id   INTEGER NOT NULL REFERENCES challenge_milestones (id) ON DELETE CASCADE,
    text           TEXT NOT NULL,
    attachment     TEXT,
    filed_by       INTEGER NOT NULL REFERENCES users (id),
    filed_at       TEXT NOT NULL,
    passed         INTEGER,
    note           TEXT,
    decided_by     INTEGER REFERENCES users (id),
    decided_at     TEXT,
    UNIQUE (application_id, milestone_id)
);
