"""The one place that touches private attributes of fastmcp and the MCP SDK.

Each access below says what it buys, the versions it was checked on, the
public fallback used when the private thing is missing, and the canary test
in ``tests/test_compat.py`` that fails (naming what moved) when a fastmcp or
SDK release changes it. Everything else in the package uses public APIs only.

Checked on fastmcp 4.2.3 with mcp 2.3.0 (``pip show fastmcp mcp``). fastmcp
is pinned below 5; private attributes moved between 4.1.2 and 4.2.3, so run
the canaries after every upgrade.

``AGENT_GATEWAY_COMPAT_OFF``: a comma-separated list of the names in
``PRIVATE`` (or ``all``) to treat as missing, read at import. An operator can
switch off an access that a fastmcp upgrade broke without a new release, and
the tests use it to run every fallback end to end.

Accesses (name: what it buys / public fallback / canary):

- ``low_level``, ``FastMCP._mcp_server``: the fast ``call_tool`` route (per-call
  latency), the thread-free stdio front (start-up, prompt SIGTERM) and the
  ``subscriptions/listen`` handler. Fallback: fastmcp's own ``tools/call``
  route, ``run_async(transport="stdio")``, and no listen stream (2026-07-28
  clients then see changes when they list again).
  Canary: test_canary_fastmcp_keeps_its_low_level_server.
- ``lifespan``, ``FastMCP._lifespan_manager``: the thread-free stdio front.
  Fallback: ``run_async(transport="stdio")``.
  Canary: test_canary_fastmcp_keeps_its_lifespan_manager.
- ``root_middleware``, the class ``fastmcp.server.low_level.FastMCPServerMiddleware``
  (internal, not re-exported): the fast route skips it (latency). Fallback:
  it runs on fast calls too. Canary: test_canary_fastmcp_keeps_its_root_middleware.
- ``state_store``, ``FastMCP.__state_store`` (``_FastMCP__state_store``): a
  dict-backed session-state store instead of one that imports key_value and
  beartype on the first answer (start-up, a third of a second). Fallback:
  fastmcp builds its own. Canary: test_canary_fastmcp_fills_its_state_store_lazily.
- ``connection``, ``ServerSession._connection``: handshake-era clients get
  ``notifications/tools/list_changed``. Fallback: none public; those clients
  see changes when they list again. Canary: test_canary_sdk_session_keeps_its_connection.
- ``wire``, ``ClientSession._dispatcher`` and ``._stamp``: a stdio downstream's
  ``tools/call`` result as its wire dict, not parsed into models and dumped
  again (latency). Fallback: ``ClientSession.call_tool``.
  Canary: test_canary_sdk_client_session_keeps_dispatcher_and_stamp.
- ``raw``, ``ClientSession._dispatcher`` and ``._stamp`` (as ``wire``): any request
  sent and answered as its wire dict. A task-augmented ``tools/call`` answers a
  ``CreateTaskResult``, which the typed send rejects at protocol 2025-11-25 (it
  checks the answer against ``CallToolResult``). Fallback: none; task-augmented
  calls through the gateway fail with an error saying so.
  Canary: test_canary_sdk_client_session_sends_a_raw_request.
- ``monitoring``, ``Client._await_with_session_monitoring``: a remote server's
  HTTP failure ends a ``resources/read`` at once instead of at the timeout.
  Fallback: the read is awaited plainly (bounded by the server's timeout).
  Canary: test_canary_fastmcp_client_keeps_session_monitoring.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from fastmcp import Client, FastMCP
    from mcp.server.connection import Connection
    from mcp.server.lowlevel import Server

T = TypeVar("T")

PRIVATE = (
    "low_level",
    "lifespan",
    "root_middleware",
    "state_store",
    "connection",
    "wire",
    "raw",
    "monitoring",
)
SWITCH = "AGENT_GATEWAY_COMPAT_OFF"


def _off_from(value: str) -> frozenset[str]:
    names = {n.strip() for n in value.split(",") if n.strip()}
    return frozenset(PRIVATE) if "all" in names else frozenset(names)


_OFF = _off_from(os.environ.get(SWITCH, ""))

# The private names themselves, in one place (tests hide them by renaming).
LOW_LEVEL_ATTR = "_mcp_server"
LIFESPAN_ATTR = "_lifespan_manager"
STATE_STORE_ATTR = "_FastMCP__state_store"
CONNECTION_ATTR = "_connection"
DISPATCHER_ATTR = "_dispatcher"
STAMP_ATTR = "_stamp"
MONITORING_ATTR = "_await_with_session_monitoring"


def low_level_server(mcp: FastMCP[Any]) -> Server[Any] | None:
    """fastmcp's SDK-level server, or None when it is not where 4.2 keeps it."""
    from mcp.server.lowlevel import Server

    if "low_level" in _OFF:
        return None
    low = getattr(mcp, LOW_LEVEL_ATTR, None)
    return low if isinstance(low, Server) else None


