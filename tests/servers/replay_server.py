"""An MCP server replaying real tool definitions from the LiveMCPTool corpus (benchmarks).

    python tests/servers/replay_server.py --server hackernews [--server NAME ...] [--count N]

Serves the tools of the given corpus servers (``bench/data/livemcptool/tools.json``,
in corpus order, the first ``--count`` of them if given) under their real names,
descriptions and inputSchemas (and no ``title``, which fastmcp would otherwise derive
from the name). Every tool just echoes: "SERVER/TOOL called with
ARGUMENTS_JSON". Arguments are not checked against the schema.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

import mcp_types
from fastmcp import FastMCP
from fastmcp.tools import Tool, ToolResult

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "data" / "livemcptool" / "tools.json"


class ReplayTool(Tool):
    """A tool with a given definition that echoes its arguments."""

    origin: str = ""

    async def run(self, arguments: dict[str, Any]) -> ToolResult:
        text = f"{self.origin}/{self.name} called with {json.dumps(arguments, sort_keys=True)}"
        return ToolResult(content=[mcp_types.TextContent(type="text", text=text)])

    def to_mcp_tool(self, **overrides: Any) -> mcp_types.Tool:
        # As published: no title (fastmcp would derive one from the name).
        return super().to_mcp_tool(**{"title": None, **overrides})


def corpus_tools(servers: list[str], count: int | None = None) -> list[dict[str, Any]]:
    """The corpus entries of these servers, in corpus order (the first ``count``)."""
    wanted = set(servers)
    tools = [t for t in json.loads(CORPUS.read_text())["tools"] if t["server"] in wanted]
    return tools if count is None else tools[:count]


def build_server(name: str, servers: list[str], count: int | None = None) -> FastMCP:
    mcp = FastMCP(name)
    for entry in corpus_tools(servers, count):
        mcp.add_tool(
            ReplayTool(
                name=entry["tool"],
                description=entry.get("description") or None,
                parameters=entry.get("inputSchema") or {"type": "object", "properties": {}},
                origin=entry["server"],
            )
        )
    return mcp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", action="append", required=True, help="a corpus server")
    parser.add_argument("--count", type=int, help="serve only the first N of their tools")
    parser.add_argument("--name", default="replay")
    args = parser.parse_args()
    server = build_server(args.name, args.server, args.count)
    server.run(show_banner=False, log_level="WARNING")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
