"""An MCP server with resources, a resource template and prompts, for direct-mode tests.

    python tests/servers/resources_server.py           resources, template, prompts
    python tests/servers/resources_server.py --bare    one tool only: no resources or
                                                       prompts capability at all
    ... --record PATH                                  append each request's method (and
                                                       the prompt's name) to PATH

Resources: ``docs://readme`` (markdown text), ``data://config.json`` (JSON text),
``img://pixel.png`` (a PNG blob). Template: ``greet://{name}``. Prompts:
``review(code, language="python")`` (a user and an assistant message, with
result ``_meta``) and ``_style`` (its direct name needs a hash: it starts
with ``_``).
"""

from __future__ import annotations

import argparse
from typing import Any

from fastmcp import FastMCP
from fastmcp.prompts import Message, PromptResult
from fastmcp.resources import ResourceContent, ResourceResult
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext

# A valid 1x1 transparent RGBA PNG (68 bytes).
PNG_1X1 = (
    b"\x89PNG\r\n\x1a\n"
    b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\x0bIDATx\x9cc`\x00\x02\x00\x00\x05\x00\x01z^\xab?"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
README = "# Readme\n\nHello from the resources server.\n"
UNSUPPORTED = (
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "prompts/list",
    "prompts/get",
)


class Recorder(Middleware):
    """Appends one line per request to a file, before answering it."""

    def __init__(self, path: str) -> None:
        self.path = path

    async def on_request(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        name = getattr(context.message, "name", None)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(f"{context.method} {name or ''}".rstrip() + "\n")
        return await call_next(context)


def build_server(name: str, bare: bool, record: str | None = None) -> FastMCP:
    mcp = FastMCP(name, middleware=[Recorder(record)] if record else [])

    @mcp.tool
    def ping() -> str:
        """Answer pong."""
        return "pong"

    if bare:
        # Unregister the handlers: no capability is advertised, requests get
        # "method not found".
        handlers = mcp._mcp_server._request_handlers
        for method in UNSUPPORTED:
            handlers.pop(method, None)
        return mcp

    @mcp.resource("docs://readme", mime_type="text/markdown", description="The readme.")
    def readme() -> str:
        return README

    @mcp.resource("data://config.json", mime_type="application/json")
    def config() -> ResourceResult:
        return ResourceResult(
            [ResourceContent('{"debug": true}', mime_type="application/json", meta={"v": 1})],
            meta={"source": "resources_server"},
        )

    @mcp.resource("img://pixel.png", mime_type="image/png")
    def pixel() -> bytes:
        return PNG_1X1

    @mcp.resource("greet://{name}", description="A greeting for name.")
    def greet(name: str) -> str:
        return f"Hello, {name}!"

    @mcp.prompt(description="Review some code.")
    def review(code: str, language: str = "python") -> PromptResult:
        return PromptResult(
            [
                Message(f"Please review this {language} code:\n{code}"),
                Message("I will look at it.", role="assistant"),
            ],
            description=f"A {language} review",
            meta={"prompt": "review"},
        )

    @mcp.prompt(name="_style", description="The house style.")
    def style() -> str:
        return "Use four spaces."

    return mcp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="resources")
    parser.add_argument("--bare", action="store_true")
    parser.add_argument("--record", metavar="PATH", help="append each request's method to PATH")
    args = parser.parse_args()
    build_server(args.name, args.bare, args.record).run(show_banner=False, log_level="WARNING")


if __name__ == "__main__":
    main()
