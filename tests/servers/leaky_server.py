"""An MCP server that leaks its secrets everywhere it can, for the redaction tests.

At start it writes its whole environment and its argv to stderr. Modes:
  serve        then serves the tools below
  start-crash  then exits 1 before speaking MCP (its stderr ends up in the start error)

Tools (serve mode), each putting the environment somewhere the gateway relays:
  leak_raise       raises an exception whose message is the environment (an isError result)
  leak_mcp_error   answers a JSON-RPC error whose message is the environment
  leak_and_crash   writes the environment to stderr and exits 7 (last_error, stderr tail)
  leak_notify      sends the environment as a log line and as a progress message
  ok               answers "ok" (so a call succeeds and is audited)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings

from fastmcp import Context, FastMCP
from mcp.shared.exceptions import MCPError

# ctx.info() warns on stderr that the logging capability is deprecated as of 2026-07-28.
warnings.filterwarnings("ignore", message="The logging capability is deprecated")


def dump() -> str:
    """Everything a careless server prints: its argv and its environment."""
    return f"argv={sys.argv!r} env={dict(os.environ)!r}"


def serve() -> None:

    mcp = FastMCP("leaky")

    @mcp.tool
    def leak_raise() -> str:
        """Fail with the environment in the message."""
        raise RuntimeError(f"cannot work with {dump()}")

    @mcp.tool
    def leak_mcp_error() -> str:
        """Answer a protocol error with the environment in the message."""
        raise MCPError(code=-32000, message=f"protocol trouble: {dump()}")

    @mcp.tool
    def leak_and_crash() -> str:
        """Write the environment to stderr and exit."""
        sys.stderr.write(f"dying: {dump()}\n")
        sys.stderr.flush()
        os._exit(7)

    @mcp.tool
    async def leak_notify(ctx: Context) -> str:
        """Log the environment and report it as progress."""
        await ctx.info(f"log line: {dump()}")
        await ctx.report_progress(1, 1, f"progress: {dump()}")
        return "notified"

    @mcp.tool
    def ok() -> str:
        """Succeed."""
        return "ok"

    mcp.run(show_banner=False, log_level="WARNING")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["serve", "start-crash"], default="serve")
    parser.add_argument("--api-key", default="")
    args = parser.parse_args()
    sys.stderr.write(f"starting: {dump()}\n")
    sys.stderr.flush()
    if args.mode == "start-crash":
        sys.stderr.write(f"fatal: bad credentials {dump()}\n")
        sys.exit(1)
    serve()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
