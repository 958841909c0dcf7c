from __future__ import annotations

from pathlib import Path

import pytest
from conftest import alive, echo_server, start_gateway, wait_until

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_call_reaches_the_downstream_and_its_process_ends_with_the_gateway(
    tmp_path: Path, mode: str
) -> None:
    async with start_gateway(tmp_path, {"echo": echo_server()}, mode=mode) as gw:
        result = await gw.downstream("echo", "echo", text="hi")
        assert not result.is_error
        assert result.content[0].text == "hi"
        pid = (await gw.pids())["echo"]
        assert alive(pid)
    wait_until(lambda: not alive(pid), what="the echo server to exit")
