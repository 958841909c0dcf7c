"""End to end: a real ``agent-gateway serve`` over stdio in front of real MCP servers.

Each test starts one gateway (about 2 s) and checks many things through it, so
the file stays fast. The front protocol era is parametrized where the
gateway's answers travel differently (``auto`` negotiates 2026-07-28,
``legacy`` forces the initialize handshake).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types
import pytest
from conftest import (
    PY,
    alive,
    await_until,
    echo_server,
    everything_server,
    start_gateway,
    time_server,
)

pytestmark = pytest.mark.anyio

META_TOOLS = {"list_servers", "list_tools", "get_tool", "call_tool", "gateway_status"}
STATUS_KEYS = {"config", "policies", "open_mode", "agent", "reloads", "servers"}
SERVER_STATUS_KEYS = {"name", "state", "pid", "uptime_s", "restarts", "last_error", "stderr_tail"}
MODES = ["auto", "legacy"]

# ----- helpers ------------------------------------------------------------------------------


async def meta(gw: Any, meta_tool: str, /, **arguments: Any) -> mcp_types.CallToolResult:
    """Call a meta-tool (``Gateway.call`` cannot take an argument named ``tool``)."""
    return await gw.client.call_tool_mcp(meta_tool, arguments)


async def meta_data(gw: Any, meta_tool: str, /, **arguments: Any) -> dict[str, Any]:
    result = await meta(gw, meta_tool, **arguments)
    assert not result.is_error, f"{meta_tool} failed: {text(result)}\n{gw.stderr()}"
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def text(result: mcp_types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, mcp_types.TextContent))


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def server_logs() -> Iterator[list[str]]:
    """Log notifications the test's client receives.

    conftest's client uses fastmcp's default log handler, which logs every
    received notification to ``fastmcp.client.from_server``; listen there.
    """
    log = logging.getLogger("fastmcp.client.from_server")
    handler = _Records()
    old_level = log.level
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    try:
        yield handler.messages
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)


async def call_with_progress(
    gw: Any, server: str, tool: str, arguments: dict[str, Any]
) -> tuple[mcp_types.CallToolResult, list[tuple[float, float | None, str | None]]]:
    events: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        events.append((progress, total, message))

    result = await gw.client.call_tool_mcp(
        "call_tool",
        {"server": server, "tool": tool, "arguments": arguments},
        progress_handler=on_progress,
    )
    return result, events


def missing_server(tmp_path: Path) -> dict[str, Any]:
    return {"command": str(tmp_path / "no-such-binary")}


UNSET = {"command": PY, "args": ["${NOPE}"]}


# ----- the meta-tools, end to end -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_meta_tools_end_to_end(tmp_path: Path, mode: str) -> None:
    servers = {
        "echo": echo_server(),
        "time": time_server(description="Current time and timezone conversion."),
        "missing": missing_server(tmp_path),
        "unset": UNSET,
    }
    async with start_gateway(tmp_path, servers, mode=mode) as gw:
        await _front_surface(gw, list(servers))
        await _progress_and_logs(gw)  # on the call that starts the server
        await _discovery(gw)
        await _errors(gw, tmp_path)
        await _pass_through(gw)
        await _progress_and_logs(gw)  # the server was started by an earlier request
        await _persistent_and_multiplexed(gw)
        pids = await gw.pids()
        assert set(pids) == {"echo", "time"}
    # Leaving the block closed the gateway's stdin: its servers end with it.
    for name, pid in pids.items():
        await await_until(lambda pid=pid: not alive(pid), what=f"{name} (pid {pid}) to exit")


async def _front_surface(gw: Any, names: list[str]) -> None:
    # tools/list: exactly the five meta-tools, small, required params marked.
    tools = await gw.client.list_tools()
    assert {t.name for t in tools} == META_TOOLS
    assert len(tools) == 5
    listing = json.dumps(
        [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]
    )
    assert len(listing) < 3000, len(listing)
    schemas = {t.name: t.input_schema for t in tools}
    for name in ("get_tool", "call_tool"):
        assert {"server", "tool"} <= set(schemas[name].get("required", [])), name
    for name in META_TOOLS:
        assert "agent_id" in schemas[name]["properties"], name
        assert "agent_id" not in schemas[name].get("required", []), name
    assert not schemas["list_tools"].get("required")

    # list_servers before any use: idle, no tool count yet.
    listed = await meta_data(gw, "list_servers")
    assert [s["name"] for s in listed["servers"]] == names
    for entry in listed["servers"]:
        assert set(entry) == {"name", "description", "state", "tools", "error"}
    before = by_name(listed["servers"])
    assert before["echo"]["state"] == "idle"
    assert before["time"]["state"] == "idle"
    assert before["echo"]["tools"] is None
    assert before["echo"]["error"] is None
    assert before["time"]["description"] == "Current time and timezone conversion."

    # gateway_status: exact keys, open mode, nothing running yet.
    status = await meta_data(gw, "gateway_status")
    assert set(status) == STATUS_KEYS
    assert status["open_mode"] is True
    assert status["agent"] is None
    assert Path(status["config"]).resolve() == gw.config.resolve()
    assert isinstance(status["reloads"], list)
    assert [s["name"] for s in status["servers"]] == names
    for entry in status["servers"]:
        assert set(entry) == SERVER_STATUS_KEYS
    echo = by_name(status["servers"])["echo"]
    assert echo["pid"] is None
    assert echo["state"] == "idle"
    assert echo["restarts"] == 0


async def _progress_and_logs(gw: Any) -> None:
    """The downstream's progress and log notifications reach the caller of call_tool."""
    with server_logs() as logs:
        result, events = await call_with_progress(gw, "echo", "progress", {"steps": 4})
        assert not result.is_error, text(result)
        assert text(result) == "done"
        assert len(events) >= 3, events
        assert [e[0] for e in events] == [1.0, 2.0, 3.0, 4.0]
        assert events[0][1] == 4.0
        assert events[0][2] == "step 1"
        await await_until(
            lambda: any("progress done" in m for m in logs),
            what="the downstream's log notification",
        )


