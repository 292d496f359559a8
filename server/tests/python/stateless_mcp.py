"""An MCP server built with the official Python SDK, in stateless streamable HTTP mode (no
session: every request stands alone), for Hearth's integration tests.

Usage: stateless_mcp.py PORT
"""

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("python-stateless")


@server.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """Returns the text in capitals."""
    return text.upper()


if __name__ == "__main__":
    server.run(
        "streamable-http",
        host="127.0.0.1",
        port=int(sys.argv[1]),
        stateless_http=True,
        json_response=True,
    )