def lifespan_manager(mcp: FastMCP[Any]) -> Callable[[], AbstractAsyncContextManager[Any]] | None:
    """fastmcp's ref-counted lifespan entry (what ``run_stdio_async`` enters), or None."""
    if "lifespan" in _OFF:
        return None
    manager = getattr(mcp, LIFESPAN_ATTR, None)
    return manager if callable(manager) else None


def is_root_middleware(middleware: object) -> bool:
    """Is this SDK server middleware fastmcp's own root one (context binding, a span)?"""
    if "root_middleware" in _OFF:
        return False
    try:
        from fastmcp.server.low_level import FastMCPServerMiddleware
    except ImportError:
        return False
    return isinstance(middleware, FastMCPServerMiddleware)


def install_state_store(mcp: FastMCP[Any], store: object) -> bool:
    """Give ``mcp`` ``store`` as its session-state store, if it has not built one yet."""
    if "state_store" in _OFF or getattr(mcp, STATE_STORE_ATTR, "missing") is not None:
        return False
    setattr(mcp, STATE_STORE_ATTR, store)
    return True


def connection_of(session: object) -> Connection | None:
    """The long-lived connection behind a request-scoped SDK ``ServerSession``, or None."""
    from mcp.server.connection import Connection

    if "connection" in _OFF:
        return None
    connection = getattr(session, CONNECTION_ATTR, None)
    return connection if isinstance(connection, Connection) else None


ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]
WireSend = Callable[
    [str, dict[str, Any], float, ProgressFn | None, dict[str, Any] | None], Awaitable[Any]
]


def _stamped_dispatch(session: object) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """The session's per-request stamp and its dispatcher's raw send, or None if moved."""
    dispatcher = getattr(session, DISPATCHER_ATTR, None)
    stamp = getattr(session, STAMP_ATTR, None)
    send_raw = getattr(dispatcher, "send_raw_request", None)
    if not callable(stamp) or not callable(send_raw):
        return None
    return stamp, send_raw


def wire_sender(session: object) -> WireSend | None:
    """A ``tools/call`` sender that returns the raw result dict, if this SDK allows one.

    It does what ``ClientSession.send_request`` does up to the wire (the
    session's per-request stamp: protocol version, client info) and stops
    there: no request model, no result models. None when the session's
    internals are not the ones this was written for (then use the typed call).
    """
    if "wire" in _OFF:
        return None
    parts = _stamped_dispatch(session)
    if parts is None:
        return None
    stamp, send_raw = parts

    async def send(
        tool: str,
        arguments: dict[str, Any],
        timeout: float,
        progress: ProgressFn | None,
        extra: dict[str, Any] | None = None,
    ) -> Any:
        data: dict[str, Any] = {
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments, **(extra or {})},
        }
        opts: dict[str, Any] = {}
        stamp(data, opts)
        opts["timeout"] = timeout
        if progress is not None:
            opts["on_progress"] = progress
        return await send_raw("tools/call", data["params"], opts)

    return send


RawSend = Callable[[str, dict[str, Any], float], Awaitable[Any]]


def raw_sender(session: object) -> RawSend | None:
    """A sender of any request, ``(method, params, timeout) -> the answer as its wire dict``.

    Stamped like ``ClientSession.send_request`` (protocol version, client
    info), never checked against the method's result model. None when the
    session's internals are not the ones this was written for.
    """
    if "raw" in _OFF:
        return None
    parts = _stamped_dispatch(session)
    if parts is None:
        return None
    stamp, send_raw = parts

    async def send(method: str, params: dict[str, Any], timeout: float) -> Any:
        data: dict[str, Any] = {"method": method, "params": params}
        opts: dict[str, Any] = {}
        stamp(data, opts)
        opts["timeout"] = timeout
        return await send_raw(method, data["params"], opts)

    return send


async def await_monitored(client: Client[Any], request: Coroutine[Any, Any, T]) -> T:
    """Await a session request on ``client``, failing as soon as its session task fails."""
    monitor = None if "monitoring" in _OFF else getattr(client, MONITORING_ATTR, None)
    if not callable(monitor):
        return await request
    result: T = await monitor(request)
    return result
