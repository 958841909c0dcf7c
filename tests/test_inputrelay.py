"""The input relay on its own: envelopes, whose retry continues which call, parked calls, rounds.

A fake caller session and fake downstream calls, no processes (the end-to-end
tests are in test_inputrelay_e2e.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import mcp_types
import pytest

from agent_gateway.core.envelope import unseal
from agent_gateway.core.errors import BackendError, UnknownRequestStateError
from agent_gateway.downstream.backchannel import CALL_PEER
from agent_gateway.downstream.backend import Answers
from agent_gateway.front.backchannel import CallerPeer
from agent_gateway.front.inputrelay import InputRelay, Round, answering
from agent_gateway.front.rounds import MAX_ROUNDS

pytestmark = pytest.mark.anyio

ELICIT = mcp_types.ElicitRequest(
    params=mcp_types.ElicitRequestFormParams(
        message="Name?", requested_schema={"type": "object", "properties": {}}
    )
)
ACCEPT = mcp_types.ElicitResult(action="accept", content={"name": "Ada"})


def done(text: str) -> mcp_types.CallToolResult:
    return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text=text)])


def asks(state: str | None) -> mcp_types.InputRequiredResult:
    return mcp_types.InputRequiredResult(input_requests={"name": ELICIT}, request_state=state)


class Session:
    """A caller's request-scoped session: its era and capabilities, and what it was asked."""

    def __init__(self, version: str, capable: bool = True) -> None:
        self.protocol_version = version
        self.capable = capable
        self.can_send_request = version != "2026-07-28"
        self.asked: list[Any] = []

    def check_client_capability(self, _: Any) -> bool:
        return self.capable

    async def send_request(self, request: Any, result_type: Any, metadata: Any = None) -> Any:
        self.asked.append(request)
        return ACCEPT


MODERN = "2026-07-28"
LEGACY = "2025-11-25"


