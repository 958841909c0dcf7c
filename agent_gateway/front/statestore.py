"""A small in-memory stand-in for fastmcp's session-state store.

fastmcp builds its own store on the first request that looks at session
state, and every ``tools/list`` and ``tools/call`` does (per-session visibility
rules). Building it imports key_value's pydantic adapter and beartype: about
a third of a second, on the first answer a client waits for. This store keeps
the same three calls (``get``/``put``/``delete`` by key, with a TTL) in a dict.
It is set on a private fastmcp attribute through ``agent_gateway.compat``.
"""

from __future__ import annotations

import time
from typing import Any

from fastmcp import FastMCP

from agent_gateway import compat


class MemoryStateStore:
    """``get``/``put``/``delete`` of values by key, each with an optional TTL in seconds."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[Any, float | None]] = {}

    async def get(self, key: str, *, collection: str | None = None) -> Any:
        item = self._items.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and time.monotonic() >= expires:
            del self._items[key]
            return None
        return value

    async def put(
        self, key: str, value: Any, *, collection: str | None = None, ttl: float | None = None
    ) -> None:
        expires = None if ttl is None else time.monotonic() + ttl
        self._items[key] = (value, expires)

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        return self._items.pop(key, None) is not None


def install_state_store(mcp: FastMCP[Any]) -> bool:
    """Give ``mcp`` this store unless it has one already (or is not the fastmcp expected)."""
    return compat.install_state_store(mcp, MemoryStateStore())
