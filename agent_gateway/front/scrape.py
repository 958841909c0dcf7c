"""``serve --metrics-port``: a small HTTP listener that answers ``GET /metrics``.

A stdio gateway has no HTTP front to hang ``/metrics`` on, so this listener
(asyncio streams, in the gateway's own loop: a scrape reads the servers'
state where it changes, no thread) answers Prometheus. It binds 127.0.0.1
unless ``--metrics-host`` says otherwise, and like the HTTP front it refuses
a ``Host`` that is not a loopback name or an ``--allowed-host`` (DNS
rebinding). One request per connection; anything but ``GET /metrics`` gets
404, a request that does not arrive within a few seconds is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from agent_gateway.core.errors import GatewayError
from agent_gateway.front.httpfront import host_allowed
from agent_gateway.metrics import CONTENT_TYPE

logger = logging.getLogger("agent_gateway.front.scrape")

READ_TIMEOUT = 5.0
MAX_HEAD = 16 * 1024


async def serve_metrics(
    render: Callable[[], bytes], host: str, port: int, allowed_hosts: Iterable[str] = ()
) -> asyncio.Server:
    """Start listening on ``host:port``; the caller closes the returned server."""
    allowed = tuple(allowed_hosts)

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            status, body, kind = answer(head, render, allowed)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a client that went away or never finished asking
        finally:
            writer.close()

    try:
        server = await asyncio.start_server(on_client, host, port, limit=MAX_HEAD)
    except OSError as exc:
        raise GatewayError(
            f"cannot serve metrics on {host}:{port}: {exc.strerror}. Pass --metrics-port N."
        ) from exc
    logger.info("Serving Prometheus metrics at http://%s:%d/metrics", host, port)
    return server


def answer(
    head: bytes, render: Callable[[], bytes], allowed_hosts: Iterable[str] = ()
) -> tuple[str, bytes, str]:
    """``(status, body, content type)`` for one request head (pure but for ``render``)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    headers = dict(
        (name.strip().lower(), value.strip())
        for name, sep, value in (line.partition(":") for line in lines[1:])
        if sep
    )
    if not host_allowed(headers.get("host"), allowed_hosts):
        return "403 Forbidden", b"Host not allowed.\n", "text/plain"
    if len(parts) != 3 or parts[0] != "GET" or parts[1].split("?")[0] != "/metrics":
        return "404 Not Found", b"Only GET /metrics is served here.\n", "text/plain"
    return "200 OK", render(), CONTENT_TYPE
