"""An MCP server with many near-identical tools, for size and speed benchmarks.

    python tests/servers/many_tools_server.py --count 500 [--name NAME]

Tools are named tool_000, tool_001, ... ; each takes an optional `value` and
answers "tool N: VALUE".
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


def build_server(name: str, count: int) -> FastMCP:
    mcp = FastMCP(name)
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
    args = parser.parse_args()
    build_server(args.name, args.count).run(show_banner=False, log_level="WARNING")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
