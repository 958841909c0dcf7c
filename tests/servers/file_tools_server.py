"""An MCP server whose tools are read from a JSON file at start (tool pinning tests).

    python tests/servers/file_tools_server.py --tools PATH

PATH holds a list of tool definitions (``name``, and optionally
``description``, ``inputSchema``, ``annotations``); edit it and restart the
server to change its tools. Every tool answers "NAME called with ARGS_JSON".
Arguments are not checked against the schema.

PATH may instead hold an object ``{"tools": [...], "prompts": [...],
"templates": [...]}``: prompts as MCP lists them (``name``, ``description``,
``arguments``), each rendering one user message "NAME rendered with
ARGS_JSON"; resource templates (``uriTemplate``, ``name``, ``description``,
``mimeType``), each reading "read URI" as text. Plain resources:
``resources`` (``uri``, ``name``), each reading "plain URI".
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

import mcp_types
from fastmcp import FastMCP
from fastmcp.prompts import Prompt, PromptResult
from fastmcp.prompts.base import PromptArgument
from fastmcp.resources import Resource, ResourceResult
from fastmcp.resources.template import ResourceTemplate
from fastmcp.tools import Tool, ToolResult

EMPTY = {"type": "object", "properties": {}}


class FileTool(Tool):
    """A tool with a given definition that echoes its arguments."""

    async def run(self, arguments: dict[str, Any]) -> ToolResult:
        text = f"{self.name} called with {json.dumps(arguments, sort_keys=True)}"
        return ToolResult(content=[mcp_types.TextContent(type="text", text=text)])

    def to_mcp_tool(self, **overrides: Any) -> mcp_types.Tool:
        return super().to_mcp_tool(**{"title": None, **overrides})  # exactly as in the file


class FilePrompt(Prompt):
    """A prompt with a given definition that echoes its arguments."""

    async def render(self, arguments: dict[str, Any] | None = None) -> PromptResult:
        return PromptResult(
            f"{self.name} rendered with {json.dumps(arguments or {}, sort_keys=True)}"
        )


class FileTemplate(ResourceTemplate):
    """A resource template that answers "read URI"."""

    async def _read(self, uri: str, params: dict[str, Any]) -> ResourceResult:
        return ResourceResult(f"read {uri}")


class FileResource(Resource):
    """A plain resource that answers "plain URI"."""

    async def read(self) -> str:
        return f"plain {self.uri}"


def add_items(mcp: FastMCP, data: dict[str, Any]) -> None:
    """The prompts, templates and plain resources of an object-shaped file."""
    for entry in data.get("prompts", []):
        arguments = [PromptArgument(**a) for a in entry.get("arguments", [])]
        mcp.add_prompt(
            FilePrompt(
                name=entry["name"], description=entry.get("description"), arguments=arguments
            )
        )
    for entry in data.get("templates", []):
        mcp.add_template(
            FileTemplate(
                uri_template=entry["uriTemplate"],
                name=entry["name"],
                description=entry.get("description"),
                mime_type=entry.get("mimeType"),
                parameters={},
            )
        )
    for entry in data.get("resources", []):
        mcp.add_resource(FileResource(uri=entry["uri"], name=entry["name"]))


def build_server(path: Path) -> FastMCP:
    mcp = FastMCP("file-tools")
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        add_items(mcp, data)
        data = data.get("tools", [])
    for entry in data:
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
