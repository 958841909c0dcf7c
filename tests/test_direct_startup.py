"""Direct mode for clients that list once: servers still starting, idle servers.

Many clients call ``tools/list`` once and ignore ``list_changed``. The first
list waits for visible servers still starting (``--list-wait``, default 5 s);
a call to a direct name whose server is still starting waits for it. And in
direct and both modes ``idleTimeout`` does not apply: the tools stay listed
and the process stays up.

A gated server starts only once the test creates its gate file, so "still
starting" lasts exactly as long as the test wants; the test opens the gate
once the gateway has logged that it waits.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import PY, SERVERS, Gateway, alive, await_until, echo_server, start_gateway

READY_TIMEOUT = 40.0
# Runs the rest of its command line once the file named first exists.
GATE = """\
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


def gated_server(folder: Path) -> tuple[dict[str, Any], Path]:
    """An echo server that starts once the returned file exists."""
    script = folder / "gate.py"
    script.write_text(GATE)
    gate = folder / "go"
    return {"command": PY, "args": [str(script), str(gate), str(SERVERS / "echo_server.py")]}, gate


async def direct_tools(client: Any) -> set[str]:
    return {t.name for t in await client.list_tools()}


async def logged(gw: Gateway, text: str) -> None:
    await await_until(lambda: text in gw.stderr(), READY_TIMEOUT, repr(text))


@pytest.mark.anyio
async def test_the_first_tools_list_waits_for_a_server_still_starting(tmp_path: Path) -> None:
    gated, gate = gated_server(tmp_path)
    servers = {"slow": gated, "a": echo_server()}
    args = ["--expose", "direct", "--list-wait", "60"]  # a loaded machine starts slowly
    async with start_gateway(tmp_path, servers, args=args) as gw:
        tools: set[str] = set()

        async def list_once() -> None:  # the one and only list such a client makes
            tools.update(await direct_tools(gw.client))

        async with anyio.create_task_group() as tg:
            tg.start_soon(list_once)
            await logged(gw, "tools/list waits")
            assert not tools
            gate.touch()  # only now can slow start: the list is waiting for it
        assert {"slow__echo", "slow__pid", "a__echo"} <= tools, sorted(tools)


@pytest.mark.anyio
async def test_list_wait_bounds_the_first_list_and_a_call_waits_for_its_server(
    tmp_path: Path,
) -> None:
    gated, gate = gated_server(tmp_path)
    args = ["--expose", "direct", "--list-wait", "0.2"]
    async with start_gateway(tmp_path, {"slow": gated}, args=args) as gw:
        assert await direct_tools(gw.client) == set()  # it waited 0.2 s, then answered
        # a name no starting server could have answers at once, like any unknown tool
        missing = await gw.client.call_tool_mcp("other__echo", {"text": "x"})
        assert missing.is_error and missing.content[0].text == "Unknown tool: 'other__echo'"
        # the name is not listed yet, but its server is starting: the call waits for it
        results = []

        async def call() -> None:
            results.append(await gw.client.call_tool_mcp("slow__echo", {"text": "waited"}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await logged(gw, "Calling 'slow__echo' waits")
            gate.touch()
        [result] = results
        assert not result.is_error, result
        assert result.content[0].text == "waited"


@pytest.mark.anyio
@pytest.mark.parametrize("expose", ["direct", "both"])
async def test_idle_timeout_does_not_stop_servers_in_direct_mode(
    tmp_path: Path, expose: str
) -> None:
    servers = {"a": echo_server(idleTimeout=0.3)}
    async with start_gateway(tmp_path, servers, args=["--expose", expose]) as gw:

        async def listed() -> bool:
            return "a__pid" in await direct_tools(gw.client)

        await await_until(listed, READY_TIMEOUT, "a's tools")
        first = await gw.client.call_tool_mcp("a__pid", {})
        pid = int(first.content[0].text)
        # Watch well past the idle time (the reaper looks every second): the process
        # stays up and the tools stay listed. Listing does not count as a use.
        until = time.monotonic() + 2.5
        while time.monotonic() < until:
            assert alive(pid), f"server a (pid {pid}) was stopped\n{gw.stderr()}"
            assert await listed(), "a's tools vanished"
            await anyio.sleep(0.1)
        again = await gw.client.call_tool_mcp("a__pid", {})
        assert int(again.content[0].text) == pid
        assert "Stopping idle server" not in gw.stderr()
        assert "idleTimeout does not apply in direct mode: 'a' stay started." in gw.stderr()


@pytest.mark.anyio
async def test_a_failing_server_in_direct_mode_logs_one_line_per_attempt(tmp_path: Path) -> None:
    bad = {"command": PY, "args": [str(SERVERS / "faulty_server.py"), "--mode", "start-crash"]}
    async with start_gateway(tmp_path, {"bad": bad}, args=["--expose", "direct"]) as gw:
        await logged(gw, "could not start")
        lines = gw.stderr().splitlines()
        records = [line for line in lines if "could not start" in line and " DEBUG " not in line]
        # One record per attempt, the full one: the reason and the server's last stderr lines.
        assert records, lines
        assert all("WARNING" in r and "Server 'bad' could not start" in r for r in records), records
        assert "fatal: missing API key FAKE_KEY" in gw.stderr()
