-- MCP servers a user keeps on Hearth and connects to from the browser, and admin settings.

CREATE TABLE user_mcp_servers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Whose server this is: `user:<id>`, `master` (master keys) or `local` (local mode).
    owner          TEXT    NOT NULL,
    -- Set for users, so that deleting a user deletes their servers.
    user_id        INTEGER REFERENCES users (id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    url            TEXT    NOT NULL,
    transport      TEXT    NOT NULL CHECK (transport IN ('auto', 'streamable_http', 'sse')),
    -- The headers as JSON, encrypted with the server's secret key.
    headers_sealed TEXT    NOT NULL,
    use_proxy      INTEGER NOT NULL,
    -- Per-tool switches as a JSON object of tool name to boolean.
    tools          TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (owner, name)
);

CREATE TABLE settings (
    key        TEXT    PRIMARY KEY NOT NULL,
    -- JSON.
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
