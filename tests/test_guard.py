"""Load control through a real gateway: maxConcurrency and maxQueue, the circuit breaker.

Each test runs ``agent-gateway serve`` (a subprocess) in front of
``tests/servers/echo_server.py``, whose ``sleep`` tool is the slow call and
whose ``fail`` tool answers with a tool error. Waits poll with a deadline.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import Gateway, await_until, echo_server, start_gateway, write_config

from agent_gateway.core.errors import ServerBusyError

pytestmark = pytest.mark.anyio

BUSY = "is busy: "


def text_of(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def timed_calls(gw: Gateway, count: int, seconds: float) -> list[tuple[float, Any]]:
    """``count`` concurrent ``sleep(seconds)`` calls; each one's duration and result."""
    results: list[tuple[float, Any]] = []

    async def one() -> None:
        started = time.monotonic()
        result = await gw.downstream("echo", "sleep", seconds=seconds)
        results.append((time.monotonic() - started, result))

    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(one)
    return results


async def test_calls_past_max_concurrency_and_the_queue_are_refused_at_once(
    tmp_path: Path,
) -> None:
    servers = {"echo": echo_server(maxConcurrency=2, maxQueue=1)}
    async with start_gateway(tmp_path, servers) as gw:
        assert not (await gw.downstream("echo", "echo", text="up")).is_error  # started
        results = await timed_calls(gw, 5, 3.0)
        busy = [(took, r) for took, r in results if r.is_error]
        done = [(took, r) for took, r in results if not r.is_error]
        assert len(busy) == 2, [text_of(r) for _, r in results]
        assert len(done) == 3
        for took, result in busy:
            assert took < 2.0  # refused at once, not after the running calls
            text = text_of(result)
            assert "Server 'echo' is busy: 2 calls are running (maxConcurrency 2)" in text
            assert "1 are waiting (maxQueue 1)" in text
            assert "Retry in " in text
        # the queued call ran after one of the two running ones: about twice as long
        assert max(took for took, _ in done) >= 5.5


async def test_a_reload_that_changes_only_the_limit_keeps_the_process_and_applies_it(
    tmp_path: Path,
) -> None:
    async with start_gateway(tmp_path, {"echo": echo_server()}) as gw:
        assert not (await gw.downstream("echo", "echo", text="up")).is_error
        pid = (await gw.pids())["echo"]
        # The first start wrote .agent-gateway/pins.json: let the watcher take that folder
        # in before the edit (an edit made while it re-arms is picked up only by a later one).
        await await_until(lambda: "/.agent-gateway" in gw.stderr(), 15, "the pins folder watch")
        write_config(tmp_path, {"echo": echo_server(maxConcurrency=1, maxQueue=0)})

        async def reloaded() -> bool:
            status = await gw.data("gateway_status")
            return len(status["reloads"]) >= 1

        await await_until(reloaded, 15, "the reload")
        results = await timed_calls(gw, 2, 2.0)
        assert sorted(r.is_error for _, r in results) == [False, True]
        assert (await gw.pids())["echo"] == pid


BREAKER = {"timeout": 2.0, "breakerFailures": 2, "breakerCooldown": 1.0}


async def await_started(gw: Gateway) -> None:
    """The server started and listed its tools within its (short) timeout."""

    async def started() -> bool:
        return not (await gw.downstream("echo", "echo", text="up")).is_error

    await await_until(started, 30, "the server to start and list its tools")


async def open_breaker(gw: Gateway) -> None:
    """Start the server, then time out twice."""
    await await_started(gw)
    for _ in range(2):
        timed_out = await gw.downstream("echo", "sleep", seconds=10)
        assert timed_out.is_error and "did not answer in time" in text_of(timed_out)


