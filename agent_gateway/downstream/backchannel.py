"""Requests a downstream sends back during a call: elicitation, sampling, roots.

A handshake-era downstream asks its client (the gateway) a question while it
runs a call: ``elicitation/create`` (ask the user), ``sampling/createMessage``
(ask the model), ``roots/list`` (which folders). The gateway holds one session
per server for every caller, so such a request must go to the caller whose
call caused it, and to no one else. As with log lines (logroute.py), a request
belongs to a call only when that call is the ONE request of a caller this
session has outstanding when the request is read; otherwise the downstream
gets an error that says why, at once (never a hang).

A ``roots/list`` read while no caller's call is outstanding (a filesystem
server asks at start-up, or after ``notifications/roots/list_changed``) goes
to the session's *outside* peer, if the front names one: the one client
connected that may see this server (front/roots.py). Otherwise it gets the
same clear error.

The caller's side is a :class:`Peer`, set for the call by the front in
:data:`CALL_PEER`; the router remembers it per outstanding request.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any, Protocol

import mcp_types

logger = logging.getLogger("agent_gateway.downstream.backchannel")

INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601

ElicitAnswer = mcp_types.ElicitResult | mcp_types.ErrorData
SampleAnswer = mcp_types.CreateMessageResult | mcp_types.CreateMessageResultWithTools
RootsAnswer = mcp_types.ListRootsResult | mcp_types.ErrorData


class RootsPeer(Protocol):
    """Whoever can answer a downstream's ``roots/list``."""

    async def roots(self, server: str) -> RootsAnswer: ...


class Peer(Protocol):
    """The caller of one call, as seen by the downstream it called."""

    async def elicit(self, server: str, params: mcp_types.ElicitRequestParams) -> ElicitAnswer: ...

    async def sample(
        self, server: str, params: mcp_types.CreateMessageRequestParams
    ) -> SampleAnswer | mcp_types.ErrorData: ...

    async def roots(self, server: str) -> RootsAnswer: ...


# The caller of the call whose request the current task is about to write.
CALL_PEER: contextvars.ContextVar[Peer | None] = contextvars.ContextVar(
    "agent_gateway_call_peer", default=None
)


# The peer for requests that come outside any call: ``outside(server)``, or None.
OutsidePeer = Callable[[str], RootsPeer | None]


class Askers(Protocol):
    """Who asked: the router's answer for a downstream request id (popped once)."""

    def asker(self, request_id: Any) -> Peer | None: ...

    def roots_asker(self, request_id: Any) -> RootsPeer | None: ...


def no_caller(server: str, what: str, *, outside: bool = False) -> mcp_types.ErrorData:
    also = (
        ", or when exactly one connected client may see this server and can answer it"
        if outside
        else ""
    )
    return mcp_types.ErrorData(
        code=INVALID_REQUEST,
        message=(
            f"agent-gateway cannot tell which caller {server!r}'s {what} is for: it is sent "
            f"only while exactly one call of one caller is running on this server{also}."
        ),
    )


def callbacks(server: str, askers: Askers) -> dict[str, Any]:
    """``ClientSession`` keyword arguments that relay the three back-channel requests."""

    async def elicitation(context: Any, params: mcp_types.ElicitRequestParams) -> ElicitAnswer:
        peer = askers.asker(context.request_id)
        if peer is None:
            return no_caller(server, "question (elicitation)")
        return await peer.elicit(server, params)

    async def sampling(
        context: Any, params: mcp_types.CreateMessageRequestParams
    ) -> SampleAnswer | mcp_types.ErrorData:
        peer = askers.asker(context.request_id)
        if peer is None:
            return no_caller(server, "sampling request")
        return await peer.sample(server, params)

    async def roots(context: Any) -> RootsAnswer:
        peer = askers.roots_asker(context.request_id)
        if peer is None:
            return no_caller(server, "roots/list request", outside=True)
        return await peer.roots(server)

    return {
        "elicitation_callback": elicitation,
        "sampling_callback": sampling,
        "list_roots_callback": roots,
    }


__all__ = ["CALL_PEER", "OutsidePeer", "Peer", "RootsPeer", "callbacks", "no_caller"]