class Downstream:
    """A downstream call: answers in turn from ``script`` (each a result or a function)."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.answers: list[Answers | None] = []

    async def __call__(self, answers: Answers | None, progress: Any, on_log: Any) -> Any:
        self.answers.append(answers)
        step = self.script.pop(0)
        return await step() if callable(step) else step


async def call(
    relay: InputRelay,
    downstream: Callable[..., Any],
    session: Session,
    *,
    agent: str | None = "alice",
    given: Round | None = None,
    server: str = "asking",
    tool: str = "ask_name",
) -> Any:
    peer = CallerPeer(session, 7)
    with answering(given):
        return await relay.call(server, tool, agent, peer, downstream, (None, None))


async def test_a_2026_callers_retry_reaches_the_same_downstream_call_with_its_own_state() -> None:
    relay = InputRelay(key=b"k" * 32)
    downstream = Downstream(asks("down-1"), done("Hi, Ada!"))
    first = await call(relay, downstream, Session(MODERN))
    assert isinstance(first, mcp_types.InputRequiredResult)
    assert first.input_requests == {"name": ELICIT}
    envelope = unseal(first.request_state, relay.key)
    assert envelope is not None and envelope.state == "down-1" and envelope.agent == "alice"
    retry = Round({"name": ACCEPT}, first.request_state)
    assert await call(relay, downstream, Session(MODERN), given=retry) == done("Hi, Ada!")
    assert downstream.answers == [None, Answers({"name": ACCEPT}, "down-1")]


@pytest.mark.parametrize(
    "change",
    [
        {"agent": "bob"},
        {"agent": None},
        {"server": "other"},
        {"tool": "other"},
        {"state": "agw1.forged.state"},
        {"state": "down-1"},
    ],
    ids=["another-agent", "no-agent", "another-server", "another-tool", "forged", "downstreams"],
)
async def test_a_retry_whose_state_is_not_this_callers_call_is_refused_like_a_missing_one(
    change: dict[str, Any],
) -> None:
    relay = InputRelay(key=b"k" * 32)
    first = await call(relay, Downstream(asks("down-1")), Session(MODERN))
    state = change.pop("state", first.request_state)
    downstream = Downstream(done("never"))
    retry = Round({"name": ACCEPT}, state)
    with pytest.raises(UnknownRequestStateError) as refused:
        await call(relay, downstream, Session(MODERN), given=retry, **change)
    assert downstream.answers == []  # never called
    assert "Unknown or expired requestState" in str(refused.value)
    assert "alice" not in str(refused.value) and "bob" not in str(refused.value)


async def test_a_handshake_era_caller_is_asked_on_its_session_and_the_gateway_retries() -> None:
    session = Session(LEGACY)
    downstream = Downstream(asks("down-1"), asks("down-2"), done("Hi, Ada!"))
    assert await call(InputRelay(), downstream, session) == done("Hi, Ada!")
    assert len(session.asked) == 2
    answered = [Answers({"name": ACCEPT}, "down-1"), Answers({"name": ACCEPT}, "down-2")]
    assert downstream.answers == [None, *answered]


async def test_the_gateway_gives_up_after_the_round_limit() -> None:
    downstream = Downstream(*[asks(f"down-{i}") for i in range(MAX_ROUNDS + 1)])
    with pytest.raises(BackendError, match=f"after {MAX_ROUNDS} rounds"):
        await call(InputRelay(), downstream, Session(LEGACY))


@pytest.mark.parametrize("version", [MODERN, LEGACY])
async def test_a_caller_without_the_capability_gets_a_tool_error(version: str) -> None:
    with pytest.raises(BackendError, match="does not support elicitation"):
        await call(InputRelay(), Downstream(asks("down-1")), Session(version, capable=False))


async def _asks_the_caller() -> mcp_types.CallToolResult:
    """A handshake-era downstream asking during the call, as its session would."""
    peer = CALL_PEER.get()
    assert peer is not None
    answer = await peer.elicit("asking", ELICIT.params)
    if isinstance(answer, mcp_types.ErrorData):
        return done(f"error: {answer.message}")
    return done(f"got {answer.content}")


async def test_a_handshake_era_downstreams_question_is_parked_for_a_2026_caller() -> None:
    relay = InputRelay()
    downstream = Downstream(_asks_the_caller)
    first = await call(relay, downstream, Session(MODERN))
    assert isinstance(first, mcp_types.InputRequiredResult)
    [(key, request)] = (first.input_requests or {}).items()
    assert request == ELICIT and len(relay.parked) == 1
    retry = Round({key: ACCEPT}, first.request_state)
    assert await call(relay, Downstream(), Session(MODERN), given=retry) == done(
        "got {'name': 'Ada'}"
    )
    assert relay.parked == {}


async def test_a_parked_call_without_a_retry_is_dropped_and_its_question_gets_an_error() -> None:
    relay = InputRelay(wait=0.05)
    downstream = Downstream(_asks_the_caller)
    first = await call(relay, downstream, Session(MODERN))
    assert isinstance(first, mcp_types.InputRequiredResult)
    [parked] = relay.parked.values()
    assert parked.task is not None
    ended = await asyncio.wait_for(parked.task, 5)
    assert "did not answer within 0.05 s" in ended.content[0].text
    with pytest.raises(UnknownRequestStateError):
        await call(relay, Downstream(), Session(MODERN), given=Round({}, first.request_state))


async def test_a_parked_call_is_another_agents_only_by_name() -> None:
    relay = InputRelay()
    first = await call(relay, Downstream(_asks_the_caller), Session(MODERN))
    retry = Round({"elicitation-1": ACCEPT}, first.request_state)
    with pytest.raises(UnknownRequestStateError):
        await call(relay, Downstream(), Session(MODERN), given=retry, agent="bob")
    [parked] = relay.parked.values()  # still waiting for alice
    relay.close()
    assert parked.task is not None
    ended = await asyncio.wait_for(parked.task, 5)
    assert "shutting down" in ended.content[0].text


@pytest.mark.parametrize("other", ["prompts/get other", "resources/read greet", "greet"])
async def test_a_prompts_state_continues_that_prompt_only(other: str) -> None:
    relay = InputRelay(key=b"k" * 32)
    first = await call(relay, Downstream(asks("down-1")), Session(MODERN), tool="prompts/get greet")
    retry = Round({"name": ACCEPT}, first.request_state)
    with pytest.raises(UnknownRequestStateError):
        await call(relay, Downstream(done("never")), Session(MODERN), given=retry, tool=other)
    downstream = Downstream(done("Hi, Ada!"))
    again = await call(relay, downstream, Session(MODERN), given=retry, tool="prompts/get greet")
    assert again == done("Hi, Ada!")
    assert downstream.answers == [Answers({"name": ACCEPT}, "down-1")]
