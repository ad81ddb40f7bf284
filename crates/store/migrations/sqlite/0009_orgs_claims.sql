-- Contact requests become deals (对接): one flow, not two. Each request is moved to a deal in
-- the matching state with its decision on the timeline (a pair that already has an open deal
-- keeps that deal), then the table goes.
INSERT INTO deals (listing_id, asker_org, owner_org, asker_user_id, message, state, version, created_at, updated_at)
SELECT cr.listing_id, cr.from_org, cr.to_org, cr.from_user_id, cr.message,
       CASE cr.state WHEN 'pending' THEN 'proposed' WHEN 'accepted' THEN 'accepted' ELSE 'declined' END,
       CASE cr.state WHEN 'pending' THEN 1 ELSE 2 END,
       cr.created_at, COALESCE(cr.decided_at, cr.created_at)
FROM contact_requests cr
WHERE NOT (cr.state IN ('pending', 'accepted') AND EXISTS (
    SELECT 1 FROM deals d WHERE d.listing_id = cr.listing_id AND d.asker_org = cr.from_org
      AND d.state IN ('proposed', 'accepted', 'meeting', 'signed')))
ORDER BY cr.id;

INSERT INTO deal_events (deal_id, event, side, actor_id, actor, state, at)
SELECT d.id,
       CASE cr.state WHEN 'accepted' THEN '{"type":"accept"}' ELSE '{"type":"decline","reason":"other","note":null}' END,
       'owner', cr.decided_by, COALESCE((SELECT username FROM users u WHERE u.id = cr.decided_by), ''),
       d.state, cr.decided_at
FROM contact_requests cr
JOIN deals d ON d.listing_id = cr.listing_id AND d.asker_org = cr.from_org AND d.created_at = cr.created_at
    AND d.message = cr.message AND d.version = 2
WHERE cr.state IN ('accepted', 'declined') AND cr.decided_at IS NOT NULL;

DROP TABLE contact_requests;

-- Claims: a user asks to represent an organisation nobody represents, giving its unified social
-- credit code (统一社会信用代码); the operator of its region decides.
CREATE TABLE org_claims (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES orgs (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    uscc       TEXT NOT NULL,
    note       TEXT NOT NULL,
    state      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    decided_by INTEGER REFERENCES users (id),
    reason     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    decided_at TEXT
);
CREATE UNIQUE INDEX org_claims_pending ON org_claims (org_id, user_id) WHERE state = 'pending';
CREATE INDEX org_claims_user ON org_claims (user_id, id);
CREATE INDEX org_claims_org ON org_claims (org_id, id);
