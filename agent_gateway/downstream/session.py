"""What a downstream session is made of: states, backoff, the client-side helpers.

The fastmcp client side is imported lazily (it costs a third of a second at
launch): at the first start, or warmed in the background by the front.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types

from agent_gateway.core.errors import BackendError
from agent_gateway.downstream.inputs import input_required

if TYPE_CHECKING:
    from fastmcp import Client
    from fastmcp.client.logging import LogMessage

logger = logging.getLogger("agent_gateway.downstream")

BACKOFF_START = 0.5
BACKOFF_MAX = 30.0
STABLE_AFTER = 30.0

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]
LogFn = Callable[["LogMessage"], Awaitable[None]]


class State(StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    READY = "ready"
    ERROR = "error"
    DISABLED = "disabled"


def backoff_delay(failures: int) -> float:
    """Seconds to wait before the next start after ``failures`` consecutive failures.

    The first restart after a crash is immediate; then 0.5 s doubling to 30 s.
    """
    if failures <= 1:
        return 0.0
    return float(min(BACKOFF_START * 2 ** (failures - 2), BACKOFF_MAX))


@cache
def _notifications_class() -> type[Any]:
    from fastmcp.client.messages import MessageHandler

    class Notifications(MessageHandler):
        def __init__(self, invalidate: Callable[[], None]) -> None:
            self._invalidate = invalidate

        async def on_tool_list_changed(
            self, message: mcp_types.ToolListChangedNotification
        ) -> None:
            self._invalidate()

    return Notifications


def warm_imports() -> None:
    """Import the client side now, so the first server start does not wait for it.

    On the event loop's thread, not a worker: an import in a thread can
    deadlock with one the loop is doing (seen with fastmcp's lazy imports).
    """
    import fastmcp.client  # noqa: F401
    import jsonschema  # noqa: F401  (core/arguments.py checks every call's arguments with it)

    from agent_gateway.downstream import stdio  # noqa: F401


_background: set[asyncio.Task[None]] = set()


async def _close_client(client: Client[Any]) -> None:
    with anyio.CancelScope(shield=True), anyio.move_on_after(10):
        try:
            await client.close()  # type: ignore[no-untyped-call]
        except Exception:  # a dying session may raise anything while closing
            logger.debug("Error while closing a downstream client", exc_info=True)


def _root_cause(exc: BaseException) -> BaseException:
    """Unwrap exception groups and 'failed to connect' wrappers to the real cause."""
    while True:
        if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
            continue
        cause = exc.__cause__
        if isinstance(exc, RuntimeError) and cause is not None:
            exc = cause
            continue
        return exc


def checked_wire(server: str, raw: Any) -> mcp_types.CallToolResult | mcp_types.InputRequiredResult:
    """The wire result as a model, or a BackendError saying why it cannot be relayed.

    Both call routes check a stdio server's result here, so a result the gateway
    cannot relay gives the caller the same error whichever route it took. An
    ``input_required`` result (2026-07-28) is the front's to carry on.
    """
    if not isinstance(raw, dict):
        raise BackendError(server, "answered tools/call with an invalid result.")
    # A handshake-era server omits resultType; 2026-07-28 requires it
    # (the front drops it again for a handshake-era caller).
    kind = raw.setdefault("resultType", "complete")
    if kind == "input_required":
        return input_required(server, raw)
    if kind != "complete":
        raise BackendError(
            server, f"answered tools/call with a result of type {kind!r}, which is not relayed."
        )
    try:
        return mcp_types.CallToolResult.model_validate(raw)
    except ValueError as exc:
        raise BackendError(server, f"answered tools/call with an invalid result: {exc}") from exc
