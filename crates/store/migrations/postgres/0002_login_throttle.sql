-- The login throttle counts failed logins in the audit trail (so every node counts the same):
-- by username after its last success, and by client address.
CREATE INDEX audit_login_actor ON audit (actor, action, at);
CREATE INDEX audit_login_ip ON audit (action, ip, at);
