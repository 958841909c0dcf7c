"""Which call a downstream's log line belongs to, if any: a line reaches only its own caller.

A downstream's ``notifications/message`` carries no request id on the wire
(stdio has one stream; the SDK's ``related_request_id`` only picks a stream
on HTTP, and a 2026-07-28 server only opts a request in, it does not name
it). Progress is exact (each request has its own progress token), logs are
not. So a log line is tied to a call only when that call is the ONE request
this session has outstanding at the moment the line is read:

- The session's messages are read in order from one stream, and a server
  writes a request's log lines before its answer. The tap below sees every
  request we write and every answer we read, in that order, so "outstanding"
  is exact: a line read while requests A and B are both unanswered may be
  either's, and goes to neither.
- A request we gave up on (a timeout, a cancel) gets no answer, so it stays
  outstanding for the life of the session: the server may still be running
  it, and its lines must not reach the next caller. Attribution stops for
  that session (lines go to the gateway's log) until it is restarted.
- A request the gateway makes for itself (``tools/list``, ``initialize``)
  has no caller: while one is outstanding, lines go to the gateway's log.
- An mcp SDK server drops a request's log lines once it has answered it,
  and a 2026-07-28 server sends none outside a request. A handshake-era
  server that logs on its own (not in answer to a request) while exactly one
  call is outstanding is indistinguishable from that call's own line; that
  line is the server's, never another caller's request's.

Lines that cannot be tied to exactly one call go to the gateway's stderr log
with the server name, and to no caller.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import mcp_types
from anyio import EndOfStream
from mcp.client.session import ClientSession
from mcp.shared.message import SessionMessage

from agent_gateway.downstream.backchannel import CALL_PEER, OutsidePeer, Peer, RootsPeer, callbacks

if TYPE_CHECKING:
    from fastmcp.client.logging import LogMessage

logger = logging.getLogger("agent_gateway.downstream.logs")

LogFn = Callable[["LogMessage"], Awaitable[None]]

# The log relay of the call whose request the current task is about to write.
CALL_LOG: contextvars.ContextVar[LogFn | None] = contextvars.ContextVar(
    "agent_gateway_call_log", default=None
)
# A private stamp in a log line's params._meta: the read-order verdict, for the handler.
_STAMP = "agent-gateway/log-route"
_TARGETS_KEPT = 1024
_LEVELS = {"debug": logging.DEBUG}


class _Outside:
    """A server request read while no caller's call was outstanding."""


_OUTSIDE = _Outside()


def _key(request_id: Any) -> str:
    return str(request_id)


class LogRouter:
    """The outstanding requests of one downstream session, and where its log lines go."""

    def __init__(self, server: str, outside: OutsidePeer | None = None) -> None:
        self.server = server
        self._outside = outside
        self._outstanding: dict[str, tuple[LogFn | None, Peer | None]] = {}
        self._targets: dict[int, LogFn] = {}
        self._askers: dict[str, Peer | _Outside | None] = {}
        self._next = 0

    # ----- the tap, in wire order ------------------------------------------------------

    def sent(self, item: SessionMessage) -> None:
        message = item.message
        if isinstance(message, mcp_types.JSONRPCRequest):
            self._outstanding[_key(message.id)] = (CALL_LOG.get(), CALL_PEER.get())

    def received(self, item: SessionMessage | Exception) -> None:
        if isinstance(item, Exception):
            return
        message = item.message
        if isinstance(message, mcp_types.JSONRPCResponse | mcp_types.JSONRPCError):
            if message.id is not None:
                self._outstanding.pop(_key(message.id), None)
        elif (
            isinstance(message, mcp_types.JSONRPCNotification)
            and message.method == "notifications/message"
            and isinstance(message.params, dict)
        ):
            self._mark_owner(message.params)
        elif isinstance(message, mcp_types.JSONRPCRequest):  # the server asks us something
            peers = [peer for _, peer in self._outstanding.values()]
            asker: Peer | _Outside | None = peers[0] if len(peers) == 1 else None
            if all(peer is None for peer in peers):  # the gateway's own requests, or none
                asker = _OUTSIDE
            self._askers[_key(message.id)] = asker
            while len(self._askers) > _TARGETS_KEPT:
                del self._askers[next(iter(self._askers))]

    def asker(self, request_id: Any) -> Peer | None:
        """The caller a server's request (read earlier) is for, if exactly one; once."""
        found = self._askers.pop(_key(request_id), None)
        return None if isinstance(found, _Outside) else found

    def roots_asker(self, request_id: Any) -> RootsPeer | None:
        """Like :meth:`asker`; a ``roots/list`` outside any call goes to the outside peer."""
        found = self._askers.pop(_key(request_id), None)
        if isinstance(found, _Outside):
            return None if self._outside is None else self._outside(self.server)
        return found

    def _mark_owner(self, params: dict[str, Any]) -> None:
        meta = params.get("_meta")
        if isinstance(meta, dict):
            meta.pop(_STAMP, None)  # only we decide where a line goes
        owners = [log for log, _ in self._outstanding.values()]
        if len(owners) != 1 or owners[0] is None:
            return
        self._next += 1
        self._targets[self._next] = owners[0]
        while len(self._targets) > _TARGETS_KEPT:
            del self._targets[next(iter(self._targets))]
        params["_meta"] = {**(meta if isinstance(meta, dict) else {}), _STAMP: self._next}

    # ----- delivery ----------------------------------------------------------------------

    async def deliver(self, message: LogMessage) -> None:
        """The client's log handler: relay to the line's one call, else to our own log."""
        meta = dict(message.meta or {})
        stamp = meta.pop(_STAMP, None)
        target = self._targets.pop(stamp, None) if isinstance(stamp, int) else None
        if target is None:
            level = _LEVELS.get(message.level, logging.INFO)
            logger.log(
                level,
                "[%s log, not relayed: not tied to one call] %s",
                self.server,
                message.data,
            )
            return
        logger.debug("[%s log] %s", self.server, message.data)
        clean = message.model_copy(update={"meta": meta or None})
        try:
            await target(clean)
        except Exception:  # the caller may be gone; its relay failing is not ours to raise
            logger.debug("Relaying a log line of %r failed.", self.server, exc_info=True)


class _TapRead:
    """A read stream that shows each message to the router before the session sees it."""

    def __init__(self, inner: Any, router: LogRouter) -> None:
        self._inner = inner
        self._router = router

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        item = await self._inner.receive()
        self._router.received(item)
        return item

    def __aiter__(self) -> _TapRead:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _TapRead:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _TapWrite:
    """A write stream that shows each message to the router before it is sent."""

    def __init__(self, inner: Any, router: LogRouter) -> None:
        self._inner = inner
        self._router = router

    async def send(self, item: SessionMessage) -> None:
        self._router.sent(item)
        await self._inner.send(item)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _TapWrite:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def routed_session(base: type[ClientSession], router: LogRouter) -> type[ClientSession]:
    """``base``, with its streams tapped by ``router`` (a session class per connection).

    Its sessions also relay the server's own requests (elicitation, sampling,
    roots) to the caller they belong to (backchannel.py), so the gateway
    declares those capabilities to every downstream.
    """

    class Routed(base):  # type: ignore[valid-type,misc]
        def __init__(self, read_stream: Any, write_stream: Any, *args: Any, **kw: Any) -> None:
            kw.update(callbacks(router.server, router))  # questions go back to their caller
            super().__init__(
                _TapRead(read_stream, router), _TapWrite(write_stream, router), *args, **kw
            )

    return Routed


__all__ = ["CALL_LOG", "LogFn", "LogRouter", "routed_session"]