async def _discovery(gw: Any) -> None:
    # list_tools over all servers: the broken ones land in errors, never fail the call.
    everything = await meta_data(gw, "list_tools")
    assert set(everything) >= {"tools", "total", "truncated", "errors"}
    pairs = [(t["server"], t["name"]) for t in everything["tools"]]
    assert ("echo", "add") in pairs
    assert ("time", "get_current_time") in pairs
    assert ("time", "convert_time") in pairs
    assert everything["total"] == len(pairs)
    assert everything["truncated"] is False
    errors = {e["server"]: e["error"] for e in everything["errors"]}
    assert set(errors) == {"missing", "unset"}
    assert "no-such-binary" in errors["missing"]
    assert "${NOPE}" in errors["unset"]
    for tool in everything["tools"]:
        assert set(tool) == {"server", "name", "summary", "sig"}
        assert len(tool["summary"]) <= 160
    summaries = {(t["server"], t["name"]): t["summary"] for t in everything["tools"]}
    sigs = {(t["server"], t["name"]): t["sig"] for t in everything["tools"]}
    assert sigs[("echo", "add")] == "a: int, b: int"
    assert sigs[("echo", "progress")] == "steps?: int"
    assert sigs[("echo", "pid")] == ""
    assert sigs[("time", "get_current_time")] == "timezone: str"
    assert summaries[("echo", "add")] == "Add two integers."
    assert summaries[("echo", "mixed")] == (
        "Return text, an image, an embedded resource and a resource link."
    )

    # After use: ready, with tool counts; the broken ones report their error.
    after = by_name((await meta_data(gw, "list_servers"))["servers"])
    assert after["echo"]["state"] == "ready"
    assert after["time"]["state"] == "ready"
    assert after["time"]["tools"] == 2
    assert after["echo"]["tools"] == sum(1 for s, _ in pairs if s == "echo")
    assert after["missing"]["state"] == "error"
    assert "no-such-binary" in after["missing"]["error"]
    assert after["unset"]["state"] == "error"
    assert "NOPE" in after["unset"]["error"]

    # One server; ranking; limit.
    only_time = await meta_data(gw, "list_tools", server="time")
    assert [t["name"] for t in only_time["tools"]] == ["get_current_time", "convert_time"]
    assert only_time["errors"] == []
    for query, expected in [
        ("current time", ("time", "get_current_time")),
        ("add two numbers", ("echo", "add")),
        ("convert timezone", ("time", "convert_time")),
        ("image", ("echo", "image")),
    ]:
        ranked = await meta_data(gw, "list_tools", query=query)
        first = ranked["tools"][0]
        assert (first["server"], first["name"]) == expected, (query, ranked["tools"][:3])
        assert "sig" in first, first  # a search hit is callable without get_tool
    nothing = await meta_data(gw, "list_tools", query="xyzzy quux")
    assert nothing["tools"] == []
    assert nothing["total"] == 0
    assert nothing["truncated"] is False
    limited = await meta_data(gw, "list_tools", limit=3)
    assert len(limited["tools"]) == 3
    assert limited["truncated"] is True
    assert limited["total"] == everything["total"]
    exact = await meta_data(gw, "list_tools", server="time", limit=2)
    assert exact["truncated"] is False
    assert exact["total"] == 2

    # get_tool: the full definition.
    add = await meta_data(gw, "get_tool", server="echo", tool="add")
    assert set(add) >= {"name", "description", "inputSchema", "outputSchema", "annotations"}
    assert add["name"] == "add"
    assert add["description"] == "Add two integers."
    assert set(add["inputSchema"]["required"]) == {"a", "b"}
    assert add["inputSchema"]["properties"]["a"]["type"] == "integer"
    now = await meta_data(gw, "get_tool", server="time", tool="get_current_time")
    assert now["inputSchema"]["required"] == ["timezone"]
    assert "datetime" in now["outputSchema"]["properties"]
    assert now["annotations"]["readOnlyHint"] is True

    # mcp-server-time (a real PyPI server, modern era) answers through the gateway.
    utc = await gw.downstream("time", "get_current_time", timezone="UTC")
    assert not utc.is_error, text(utc)
    assert utc.structured_content["timezone"] == "UTC"
    assert utc.structured_content["datetime"].endswith("+00:00")


