"""An MCP server with many near-identical tools, for size and speed benchmarks.

    python tests/servers/many_tools_server.py --count 500 [--name NAME]
    python tests/servers/many_tools_server.py --tool NAME [--tool NAME ...] [--name NAME]

Tools are named tool_000, tool_001, ... ; each takes an optional `value` and
answers "tool N: VALUE". With ``--tool``, the tools are exactly the names
given, and each answers "TOOL on SERVER: VALUE" (SERVER is ``--name``).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable

from fastmcp import FastMCP
from fastmcp.tools import Tool


def make_tool_fn(index: int) -> Callable[[str], str]:
    def tool_fn(value: str = "") -> str:
        return f"tool {index}: {value}"

    return tool_fn


def make_named_fn(server: str, tool: str) -> Callable[[str], str]:
    def tool_fn(value: str = "") -> str:
        return f"{tool} on {server}: {value}"

    return tool_fn


def build_server(name: str, count: int, tools: list[str] | None = None) -> FastMCP:
    mcp = FastMCP(name)
    if tools:
        for tool in tools:
            mcp.add_tool(Tool.from_function(make_named_fn(name, tool), name=tool))
        return mcp
    width = max(3, len(str(count - 1)))
    for i in range(count):
        mcp.add_tool(
            Tool.from_function(
                make_tool_fn(i),
                name=f"tool_{i:0{width}d}",
                description=f"Tool number {i} does thing {i}.",
            )
        )
    return mcp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--name", default="many")
    parser.add_argument("--tool", action="append", help="a tool with exactly this name")
    args = parser.parse_args()
    build_server(args.name, args.count, args.tool).run(show_banner=False, log_level="WARNING")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
