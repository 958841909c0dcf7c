"""agent_gateway.compat: a canary per private fastmcp/SDK attribute, and every fallback run.

A canary fails loudly, naming what moved, when a fastmcp or MCP SDK release
changes a private attribute the gateway uses (checked on fastmcp 4.2.3, mcp
2.3.0). The fallback tests hide each private thing (``compat._OFF``, the
same switch as ``AGENT_GATEWAY_COMPAT_OFF``) and show the feature still works.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mcp_types
import pytest
from conftest import echo_server, start_gateway
from fastmcp import Client, FastMCP

from agent_gateway import compat

pytestmark = pytest.mark.anyio

MOVED = "moved in this fastmcp/mcp release (checked on fastmcp 4.2.3, mcp 2.3.0): "


def small_server() -> FastMCP[Any]:
    mcp: FastMCP[Any] = FastMCP("t")

    @mcp.tool
    def echo(text: str) -> str:
        return text

    @mcp.resource("t://greeting")
    def greeting() -> str:
        return "hello"

    return mcp


def hide(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    monkeypatch.setattr(compat, "_OFF", frozenset(names))


# ----- canaries ----------------------------------------------------------------------------


def test_canary_fastmcp_keeps_its_low_level_server() -> None:
    low = compat.low_level_server(FastMCP("t"))
    assert low is not None, MOVED + "FastMCP._mcp_server (the SDK server) is gone or retyped."
    entry = low.get_request_handler("tools/call")
    assert entry is not None, MOVED + "the low-level server has no tools/call handler."
    assert isinstance(low.middleware, list), MOVED + "Server.middleware is no longer a list."


async def test_canary_fastmcp_keeps_its_lifespan_manager() -> None:
    manager = compat.lifespan_manager(FastMCP("t"))
    assert manager is not None, MOVED + "FastMCP._lifespan_manager is gone."
    async with manager():
        pass


def test_canary_fastmcp_keeps_its_root_middleware() -> None:
    low = compat.low_level_server(FastMCP("t"))
    assert low is not None
    assert any(compat.is_root_middleware(mw) for mw in low.middleware), (
        MOVED + "fastmcp.server.low_level.FastMCPServerMiddleware is not in Server.middleware."
    )


async def test_canary_fastmcp_fills_its_state_store_lazily() -> None:
    mcp = FastMCP("t")
    assert getattr(mcp, compat.STATE_STORE_ATTR, "missing") is None, (
        MOVED + f"FastMCP has no lazily filled {compat.STATE_STORE_ATTR}."
    )
    store = object()
    assert compat.install_state_store(mcp, store) is True
    assert mcp._state_store is store, MOVED + "FastMCP._state_store no longer reads it."


async def test_canary_sdk_session_keeps_its_connection() -> None:
    from fastmcp.server.dependencies import get_context
    from mcp.server.connection import Connection

    found: list[Any] = []
    mcp = small_server()

    @mcp.tool
    def connection() -> str:
        found.append(compat.connection_of(get_context().session))
        return "ok"

    async with Client(mcp, mode="legacy") as client:
        await client.call_tool("connection", {})
    assert isinstance(found[0], Connection), MOVED + "ServerSession._connection is gone."


async def test_canary_sdk_client_session_keeps_dispatcher_and_stamp() -> None:
    async with Client(small_server()) as client:
        send = compat.wire_sender(client.session)
        assert send is not None, MOVED + "ClientSession._dispatcher or ._stamp is gone."
        raw = await send("echo", {"text": "hi"}, 10.0, None)
    assert isinstance(raw, dict), MOVED + "send_raw_request no longer answers a dict."
    assert raw["content"] == [{"type": "text", "text": "hi"}]


async def test_canary_sdk_client_session_sends_a_raw_request() -> None:
    async with Client(small_server()) as client:
        send = compat.raw_sender(client.session)
        assert send is not None, MOVED + "ClientSession._dispatcher or ._stamp is gone."
        raw = await send("tools/call", {"name": "echo", "arguments": {"text": "hi"}}, 10.0)
    assert isinstance(raw, dict), MOVED + "send_raw_request no longer answers a dict."
    assert raw["content"] == [{"type": "text", "text": "hi"}]


async def test_canary_fastmcp_client_keeps_session_monitoring() -> None:
    assert callable(getattr(Client, compat.MONITORING_ATTR, None)), (
        MOVED + "Client._await_with_session_monitoring is gone."
    )
    async with Client(small_server()) as client:
        result = await compat.await_monitored(client, client.session.read_resource("t://greeting"))
    assert isinstance(result, mcp_types.ReadResourceResult)


# ----- the switch and the fallbacks ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "off"),
    [
        ("", frozenset()),
        ("wire", frozenset({"wire"})),
        (" wire , lifespan ,", frozenset({"wire", "lifespan"})),
        ("all", frozenset(compat.PRIVATE)),
    ],
)
def test_the_switch_names_the_private_accesses_to_treat_as_missing(
    value: str, off: frozenset[str]
) -> None:
    assert compat._off_from(value) == off


async def test_with_every_private_access_off_each_compat_call_answers_its_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hide(monkeypatch, *compat.PRIVATE)
    mcp = FastMCP("t")
    assert compat.low_level_server(mcp) is None
    assert compat.lifespan_manager(mcp) is None
    assert not any(compat.is_root_middleware(mw) for mw in mcp._mcp_server.middleware)
    assert compat.install_state_store(mcp, object()) is False
    async with Client(small_server()) as client:
        assert compat.wire_sender(client.session) is None
        assert compat.raw_sender(client.session) is None
        assert compat.connection_of(client.session) is None
        # The plain await: the read still works.
        result = await compat.await_monitored(client, client.session.read_resource("t://greeting"))
    assert isinstance(result, mcp_types.ReadResourceResult)


async def test_without_the_state_store_attribute_fastmcp_session_state_still_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agent_gateway.front.statestore import MemoryStateStore, install_state_store

    hide(monkeypatch, "state_store")
    mcp = small_server()
    assert install_state_store(mcp) is False

    @mcp.tool
    async def remember(value: str) -> str:
        from fastmcp.server.dependencies import get_context

        ctx = get_context()
        before = await ctx.get_state("v")
        await ctx.set_state("v", value)
        return f"{before}->{value}"

    async with Client(mcp, mode="legacy") as client:
        await client.call_tool("remember", {"value": "x"})
        second = await client.call_tool("remember", {"value": "y"})
    assert second.content[0].text == "x->y"
    assert not isinstance(mcp._state_store, MemoryStateStore)  # fastmcp's own


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_gateway_with_every_private_access_off_still_serves_and_relays(
    tmp_path: Path, mode: str
) -> None:
    """End to end: the SDK's stdio front, fastmcp's call route, typed downstream calls."""
    off = {compat.SWITCH: "all"}
    async with start_gateway(tmp_path, {"a": echo_server()}, env=off, mode=mode) as gw:
        ok = await gw.downstream("a", "echo", text="hi")
        assert not ok.is_error and ok.content[0].text == "hi"
        structured = await gw.downstream("a", "structured")
        assert structured.structured_content == {"temperature": 21.5, "unit": "C"}
        failed = await gw.downstream("a", "fail", message="nope")
        assert failed.is_error and failed.content[0].text == "nope"
        missing = await gw.downstream("nope", "echo")
        assert missing.content[0].text.startswith("Unknown server 'nope'.")
        servers = await gw.data("list_servers")
        assert [s["name"] for s in servers["servers"]] == ["a"]
        assert "AGENT_GATEWAY_COMPAT_OFF" not in os.environ  # only the gateway had it


def test_every_private_access_in_compat_names_a_canary_that_exists() -> None:
    import re
    import sys

    doc = compat.__doc__ or ""
    named = re.findall(r"Canary: (test_\w+)", doc)
    entries = re.findall(r"^- ``(\w+)``", doc, flags=re.MULTILINE)
    assert sorted(entries) == sorted(compat.PRIVATE), "compat's docstring lists each access"
    assert len(named) == len(compat.PRIVATE)
    here = sys.modules[__name__]
    missing = [name for name in named if not callable(getattr(here, name, None))]
    assert missing == [], f"compat's docstring names canaries that do not exist: {missing}"