async def _errors(gw: Any, tmp_path: Path) -> None:
    """Errors are tool errors with a next step; the good servers keep working."""
    for tool, args in [
        ("call_tool", {"server": "x", "tool": "echo"}),
        ("get_tool", {"server": "x", "tool": "echo"}),
        ("list_tools", {"server": "x"}),
    ]:
        result = await meta(gw, tool, **args)
        assert result.is_error, tool
        assert "Unknown server 'x'" in text(result), tool
        assert "list_servers()" in text(result), tool
    for tool in ("call_tool", "get_tool"):
        result = await meta(gw, tool, server="echo", tool="nope")
        assert result.is_error
        assert "Unknown tool 'nope'" in text(result)
        assert "list_tools(server='echo')" in text(result)
    missing = await gw.downstream("missing", "anything")
    assert missing.is_error
    assert "'missing'" in text(missing)
    assert str(tmp_path / "no-such-binary") in text(missing)
    unset = await gw.downstream("unset", "anything")
    assert unset.is_error
    assert "'unset'" in text(unset)
    assert "${NOPE}" in text(unset)

    added = await gw.downstream("echo", "add", a=2, b=3)
    assert not added.is_error
    assert text(added) == "5"
    assert not (await gw.downstream("time", "get_current_time", timezone="UTC")).is_error


async def _pass_through(gw: Any) -> None:
    image = await gw.downstream("echo", "image")
    assert not image.is_error
    assert [c.type for c in image.content] == ["image"]
    assert image.content[0].mime_type == "image/png"
    assert image.content[0].data.startswith("iVBORw0KGgo")

    structured = await gw.downstream("echo", "structured")
    assert not structured.is_error
    assert structured.structured_content == {"temperature": 21.5, "unit": "C"}

    mixed = await gw.downstream("echo", "mixed")
    assert not mixed.is_error
    assert [c.type for c in mixed.content] == ["text", "image", "resource", "resource_link"]
    text_block, image_block, resource, link = mixed.content
    assert text_block.text == "some text"
    assert image_block.mime_type == "image/png"
    assert str(resource.resource.uri) == "echo://embedded"
    assert resource.resource.text == "embedded text"
    assert str(link.uri) == "echo://greeting"
    assert link.name == "greeting"

    with_meta = await gw.downstream("echo", "with_meta")
    assert not with_meta.is_error
    assert with_meta.meta is not None
    assert with_meta.meta.get("trace") == "abc"
    assert with_meta.structured_content == {"ok": True}

    failed = await gw.downstream("echo", "fail", message="it broke")
    assert failed.is_error
    assert text(failed) == "it broke"


