"""Input a downstream needs during a call, relayed between the two protocol eras.

Four cases, by who speaks which era:

- a 2026-07-28 downstream answers ``tools/call`` (or ``prompts/get``,
  ``resources/read``) with ``input_required`` (questions plus its own
  ``requestState``):
  - to a 2026-07-28 caller it is relayed as an ``input_required`` result whose
    ``requestState`` is the gateway's signed :class:`Envelope` (server, tool,
    agent, the downstream's state). The caller's retry (the same call, with
    ``inputResponses`` and that state) is checked like any call (policy
    first), its envelope must name the same server, tool and agent, and the
    downstream then gets the answers and its own state back;
  - for a handshake-era caller the gateway asks each question on the
    caller's own session and retries the downstream itself (rounds.py);
- a handshake-era downstream asks with a request during the call:
  - a handshake-era caller gets it on its session (front/backchannel.py);
  - a 2026-07-28 caller gets an ``input_required`` result carrying the
    question; the downstream call waits in memory for the retry, whose answer
    goes to the waiting request (parking.py).

A ``requestState`` that this process did not sign, or signed for another
server, tool or agent, or naming a parked call that is gone, answers
:class:`UnknownRequestStateError`: one text for all, so another agent's state
looks like a missing one. The front seals every ``requestState`` on the wire
as well (the SDK's request-state boundary, which also binds it to the call's
name and arguments).

The three call routes (the fast route, the ``call_tool`` meta-tool, direct
tools) and direct mode's prompts and resources (direct_resources.py) put the
caller's ``inputResponses`` and ``requestState`` in :data:`CALL_ROUND` for the
call (:func:`answering`). The envelope's ``tool`` is then the tool's name, or
``prompts/get NAME`` / ``resources/read URI`` (meta mode's ``call_tool``
with those methods, and direct mode, alike): a prompt's state continues only
that prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import mcp_types

from agent_gateway.core.envelope import Envelope, seal, unseal
from agent_gateway.core.errors import BackendError, UnknownRequestStateError
from agent_gateway.downstream.backchannel import CALL_PEER
from agent_gateway.downstream.backend import Answers, LogFn, ProgressFn
from agent_gateway.front.backchannel import CallerPeer
from agent_gateway.front.parking import MAX_PARKED, ParkedCall, ParkingPeer
from agent_gateway.front.rounds import WHAT, R, drive

logger = logging.getLogger("agent_gateway.front.inputrelay")

WAIT = 120.0  # seconds a parked call waits for its caller's retry
WAIT_SWITCH = "AGENT_GATEWAY_INPUT_WAIT"
_CAPABILITY = {
    "elicitation/create": "elicitation",
    "sampling/createMessage": "sampling",
    "roots/list": "roots",
}

CallFn = Callable[[Answers | None, ProgressFn | None, LogFn | None], Coroutine[Any, Any, R]]


@dataclass(frozen=True)
class Round:
    """What a caller's retry brought: its answers, and the requestState it echoes."""

    responses: dict[str, mcp_types.InputResponse] | None
    state: str | None


CALL_ROUND: contextvars.ContextVar[Round | None] = contextvars.ContextVar(
    "agent_gateway_call_round", default=None
)


def round_of(params: Any) -> Round | None:
    """The retry fields of a request's params (or of a fastmcp ``Context``), if any."""
    try:
        responses = getattr(params, "input_responses", None)
        state = getattr(params, "request_state", None)
    except RuntimeError:  # a Context outside a request
        return None
    if responses is None and state is None:
        return None
    return Round(dict(responses) if responses else None, state if isinstance(state, str) else "")


@contextlib.contextmanager
def answering(given: Round | None) -> Iterator[None]:
    """Run a call with the caller's retry fields in :data:`CALL_ROUND`."""
    token = CALL_ROUND.set(given)
    try:
        yield
    finally:
        CALL_ROUND.reset(token)


def _wait_from_env() -> float:
    try:
        return max(0.1, float(os.environ.get(WAIT_SWITCH, WAIT)))
    except ValueError:
        return WAIT


