"""Tell connected clients when what they can see has changed.

fastmcp sends no ``notifications/tools/list_changed`` by itself, in either
protocol era, so the gateway does it:

- handshake-era clients (2025-11-25 and older) have a long-lived connection;
  a middleware records each one it sees (weakly: closed ones go away) and a
  change sends ``notifications/tools/list_changed`` on its standalone stream.
- 2026-07-28 clients have no connection to push to; they open
  ``subscriptions/listen`` streams, served by the SDK's ``ListenHandler`` fed
  from a subscription bus on which a change publishes ``ToolsListChanged``.

``Gateway.notify_changed`` fires in bursts (a reload, every server becoming
ready in direct mode), so changes are coalesced: the first one schedules a
send a short moment later and the others until then ride along. Every
caller is told, whatever its policy: the notification says only "list
again", never what changed.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

import mcp_types
from fastmcp import FastMCP
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from mcp.server.connection import Connection
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ToolsListChanged,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from agent_gateway.compat import connection_of, low_level_server
from agent_gateway.front.gateway import Gateway

logger = logging.getLogger("agent_gateway.front.notify")

LISTEN_METHOD = "subscriptions/listen"
DEBOUNCE = 0.05  # seconds: a burst of changes becomes one notification


def handshake_connection(context: MiddlewareContext[Any]) -> Connection | None:
    """The long-lived connection behind a request, if it is a handshake-era one.

    ``ctx.session`` is a per-request proxy; the connection it wraps is what
    lives as long as the client does (fastmcp reads it the same way).
    """
    ctx = context.fastmcp_context
    if ctx is None:
        return None
    try:
        session = ctx.session
    except RuntimeError:  # no session yet
        return None
    connection = connection_of(session)
    if connection is None:
        return None  # compat fallback: such clients see changes when they list again
    if connection.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return None  # told through subscriptions/listen instead
    if not connection.has_standalone_channel:
        return None
    return connection


class Notifier:
    """Coalesces change signals and delivers them to both kinds of client."""

    def __init__(self, *, resources_and_prompts: bool = False) -> None:
        # Direct mode also lists downstream resources and prompts: they change together.
        self.resources_and_prompts = resources_and_prompts
        self.connections: weakref.WeakSet[Connection] = weakref.WeakSet()
        self.bus = InMemorySubscriptionBus()
        self.listen = ListenHandler(self.bus)
        self.sent = 0  # coalesced deliveries so far (for status and tests)
        self._pending = False
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()

    def record(self, connection: Connection) -> None:
        if connection not in self.connections:
            logger.debug(
                "Recording a %s connection for change notifications", connection.protocol_version
            )
            self.connections.add(connection)

    def changed(self) -> None:
        """Schedule one notification soon; a no-op while one is already pending."""
        if self._pending or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            logger.debug("A change outside the event loop: no client to tell")
            return
        self._pending = True
        task = loop.create_task(self._deliver())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self) -> None:
        try:
            await asyncio.sleep(DEBOUNCE)
        finally:
            # From here on a new change needs a new notification: this one may
            # already have reached a client that then listed before the change.
            self._pending = False
        self.sent += 1
        connections = list(self.connections)
        logger.debug(
            "Tools may have changed: notifying %d connection(s) and listen streams",
            len(connections),
        )
        await asyncio.gather(*(self._send(c) for c in connections))
        await self.bus.publish(ToolsListChanged())
        if self.resources_and_prompts:
            await self.bus.publish(ResourcesListChanged())
            await self.bus.publish(PromptsListChanged())

    async def _send(self, connection: Connection) -> None:
        try:
            await connection.send_tool_list_changed()
            if self.resources_and_prompts:
                await connection.send_resource_list_changed()
                await connection.send_prompt_list_changed()
        except Exception as exc:  # noqa: BLE001 - one dead client must not stop the others
            logger.debug("Dropping a connection that failed to take a notification: %r", exc)
            self.connections.discard(connection)

    async def close(self) -> None:
        """End listen streams gracefully and stop pending deliveries."""
        self._closed = True
        self.listen.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class RecordConnections(Middleware):
    """Records every handshake-era connection that sends the front anything."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    async def on_message(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        try:
            return await call_next(context)
        finally:
            # After call_next: an initialize has committed its protocol version by then.
            connection = handshake_connection(context)
            if connection is not None:
                self.notifier.record(connection)


def install_notifier(
    mcp: FastMCP[Any], gateway: Gateway, *, resources_and_prompts: bool = False
) -> Notifier:
    """Wire change notifications into ``mcp`` for every change ``gateway`` reports."""
    notifier = Notifier(resources_and_prompts=resources_and_prompts)
    mcp.add_middleware(RecordConnections(notifier))
    server = low_level_server(mcp)
    if server is not None and server.get_request_handler(LISTEN_METHOD) is None:
        # Also what makes 2026-07-28 capabilities say tools.listChanged; handshake-era
        # ones already do (fastmcp's NotificationOptions).
        server.add_request_handler(
            LISTEN_METHOD, mcp_types.SubscriptionsListenRequestParams, notifier.listen
        )
    gateway.on_changed(notifier.changed)

    async def stop_with_server(stop: asyncio.Event) -> None:
        try:
            await stop.wait()
        finally:
            await notifier.close()

    gateway.background.append(stop_with_server)
    return notifier