async def _persistent_and_multiplexed(gw: Any) -> None:
    # Persistent: one process serves every call.
    first = await gw.downstream("echo", "pid")
    second = await gw.downstream("echo", "pid")
    assert text(first) == text(second)
    assert int(text(first)) == (await gw.pids())["echo"]

    # Multiplexed: 20 overlapping half-second calls take about half a second.
    results: list[mcp_types.CallToolResult] = []

    async def one() -> None:
        results.append(await gw.downstream("echo", "sleep", seconds=0.5))

    start = time.monotonic()
    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(one)
    elapsed = time.monotonic() - start
    assert len(results) == 20
    assert all(not r.is_error for r in results)
    assert elapsed < 1.5, f"20 x sleep(0.5) took {elapsed:.2f}s"
    assert int(text(await gw.downstream("echo", "pid"))) == int(text(first))


# ----- server-everything (npm) and cleanup ----------------------------------------------------


async def test_everything_server_through_the_gateway_then_cleanup_on_eof(tmp_path: Path) -> None:
    """server-everything (Node SDK 1.x) speaks only the handshake era downstream."""
    async with start_gateway(tmp_path, {"ev": everything_server()}) as gw:
        image_tool = await meta_data(gw, "get_tool", server="ev", tool="get-tiny-image")
        assert image_tool["inputSchema"].get("required", []) == []
        weather_tool = await meta_data(gw, "get_tool", server="ev", tool="get-structured-content")
        assert weather_tool["inputSchema"]["required"] == ["location"]
        assert "Chicago" in weather_tool["inputSchema"]["properties"]["location"]["enum"]
        assert set(weather_tool["outputSchema"]["required"]) == {
            "temperature",
            "conditions",
            "humidity",
        }
        long_tool = await meta_data(
            gw, "get_tool", server="ev", tool="trigger-long-running-operation"
        )
        assert {"duration", "steps"} <= set(long_tool["inputSchema"]["properties"])
        research = await meta_data(gw, "get_tool", server="ev", tool="simulate-research-query")
        assert research["execution"] == {"taskSupport": "required"}  # runs only as a task

        image = await gw.downstream("ev", "get-tiny-image")
        assert not image.is_error, text(image)
        images = [c for c in image.content if c.type == "image"]
        assert len(images) == 1
        assert images[0].mime_type == "image/png"
        assert images[0].data

        weather = await gw.downstream("ev", "get-structured-content", location="Chicago")
        assert not weather.is_error, text(weather)
        assert set(weather.structured_content) == {"temperature", "conditions", "humidity"}

        done, events = await call_with_progress(
            gw, "ev", "trigger-long-running-operation", {"duration": 0.3, "steps": 3}
        )
        assert not done.is_error, text(done)
        assert "completed" in text(done)
        assert len(events) >= 3, events
        assert events[-1][:2] == (3, 3)

        pids = await gw.pids()
        assert set(pids) == {"ev"}
        assert all(alive(p) for p in pids.values())
        gateway_pid = gw.pid
    # Leaving the block closed the gateway's stdin (EOF).
    for name, pid in pids.items():
        await await_until(lambda pid=pid: not alive(pid), what=f"{name} (pid {pid}) to exit")
    await await_until(lambda: not alive(gateway_pid), what="the gateway to exit")


# ----- signals ------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
async def test_a_signal_to_the_gateway_stops_every_downstream(
    tmp_path: Path, sig: signal.Signals
) -> None:
    servers = {"echo": echo_server(), "ev": everything_server()}
    async with start_gateway(tmp_path, servers) as gw:
        assert (await meta_data(gw, "list_tools"))["errors"] == []
        pids = await gw.pids()
        assert set(pids) == {"echo", "ev"}
        assert all(alive(p) for p in pids.values())
        gateway_pid = gw.pid
        os.kill(gateway_pid, sig)
        # The gateway's stdin is still open: the signal alone must stop the servers ...
        for name, pid in pids.items():
            await await_until(lambda pid=pid: not alive(pid), what=f"{name} (pid {pid}) to exit")
        if sig == signal.SIGTERM:
            # ... and end the gateway itself (SIGINT takes the same path; skip the wait).
            await await_until(lambda: not alive(gateway_pid), what="the gateway to exit")
    await await_until(lambda: not alive(gateway_pid), what="the gateway to exit")
