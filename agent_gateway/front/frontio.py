"""The stdio front without worker threads.

The SDK's ``stdio_server()`` reads stdin and writes stdout through
``anyio.wrap_file``: three thread hops per request, and a stdin read that no
cancellation can interrupt (so a SIGTERM had to wait for it). Here both ends
are asyncio pipes on private duplicates of fd 0 and fd 1, while fd 0 is
pointed at /dev/null and fd 1 at stderr, so nothing else can write into the
protocol stream. When stdin is not a pipe or a tty (a regular file), the
SDK's threaded path is used instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator
from typing import Any

from fastmcp import FastMCP

from agent_gateway.compat import lifespan_manager, low_level_server

logger = logging.getLogger("agent_gateway.front.frontio")

LINE_LIMIT = 1 << 30  # one JSON-RPC message per line; results of 10 MB and more


class _Lines:
    """``async for line in stdin`` over an asyncio StreamReader."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        line = await self._reader.readline()
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", "replace")


class _Out:
    """``await stdout.write(text)`` / ``await stdout.flush()`` over an asyncio pipe."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def write(self, text: str) -> None:
        self._writer.write(text.encode("utf-8"))

    async def flush(self) -> None:
        await self._writer.drain()


def _pipe_like(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


@contextlib.asynccontextmanager
async def _claim_stdio() -> AsyncIterator[tuple[_Lines, _Out]]:
    loop = asyncio.get_running_loop()
    sys.stdout.flush()
    in_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)  # stray prints go to stderr, never into the protocol stream
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    r_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(in_fd, "rb", buffering=0)
    )
    w_transport, w_protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(out_fd, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(w_transport, w_protocol, None, loop)
    try:
        yield _Lines(reader), _Out(writer)
    finally:
        with contextlib.suppress(Exception):
            await writer.drain()
        r_transport.close()
        w_transport.close()


async def run_stdio(server: FastMCP[Any]) -> None:
    """Serve ``server`` over this process's stdin/stdout until stdin closes."""
    lifespan = lifespan_manager(server)
    low = low_level_server(server)
    if lifespan is None or low is None or not (_pipe_like(0) and _pipe_like(1)):
        await server.run_async(transport="stdio", show_banner=False)
        return
    from fastmcp.server.context import reset_transport, set_transport
    from mcp.server.stdio import stdio_server

    token = set_transport("stdio")
    try:
        async with lifespan(), _claim_stdio() as (stdin, stdout):
            streams = stdio_server(stdin=stdin, stdout=stdout)  # type: ignore[arg-type]
            async with streams as (read_stream, write_stream):
                await low.run(read_stream, write_stream, low.create_initialization_options())
    finally:
        reset_transport(token)


__all__ = ["run_stdio", "sys"]
