"""ProxyManager: the live set of Backends, one per configured server.

It answers "which backend is NAME", applies a config diff (added servers are
registered lazily, removed and changed ones drain and close, unchanged ones
are not touched), stops idle servers, and closes everything on exit.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import anyio
import mcp_types

from agent_gateway.core.config import GatewayConfig
from agent_gateway.core.diff import ConfigDiff, diff_configs
from agent_gateway.core.errors import BackendError, BackendUnavailableError, UnknownServerError
from agent_gateway.downstream.backchannel import OutsidePeer, RootsPeer
from agent_gateway.downstream.backend import Backend, State
from agent_gateway.downstream.catalog import Catalog
from agent_gateway.downstream.pinning import PinKeeper
from agent_gateway.metrics import NO_EVENTS, ServerEvents

logger = logging.getLogger("agent_gateway.downstream.manager")

DRAIN_GRACE = 30.0
LIST_WAIT = 30.0  # seconds one server may take to list its tools when several are asked


class ProxyManager:
    def __init__(
        self,
        config: GatewayConfig,
        *,
        on_tools_changed: Callable[[str], None] | None = None,
        drain_grace: float = DRAIN_GRACE,
        list_wait: float = LIST_WAIT,
        catalog: Catalog | None = None,
        pins: PinKeeper | None = None,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.pins = pins
        if pins is not None:
            pins.servers = set(config.servers)
        self.drain_grace = drain_grace
        self.list_wait = list_wait
        self._on_tools_changed = on_tools_changed
        self.events: ServerEvents = NO_EVENTS
        self.backends: dict[str, Backend] = {
            name: self._new_backend(name) for name in config.servers
        }
        self._retiring: dict[asyncio.Task[None], Backend] = {}  # draining after a reload
        self._close_task: asyncio.Task[None] | None = None
        self._closed: list[Backend] = []  # what close() is stopping
        self._idle_task: asyncio.Task[None] | None = None
        # Who answers a server's roots/list outside any call (the front sets it).
        self.outside_peer: OutsidePeer | None = None

    def _new_backend(self, name: str) -> Backend:
        backend = Backend(
            self.config.servers[name],
            on_tools_changed=self._tools_changed,
            catalog=self.catalog,
            pins=self.pins,
            outside_peer=self._outside,
        )
        backend.events = self.events
        return backend

    def set_events(self, events: ServerEvents) -> None:
        """Report every server's starts, failed starts and crashes to ``events`` (metrics)."""
        self.events = events
        for backend in self.backends.values():
            backend.events = events

    def _outside(self, server: str) -> RootsPeer | None:
        return None if self.outside_peer is None else self.outside_peer(server)

    def set_tools_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(server)`` when a server's tools may have changed."""
        self._on_tools_changed = listener

    def _tools_changed(self, name: str) -> None:
        if self._on_tools_changed is not None:
            self._on_tools_changed(name)

    def names(self) -> list[str]:
        return list(self.backends)

    def get(self, name: str) -> Backend:
        backend = self.backends.get(name)
        if backend is None:
            raise UnknownServerError(name)
        return backend

    # ----- queries over many servers -------------------------------------------------

    async def tools_of(
        self,
        names: Iterable[str],
        *,
        patient: bool = False,
        from_catalog: set[str] | None = None,
    ) -> tuple[dict[str, list[mcp_types.Tool]], dict[str, str]]:
        """Ask the named servers for their tools in parallel; failures land in errors.

        Each server has its own deadline: its startupTimeout and timeout, and
        unless ``patient``, at most ``list_wait`` seconds. A server still
        starting (or slow to list) past that is reported in errors; its start
        and its fetch go on, so a later ask finds it ready.

        With ``from_catalog`` (a set), a server not started yet answers with its
        catalog entry, if it has one, without starting; its name is added to the set.
        """
        tools: dict[str, list[mcp_types.Tool]] = {}
        errors: dict[str, str] = {}

        async def one(name: str) -> None:
            backend = self.backends[name]
            if backend.state is State.DISABLED:
                return
            saved = None if from_catalog is None else backend.catalog_tools()
            if saved is not None:
                assert from_catalog is not None
                tools[name] = saved
                from_catalog.add(name)
                return
            with anyio.move_on_after(math.inf if patient else self.list_wait) as waited:
                try:
                    tools[name] = await backend.list_tools()
                except BackendError as exc:
                    errors[name] = str(exc)
            if waited.cancelled_caught:
                errors[name] = str(_too_slow(backend, self.list_wait))

        async with anyio.create_task_group() as tg:
            for name in names:
                if name in self.backends:
                    tg.start_soon(one, name)
        return tools, errors

    # ----- reload --------------------------------------------------------------------

    def apply(self, new: GatewayConfig) -> ConfigDiff:
        """Swap in a validated config. Never blocks: retiring backends drain in the background."""
        change = diff_configs(self.config, new)
        self.config = new
        if self.pins is not None:
            self.pins.servers = set(new.servers)
        for name in change.removed:
            self._retire(self.backends.pop(name))
        for name in change.changed:
            old = self.backends[name]
            self.backends[name] = old.successor = self._new_backend(name)
            self._retire(old)
        for name in change.added:
            self.backends[name] = self._new_backend(name)
        for name in (*change.unchanged, *change.described):
            self.backends[name].spec = new.servers[name]
        if change.added or change.removed or change.changed:
            for name in (*change.added, *change.removed, *change.changed):
                self._tools_changed(name)
        return change

    def _retire(self, backend: Backend) -> None:
        task = asyncio.get_running_loop().create_task(backend.close(self.drain_grace))
        self._retiring[task] = backend
        task.add_done_callback(lambda done: self._retiring.pop(done, None))

    # ----- idle stop -----------------------------------------------------------------

    def start_idle_reaper(self, interval: float = 1.0) -> None:
        if self._idle_task is None:
            self._idle_task = asyncio.get_running_loop().create_task(self._reap_idle(interval))

    async def _reap_idle(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for backend in list(self.backends.values()):
                limit = backend.spec.entry.idle_timeout
                if (
                    limit is not None
                    and backend.state is State.READY
                    and backend.inflight == 0
                    and now - backend.last_used >= limit
                ):
                    logger.info("Stopping idle server %r after %gs unused.", backend.name, limit)
                    await backend.stop()

    # ----- shutdown ------------------------------------------------------------------

    async def close(self) -> None:
        """Stop every downstream server (and the ones still draining).

        Idempotent: a second caller waits for the same shutdown to finish.
        """
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._close())
        await asyncio.shield(self._close_task)

    @property
    def closing(self) -> bool:
        """Has :meth:`close` begun?"""
        return self._close_task is not None

    def kill(self) -> None:
        """SIGKILL every downstream process group now: the gateway is being forced out."""
        for backend in (*self.backends.values(), *self._closed, *self._retiring.values()):
            backend.kill()

    async def _close(self) -> None:
        if self._idle_task is not None:
            self._idle_task.cancel()
            self._idle_task = None
        backends = list(self.backends.values())
        self._closed = backends
        self.backends = {}
        # Servers still draining after a reload are closed at once too: the
        # gateway is exiting, there is nobody left to finish their calls for.
        retiring = list(self._retiring.items())
        for task, _ in retiring:
            task.cancel()
        await asyncio.gather(*(task for task, _ in retiring), return_exceptions=True)
        async with anyio.create_task_group() as tg:
            for backend in (*backends, *(backend for _, backend in retiring)):
                tg.start_soon(backend.close)

    def status(self, names: Iterable[str]) -> list[dict[str, Any]]:
        return [self.backends[n].status() for n in names if n in self.backends]


def _too_slow(backend: Backend, wait: float) -> BackendUnavailableError:
    doing = "is still starting" if backend.state is State.CONNECTING else "is slow to answer"
    return BackendUnavailableError(
        backend.name,
        f"{doing}: no tool list within {wait:g}s. "
        f"Call list_tools(server={backend.name!r}) to wait for it.",
    )
