"""An MCP server whose tools/call answers are written by hand, valid or not (tests only).

Run over stdio: python tests/servers/raw_server.py

Built on the SDK's low-level ``Server``; a server middleware answers the tools
below with the exact dict given, skipping the SDK's own result checks, so
the gateway sees what a buggy or newer server would send.

Tools:
  ok              a normal text result
  bad_content     a content block of an unknown type (an invalid result)
  no_content      a result without ``content`` (an invalid result)
  input_required  a 2026-07-28 ``input_required`` result asking for an elicitation
  picky           an error about its arguments, which its (loose) schema does not describe
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import anyio
import mcp_types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

ANSWERS: Mapping[str, dict[str, Any]] = {
    "ok": {"content": [{"type": "text", "text": "fine"}]},
    "bad_content": {"content": [{"type": "hologram", "text": "?"}]},
    "no_content": {"structuredContent": {"x": 1}},
    "picky": {
        "content": [{"type": "text", "text": "Input validation error: 'path' is required"}],
        "isError": True,
    },
    "input_required": {
        "resultType": "input_required",
        "inputRequests": {
            "q": {
                "method": "elicitation/create",
                "params": {
                    "mode": "form",
                    "message": "Which one?",
                    "requestedSchema": {"type": "object", "properties": {}},
                },
            }
        },
    },
}


async def list_tools(ctx: Any, params: Any) -> mcp_types.ListToolsResult:
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    return mcp_types.ListToolsResult(
        tools=[mcp_types.Tool(name=name, input_schema=schema) for name in ANSWERS]
    )


async def call_tool(ctx: Any, params: mcp_types.CallToolRequestParams) -> Any:
    raise AssertionError("answered by the middleware")


async def answer_by_hand(ctx: Any, call_next: Any) -> Any:
    params = ctx.params or {}
    if ctx.method == "tools/call" and params.get("name") in ANSWERS:
        return dict(ANSWERS[params["name"]])
    return await call_next(ctx)


async def main() -> None:
    server: Server[Any] = Server("raw", on_list_tools=list_tools, on_call_tool=call_tool)
    server.middleware.append(answer_by_hand)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(main)