class InputRelay:
    """The gateway's side of input a downstream needs: envelopes, rounds, parked calls."""

    def __init__(self, key: bytes | None = None, wait: float | None = None) -> None:
        self.key = key or os.urandom(32)  # per process: replicas would need one shared key
        self.wait = _wait_from_env() if wait is None else wait
        self.parked: dict[str, ParkedCall] = {}

    async def call(
        self,
        server: str,
        tool: str,
        agent: str | None,
        peer: CallerPeer | None,
        call: CallFn[R],
        relays: tuple[ProgressFn | None, LogFn | None],
    ) -> R | mcp_types.InputRequiredResult:
        """Call the downstream for this caller, carrying the input it needs either way.

        ``tool`` names what is called, for the envelope: a tool's name, or
        ``prompts/get NAME`` / ``resources/read URI``.
        """
        given = CALL_ROUND.get()
        envelope = self._envelope(given, server, tool, agent)
        result: R | mcp_types.InputRequiredResult  # a parked call's task: any of those
        if envelope is not None and envelope.kind == "parked":
            assert given is not None
            result = await self._resume(envelope, given.responses, peer, relays)
            return result
        answers = None
        if envelope is not None and given is not None:
            answers = Answers(given.responses, envelope.state)
        progress, on_log = relays
        if peer is None or not peer.modern:
            return await drive(server, peer, lambda a: call(a, progress, on_log), answers)
        parked = ParkedCall(server, tool, agent)
        parked.relay_to(progress, on_log)
        token = CALL_PEER.set(ParkingPeer(parked, peer))  # the task below starts with it
        try:
            parked.task = asyncio.create_task(call(answers, parked.progress, parked.on_log))
        finally:
            CALL_PEER.reset(token)
        result = await self._settle(parked, peer)
        return result

    def _envelope(
        self, given: Round | None, server: str, tool: str, agent: str | None
    ) -> Envelope | None:
        if given is None or given.state is None:
            return None
        envelope = unseal(given.state, self.key)
        if envelope is None or not envelope.fits(server, tool, agent):
            raise UnknownRequestStateError(server, tool)
        return envelope

    async def _resume(
        self,
        envelope: Envelope,
        responses: dict[str, mcp_types.InputResponse] | None,
        peer: CallerPeer | None,
        relays: tuple[ProgressFn | None, LogFn | None],
    ) -> Any:
        parked = self.parked.pop(envelope.call or "", None)
        if parked is None or peer is None:
            raise UnknownRequestStateError(envelope.server, envelope.tool)
        if parked.timer is not None:
            parked.timer.cancel()
            parked.timer = None
        parked.relay_to(*relays)
        parked.answer(responses)
        return await self._settle(parked, peer)

    async def _settle(self, parked: ParkedCall, peer: CallerPeer) -> Any:
        """The call's result, or its open questions as an input_required result."""
        task = parked.task
        assert task is not None
        try:
            await parked.next_event()
        except asyncio.CancelledError:  # the caller gave up: so does the downstream call
            parked.drop("The caller cancelled the call.")
            task.cancel()
            raise
        if task.done():
            parked.drop("The call has ended.")
            if task.cancelled():  # not by this caller (that is handled above)
                raise BackendError(parked.server, "stopped the call (it was cancelled).")
            result = task.result()
            if isinstance(result, mcp_types.InputRequiredResult):
                return self._relayed(result, parked, peer)
            return result
        parked.relay_to(None, None)  # between rounds nobody listens
        if len(self.parked) >= MAX_PARKED:
            parked.drop("agent-gateway: too many calls are waiting for their callers' answers.")
            return await self._settle(parked, peer)
        self.parked[parked.id] = parked
        loop = asyncio.get_running_loop()
        parked.timer = loop.call_later(self.wait, self._expire, parked.id)
        asked = {key: request for key, (request, _) in parked.asked.items()}
        envelope = Envelope("parked", parked.server, parked.tool, parked.agent, call=parked.id)
        return mcp_types.InputRequiredResult(
            input_requests=asked, request_state=seal(envelope, self.key)
        )

    def _relayed(
        self, result: mcp_types.InputRequiredResult, parked: ParkedCall, peer: CallerPeer
    ) -> mcp_types.InputRequiredResult:
        """A 2026-07-28 downstream's input_required, for a 2026-07-28 caller."""
        server = parked.server
        for request in (result.input_requests or {}).values():
            refusal = peer.refusal(server, _CAPABILITY[request.method], channel=False)
            if refusal is not None:
                what = WHAT[request.method]
                raise BackendError(
                    server, f"asked for {what}, which got no answer: {refusal.message}"
                )
        envelope = Envelope("relay", server, parked.tool, parked.agent, state=result.request_state)
        return mcp_types.InputRequiredResult(
            input_requests=result.input_requests, request_state=seal(envelope, self.key)
        )

    def _expire(self, call: str) -> None:
        parked = self.parked.pop(call, None)
        if parked is not None:
            logger.info(
                "A call to %r waited %g s for its caller's answer; dropped.",
                parked.server,
                self.wait,
            )
            parked.drop(f"agent-gateway: the caller did not answer within {self.wait:g} s.")

    def close(self) -> None:
        """Drop every parked call (shutdown)."""
        for parked in list(self.parked.values()):
            parked.drop("agent-gateway is shutting down.")
        self.parked.clear()


__all__ = ["CALL_ROUND", "InputRelay", "Round", "answering", "round_of"]
