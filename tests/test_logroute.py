"""A downstream's log lines reach only the caller whose request produced them.

Two callers call the ``meet`` tool of one shared echo server at once: each
call waits for the other, logs its own line, waits until both have logged,
then answers. Neither caller may receive the other's line. A line read while
both calls are unanswered cannot be tied to one of them on stdio, so it goes
to the gateway's log; a call that is alone on the server gets its own lines.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import await_until, echo_server, start_gateway, write_policies
from fastmcp import Client
from test_backend import spec, text
from test_gateway import server_logs
from test_http_e2e import http_gateway

from agent_gateway.core.errors import BackendTimeoutError
from agent_gateway.downstream.backend import Backend

pytestmark = pytest.mark.anyio

POLICIES = {"alice": '[allow]\nservers = ["shared"]\n', "bob": '[allow]\nservers = ["shared"]\n'}


def lines_of(logs: list[Any]) -> str:
    return " ".join(str(m.data) for m in logs)


async def test_concurrent_calls_never_get_each_others_log_lines_and_a_lone_call_gets_its_own() -> (
    None
):
    backend = Backend(spec(echo_server(), "shared"))
    try:
        logs: dict[str, list[Any]] = {"alice": [], "bob": []}

        async def call(who: str, parties: int, group: str) -> None:
            async def on_log(message: Any) -> None:
                logs[who].append(message)

            args = {"text": f"secret-of-{who}-{group}", "group": group, "parties": parties}
            result = await backend.call_tool("meet", args, on_log=on_log)
            assert text(result) == args["text"]

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, "alice", 2, "together")
            tg.start_soon(call, "bob", 2, "together")
        await call("alice", 1, "alone")
        await call("bob", 1, "alone")
        await await_until(lambda: logs["alice"] and logs["bob"], what="the lone calls' lines")
        assert "secret-of-bob" not in lines_of(logs["alice"]), logs
        assert "secret-of-alice" not in lines_of(logs["bob"]), logs
        assert "secret-of-alice-alone" in lines_of(logs["alice"])
        assert "secret-of-bob-alone" in lines_of(logs["bob"])
    finally:
        await backend.close()


async def test_after_a_timed_out_call_a_lone_calls_log_lines_go_to_the_gateway_log_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The server may still be running the abandoned call: its lines must reach no one."""
    # 1 s, not less: the lone call below must finish within it on a loaded machine.
    backend = Backend(spec(echo_server(timeout=1.0), "shared"))
    try:
        with pytest.raises(BackendTimeoutError):
            await backend.call_tool("sleep", {"seconds": 3.0})
        logs: list[Any] = []

        async def on_log(message: Any) -> None:
            logs.append(message)

        with caplog.at_level(logging.INFO, logger="agent_gateway.downstream.logs"):
            args = {"text": "secret-after-timeout", "parties": 1}
            await backend.call_tool("meet", args, on_log=on_log)
            await await_until(
                lambda: "secret-after-timeout" in caplog.text, what="the gateway's log line"
            )
        assert logs == []
        assert "not tied to one call" in caplog.text
    finally:
        await backend.close()


async def _meet_from_two_clients(first: Client[Any], second: Client[Any]) -> None:
    group = uuid.uuid4().hex[:8]

    async def call(client: Client[Any], who: str, parties: int, tag: str) -> None:
        args = {"text": f"secret-of-{who}-{tag}", "group": f"{group}-{tag}", "parties": parties}
        params = {"server": "shared", "tool": "meet", "arguments": args, "agent_id": who}
        result = await client.call_tool_mcp("call_tool", params)
        assert not result.is_error, result

    async with anyio.create_task_group() as tg:
        tg.start_soon(call, first, "alice", 2, "together")
        tg.start_soon(call, second, "bob", 2, "together")
    await call(first, "alice", 1, "alone")
    await call(second, "bob", 1, "alone")


async def _two_clients_meet(url: Any, mode: str) -> dict[str, list[Any]]:
    received: dict[str, list[Any]] = {"alice": [], "bob": []}

    def handler(who: str) -> Any:
        async def on_log(message: Any) -> None:
            received[who].append(message)

        return on_log

    async with (
        Client(url, mode=mode, timeout=30, log_handler=handler("alice")) as alice,
        Client(url, mode=mode, timeout=30, log_handler=handler("bob")) as bob,
    ):
        await _meet_from_two_clients(alice, bob)
        await await_until(
            lambda: "alone" in lines_of(received["alice"]) and "alone" in lines_of(received["bob"]),
            what=f"each lone call's own log line ({mode})",
        )
    return received


async def test_over_the_http_front_each_client_gets_only_its_own_log_lines(
    tmp_path: Path,
) -> None:
    with http_gateway(tmp_path, {"shared": echo_server()}, policies=POLICIES) as gw:
        for mode in ("auto", "legacy"):  # both protocol eras of front client
            received = await _two_clients_meet(gw.url, mode)
            assert "secret-of-bob" not in lines_of(received["alice"]), (mode, received)
            assert "secret-of-alice" not in lines_of(received["bob"]), (mode, received)
        stderr = gw.stderr()
    assert "not tied to one call" in stderr


async def test_over_the_stdio_front_overlapping_calls_lines_reach_no_caller(
    tmp_path: Path,
) -> None:
    async with start_gateway(tmp_path, {"shared": echo_server()}, policies=POLICIES) as gw:
        with server_logs() as received:
            await _meet_from_two_clients(gw.client, gw.client)
            await await_until(
                lambda: " ".join(received).count("alone") == 2, what="the lone calls' log lines"
            )
            # Lines of calls that overlapped went to the gateway's log, not to a caller.
            assert "together" not in " ".join(received), received
        await await_until(lambda: "not tied to one call" in gw.stderr(), what="the gateway log")


async def test_on_fastmcps_own_route_each_client_gets_only_its_own_log_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process, with the fast route not installed: calls go through fastmcp's pipeline."""
    import os

    from agent_gateway.core.config import GatewayConfig
    from agent_gateway.core.policy import PolicySet
    from agent_gateway.downstream.manager import ProxyManager
    from agent_gateway.front import fastpath
    from agent_gateway.front.gateway import Gateway
    from agent_gateway.front.server import build_server

    monkeypatch.setattr(fastpath, "install_fast_call", lambda mcp, gateway: None)
    policies = PolicySet.from_dir(str(write_policies(tmp_path, POLICIES)), explicit=True)
    for mode in ("auto", "legacy"):  # the server's lifespan ends with its last client
        config = GatewayConfig.from_dict(
            {"mcpServers": {"shared": echo_server()}}, environ=dict(os.environ)
        )
        manager = ProxyManager(config)
        server = build_server(Gateway(manager, policies, config_path="x"))
        try:
            received = await _two_clients_meet(server, mode)
        finally:
            await manager.close()
        assert "secret-of-bob" not in lines_of(received["alice"]), (mode, received)
        assert "secret-of-alice" not in lines_of(received["bob"]), (mode, received)
