"""Remote transports ask for relay sessions through the public ``transport_options``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastmcp.client.transports import SSETransport, StreamableHttpTransport
from fastmcp.client.transports.base import TransportOptions

from agent_gateway.downstream.remote import RelayHttpTransport, RelaySSETransport
from agent_gateway.downstream.stdio import RelaySession

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("relay", "base"),
    [(RelayHttpTransport, StreamableHttpTransport), (RelaySSETransport, SSETransport)],
)
async def test_a_remote_session_is_a_relay_session_unless_the_client_asks_for_another(
    monkeypatch: pytest.MonkeyPatch, relay: Any, base: Any
) -> None:
    asked: list[TransportOptions | None] = []

    @asynccontextmanager
    async def connect_session(
        self: Any, *, transport_options: TransportOptions | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        asked.append(transport_options)
        yield "session"

    monkeypatch.setattr(base, "connect_session", connect_session)
    transport = relay("http://127.0.0.1:1/mcp")
    async with transport.connect_session() as session:
        assert session == "session"
    own = TransportOptions(forward_incoming_headers=True)
    async with transport.connect_session(transport_options=own):
        pass
    assert asked[0] is not None and asked[0].session_class is RelaySession
    assert asked[1] is own
