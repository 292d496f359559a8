-- LLM resources: upstream models served under Hearth's own names.

CREATE TABLE llms (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL UNIQUE,
    provider       TEXT    NOT NULL,
    base_url       TEXT    NOT NULL,
    model          TEXT    NOT NULL,
    -- The provider key, encrypted with the server's secret key; or a reference to one.
    api_key_sealed TEXT,
    api_key_ref    TEXT,
    description    TEXT,
    tier           TEXT,
    -- Who may run it, as JSON (`{"all_members": bool, "users": [...]}`).
    grants         TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    CHECK (api_key_sealed IS NULL OR api_key_ref IS NULL)
);
