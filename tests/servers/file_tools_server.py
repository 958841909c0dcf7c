"""An MCP server whose tools are read from a JSON file at start (tool pinning tests).

    python tests/servers/file_tools_server.py --tools PATH

PATH holds a list of tool definitions (``name``, and optionally
``description``, ``inputSchema``, ``annotations``); edit it and restart the
server to change its tools. Every tool answers "NAME called with ARGS_JSON".
Arguments are not checked against the schema.
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

EMPTY = {"type": "object", "properties": {}}


class FileTool(Tool):
    """A tool with a given definition that echoes its arguments."""

    async def run(self, arguments: dict[str, Any]) -> ToolResult:
        text = f"{self.name} called with {json.dumps(arguments, sort_keys=True)}"
        return ToolResult(content=[mcp_types.TextContent(type="text", text=text)])

    def to_mcp_tool(self, **overrides: Any) -> mcp_types.Tool:
        return super().to_mcp_tool(**{"title": None, **overrides})  # exactly as in the file


def build_server(path: Path) -> FastMCP:
    mcp = FastMCP("file-tools")
    for entry in json.loads(path.read_text()):
        annotations = entry.get("annotations")
        mcp.add_tool(
            FileTool(
                name=entry["name"],
                description=entry.get("description"),
                parameters=entry.get("inputSchema") or EMPTY,
                annotations=mcp_types.ToolAnnotations(**annotations) if annotations else None,
            )
        )
    return mcp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tools", required=True, type=Path, help="a JSON list of tools")
    args = parser.parse_args()
    build_server(args.tools).run(show_banner=False, log_level="WARNING")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
