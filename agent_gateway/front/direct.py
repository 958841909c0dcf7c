"""Direct mode: downstream tools named ``{server}__{tool}``, policy-filtered per caller.

Names (core/names.py) are ``server__tool``, or, when that is longer than 64
characters, ambiguous or could be read as a hashed name, a readable prefix
and a stable hash of the (server, tool) pair; names are unique over the
caller's visible set (:func:`direct_names`), so nothing is dropped and two
tools never share a name. Routing looks the name up in an index (never
splits on ``__``: a server may end in ``_``). Resources and prompts:
direct_resources.py.

Policy: a tool the caller may not see is neither listed nor callable by its
direct name; it answers exactly like a missing tool. Names are looked up only
in the caller's own index, built from its visible servers and allowed tools
first, never in a shared one and then checked: a hidden tool and a missing
one take the same path, and a hidden server is never asked.

Tools are cached per session (backend.py); each caller's index of them is
kept until something changes (then rebuilt), and rebuilt before a name is
given up on.

Servers still starting (for clients that list once and ignore
``list_changed``): a ``tools/list`` waits for the caller's visible servers
that are starting, but one server's start holds lists up for at most
``list_wait`` seconds in all, counted from the first list that waited for it.
A call to a direct name not in the caller's index waits for the visible
starting servers that could own it (each up to its ``startupTimeout``), then
looks again. ``idleTimeout`` does not apply in direct mode (server.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Sequence

import mcp_types
from fastmcp.exceptions import NotFoundError, ToolError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import Tool, ToolResult

from agent_gateway.core import errors
from agent_gateway.core.errors import BackendError, GatewayError
from agent_gateway.core.identity import Caller
from agent_gateway.core.names import could_name, direct_name, direct_names, is_direct_name
from agent_gateway.core.policy import PolicySet
from agent_gateway.downstream.backend import Backend, State
from agent_gateway.front.direct_items import to_front_tool, with_direct_links
from agent_gateway.front.gateway import Gateway
from agent_gateway.front.redaction import error_text

RELISTS = 3  # times a call looks again at a server whose fresh list was dropped at once

logger = logging.getLogger("agent_gateway.front.direct")

RETRY_POLL = 1.0
LIST_WAIT = 5.0  # seconds a server's start may hold up tools/list (serve --list-wait)

ToolIndex = dict[str, tuple[str, mcp_types.Tool]]  # direct name -> (server, tool)


class DirectTools(Middleware):
    """Adds the caller's downstream tools to tools/list; routes calls to them."""

    def __init__(self, gateway: Gateway, list_wait: float = LIST_WAIT) -> None:
        self.gateway = gateway
        self.list_wait = max(0.0, list_wait)
        self._generation = 0  # bumped on every change: cached indexes are then rebuilt
        self._indexes: dict[str | None, tuple[PolicySet, int, ToolIndex]] = {}
        self._windows: weakref.WeakKeyDictionary[Backend, float] = weakref.WeakKeyDictionary()
        gateway.on_changed(self._changed)
        idle = sorted(n for n, s in gateway.manager.config.servers.items() if s.entry.idle_timeout)
        if idle:
            logger.info(
                "idleTimeout does not apply in direct mode: %s stay started.",
                ", ".join(map(repr, idle)),
            )

    def _changed(self) -> None:
        self._generation += 1

    def _caller(self) -> Caller | None:
        try:
            return self.gateway.caller(None)
        except GatewayError:
            return None

    def _tools_of(self, caller: Caller, *, fresh: bool = False) -> ToolIndex:
        """Direct name -> (server, tool) over the tools this caller may see and call."""
        policies = self.gateway.policies
        cached = self._indexes.get(caller.agent)
        if (
            not fresh
            and cached is not None
            and cached[0] is policies
            and cached[1] == self._generation
        ):
            return cached[2]
        generation = self._generation
        found: dict[tuple[str, str], mcp_types.Tool] = {}
        for server in self.gateway.visible(caller):
            for tool in self.gateway.manager.backends[server].cached_tools() or ():
                if policies.tool_allowed(caller.agent, server, tool.name):
                    found[(server, tool.name)] = tool
        index = {name: (pair[0], found[pair]) for name, pair in direct_names(found).items()}
        self._indexes[caller.agent] = (policies, generation, index)
        return index

    async def _wait_for_starting(self, caller: Caller) -> None:
        """Wait for the caller's visible servers still starting, within their list windows."""
        now = time.monotonic()
        waits: dict[str, float] = {}
        for server in self.gateway.visible(caller):
            backend = self.gateway.manager.backends[server]
            if _relisting(backend):  # started, its list dropped by a list_changed
                waits[server] = self.list_wait
            elif _starting(backend):
                deadline = self._windows.setdefault(backend, now + self.list_wait)
                if deadline > now:
                    waits[server] = deadline - now
        if waits:
            logger.debug(
                "tools/list waits up to %.1fs for %s, still starting.",
                max(waits.values()),
                ", ".join(map(repr, waits)),
            )
            backends = self.gateway.manager.backends
            await asyncio.gather(*(_ready(backends[s], t) for s, t in waits.items()))

    async def _route(self, caller: Caller, name: str) -> tuple[str, str] | None:
        """The (server, tool) a direct name stands for, among what the caller may call."""
        found = self._tools_of(caller).get(name)
        if found is None:  # not listed yet, or changed since: look again
            found = self._tools_of(caller, fresh=True).get(name)
        if found is None:  # perhaps a tool of a server still starting: wait for those
            backends = self.gateway.manager.backends
            owners = [
                backends[s]
                for s in self.gateway.visible(caller)
                if could_name(s, name) and _starting(backends[s])
            ]
            if owners:
                logger.debug(
                    "Calling %r waits for %s, still starting.",
                    name,
                    ", ".join(repr(b.name) for b in owners),
                )
            for _ in range(RELISTS if owners else 0):  # a list_changed may drop a new list
                await asyncio.gather(*(_ready(b, b.spec.entry.startup_timeout) for b in owners))
                found = self._tools_of(caller, fresh=True).get(name)
                owners = [b for b in owners if _relisting(b)]
                if found is not None or not owners:
                    break
        if found is None:  # a tool held by pinning: routed, so the call says why it fails
            return self._held(caller, name)
        return (found[0], found[1].name)

    async def route(self, caller: Caller, name: str) -> tuple[str, str] | None:
        """The (server, tool) a direct name stands for, for this caller (front/tasks.py)."""
        return await self._route(caller, name)

    def _held(self, caller: Caller, name: str) -> tuple[str, str] | None:
        """The (server, tool) of a quarantined tool the caller may call, named ``name``."""
        policies = self.gateway.policies
        for server in self.gateway.visible(caller):
            if not could_name(server, name):
                continue
            for tool in self.gateway.manager.backends[server].quarantined():
                allowed = policies.tool_allowed(caller.agent, server, tool)
                if allowed and direct_name(server, tool) == name:
                    return server, tool
        return None

    async def on_list_tools(
        self,
        context: MiddlewareContext[mcp_types.ListToolsRequest],
        call_next: CallNext[mcp_types.ListToolsRequest, Sequence[Tool]],
    ) -> Sequence[Tool]:
        tools = list(await call_next(context))
        caller = self._caller()
        if caller is None:
            return tools
        for _ in range(RELISTS):  # a list_changed just after a start drops the new list
            await self._wait_for_starting(caller)
            backends = self.gateway.manager.backends
            if not any(_relisting(backends[s]) for s in self.gateway.visible(caller)):
                break
        index = self._tools_of(caller, fresh=True)
        tools.extend(to_front_tool(name, tool) for name, (_, tool) in index.items())
        return tools

    async def on_call_tool(
        self,
        context: MiddlewareContext[mcp_types.CallToolRequestParams],
        call_next: CallNext[mcp_types.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        name = context.message.name
        caller = self._caller() if is_direct_name(name) else None
        target = None if caller is None else await self._route(caller, name)
        if target is None:
            return await call_next(context)  # answers as fastmcp does for a missing tool
        server, tool = target
        try:
            result = await self.gateway.call_tool(
                server,
                tool,
                dict(context.message.arguments or {}),
                None,
                context.fastmcp_context,
            )
            return with_direct_links(result, server)
        except GatewayError as exc:
            if isinstance(exc, errors.NotFoundError):
                raise NotFoundError(f"Unknown tool: {name!r}") from exc
            raise ToolError(error_text(exc)) from exc


def _relisting(backend: Backend) -> bool:
    """Is this server started, but its tool list dropped (a list_changed) and not yet fetched?"""
    return backend.state is State.READY and backend.cached_tools() is None


def _starting(backend: Backend) -> bool:
    """Is this server starting (or about to be), so that its tools are not known yet?"""
    state = backend.state
    if state is State.READY:
        return backend.cached_tools() is None
    return state in (State.IDLE, State.CONNECTING)


_waiting: set[asyncio.Task[list[mcp_types.Tool]]] = set()  # starts being waited for


async def _ready(backend: Backend, bound: float) -> None:
    """Wait up to ``bound`` seconds for a server's tools; its start goes on after that.

    Not ``wait_for``: a timeout must not cancel the start (others may wait for
    it too, and start_all would only begin it again).
    """
    task = asyncio.ensure_future(backend.list_tools())
    _waiting.add(task)
    task.add_done_callback(_settled)
    await asyncio.wait({task}, timeout=bound)


def _settled(task: asyncio.Task[list[mcp_types.Tool]]) -> None:
    _waiting.discard(task)
    exc = None if task.cancelled() else task.exception()
    # A failed start is recorded and logged by the backend; anything else is a surprise.
    if exc is not None and not isinstance(exc, GatewayError):
        logger.error("Waiting for a server to start failed unexpectedly.", exc_info=exc)


async def start_all(gateway: Gateway, stop: asyncio.Event) -> None:
    """Direct mode lists every visible server's tools: keep them all started.

    Runs at launch and after every change (reload, crash): a server that is
    idle or failed (and out of its backoff window) is started in the background.
    """

    async def one(backend: Backend) -> None:
        try:
            await backend.list_tools()
        except GatewayError as exc:
            if isinstance(exc, BackendError) and exc.reason == backend.last_error:
                logger.debug("%s", exc)  # the backend logged this attempt's failure already
            else:
                logger.warning("%s", exc)
            return
        except Exception:  # a background loop: one server's surprise must not end it
            logger.exception("Starting server %r failed unexpectedly.", backend.name)
            return
        gateway.notify_changed()

    # One task per server: a slow or hung start holds up no other server's.
    starting: dict[Backend, asyncio.Task[None]] = {}
    try:
        while not stop.is_set():
            waiting = [
                b
                for b in gateway.manager.backends.values()
                if b not in starting and b.state in (State.IDLE, State.ERROR) and b.ready_to_retry()
            ]
            for backend in waiting:
                starting[backend] = asyncio.create_task(one(backend))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gateway.changed.wait(), timeout=RETRY_POLL)
            gateway.changed.clear()
            starting = {b: t for b, t in starting.items() if not t.done()}
    finally:
        for task in starting.values():
            task.cancel()
        await asyncio.gather(*starting.values(), return_exceptions=True)
