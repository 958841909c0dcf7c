"""Roots outside a call: the sole client's roots, and its roots/list_changed, reach its servers.

During a call, a downstream's ``roots/list`` goes to that call's caller
(downstream/backchannel.py). A filesystem server also asks outside any call:
at start-up, and again after ``notifications/roots/list_changed``. Then the
gateway asks the ONE client that may see that server, when there is exactly
one (the usual stdio case: one IDE is the gateway's only client); otherwise
the server gets the clear error it gets for an ambiguous request.

- The clients are the handshake-era connections that have sent the front
  anything (recorded like notify.py's), each with the identities its
  requests carried (the bound agent, or the bearer token's agent). A
  2026-07-28 client keeps no connection and cannot be asked: it is not one.
- A client may see server S when every identity it used may see S. The sole
  client of S is the one client any of whose identities may see S, provided
  all of them may. So one agent's roots never reach a server its policy
  hides, and two clients that may both see S never get each other's roots.
- A client's ``notifications/roots/list_changed`` is forwarded to each
  connected server it is the sole client of, so that server asks again.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

import anyio
import mcp_types
from fastmcp import FastMCP
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from mcp import MCPError
from mcp.server.connection import Connection
from mcp.shared.exceptions import NoBackChannelError
from pydantic import ValidationError

from agent_gateway.core.errors import GatewayError
from agent_gateway.downstream.backchannel import METHOD_NOT_FOUND, RootsAnswer
from agent_gateway.downstream.backend import State
from agent_gateway.front.gateway import Gateway
from agent_gateway.front.notify import handshake_connection

logger = logging.getLogger("agent_gateway.front.roots")

ROOTS_CHANGED = "notifications/roots/list_changed"
ROOTS_WAIT = 10.0  # seconds a client may take to list its roots (an automatic answer)
INTERNAL_ERROR = -32603
_ROOTS = mcp_types.ClientCapabilities(roots=mcp_types.RootsCapability())


class Clients:
    """The handshake-era clients of the front, and the identities each one used."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._agents: weakref.WeakKeyDictionary[Connection, set[str | None]] = (
            weakref.WeakKeyDictionary()
        )

    def record(self, connection: Connection, agent: str | None) -> None:
        agents = self._agents.get(connection)
        if agents is None:
            agents = self._agents[connection] = set()
            ref = weakref.ref(connection)
            connection.exit_stack.callback(self._forget, ref)  # closed: no longer a client
        agents.add(agent)

    def _forget(self, ref: weakref.ref[Connection]) -> None:
        connection = ref()
        if connection is not None:
            self._agents.pop(connection, None)

    def sole_client(self, server: str) -> Connection | None:
        """The one client that may see ``server``, if exactly one may and no other might."""
        if server not in self.gateway.manager.backends:
            return None
        visible = self.gateway.policies.server_visible
        contenders = [
            (connection, agents)
            for connection, agents in list(self._agents.items())
            if any(visible(agent, server) for agent in agents)
        ]
        if len(contenders) != 1:
            return None
        connection, agents = contenders[0]
        return connection if all(visible(agent, server) for agent in agents) else None

    def peer(self, server: str) -> ClientRoots | None:
        """The downstream's outside-a-call roots peer (ProxyManager.outside_peer)."""
        connection = self.sole_client(server)
        return None if connection is None else ClientRoots(connection)

    def sole_servers(self, connection: Connection) -> list[str]:
        """The servers ``connection`` is the sole client of."""
        return [s for s in self.gateway.manager.names() if self.sole_client(s) is connection]


class ClientRoots:
    """Asks one client connection for its roots on its standalone stream."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def roots(self, server: str) -> RootsAnswer:
        if not self.connection.check_capability(_ROOTS):
            return mcp_types.ErrorData(
                code=METHOD_NOT_FOUND,
                message=(
                    f"Not relayed: the client of agent-gateway that may see {server!r} "
                    "does not support roots."
                ),
            )
        logger.debug("Asking the sole client of %r for its roots (outside a call)", server)
        try:
            with anyio.fail_after(ROOTS_WAIT):
                return await self.connection.send_request(mcp_types.ListRootsRequest())
        except MCPError as exc:  # the client's error goes back to the server as it came
            return mcp_types.ErrorData(code=exc.code, message=exc.message, data=exc.data)
        except (
            TimeoutError,
            NoBackChannelError,
            ValidationError,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
        ) as exc:
            return mcp_types.ErrorData(
                code=INTERNAL_ERROR,
                message=f"The client of agent-gateway could not list its roots: {exc!r}",
            )


class RootsRelay(Middleware):
    """Records each client with its identity; forwards its roots/list_changed."""

    def __init__(self, gateway: Gateway, clients: Clients) -> None:
        self.gateway = gateway
        self.clients = clients

    async def on_message(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        try:
            return await call_next(context)
        finally:
            connection = handshake_connection(context)  # after initialize committed
            if connection is not None:
                self._record(connection)
                if context.method == ROOTS_CHANGED:
                    await self._forward(connection)

    def _record(self, connection: Connection) -> None:
        try:
            agent = self.gateway.caller(None).agent  # bound, or the bearer token's
        except GatewayError:
            return  # no identity this request may use: nothing to record
        self.clients.record(connection, agent)

    async def _forward(self, connection: Connection) -> None:
        backends = self.gateway.manager.backends
        for server in self.clients.sole_servers(connection):
            backend = backends.get(server)
            if backend is not None and backend.state is State.READY:
                await backend.roots_changed()


def install_roots(mcp: FastMCP[Any], gateway: Gateway) -> Clients:
    """Serve downstream roots requests outside calls, and forward roots changes."""
    clients = Clients(gateway)
    mcp.add_middleware(RootsRelay(gateway, clients))
    gateway.manager.outside_peer = clients.peer
    return clients
