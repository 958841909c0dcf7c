"""Load control of one server's tool calls: ``maxConcurrency``, ``maxQueue``, the breaker.

At most ``maxConcurrency`` calls run at once; up to ``maxQueue`` more wait
in order, each at most the server's ``timeout``. A call past both is refused
at once with :class:`ServerBusyError` (how many run, and about when to
retry). The circuit breaker (core/breaker.py) counts failures that say the
server is unwell (it crashed, timed out or could not start); an answer, even
an error answer, is a success. While it is open, calls fail at once with
:class:`CircuitOpenError` naming the last error and the seconds left.

The limits are read from the entry at every call, so a reload that changes
only them applies to the next call without restarting the server; a reload
that replaces the server gives it a new guard (a closed breaker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from agent_gateway.core.breaker import Breaker, BreakerSettings, BreakerState, Refusal
from agent_gateway.core.errors import (
    BackendCrashedError,
    BackendError,
    BackendStartError,
    BackendTimeoutError,
    BackendUnavailableError,
    CircuitOpenError,
    ServerBusyError,
)
from agent_gateway.core.limits import busy_retry_after, moving_average, retry_seconds

if TYPE_CHECKING:
    from agent_gateway.core.config import RemoteEntry, StdioEntry

logger = logging.getLogger("agent_gateway.downstream.guard")

# What says the server itself is unwell (BackendUnavailableError is the gateway's own fast fail).
_FAILURES = (BackendStartError, BackendCrashedError, BackendTimeoutError)


class CallGuard:
    """The slots, the queue and the breaker of one Backend."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.breaker = Breaker()
        self.running = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.typical = 0.0  # a moving average of call durations, seconds

    @property
    def queued(self) -> int:
        return len(self._waiting)

    @contextlib.asynccontextmanager
    async def admit(self, entry: StdioEntry | RemoteEntry) -> AsyncIterator[None]:
        """Hold a slot for one call; judge its outcome for the breaker."""
        settings = BreakerSettings(entry.breaker_failures, entry.breaker_cooldown)
        refusal = self.breaker.check(time.monotonic(), settings)
        if refusal is not None:
            raise self._open_error(refusal)
        try:
            await self._acquire(entry)
        except BaseException:
            self.breaker.abandon()
            raise
        started = time.monotonic()
        verdict: bool | None = None
        try:
            yield
            verdict = True
        except _FAILURES as exc:
            verdict = False
            self._failed(exc, settings, started)
            raise
        except BackendUnavailableError:
            raise
        except BackendError:
            verdict = True  # it answered, with an error: it is alive
            raise
        finally:
            self._release(entry.max_concurrency)
            if verdict is True:
                if self.breaker.state is not BreakerState.CLOSED:
                    logger.info("Server %r answered again: circuit breaker closed.", self.name)
                self.breaker.success()
                self.typical = moving_average(self.typical, time.monotonic() - started)
            elif verdict is None:
                self.breaker.abandon()

    def _failed(self, exc: BackendError, settings: BreakerSettings, started: float) -> None:
        was_open = self.breaker.state is BreakerState.OPEN
        shared = None if isinstance(exc, BackendTimeoutError) else started  # one crash, many calls
        self.breaker.failure(time.monotonic(), exc.reason, settings, since=shared)
        if self.breaker.state is BreakerState.OPEN and not was_open:
            logger.warning(
                "Server %r failed %d times in a row: circuit breaker open for %gs.",
                self.name,
                self.breaker.failures,
                self.breaker.open_until - time.monotonic(),
            )

    def _open_error(self, refusal: Refusal) -> CircuitOpenError:
        wait = retry_seconds(refusal.retry_after)
        if refusal.probing:
            doing = f"is being tested with one call after failing; retry in {wait}s."
        else:
            doing = (
                f"is failing, so calls to it fail fast for now (circuit breaker); retry in {wait}s."
            )
        return CircuitOpenError(
            self.name,
            f"{doing} Its last error: {refusal.last_error}",
            retry_after=refusal.retry_after,
        )

    # ----- slots --------------------------------------------------------------------

    async def _acquire(self, entry: StdioEntry | RemoteEntry) -> None:
        limit = entry.max_concurrency
        self._hand_over(limit)  # the limit may have grown since the last release
        if self.running < limit and not self._waiting:
            self.running += 1
            return
        if len(self._waiting) >= entry.max_queue:
            raise self._busy(entry, "and its queue is full")
        slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(slot)
        try:
            await asyncio.wait_for(asyncio.shield(slot), entry.timeout)
        except BaseException as exc:
            if slot.done() and not slot.cancelled():
                self._release(limit)  # handed a slot just as it gave up: pass it on
            else:
                slot.cancel()
                with contextlib.suppress(ValueError):
                    self._waiting.remove(slot)
            if isinstance(exc, TimeoutError):
                raise self._busy(entry, f"and this call waited {entry.timeout:g}s") from None
            raise

    def _release(self, limit: int) -> None:
        self.running -= 1
        self._hand_over(limit)

    def _hand_over(self, limit: int) -> None:
        while self._waiting and self.running < limit:
            slot = self._waiting.popleft()
            if not slot.done():
                slot.set_result(None)
                self.running += 1

    def _busy(self, entry: StdioEntry | RemoteEntry, why: str) -> ServerBusyError:
        limit = entry.max_concurrency
        wait = busy_retry_after(self.running, self.queued, limit, self.typical)
        return ServerBusyError(
            self.name,
            f"is busy: {self.running} calls are running (maxConcurrency {limit}), "
            f"{self.queued} are waiting (maxQueue {entry.max_queue}) {why}. "
            f"Retry in {retry_seconds(wait)}s.",
            retry_after=wait,
        )
