-- Each user's approvals of shared MCP servers' tools in chat (as for their own servers):
-- a JSON object of tool name to `always` or `never`; a tool not listed asks each time.
CREATE TABLE mcp_server_approvals (
    owner     TEXT NOT NULL,
    server    TEXT NOT NULL,
    approvals TEXT NOT NULL,
    PRIMARY KEY (owner, server)
);
