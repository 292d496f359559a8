-- The tools a personal MCP server listed when the browser last connected to it (a JSON array
-- of {name, description}), so that its settings show without a live connection; and whether
-- chat connects to it on its own (off once the user pressed Disconnect).
ALTER TABLE user_mcp_servers ADD COLUMN known_tools TEXT NOT NULL DEFAULT '[]';
ALTER TABLE user_mcp_servers ADD COLUMN auto_connect BOOLEAN NOT NULL DEFAULT TRUE;
