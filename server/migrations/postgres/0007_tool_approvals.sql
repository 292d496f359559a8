-- Whether a personal MCP server's tools run without asking, as a JSON object of tool name to
-- `always` or `never` (a tool not listed asks each time).
ALTER TABLE user_mcp_servers ADD COLUMN approvals TEXT NOT NULL DEFAULT '{}';
