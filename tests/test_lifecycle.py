"""Lifecycle of downstream servers under cancellation, reloads and shutdown, with real servers.

Shared starts outlive an impatient caller; tool-list fetches are tracked and
never install a stale list; a reload hands a waiting call to the replacement;
shutdown does not wait out drain grace; one slow server never holds up the others.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import mcp_types
import pytest
from conftest import await_until, marked, py_server, start_gateway, write_config

from agent_gateway.core.config import GatewayConfig, ServerSpec
from agent_gateway.core.errors import BackendError
from agent_gateway.downstream.backend import Backend, State
from agent_gateway.downstream.manager import ProxyManager

pytestmark = pytest.mark.anyio


def new_marker() -> str:
    return f"lc-{uuid.uuid4().hex[:12]}"


def faulty(mode: str, marker: str, *args: str, **extra: Any) -> dict[str, Any]:
    return py_server("faulty_server.py", "--mode", mode, "--name", marker, *args, **extra)


def echo(marker: str, **extra: Any) -> dict[str, Any]:
    return py_server("echo_server.py", "--name", marker, **extra)


def config(servers: dict[str, Any]) -> GatewayConfig:
    return GatewayConfig.from_dict({"mcpServers": servers}, environ={"HOME": "/tmp"})


def spec(entry: dict[str, Any], name: str = "s") -> ServerSpec:
    return config({name: entry}).servers[name]


def text(result: mcp_types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, mcp_types.TextContent))


def starts(count: Path) -> int:
    return len(count.read_text().splitlines()) if count.exists() else 0


# ----- shared start ---------------------------------------------------------------------------


async def test_a_cancelled_caller_never_cancels_the_start_another_caller_waits_on(
    tmp_path: Path,
) -> None:
    marker, count = new_marker(), tmp_path / "starts"
    entry = faulty("slow-start", marker, "--delay", "1", "--count-file", str(count))
    backend = Backend(spec(entry))
    try:
        cancelled_at = 0.0
        with anyio.move_on_after(30) as impatient:
            async with anyio.create_task_group() as tg:
                tg.start_soon(backend.call_tool, "pid", {})
                await await_until(lambda: starts(count) == 1, what="the server to be spawned")
                cancelled_at = time.monotonic()
                tg.cancel_scope.cancel()  # the only caller gives up
        assert not impatient.cancelled_caught
        assert time.monotonic() - cancelled_at < 0.5, "the cancelled caller waited for the start"
        # The start goes on, still shared: the next caller joins it.
        assert backend.state is State.CONNECTING
        tools = await backend.list_tools()
        assert {t.name for t in tools} >= {"echo", "pid"}
        assert starts(count) == 1, "the server was spawned twice"
        assert backend.starts == 1
        assert len(marked(marker)) == 1
    finally:
        await backend.close()
    await await_until(lambda: not marked(marker), what="the server to exit")


# ----- tool-list fetches ----------------------------------------------------------------------


async def test_a_tools_list_changed_during_a_fetch_is_not_lost() -> None:
    marker = new_marker()
    backend = Backend(spec(faulty("slow-list", marker, "--delay", "0.3")))
    try:
        await backend.call_tool("pid", {})  # started; no tool list fetched yet
        async with anyio.create_task_group() as tg:
            tg.start_soon(backend.list_tools)
            await anyio.lowlevel.checkpoint()  # the fetch has begun
            backend.invalidate_tools()  # what notifications/tools/list_changed does
        assert backend.cached_tools() is None, "a fetch from before the change was cached"
        assert {t.name for t in await backend.list_tools()} >= {"echo", "pid"}
        assert backend.cached_tools() is not None
    finally:
        await backend.close()


async def test_a_stop_during_a_tool_list_fetch_ends_the_fetch_quietly() -> None:
    marker = new_marker()
    backend = Backend(spec(faulty("slow-list", marker, "--delay", "30")))
    try:
        await backend.call_tool("pid", {})
        with anyio.move_on_after(0.2) as waited:  # the only caller gives up; the fetch goes on
            await backend.list_tools()
        assert waited.cancelled_caught
        with anyio.fail_after(5):
            await backend.stop()
        # A fetch that outlived its stop would fail on the closed session and
        # report "Task exception was never retrieved" (the conftest fixture fails
        # the test on it); one that is cancelled is gone at once.
        await await_until(
            lambda: backend._tools_fetch is None or backend._tools_fetch.done(),
            timeout=2,
            what="the tool-list fetch to end with the stop",
        )
    finally:
        await backend.close()


# ----- reloads and shutdown -------------------------------------------------------------------


async def test_a_call_waiting_on_a_start_that_a_reload_replaces_goes_to_the_replacement(
    tmp_path: Path,
) -> None:
    marker, count = new_marker(), tmp_path / "starts"
    old = faulty("slow-start", marker, "--delay", "30", "--count-file", str(count))
    manager = ProxyManager(config({"s": old}), drain_grace=30)
    try:
        stale = manager.get("s")
        results: list[mcp_types.CallToolResult] = []

        async def caller() -> None:
            results.append(await stale.call_tool("pid", {}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(caller)
            await await_until(lambda: starts(count) == 1, what="the old server to be spawned")
            manager.apply(config({"s": echo(marker)}))
        replacement = manager.get("s")
        assert replacement is not stale
        assert int(text(results[0])) == replacement.pid
        # A call that resolved the old backend before the reload goes there too.
        assert int(text(await stale.call_tool("pid", {}))) == replacement.pid
        assert replacement.inflight == 0
    finally:
        with anyio.fail_after(10):
            await manager.close()
    await await_until(lambda: not marked(marker), what="every server to exit")


async def test_shutdown_closes_servers_still_draining_after_a_reload_at_once() -> None:
    marker = new_marker()
    manager = ProxyManager(config({"s": echo(marker)}), drain_grace=30)
    outcome: list[Any] = []

    async def long_call() -> None:
        try:
            outcome.append(await manager.get("s").call_tool("sleep", {"seconds": 30}))
        except BackendError as exc:  # the shutdown ends it; what matters is how fast
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(long_call)
        await await_until(lambda: manager.get("s").inflight == 1, what="the call to be in flight")
        manager.apply(config({"s": echo(marker, env={"CHANGED": "1"})}))
        start = time.monotonic()
        with anyio.fail_after(5):
            await manager.close()
        elapsed = time.monotonic() - start
    assert elapsed < 5
    assert len(outcome) == 1
    await await_until(lambda: not marked(marker), what="every server to exit")


# ----- one slow server never holds up the others ---------------------------------------------


async def test_listing_all_servers_reports_a_slow_one_in_errors_and_answers_promptly(
    tmp_path: Path,
) -> None:
    marker = new_marker()
    manager = ProxyManager(
        config(
            {
                "fast": echo(marker),
                "slow-start": faulty("slow-start", marker, "--delay", "30"),
                "slow-list": faulty("slow-list", marker, "--delay", "30"),
            }
        )
    )
    manager.list_wait = 1.0
    try:
        await manager.get("fast").list_tools()
        await manager.get("slow-list").call_tool("pid", {})
        start = time.monotonic()
        with anyio.fail_after(5):
            tools, errors = await manager.tools_of(manager.names())
        assert time.monotonic() - start < 3
        assert set(tools) == {"fast"}
        assert set(errors) == {"slow-start", "slow-list"}
        assert "'slow-start'" in errors["slow-start"]
        assert "list_tools(server='slow-start')" in errors["slow-start"]
        # The slow start goes on in the background: it is not started again.
        assert manager.get("slow-start").state.value == "connecting"
    finally:
        with anyio.fail_after(10):
            await manager.close()
    await await_until(lambda: not marked(marker), what="every server to exit")


async def test_direct_mode_starts_a_server_added_while_another_is_still_starting(
    tmp_path: Path,
) -> None:
    slow = faulty("slow-start", new_marker(), "--delay", "30")
    async with start_gateway(tmp_path, {"slow": slow}, args=["--expose", "direct"]) as gw:
        write_config(tmp_path, {"slow": slow, "b": echo(new_marker())})

        async def b_listed() -> bool:
            return any(t.name == "b__echo" for t in await gw.client.list_tools())

        await await_until(b_listed, timeout=10, what="b's tools to be listed")
