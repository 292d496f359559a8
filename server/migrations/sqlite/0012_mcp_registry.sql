-- Shared MCP servers: registered once by an admin, credentials kept (sealed) on Hearth,
-- granted to members, teams and keys like LLMs.
CREATE TABLE mcp_servers (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    -- `[a-z0-9-]`: used in tool prefixes and addresses.
    name             TEXT    NOT NULL UNIQUE,
    alias            TEXT,
    description      TEXT,
    transport        TEXT    NOT NULL CHECK (transport IN ('http', 'sse', 'stdio')),
    url              TEXT,
    lifecycle        TEXT    NOT NULL CHECK (lifecycle IN ('auto', 'legacy', 'modern')),
    command          TEXT,
    -- JSON array of strings.
    args             TEXT    NOT NULL,
    -- JSON array of {name, value}, encrypted with the server's secret key.
    env_sealed       TEXT    NOT NULL,
    auth             TEXT    NOT NULL CHECK (auth IN ('none', 'bearer', 'api_key', 'basic', 'headers', 'forward')),
    -- The credential `auth` needs, encrypted; NULL when there is none.
    credential_sealed TEXT,
    api_key_header   TEXT,
    -- JSON array of {name, value}, encrypted.
    headers_sealed   TEXT    NOT NULL,
    -- JSON arrays of names; JSON object of tool name to {display_name, description}.
    extra_headers    TEXT    NOT NULL,
    allowed_tools    TEXT    NOT NULL,
    denied_tools     TEXT    NOT NULL,
    tool_overrides   TEXT    NOT NULL,
    timeout_secs     INTEGER NOT NULL,
    -- Who may use it, as JSON (`{"all_members": bool, "users": [...], "teams": [...]}`).
    grants           TEXT    NOT NULL,
    is_public        INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

-- A JSON array of shared MCP server names the key may use; NULL: whatever its user may.
ALTER TABLE api_keys ADD COLUMN mcp_servers TEXT;
