"""The official MCP Python SDK as a client of Hearth's /mcp/{server}, or of /mcp, for Hearth's
integration tests: connects over streamable HTTP with a Hearth key, lists and calls a tool
(with progress), gets a prompt and reads a resource, and prints what it got as one JSON object.

Usage: gateway_client.py URL KEY [SERVER]
With SERVER (the URL is /mcp), names are SERVER's as /mcp gives them: `SERVER__<name>`, and the
resource is the one listed under a URI that ends in the server's own.
"""

import asyncio
import json
import sys

from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main(url: str, key: str, server: str | None) -> None:
    progress = []
    named = (lambda name: f"{server}__{name}") if server else (lambda name: name)

    async def on_progress(done, total, message):
        progress.append(done)

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http, streamable_http_client(url, http_client=http) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            called = await session.call_tool(named("test_simple_text"), {})
            with_progress = await session.call_tool(
                named("test_tool_with_progress"), {}, progress_callback=on_progress
            )
            prompts = await session.list_prompts()
            prompt = await session.get_prompt(
                named("test_prompt_with_arguments"), {"arg1": "a", "arg2": "b"}
            )
            resources = await session.list_resources()
            uri = next(
                str(r.uri)
                for r in resources.resources
                if str(r.uri).endswith("test://static-text")
            )
            resource = await session.read_resource(uri)
    print(
        json.dumps(
            {
                "tools": [t.name for t in tools.tools],
                "called": called.content[0].text,
                "progress": progress,
                "progress_result": with_progress.content[0].text,
                "prompts": [p.name for p in prompts.prompts],
                "prompt": prompt.messages[0].content.text,
                "resource_uri": uri,
                "resource": resource.contents[0].text,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
