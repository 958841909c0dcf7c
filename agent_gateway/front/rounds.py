"""A 2026-07-28 downstream's questions, for a handshake-era caller: the gateway drives the rounds.

A handshake-era caller cannot receive an ``input_required`` result, but its
connection carries server requests. So when a downstream answers ``tools/call``
with one, the gateway asks each question (``elicitation/create``,
``sampling/createMessage``, ``roots/list``) on the caller's own session
(front/backchannel.py's :class:`CallerPeer`, tied to the caller's request),
collects the answers under the downstream's keys, and calls the downstream
again with them and its ``requestState``, for at most :data:`MAX_ROUNDS`
rounds. A question the caller cannot or does not answer (no such capability,
its client's error) ends the call with a tool error that says so: the
downstream keeps nothing waiting (each round is a complete request), so
nothing hangs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import mcp_types

from agent_gateway.core.errors import BackendError
from agent_gateway.downstream.backchannel import CALL_PEER
from agent_gateway.downstream.backend import Answers, CallOutcome
from agent_gateway.front.backchannel import CallerPeer

MAX_ROUNDS = 10  # as the SDKs' own clients (typescript, go, csharp, python)
STATE_ONLY_PAUSE = (0.05, 0.25)  # a round with state only: pause, doubling, up to the cap

Outcome = dict[str, Any] | CallOutcome
R = TypeVar("R")  # a call's result: a tool's, a prompt's, a resource's (or input_required)
Call = Callable[[Answers | None], Awaitable[R]]

WHAT = {
    "elicitation/create": "a question for the user (elicitation)",
    "sampling/createMessage": "a message from the model (sampling)",
    "roots/list": "the client's roots (roots/list)",
}


async def drive(server: str, peer: CallerPeer | None, call: Call[R], answers: Answers | None) -> R:
    """Call, answering ``input_required`` rounds through ``peer``; the final result."""
    token = CALL_PEER.set(peer)  # a handshake-era downstream asks the same caller
    try:
        result = await call(answers)
        pause = STATE_ONLY_PAUSE[0]
        for _ in range(MAX_ROUNDS):
            if not isinstance(result, mcp_types.InputRequiredResult):
                return result
            asked = result.input_requests or {}
            if asked:
                responses: dict[str, mcp_types.InputResponse] | None = await ask_all(
                    server, peer, asked
                )
            else:  # the downstream is not ready yet: ask again shortly
                await asyncio.sleep(pause)
                pause, responses = min(pause * 2, STATE_ONLY_PAUSE[1]), None
            result = await call(Answers(responses, result.request_state))
    finally:
        CALL_PEER.reset(token)
    if isinstance(result, mcp_types.InputRequiredResult):
        raise BackendError(
            server, f"still asked for input after {MAX_ROUNDS} rounds; the gateway ended the call."
        )
    return result


async def ask_all(
    server: str, peer: CallerPeer | None, asked: dict[str, mcp_types.InputRequest]
) -> dict[str, mcp_types.InputResponse]:
    """Each question asked of the caller, at once; their answers by key."""
    keys = list(asked)
    answers = await asyncio.gather(*(ask_one(server, peer, asked[k]) for k in keys))
    return dict(zip(keys, answers, strict=True))


async def ask_one(
    server: str, peer: CallerPeer | None, request: mcp_types.InputRequest
) -> mcp_types.InputResponse:
    """The caller's answer to one question, or a BackendError saying why there is none."""
    what = WHAT.get(request.method, request.method)
    if peer is None:
        raise BackendError(server, f"asked for {what}, which this caller cannot give.")
    answer: mcp_types.InputResponse | mcp_types.ErrorData
    if isinstance(request, mcp_types.ElicitRequest):
        answer = await peer.elicit(server, request.params)
    elif isinstance(request, mcp_types.CreateMessageRequest):
        answer = await peer.sample(server, request.params)
    else:
        answer = await peer.roots(server)
    if isinstance(answer, mcp_types.ErrorData):
        raise BackendError(server, f"asked for {what}, which got no answer: {answer.message}")
    return answer


__all__ = ["MAX_ROUNDS", "WHAT", "ask_all", "drive"]
