-- The LLM gateway: keys narrowed to some LLMs, and the audit trail.

-- A JSON array of LLM names the key may run; NULL lets it run whatever its user may.
ALTER TABLE api_keys ADD COLUMN llms TEXT;

CREATE TABLE audit_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Seconds since the Unix epoch, like every other timestamp.
    at                INTEGER NOT NULL,
    kind              TEXT    NOT NULL,
    principal         TEXT    NOT NULL,
    user_id           INTEGER,
    -- The first characters of the hash of the key used, never the key.
    key_hash_prefix   TEXT,
    llm               TEXT,
    model             TEXT,
    streaming         INTEGER,
    duration_ms       INTEGER NOT NULL,
    status            INTEGER NOT NULL,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER
);

CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_llm ON audit_events (llm, at);
