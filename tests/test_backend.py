"""In-process tests of Backend (one downstream session) and ProxyManager, with real servers.

Every echo server started here carries a unique ``--name`` marker, so a test
can count the processes it caused from ``/proc`` instead of trusting the
object under test.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import anyio
import mcp_types
import pytest
from conftest import PY, alive, await_until, marked, py_server

from agent_gateway.core.config import GatewayConfig, ServerSpec
from agent_gateway.core.errors import (
    BackendError,
    BackendStartError,
    BackendTimeoutError,
    BackendUnavailableError,
    UnknownServerError,
)
from agent_gateway.downstream.backend import Backend, State, backoff_delay
from agent_gateway.downstream.manager import ProxyManager
from agent_gateway.downstream.session import checked_wire

pytestmark = pytest.mark.anyio


# ----- helpers ------------------------------------------------------------------------------


def new_marker() -> str:
    return f"be-{uuid.uuid4().hex[:12]}"


def echo(marker: str, **extra: Any) -> dict[str, Any]:
    return py_server("echo_server.py", "--name", marker, **extra)


def config(servers: dict[str, Any]) -> GatewayConfig:
    return GatewayConfig.from_dict({"mcpServers": servers}, environ={"HOME": "/tmp"})


def spec(entry: dict[str, Any], name: str = "echo") -> ServerSpec:
    return config({name: entry}).servers[name]


def text(result: mcp_types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, mcp_types.TextContent))


# ----- backoff ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "delay"),
    [
        (-1, 0.0),
        (0, 0.0),
        (1, 0.0),  # the first restart after a crash is immediate
        (2, 0.5),
        (3, 1.0),
        (4, 2.0),
        (5, 4.0),
        (6, 8.0),
        (7, 16.0),
        (8, 30.0),  # 32 capped at 30
        (9, 30.0),
        (1000, 30.0),
    ],
)
def test_backoff_delay(failures: int, delay: float) -> None:
    assert backoff_delay(failures) == delay
    assert isinstance(backoff_delay(failures), float)


def test_backoff_delay_never_shrinks() -> None:
    delays = [backoff_delay(n) for n in range(0, 200)]
    assert delays == sorted(delays)
    assert max(delays) == 30.0


# ----- lazy, shared connect, cache, multiplexing --------------------------------------------


async def test_lazy_shared_connect_cached_tools_and_multiplexed_calls() -> None:
    marker = new_marker()
    changed: list[str] = []
    backend = Backend(spec(echo(marker)), on_tools_changed=changed.append)
    try:
        # Lazy: nothing runs before the first use.
        assert backend.state is State.IDLE
        assert backend.pid is None
        assert backend.starts == 0
        assert backend.cached_tools() is None
        assert backend.status()["state"] == "idle"
        assert marked(marker) == []

        # Concurrent first callers share one connect: one start, one process.
        results: list[list[mcp_types.Tool]] = []

        async def first_caller() -> None:
            results.append(await backend.list_tools())

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(first_caller)
        assert backend.starts == 1
        assert backend.restarts == 0
        assert len(results) == 10
        names = {t.name for t in results[0]}
        assert {"echo", "add", "sleep", "pid"} <= names
        assert all({t.name for t in r} == names for r in results)
        assert backend.state is State.READY
        pid = backend.pid
        assert pid is not None
        assert marked(marker) == [pid]

        status = backend.status()
        assert set(status) == {
            "name",
            "state",
            "pid",
            "uptime_s",
            "restarts",
            "last_error",
            "stderr_tail",
        }
        assert status["state"] == "ready"
        assert status["pid"] == pid
        assert status["uptime_s"] >= 0
        assert status["last_error"] is None

        # Cached: later lookups do not ask the server.
        cached = backend.cached_tools()
        assert cached is not None
        assert {t.name for t in cached} == names
        client = backend._client
        assert client is not None

        async def must_not_be_called(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("tools/list went to the server despite the cache")

        client.list_tools = must_not_be_called  # type: ignore[method-assign]
        try:
            assert {t.name for t in await backend.list_tools()} == names
            add = await backend.get_tool("add")
            assert add is not None
            assert add.input_schema["required"] == ["a", "b"]
            assert await backend.get_tool("no-such-tool") is None
        finally:
            del client.list_tools

        # Invalidation (what notifications/tools/list_changed does) refetches once.
        backend.invalidate_tools()
        assert backend.cached_tools() is None
        assert changed == ["echo"]
        assert {t.name for t in await backend.list_tools()} == names
        assert backend.cached_tools() is not None
        assert backend.starts == 1

        # Persistent and multiplexed: 50 x 100 ms calls overlap on one session.
        calls: list[mcp_types.CallToolResult] = []

        async def sleeper() -> None:
            calls.append(await backend.call_tool("sleep", {"seconds": 0.1}))

        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(sleeper)
        elapsed = time.monotonic() - start
        assert len(calls) == 50
        assert all(not c.is_error for c in calls)
        assert elapsed < 1.5, f"50 x 0.1 s took {elapsed:.2f}s"
        assert int(text(await backend.call_tool("pid", {}))) == pid
        assert backend.inflight == 0

        # A downstream tool error is a result, not an exception.
        failed = await backend.call_tool("fail", {"message": "nope"})
        assert failed.is_error
        assert text(failed) == "nope"

        # Progress and logs of one call reach that call's callbacks.
        progress: list[float] = []
        logs: list[Any] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append(value)

        async def on_log(message: Any) -> None:
            logs.append(message.data)

        done = await backend.call_tool(
            "progress", {"steps": 3}, progress=on_progress, on_log=on_log
        )
        assert text(done) == "done"
        assert progress == [1.0, 2.0, 3.0]
        await await_until(lambda: logs, what="the log notification")
        assert "progress done" in str(logs[0])

        # stop() ends the process; the next call starts a new one, lazily.
        await backend.stop()
        assert backend.state is State.IDLE
        assert backend.pid is None
        assert backend.cached_tools() is None
        await await_until(lambda: not alive(pid), what="the stopped server to exit")
        assert marked(marker) == []
        new_pid = int(text(await backend.call_tool("pid", {})))
        assert new_pid != pid
        assert backend.starts == 2
        assert backend.restarts == 1
        assert marked(marker) == [new_pid]
    finally:
        await backend.close()
    assert backend.state is not State.READY
    await await_until(lambda: not marked(marker), what="every echo process to exit")
    with pytest.raises(BackendUnavailableError, match="removed or replaced"):
        await backend.list_tools()


# ----- timeout --------------------------------------------------------------------------------


async def test_a_timeout_raises_and_the_session_stays_usable() -> None:
    marker = new_marker()
    backend = Backend(spec(echo(marker)))
    try:
        # The first call also pays for the server's warm-up (about 0.5 s): make it with
        # the default timeout, then apply a short one the way a config reload does.
        pid = int(text(await backend.call_tool("pid", {})))
        backend.spec = spec(echo(marker, timeout=0.5))
        start = time.monotonic()
        with pytest.raises(BackendTimeoutError) as caught:
            await backend.call_tool("sleep", {"seconds": 1.5})
        elapsed = time.monotonic() - start
        assert elapsed < 2.5, f"the 0.5 s timeout took {elapsed:.2f}s"
        assert caught.value.server == "echo"
        assert "'echo'" in str(caught.value)
        assert isinstance(caught.value, BackendError)

        # Same session, same process: no restart.
        assert backend.state is State.READY
        assert text(await backend.call_tool("echo", {"text": "still here"})) == "still here"
        assert int(text(await backend.call_tool("pid", {}))) == pid
        assert backend.starts == 1
        assert backend.inflight == 0
    finally:
        await backend.close()
    await await_until(lambda: not marked(marker), what="the echo process to exit")


# ----- failures without a process -----------------------------------------------------------


async def test_a_missing_binary_fails_to_start_then_backs_off(tmp_path: Any) -> None:
    command = str(tmp_path / "no-such-binary")
    backend = Backend(spec({"command": command}, name="ghost"))
    with pytest.raises(BackendStartError) as first:
        await backend.list_tools()
    assert "'ghost'" in str(first.value)
    assert command in str(first.value)
    assert backend.state is State.ERROR
    assert backend.last_error is not None
    assert command in backend.last_error
    assert backend.status()["state"] == "error"
    assert backend.starts == 0

    # The first retry is immediate (and fails again); the next one is backed off.
    with pytest.raises(BackendStartError):
        await backend.call_tool("anything", {})
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="next restart") as backed_off:
        await backend.call_tool("anything", {})
    assert time.monotonic() - start < 0.2  # fails fast, does not wait out the backoff
    assert command in str(backed_off.value)  # carries the last reason
    assert not backend.ready_to_retry()
    await backend.close()


async def test_an_unset_variable_never_starts_and_names_it() -> None:
    backend = Backend(spec({"command": PY, "args": ["${NOPE}"]}, name="needs-var"))
    assert backend.state is State.ERROR
    assert "NOPE" in (backend.last_error or "")
    with pytest.raises(BackendStartError) as caught:
        await backend.list_tools()
    assert "'needs-var'" in str(caught.value)
    assert "${NOPE}" in str(caught.value)
    assert backend.pid is None
    await backend.close()


async def test_a_disabled_server_is_not_started() -> None:
    marker = new_marker()
    backend = Backend(spec(echo(marker, disabled=True)))
    assert backend.state is State.DISABLED
    with pytest.raises(BackendUnavailableError, match="disabled"):
        await backend.call_tool("echo", {"text": "x"})
    assert marked(marker) == []
    await backend.close()


# ----- ProxyManager ---------------------------------------------------------------------------


async def test_manager_is_lazy_reports_failures_per_server_and_closes_them_all(
    tmp_path: Any,
) -> None:
    marker = new_marker()
    manager = ProxyManager(
        config(
            {
                "one": echo(marker),
                "ghost": {"command": str(tmp_path / "no-such-binary")},
                "off": echo(marker, disabled=True),
                "unset": {"command": PY, "args": ["${NOPE}"]},
            }
        )
    )
    try:
        assert manager.names() == ["one", "ghost", "off", "unset"]
        assert all(
            b.state in (State.IDLE, State.DISABLED, State.ERROR) for b in manager.backends.values()
        )
        assert marked(marker) == []
        with pytest.raises(UnknownServerError, match="Unknown server 'nope'"):
            manager.get("nope")

        tools, errors = await manager.tools_of(manager.names())
        assert set(tools) == {"one"}
        assert {t.name for t in tools["one"]} >= {"echo", "add"}
        assert set(errors) == {"ghost", "unset"}
        assert "no-such-binary" in errors["ghost"]
        assert "NOPE" in errors["unset"]
        pid = manager.get("one").pid
        assert pid is not None
        assert marked(marker) == [pid]  # the disabled one never started

        # A name that is not configured is skipped, not an error.
        tools, errors = await manager.tools_of(["one", "not-configured"])
        assert set(tools) == {"one"}
        assert errors == {}

        statuses = manager.status(["one", "ghost", "not-configured"])
        assert [s["name"] for s in statuses] == ["one", "ghost"]
        assert statuses[0]["state"] == "ready"
        assert statuses[1]["state"] == "error"
    finally:
        await manager.close()
    assert manager.backends == {}
    await await_until(lambda: not marked(marker), what="every echo process to exit")


# ----- wire results (the fast route) ---------------------------------------------------------


def test_a_wire_result_is_checked_whole_and_gets_its_result_type_filled_in() -> None:
    backend = Backend(spec(echo(new_marker())))
    raw = {"content": [{"type": "text", "text": "hi"}], "isError": False}
    checked = checked_wire(backend.name, raw)
    assert raw == {"content": [{"type": "text", "text": "hi"}], "isError": False, **COMPLETE}
    assert checked == mcp_types.CallToolResult.model_validate(raw)
    modern = {"content": [], "resultType": "complete", "structuredContent": {"a": 1}}
    assert checked_wire(backend.name, dict(modern)).structured_content == {"a": 1}


COMPLETE = {"resultType": "complete"}


def test_a_wire_input_required_result_is_read_for_the_front_to_carry_on() -> None:
    elicit = {"method": "elicitation/create", "params": {"message": "Name?", "mode": "form"}}
    elicit["params"]["requestedSchema"] = {"type": "object", "properties": {}}
    raw = {"resultType": "input_required", "inputRequests": {"n": elicit}, "requestState": "s"}
    result = checked_wire("echo", raw)
    assert isinstance(result, mcp_types.InputRequiredResult)
    assert result.request_state == "s" and set(result.input_requests or {}) == {"n"}


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"content": [], "resultType": "input_required"}, "invalid input_required result"),
        ({"content": [], "resultType": "weather"}, "of type 'weather'"),
        ({"content": [{"type": "hologram"}]}, "invalid result"),  # an unknown block type
        ({"content": [{"type": "text"}]}, "invalid result"),  # a block without its text
        ({"content": "hi"}, "invalid result"),
        ({"isError": False}, "invalid result"),  # no content at all
        (["not", "a", "dict"], "invalid result"),
        (None, "invalid result"),
    ],
)
def test_a_wire_result_the_front_cannot_relay_is_an_error_naming_the_server(
    raw: Any, says: str
) -> None:
    backend = Backend(spec(echo(new_marker())))
    with pytest.raises(BackendError, match=says) as caught:
        checked_wire(backend.name, raw)
    assert str(caught.value).startswith("Server 'echo' ")
