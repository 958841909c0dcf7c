"""A caller's cancel of a call reaches the downstream (notifications/cancelled), on both routes."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from conftest import await_until, echo_server, start_gateway

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("fast_route", "mode"), [("1", "legacy"), ("0", "legacy"), ("1", "auto")])
async def test_a_cancelled_call_is_cancelled_downstream_and_the_gateway_stops_waiting(
    tmp_path: Path, fast_route: str, mode: str
) -> None:
    marker = tmp_path / "cancelled.txt"
    servers = {"e": echo_server(env={"ECHO_CANCEL_MARKER": str(marker)})}
    env = {"AGENT_GATEWAY_FAST_ROUTE": fast_route}
    async with start_gateway(tmp_path, servers, env=env, mode=mode) as gw:
        await gw.downstream("e", "echo", text="warm")  # started, so the cancel is the call's
        started = time.monotonic()
        with anyio.move_on_after(1.0) as scope:
            await gw.downstream("e", "sleep", seconds=30)
        assert scope.cancelled_caught
        await await_until(marker.exists, timeout=10, what="the downstream to see the cancel")
        assert time.monotonic() - started < 10
        # the gateway is free for the next call at once
        result = await gw.downstream("e", "echo", text="after")
        assert not result.is_error
