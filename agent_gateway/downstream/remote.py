"""Remote client transports (streamable HTTP, SSE) whose sessions relay results unchecked.

fastmcp's default session validates a tool's structured result against the
tool's output schema; a relay should pass on what the server said. These
subclasses ask for our ``RelaySession`` (or the Backend's routed wrapper of it,
``session_class``) through the public ``transport_options`` argument of
``connect_session`` (no private client attribute needed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastmcp.client.transports import SSETransport, StreamableHttpTransport
from fastmcp.client.transports.base import TransportOptions
from mcp import ClientSession

from agent_gateway.downstream.stdio import RelaySession


class _RelaySessions:
    """``connect_session`` with ``session_class`` unless the caller asks for another."""

    session_class: type[ClientSession] = RelaySession

    @asynccontextmanager
    async def connect_session(
        self, *, transport_options: TransportOptions | None = None, **session_kwargs: Any
    ) -> AsyncIterator[ClientSession]:
        options = transport_options or TransportOptions(session_class=self.session_class)
        inner: AbstractAsyncContextManager[ClientSession] = super().connect_session(  # type: ignore[misc]
            transport_options=options, **session_kwargs
        )
        async with inner as session:
            yield session


class RelayHttpTransport(_RelaySessions, StreamableHttpTransport):
    """Streamable HTTP to a remote server, with relay sessions."""


class RelaySSETransport(_RelaySessions, SSETransport):
    """SSE to a remote server, with relay sessions."""