async def test_the_breaker_opens_after_failures_in_a_row_and_closes_after_the_cooldown(
    tmp_path: Path,
) -> None:
    async with start_gateway(tmp_path, {"echo": echo_server(**BREAKER)}) as gw:
        await open_breaker(gw)
        started = time.monotonic()
        refused = await gw.downstream("echo", "echo", text="hi")
        assert time.monotonic() - started < 1.5  # failing fast: no timeout spent
        text = text_of(refused)
        assert refused.is_error
        assert "Server 'echo' is failing, so calls to it fail fast" in text
        assert "retry in " in text
        assert "Its last error: did not answer in time" in text

        async def answers() -> bool:
            result = await gw.downstream("echo", "echo", text="back")
            return not result.is_error

        await await_until(answers, 15, "the breaker to close after its cool-down")
        assert not (await gw.downstream("echo", "echo", text="again")).is_error


async def test_tool_errors_are_answers_and_never_open_the_breaker(tmp_path: Path) -> None:
    async with start_gateway(tmp_path, {"echo": echo_server(**BREAKER)}) as gw:
        await await_started(gw)
        for _ in range(5):
            failed = await gw.downstream("echo", "fail", message="nope")
            assert failed.is_error and "nope" in text_of(failed)
        assert not (await gw.downstream("echo", "echo", text="fine")).is_error


async def test_a_reload_that_changes_the_server_starts_it_with_a_closed_breaker(
    tmp_path: Path,
) -> None:
    async with start_gateway(tmp_path, {"echo": echo_server(**BREAKER)}) as gw:
        await open_breaker(gw)
        assert "fail fast" in text_of(await gw.downstream("echo", "echo", text="x"))
        changed = echo_server(**{**BREAKER, "breakerCooldown": 600}, env={"NEW": "1"})
        (tmp_path / ".mcp.json").write_text(json.dumps({"mcpServers": {"echo": changed}}))

        async def fresh() -> bool:
            result = await gw.downstream("echo", "env", name="NEW")
            return not result.is_error and text_of(result) == "1"

        await await_until(fresh, 15, "the replaced server to answer")


async def test_direct_tools_are_held_to_the_same_limits(tmp_path: Path) -> None:
    policies = {"default": 'rate = "2/min"\n[allow]\nservers = ["*"]\n'}
    args = ["--expose", "direct"]
    async with start_gateway(tmp_path, {"echo": echo_server()}, policies=policies, args=args) as gw:

        async def listed() -> bool:
            return "echo__echo" in {t.name for t in await gw.client.list_tools()}

        await await_until(listed, 30, "the direct tools")
        for i in range(2):
            assert not (await gw.client.call_tool_mcp("echo__echo", {"text": str(i)})).is_error
        refused = await gw.client.call_tool_mcp("echo__echo", {"text": "3"})
        assert refused.is_error
        assert "over its call-rate limit of 2/min" in text_of(refused)


# ----- the guard itself, in process: no slot is ever lost -------------------------------


def entry(**keys: Any) -> Any:
    from agent_gateway.core.config import StdioEntry

    return StdioEntry.model_validate({"command": "x", **keys})


async def test_a_queued_call_that_gives_up_or_is_cancelled_never_loses_a_slot() -> None:
    from agent_gateway.downstream.guard import CallGuard

    guard, limits = CallGuard("s"), entry(maxConcurrency=1, maxQueue=2, timeout=0.2)
    release = anyio.Event()
    inside: list[str] = []

    async def hold(name: str) -> None:
        async with guard.admit(limits):
            inside.append(name)
            await release.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(hold, "first")
        await await_until(lambda: inside == ["first"], 5, "the first call to run")
        with anyio.CancelScope() as scope:  # a queued call cancelled by its caller
            scope.cancel()
            await hold("cancelled")
        with pytest.raises(
            ServerBusyError, match=r"this call waited 0\.2s"
        ):  # a queued call that times out
            await hold("timed out")
        assert (guard.running, guard.queued) == (1, 0)
        release.set()
    async with guard.admit(limits):
        assert (guard.running, guard.queued) == (1, 0)
    assert (guard.running, guard.queued, inside) == (0, 0, ["first"])
