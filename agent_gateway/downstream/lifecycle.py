"""Starting, listing and stopping one downstream server, safely under cancellation.

- One start is shared by every caller that needs the server. It runs as its
  own task: a caller that gives up (cancelled, timed out) stops waiting at
  once and never cancels the start the others wait on, so the server is not
  spawned twice. Only a stop of a server being closed (removed or replaced by
  a reload, shutdown) cancels a start.
- One tool-list fetch is shared the same way. Fetches are tracked: a stop
  cancels them, and none is left to fail unobserved. Every invalidation
  (``notifications/tools/list_changed``, a stop, a crash) moves a generation
  counter on; a fetch that began before it never installs its now stale list
  as the cache, and later callers start a fresh fetch instead of joining it.
- A server replaced by a reload hands callers still waiting to start it (or
  arriving late with the old object) to its replacement (see ``successor``).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types

from agent_gateway.core.errors import BackendUnavailableError
from agent_gateway.downstream.session import _close_client

if TYPE_CHECKING:
    from fastmcp import Client


def _observe(task: asyncio.Future[Any]) -> None:
    """Mark a finished shared task's outcome as seen: its waiters may all be gone."""
    if not task.cancelled():
        task.exception()


def _cancelled_from_outside() -> bool:
    """Is the current task itself being cancelled (not just something it awaited)?"""
    me = asyncio.current_task()
    return me is not None and me.cancelling() > 0


class Lifecycle:
    """The shared start, the tracked tool-list fetch and the stop of a Backend."""

    name: str
    successor: Any  # the Backend that replaced this one in a reload, if any
    _client: Client[Any] | None
    _closing: bool
    _connecting: bool
    _start_task: asyncio.Task[Client[Any]] | None
    _lock: asyncio.Lock
    _tools: dict[str, mcp_types.Tool] | None
    _tools_gen: int
    _tools_fetch: asyncio.Task[dict[str, mcp_types.Tool]] | None
    _fetch_gen: int
    _inflight: int
    _drained: asyncio.Event
    _on_tools_changed: Callable[[str], None] | None

    if TYPE_CHECKING:  # provided by Backend and Supervised

        async def _start(self) -> Client[Any]: ...

        def _check_can_start(self) -> None: ...

        def _request(self) -> AbstractAsyncContextManager[Any]: ...

        def _remember(self, tools: list[mcp_types.Tool]) -> None: ...

    # ----- the shared start ---------------------------------------------------------------

    async def connect(self) -> Client[Any]:
        """Return the connected client, starting the server if needed."""
        if self._client is not None:
            return self._client
        if self._start_task is None:
            async with self._lock:  # a stop in progress ends before a new start
                if self._client is not None:
                    return self._client
                if self._start_task is None:
                    self._check_can_start()
                    self._begin_start()
        start = self._start_task
        assert start is not None
        try:
            client = await asyncio.shield(start)
        except asyncio.CancelledError:
            if start.cancelled() and not _cancelled_from_outside():
                # stop() cancelled the start, not our caller: say why.
                self._check_can_start()
                raise BackendUnavailableError(self.name, "was stopped while starting.") from None
            raise
        if self._closing:  # it came up as it was retired: its stop closes it; go elsewhere
            self._check_can_start()
        return client

    def _begin_start(self) -> None:
        self._connecting = True
        # A fresh context: the session's long-lived tasks must not keep (and
        # later act on) the context variables of the first request.
        start = asyncio.get_running_loop().create_task(self._start(), context=contextvars.Context())
        self._start_task = start
        start.add_done_callback(self._start_done)

    def _start_done(self, start: asyncio.Task[Client[Any]]) -> None:
        if self._start_task is start:
            self._start_task = None
            self._connecting = False
        _observe(start)

    # ----- the tool list --------------------------------------------------------------------

    async def _fetch_tools(self) -> dict[str, mcp_types.Tool]:
        """The server's tools; concurrent callers share one ``tools/list`` request."""
        fetch = self._tools_fetch
        if fetch is None or fetch.done() or self._fetch_gen != self._tools_gen:
            self._fetch_gen = self._tools_gen
            fetch = asyncio.get_running_loop().create_task(self._fetch_tools_once(self._fetch_gen))
            fetch.add_done_callback(_observe)
            self._tools_fetch = fetch
        try:
            return await asyncio.shield(fetch)
        except asyncio.CancelledError:
            if fetch.cancelled() and not _cancelled_from_outside():
                return await self._fetch_tools()  # a stop ended it: ask again (or learn why not)
            raise

    async def _fetch_tools_once(self, gen: int) -> dict[str, mcp_types.Tool]:
        async with self._request() as client:
            tools = await client.list_tools()
        cache = {t.name: t for t in tools}
        if self._client is client and self._tools_gen == gen:
            self._tools = cache
            self._remember(tools)
        return cache

    def _drop_tools(self, *, cancel_fetch: bool = False) -> None:
        """Forget the cached list; a fetch already under way will not install its result."""
        self._tools = None
        self._tools_gen += 1
        fetch = self._tools_fetch
        if cancel_fetch and fetch is not None and not fetch.done():
            fetch.cancel()

    def invalidate_tools(self) -> None:
        self._drop_tools()
        if self._on_tools_changed is not None:
            self._on_tools_changed(self.name)

    # ----- shutdown ---------------------------------------------------------------------

    async def close(self, grace: float = 0.0) -> None:
        """Stop taking calls, let calls in flight finish (up to ``grace`` s), then stop."""
        self._closing = True
        if grace > 0 and self._inflight:
            with anyio.move_on_after(grace):
                await self._drained.wait()
        await self.stop()

    async def stop(self) -> None:
        """End the session and the process now; a later call may start it again."""
        start = self._start_task
        if start is not None:
            if self._closing:
                start.cancel()  # a start nobody will use: do not wait for it to finish
            await asyncio.wait({start})  # then close what it started
        async with self._lock:
            client, self._client = self._client, None
            self._drop_tools(cancel_fetch=True)
            fetch = self._tools_fetch
            if fetch is not None:
                await asyncio.wait({fetch})
            if client is not None:
                await _close_client(client)


__all__ = ["Lifecycle"]
