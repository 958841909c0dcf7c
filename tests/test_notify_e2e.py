"""Clients are told when what they can see changes: tools/list_changed in both protocol eras.

Handshake-era clients get ``notifications/tools/list_changed`` on their
connection; 2026-07-28 clients get ``ToolsListChanged`` on a
``subscriptions/listen`` stream. A real gateway subprocess, real reloads.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mcp_types
import pytest
from conftest import PY, REPO, SERVERS, await_until, echo_server, write_config, write_policies
from fastmcp import Client
from fastmcp.client.messages import MessageHandler
from mcp.client.subscriptions import ToolsListChanged, listen
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from agent_gateway.downstream.stdio import StdioProcessTransport
from agent_gateway.front.notify import Notifier

pytestmark = pytest.mark.anyio

# Holds a downstream server back until a file exists, so a test decides when it becomes ready.
GATE = """\
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


class Changes(MessageHandler):
    """Counts tools/list_changed notifications and signals each one."""

    def __init__(self) -> None:
        self.count = 0
        self.event = asyncio.Event()

    async def on_tool_list_changed(self, message: mcp_types.ToolListChangedNotification) -> None:
        self.count += 1
        self.event.set()

    async def next(self, timeout: float = 15.0) -> None:
        """Wait (with a deadline) for a notification after the last call, then re-arm."""
        await await_until(self.event.is_set, timeout, "notifications/tools/list_changed")
        self.event.clear()


@dataclass
class Front:
    client: Client[Any]
    transport: StdioProcessTransport
    changes: Changes = field(default_factory=Changes)

    def stderr(self) -> str:
        return "\n".join(self.transport.stderr)

    async def servers(self) -> list[str]:
        result = await self.client.call_tool_mcp("list_servers", {})
        assert not result.is_error, result.content
        return [s["name"] for s in result.structured_content["servers"]]

    async def direct_tools(self) -> set[str]:
        return {t.name for t in await self.client.list_tools() if "__" in t.name}


@asynccontextmanager
async def connect(
    folder: Path,
    servers: Mapping[str, Any],
    *,
    mode: str,
    args: Sequence[str] = (),
    policies: Mapping[str, str] | None = None,
) -> AsyncIterator[Front]:
    """Like conftest's start_gateway, with a message handler that records list_changed."""
    config = write_config(folder, servers)
    argv = ["-m", "agent_gateway", "serve", "--config", str(config), "--log-level", "debug"]
    if policies is not None:
        argv += ["--policies", str(write_policies(folder, policies))]
    env = {"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}  # this checkout's code
    if "COVERAGE_PROCESS_START" in os.environ:
        env["COVERAGE_PROCESS_START"] = os.environ["COVERAGE_PROCESS_START"]
    transport = StdioProcessTransport("gateway", PY, [*argv, *args], env, str(folder))
    changes = Changes()
    client: Client[Any] = Client(transport, mode=mode, timeout=60, message_handler=changes)
    try:
        async with client:
            yield Front(client, transport, changes)
    except BaseException:
        sys.stderr.write("---- gateway stderr ----\n" + "\n".join(transport.stderr) + "\n")
        raise


async def test_a_legacy_client_is_told_when_a_reload_adds_a_server(tmp_path: Path) -> None:
    async with connect(tmp_path, {"a": echo_server()}, mode="legacy") as gw:
        caps = gw.client.server_capabilities
        assert caps is not None and caps.tools is not None and caps.tools.list_changed
        assert await gw.servers() == ["a"]

        write_config(tmp_path, {"a": echo_server(), "b": echo_server()})
        await gw.changes.next()
        # The notification comes after the change is applied: listing again shows it.
        assert await gw.servers() == ["a", "b"]


async def test_direct_mode_tells_the_client_when_a_server_becomes_ready(tmp_path: Path) -> None:
    gate_script = tmp_path / "gate.py"
    gate_script.write_text(GATE)
    gate = tmp_path / "go"
    slow = {"command": PY, "args": [str(gate_script), str(gate), str(SERVERS / "echo_server.py")]}
    args = ["--expose", "direct", "--list-wait", "0"]  # a first list does not wait for it
    async with connect(tmp_path, {"echo": slow}, mode="legacy", args=args) as gw:
        assert await gw.direct_tools() == set()  # held back: not ready yet
        gw.changes.event.clear()

        gate.touch()

        async def listed_after_a_notification() -> bool:
            await gw.changes.next()
            return "echo__echo" in await gw.direct_tools()

        await await_until(listed_after_a_notification, 20, "echo__ tools after a notification")
        assert {"echo__echo", "echo__add"} <= await gw.direct_tools()


async def test_a_2026_client_hears_of_a_reload_on_a_listen_stream(tmp_path: Path) -> None:
    async with connect(tmp_path, {"a": echo_server()}, mode="auto") as gw:
        session = gw.client.session
        assert session.protocol_version in MODERN_PROTOCOL_VERSIONS
        caps = gw.client.server_capabilities
        assert caps is not None and caps.tools is not None and caps.tools.list_changed
        async with listen(session, tools_list_changed=True) as sub:
            assert sub.honored.tools_list_changed
            write_config(tmp_path, {"a": echo_server(), "b": echo_server()})
            event = await asyncio.wait_for(anext(sub), 15)
        assert isinstance(event, ToolsListChanged)
        assert await gw.servers() == ["a", "b"]
        # The SDK client also tees listen events to message_handler (on_tool_list_changed).
        assert gw.changes.count >= 1


POLICY = 'description = "anyone"\n[allow]\nservers = [{servers}]\n'


async def test_a_policy_edit_notifies_too(tmp_path: Path) -> None:
    servers = {"a": echo_server(), "b": echo_server()}
    policies = {"default": POLICY.format(servers='"a"')}
    async with connect(tmp_path, servers, mode="legacy", policies=policies) as gw:
        assert await gw.servers() == ["a"]

        default = tmp_path / "policies" / "default.toml"
        tmp = tmp_path / "policies" / "default.toml.tmp"
        tmp.write_text(POLICY.format(servers='"a", "b"'))
        tmp.replace(default)

        await gw.changes.next()
        assert await gw.servers() == ["a", "b"]


# ----- the notifier in process ---------------------------------------------------------


class FakeConnection:
    def __init__(self, *, dead: bool = False) -> None:
        self.dead = dead
        self.sent = 0

    async def send_tool_list_changed(self) -> None:
        if self.dead:
            raise RuntimeError("stream closed")
        self.sent += 1


async def test_a_burst_of_changes_is_one_notification_and_dead_connections_are_dropped() -> None:
    notifier = Notifier()
    live, dead = FakeConnection(), FakeConnection(dead=True)
    notifier.connections.add(live)  # type: ignore[arg-type]
    notifier.connections.add(dead)  # type: ignore[arg-type]
    published: list[object] = []
    notifier.bus.subscribe(published.append)

    for _ in range(40):
        notifier.changed()
    await await_until(lambda: live.sent == 1 and published, what="one coalesced delivery")
    assert notifier.sent == 1
    assert published == [ToolsListChanged()]
    assert set(notifier.connections) == {live}

    notifier.changed()  # a later change is a new notification
    await await_until(lambda: live.sent == 2, what="a second delivery")
    await notifier.close()
