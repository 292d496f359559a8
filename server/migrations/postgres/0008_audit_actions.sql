-- The audit trail records sign-ins and changes, not only LLM calls: what was acted on (a key,
-- an LLM, a setting, a team) and the client's address where it matters (sign-ins).
ALTER TABLE audit_events ADD COLUMN target TEXT;
ALTER TABLE audit_events ADD COLUMN client TEXT;
CREATE INDEX audit_events_kind ON audit_events (kind, at);
