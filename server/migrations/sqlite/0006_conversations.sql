-- Chat conversations and their messages, each kept as soon as it is complete.

CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Whose conversation this is: `user:<id>`, `master` or `local` (see personal MCP servers).
    owner      TEXT    NOT NULL,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT    NOT NULL,
    -- The LLM last chosen for it.
    model      TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX conversations_owner ON conversations (owner, updated_at);

CREATE TABLE messages (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id   INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role              TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content           TEXT    NOT NULL,
    reasoning         TEXT,
    model             TEXT,
    -- JSON: the assistant's tool calls, or what a tool message shows (server, tool, images…).
    tool_calls        TEXT,
    tool_call_id      TEXT,
    tool_run          TEXT,
    error             TEXT,
    -- The answer was stopped by the user; what was streamed until then is kept.
    stopped           INTEGER NOT NULL DEFAULT 0,
    duration_ms       INTEGER,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    created_at        INTEGER NOT NULL
);

CREATE INDEX messages_conversation ON messages (conversation_id, id);
