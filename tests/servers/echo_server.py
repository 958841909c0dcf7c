"""A small, well-behaved MCP server for tests (the workhorse).

Run over stdio:            python tests/servers/echo_server.py [--name NAME]
Run over streamable HTTP:  python tests/servers/echo_server.py --http PORT   (url: /mcp)
Run over SSE:              python tests/servers/echo_server.py --sse PORT    (url: /sse)

Only the MCP protocol is written to stdout; logs (if any) go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import warnings
from typing import Any

import mcp_types
from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult
from fastmcp.utilities.types import Image

# A valid 1x1 transparent RGBA PNG (68 bytes).
PNG_1X1 = (
    b"\x89PNG\r\n\x1a\n"
    b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\x0bIDATx\x9cc`\x00\x02\x00\x00\x05\x00\x01z^\xab?"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


# ctx.info() warns on stderr that the logging capability is deprecated as of 2026-07-28;
# the notification is still sent in both eras. Keep stderr quiet.
warnings.filterwarnings("ignore", message="The logging capability is deprecated")


def build_server(name: str) -> FastMCP:
    mcp = FastMCP(name)

    @mcp.tool
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    @mcp.tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @mcp.tool
    async def sleep(seconds: float) -> str:
        """Sleep, then say how long."""
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:  # the client cancelled the request: leave a mark
            if marker := os.environ.get("ECHO_CANCEL_MARKER"):
                with open(marker, "a") as f:
                    f.write("cancelled\n")
            raise
        return f"slept {seconds} seconds"

    @mcp.tool
    def pid() -> int:
        """Return this server's process id."""
        return os.getpid()

    @mcp.tool
    def fail(message: str = "boom") -> str:
        """Always fail with the given message."""
        raise ToolError(message)

    @mcp.tool
    def image() -> Image:
        """Return a tiny PNG image."""
        return Image(data=PNG_1X1, format="png")

    @mcp.tool
    def structured() -> dict[str, Any]:
        """Return a small weather reading as structured data."""
        return {"temperature": 21.5, "unit": "C"}

    @mcp.tool
    async def progress(ctx: Context, steps: int = 3) -> str:
        """Report progress for a few steps, then finish."""
        for i in range(1, steps + 1):
            await asyncio.sleep(0.01)
            await ctx.report_progress(i, steps, f"step {i}")
        await ctx.info("progress done")
        return "done"

    meetings: dict[str, list[Any]] = {}

    async def gather(group: str, parties: int) -> None:
        count_and_event = meetings.setdefault(group, [0, asyncio.Event()])
        count_and_event[0] += 1
        if count_and_event[0] >= parties:
            count_and_event[1].set()
        await asyncio.wait_for(count_and_event[1].wait(), 30)

    @mcp.tool
    async def meet(ctx: Context, text: str, group: str = "", parties: int = 1) -> str:
        """Wait for `parties` calls of `group`, log the text, wait for all to log, answer."""
        await gather(f"{group}/arrive", parties)
        await ctx.info(text)
        await gather(f"{group}/logged", parties)
        return text

    @mcp.tool
    def big(size: int) -> str:
        """Return a long string of the given size."""
        return "x" * size

    @mcp.tool
    def env(name: str) -> str:
        """Return the value of an environment variable."""
        return os.environ.get(name, "")

    @mcp.tool
    def crash() -> str:
        """Kill this server process immediately."""
        os._exit(3)

    @mcp.tool
    def mixed() -> ToolResult:
        """Return text, an image, an embedded resource and a resource link."""
        return ToolResult(
            content=[
                mcp_types.TextContent(type="text", text="some text"),
                Image(data=PNG_1X1, format="png").to_image_content(),
                mcp_types.EmbeddedResource(
                    type="resource",
                    resource=mcp_types.TextResourceContents(
                        uri="echo://embedded", mime_type="text/plain", text="embedded text"
                    ),
                ),
                mcp_types.ResourceLink(
                    type="resource_link",
                    name="greeting",
                    uri="echo://greeting",
                    mime_type="text/plain",
                ),
            ]
        )

    @mcp.tool
    def with_meta() -> ToolResult:
        """Return a result that carries metadata."""
        return ToolResult(
            content=[mcp_types.TextContent(type="text", text="ok")],
            structured_content={"ok": True},
            meta={"trace": "abc"},
        )

    @mcp.resource("echo://greeting")
    def greeting() -> str:
        """A friendly greeting."""
        return "hello"

    @mcp.prompt
    def greet(name: str) -> str:
        """Greet someone by name."""
        return f"Hello, {name}!"

    return mcp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="echo")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP")
    group.add_argument("--sse", type=int, metavar="PORT", help="serve SSE")
    args = parser.parse_args()

    mcp = build_server(args.name)
    if args.http is not None or args.sse is not None:
        mcp.run(
            transport="http" if args.http is not None else "sse",
            host="127.0.0.1",
            port=args.http if args.http is not None else args.sse,
            show_banner=False,
            log_level="WARNING",
            uvicorn_config={"access_log": False},
        )
    else:
        mcp.run(show_banner=False, log_level="WARNING")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
