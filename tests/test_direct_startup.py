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
from conftest import alive, await_until, echo_server, start_gateway

READY_TIMEOUT = 40.0


async def direct_tools(client: Any) -> set[str]:
    return {t.name for t in await client.list_tools()}


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
