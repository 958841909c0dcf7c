"""Supervision of one downstream server: failures, backoff, crash detection, restart rules.

A crash (the process exits, the connection drops) is noticed between calls
too; the next call reconnects, with exponential backoff when a server keeps
failing (calls in the backoff window fail fast with the last reason).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types

from agent_gateway.core.config import ServerSpec
from agent_gateway.core.errors import (
    BackendCrashedError,
    BackendError,
    BackendStartError,
    BackendTimeoutError,
    BackendUnavailableError,
    LoginRequiredError,
)
from agent_gateway.downstream.procgroup import describe_exit
from agent_gateway.downstream.session import (
    STABLE_AFTER,
    _background,
    _close_client,
    _root_cause,
    backoff_delay,
)
from agent_gateway.downstream.translate import translate_backend_error
from agent_gateway.metrics import NO_EVENTS, ServerEvents

if TYPE_CHECKING:
    from fastmcp import Client

    from agent_gateway.downstream.stdio import StdioProcessTransport

logger = logging.getLogger("agent_gateway.downstream.backend")

REMOVED = "was removed or replaced by a config reload. Call list_servers()."


class BackendReplacedError(BackendUnavailableError):
    """The server was replaced by a reload; ``successor`` is the Backend that took its place."""

    def __init__(self, server: str, successor: Any) -> None:
        super().__init__(server, REMOVED)
        self.successor = successor


class Supervised:
    """The failure bookkeeping of a Backend: when it may start, and what a failure means."""

    name: str
    spec: ServerSpec
    last_error: str | None
    stderr_tail: str
    _failed: bool
    _failures: int
    _retry_at: float
    _closing: bool
    _client: Client[Any] | None
    _connected_at: float | None
    _stdio: StdioProcessTransport | None
    _tools: dict[str, mcp_types.Tool] | None
    _tools_gen: int
    successor: Any
    _on_tools_changed: Callable[[str], None] | None
    events: ServerEvents = NO_EVENTS  # starts, failed starts, crashes (metrics)

    if TYPE_CHECKING:  # provided by OAuthGate (logingate.py)

        def _wait_for_login(self) -> None: ...

        def _login_changed(self) -> bool: ...

        def _login_error(self, err: BackendError) -> BackendError: ...

    def _current_stderr(self) -> str:
        t = self._stdio
        return t.stderr_tail() if t is not None else self.stderr_tail

    def ready_to_retry(self) -> bool:
        """Could a start be attempted now (not disabled, misconfigured or backing off)?"""
        return (
            not self._closing
            and not self.spec.disabled
            and self.spec.error is None
            and self._login_changed()
            and time.monotonic() >= self._retry_at
        )

    def _check_can_start(self) -> None:
        if self._closing:
            if self.successor is not None:
                raise BackendReplacedError(self.name, self.successor)
            raise BackendUnavailableError(self.name, REMOVED)
        if self.spec.disabled:
            raise BackendUnavailableError(
                self.name, 'is disabled in the config. Set "disabled": false to use it.'
            )
        if self.spec.error is not None:
            raise BackendStartError(self.name, f"cannot start: {self.spec.error}")
        if not self._login_changed():  # waiting for `agent-gateway login`: no backoff, no retry
            raise BackendStartError(self.name, self.last_error or "needs login.")
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            raise BackendUnavailableError(
                self.name,
                f"is failing; the next restart is in {wait:.1f}s. Last error: {self.last_error}",
                stderr_tail=self._current_stderr(),
            )

    def _record_failure(self, reason: str, logged: str | None = None) -> None:
        """Count a failure, schedule the backoff and log it once (``logged``: the full text)."""
        now = time.monotonic()
        if self._connected_at is not None and now - self._connected_at > STABLE_AFTER:
            self._failures = 0
        self._failures += 1
        self._retry_at = now + backoff_delay(self._failures)
        self.last_error = reason
        self._failed = True
        if logged is not None:
            logger.warning("%s", logged)
        else:
            logger.warning("Server %r: %s", self.name, reason)

    def _on_process_exit(self, code: int | None) -> None:
        if self._closing or self._client is None:
            return
        self._crashed(f"{describe_exit(code)}.")

    def _crashed(self, reason: str) -> None:
        client, self._client = self._client, None
        self._tools = None
        self._tools_gen += 1
        if client is None:
            return
        self.events.crashed(self.name)
        self._record_failure(reason)
        task = asyncio.get_running_loop().create_task(_close_client(client))
        _background.add(task)
        task.add_done_callback(_background.discard)
        if self._on_tools_changed is not None:
            self._on_tools_changed(self.name)

    async def _exit_code(self, wait: float = 0.3) -> int | None:
        """The stdio process's exit code if it has exited (waiting briefly to learn it)."""
        t = self._stdio
        if t is None or t.pid is None:
            return None
        with anyio.move_on_after(wait):
            while t.returncode is None:
                await anyio.sleep(0.01)
        return t.returncode

    async def _request_failed(self, client: Client[Any], exc: Exception) -> BackendError:
        err = self._login_error(translate_backend_error(self.name, _root_cause(exc)))
        if isinstance(err, LoginRequiredError):  # a refresh was refused mid-session
            if self._client is client:
                self._crashed(err.reason)
            self._wait_for_login()
            return err
        if isinstance(err, BackendTimeoutError):
            limit = self.spec.entry.timeout
            return BackendTimeoutError(
                self.name,
                f"did not answer in time: no result within {limit:g}s. If the tool needs "
                'longer, raise the server\'s "timeout" in the config.',
            )
        dead = isinstance(err, BackendCrashedError) or self._client is not client
        if dead:
            if self._client is client:
                code = await self._exit_code()
                reason = f"{describe_exit(code)}." if code is not None else err.reason
                if self._client is client:
                    self._crashed(reason)
            return BackendCrashedError(
                self.name,
                f"{self.last_error or err.reason} The next call restarts it.",
                stderr_tail=self._current_stderr(),
            )
        return err
