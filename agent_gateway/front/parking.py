"""Calls held for a 2026-07-28 caller while a handshake-era downstream waits for an answer.

A handshake-era downstream asks its question (``elicitation/create``,
``sampling/createMessage``, ``roots/list``) as a request during the call; a
2026-07-28 caller cannot receive one. So the gateway keeps the downstream call
running as a :class:`ParkedCall`, answers the caller with an ``input_required``
result carrying the question (front/inputrelay.py), and when the caller's retry
brings the answer, hands it to the waiting downstream request and waits for
the next thing: the downstream's result, or its next question.

Bounded: a parked call waits for its retry at most ``wait`` seconds (then the
downstream's request gets an error saying no answer came, and the call is
dropped: its result, whenever it comes, goes nowhere), and at most
:data:`MAX_PARKED` calls wait at once (beyond that a question gets an error at
once). The downstream's own ``timeout`` still bounds the whole call.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

import mcp_types

from agent_gateway.downstream.backchannel import METHOD_NOT_FOUND, ElicitAnswer, RootsAnswer
from agent_gateway.downstream.backend import LogFn, ProgressFn
from agent_gateway.front.backchannel import CallerPeer

logger = logging.getLogger("agent_gateway.front.parking")

MAX_PARKED = 256
INVALID_REQUEST = -32600
_KINDS = {
    "elicitation/create": (mcp_types.ElicitResult,),
    "sampling/createMessage": (
        mcp_types.CreateMessageResult,
        mcp_types.CreateMessageResultWithTools,
    ),
    "roots/list": (mcp_types.ListRootsResult,),
}

Answer = mcp_types.InputResponse | mcp_types.ErrorData


class ParkedCall:
    """One downstream call of one caller, and the questions it is waiting on."""

    def __init__(self, server: str, tool: str, agent: str | None) -> None:
        self.id = secrets.token_urlsafe(18)
        self.server, self.tool, self.agent = server, tool, agent
        self.task: asyncio.Task[Any] | None = None
        self.asked: dict[str, tuple[mcp_types.InputRequest, asyncio.Future[Answer]]] = {}
        self.dropped: str | None = None  # why, once dropped
        self.timer: asyncio.TimerHandle | None = None
        self._signal: asyncio.Future[None] | None = None
        self._count = 0
        self._progress: ProgressFn | None = None
        self._on_log: LogFn | None = None

    # ----- the caller's current request gets the call's progress and logs ------------

    def relay_to(self, progress: ProgressFn | None, on_log: LogFn | None) -> None:
        """Progress and log lines go to this round's request (none between rounds)."""
        self._progress, self._on_log = progress, on_log

    async def progress(self, value: float, total: float | None, message: str | None) -> None:
        if self._progress is not None:
            await self._progress(value, total, message)

    async def on_log(self, message: Any) -> None:
        if self._on_log is not None:
            await self._on_log(message)

    # ----- waiting for the next thing -----------------------------------------------------

    async def next_event(self) -> None:
        """Wait until the call has finished or has a question (an unanswered one)."""
        assert self.task is not None
        if self.asked or self.task.done():
            return
        loop = asyncio.get_running_loop()
        self._signal = loop.create_future()
        self.task.add_done_callback(self._wake)
        try:
            await self._signal
        finally:
            self.task.remove_done_callback(self._wake)
            self._signal = None

    def _wake(self, _: object = None) -> None:
        if self._signal is not None and not self._signal.done():
            self._signal.set_result(None)

    async def ask(self, kind: str, request: mcp_types.InputRequest) -> Answer:
        """A downstream question: wait for the caller's answer (through its retry)."""
        if self.dropped is not None:
            return mcp_types.ErrorData(code=INVALID_REQUEST, message=self.dropped)
        self._count += 1
        key = f"{kind}-{self._count}"
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.asked[key] = (request, future)
        self._wake()
        return await future

    def answer(self, responses: dict[str, mcp_types.InputResponse] | None) -> None:
        """The caller's retry: each waiting question gets its answer (or an error)."""
        given = responses or {}
        for key, (request, future) in self.asked.items():
            answer = given.get(key)
            if future.done():
                continue
            if isinstance(answer, _KINDS.get(request.method, ())):
                future.set_result(answer)
            else:
                message = f"The caller's retry carried no {request.method} answer for {key!r}."
                future.set_result(mcp_types.ErrorData(code=INVALID_REQUEST, message=message))
        self.asked.clear()

    def drop(self, reason: str) -> None:
        """Stop waiting for the caller: open questions get an error; the result goes nowhere."""
        if self.dropped is None:
            self.dropped = reason
        for _, future in self.asked.values():
            if not future.done():
                future.set_result(mcp_types.ErrorData(code=INVALID_REQUEST, message=reason))
        self.asked.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        task = self.task
        if task is not None and not task.done():
            task.add_done_callback(_discard)


def _discard(task: asyncio.Task[Any]) -> None:
    """A dropped call's end: nobody waits for it; note how it ended."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        logger.debug("A dropped call ended with %s: %s", type(exc).__name__, exc)


class ParkingPeer:
    """The 2026-07-28 caller of a parked call, as its handshake-era downstream sees it."""

    def __init__(self, call: ParkedCall, caller: CallerPeer) -> None:
        self.call = call
        self.caller = caller

    def _refusal(self, server: str, what: str) -> mcp_types.ErrorData | None:
        refusal = self.caller.refusal(server, what, channel=False)
        if refusal is None and server != self.call.server:  # never another server's question
            refusal = mcp_types.ErrorData(code=METHOD_NOT_FOUND, message="Not relayed.")
        return refusal

    async def elicit(self, server: str, params: mcp_types.ElicitRequestParams) -> ElicitAnswer:
        refusal = self._refusal(server, "elicitation")
        if refusal is not None:
            return refusal
        answer = await self.call.ask("elicitation", mcp_types.ElicitRequest(params=params))
        assert isinstance(answer, mcp_types.ElicitResult | mcp_types.ErrorData)
        return answer

    async def sample(self, server: str, params: mcp_types.CreateMessageRequestParams) -> Any:
        refusal = self._refusal(server, "sampling")
        if refusal is not None:
            return refusal
        return await self.call.ask("sampling", mcp_types.CreateMessageRequest(params=params))

    async def roots(self, server: str) -> RootsAnswer:
        refusal = self._refusal(server, "roots")
        if refusal is not None:
            return refusal
        answer = await self.call.ask("roots", mcp_types.ListRootsRequest())
        assert isinstance(answer, mcp_types.ListRootsResult | mcp_types.ErrorData)
        return answer


__all__ = ["MAX_PARKED", "ParkedCall", "ParkingPeer"]
