"""An MCP server whose one tool answers with the ``_meta`` of the request that called it.

Run over stdio: python tests/servers/meta_server.py

The tracing tests read the ``traceparent`` the gateway passed on from it.
"""

from __future__ import annotations

from typing import Any

from fastmcp import FastMCP
from fastmcp.server.dependencies import fastmcp_request_ctx


def build_server() -> FastMCP:
    mcp = FastMCP("meta")

    @mcp.tool
    def request_meta() -> dict[str, Any]:
        """Return this request's _meta (traceparent and tracestate among it)."""
        ctx = fastmcp_request_ctx.get()
        meta = dict(ctx.meta or {}) if ctx is not None else {}
        return {"meta": {k: v for k, v in meta.items() if isinstance(v, str | int | float)}}

    return mcp


if __name__ == "__main__":
    build_server().run(show_banner=False, log_level="WARNING")
