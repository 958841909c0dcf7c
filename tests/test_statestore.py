"""The in-memory session-state store that stands in for fastmcp's."""

from __future__ import annotations

from typing import Any

import pytest
from fastmcp import FastMCP

from agent_gateway.front.statestore import MemoryStateStore, install_state_store

pytestmark = pytest.mark.anyio


async def test_get_put_delete_by_key() -> None:
    store = MemoryStateStore()
    assert await store.get(key="k") is None
    await store.put(key="k", value={"a": 1})
    assert await store.get(key="k") == {"a": 1}
    assert await store.delete(key="k") is True
    assert await store.delete(key="k") is False
    assert await store.get(key="k") is None


async def test_a_value_past_its_ttl_is_gone() -> None:
    store = MemoryStateStore()
    await store.put(key="old", value=1, ttl=-1)  # already expired
    await store.put(key="new", value=2, ttl=3600)
    assert await store.get(key="old") is None
    assert await store.get(key="new") == 2


async def test_fastmcp_session_state_uses_it_without_building_its_own() -> None:
    mcp: FastMCP[Any] = FastMCP("t")
    assert install_state_store(mcp) is True
    assert isinstance(mcp._state_store, MemoryStateStore)
    assert install_state_store(mcp) is False  # never replaces a store in place

    @mcp.tool
    async def remember(value: str) -> str:
        from fastmcp.server.dependencies import get_context

        ctx = get_context()
        before = await ctx.get_state("v")
        await ctx.set_state("v", value)
        return f"{before}->{await ctx.get_state('v')}"

    from fastmcp import Client

    async with Client(mcp, mode="legacy") as client:  # a session (state is per session)
        first = await client.call_tool("remember", {"value": "x"})
        second = await client.call_tool("remember", {"value": "y"})
    assert first.content[0].text == "None->x"
    assert second.content[0].text == "x->y"
