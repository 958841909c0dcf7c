"""The fast ``call_tool`` route: which argument shapes it takes, and that it answers
exactly like fastmcp's own route (end to end: the results and errors callers see)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from conftest import echo_server, start_gateway

from agent_gateway.front.fastpath import call_tool_args

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"server": "a", "tool": "t"}, ("a", "t", None, None)),
        ({"server": "a", "tool": "t", "arguments": {"x": 1}}, ("a", "t", {"x": 1}, None)),
        ({"server": "a", "tool": "t", "arguments": None, "agent_id": "x"}, ("a", "t", None, "x")),
        ({"server": "a"}, None),  # missing tool: fastmcp's validation error
        ({"tool": "t"}, None),
        ({"server": 1, "tool": "t"}, None),
        ({"server": "a", "tool": "t", "arguments": "x=1"}, None),
        ({"server": "a", "tool": "t", "arguments": [1]}, None),
        ({"server": "a", "tool": "t", "agent_id": 7}, None),
        ({"server": "a", "tool": "t", "extra": 1}, None),
        ({}, None),
    ],
)
def test_call_tool_args_takes_only_what_fits_the_schema_exactly(
    args: dict[str, Any], expected: Any
) -> None:
    assert call_tool_args(args) == expected


async def test_fast_route_answers_like_the_slow_one(tmp_path: Path) -> None:
    async with start_gateway(tmp_path, {"a": echo_server()}) as gw:
        ok = await gw.client.call_tool_mcp(
            "call_tool", {"server": "a", "tool": "echo", "arguments": {"text": "hi"}}
        )
        assert not ok.is_error and ok.content[0].text == "hi"
        missing = await gw.client.call_tool_mcp("call_tool", {"server": "nope", "tool": "echo"})
        assert missing.is_error
        assert missing.content[0].text.startswith("Unknown server 'nope'.")
        # Wrong shapes go the slow way: fastmcp's validation error names the field.
        bad = await gw.client.call_tool_mcp("call_tool", {"server": "a"})
        assert bad.is_error and "tool" in bad.content[0].text
        bad_args = await gw.client.call_tool_mcp(
            "call_tool", {"server": "a", "tool": "echo", "arguments": "text=hi"}
        )
        assert bad_args.is_error and "arguments" in bad_args.content[0].text


async def test_a_well_formed_call_tool_never_enters_fastmcps_pipeline(tmp_path: Path) -> None:
    """In process: a fastmcp middleware sees only the calls the fast route hands back."""
    from fastmcp import Client
    from fastmcp.server.middleware import Middleware

    from agent_gateway.core.config import GatewayConfig
    from agent_gateway.core.policy import PolicySet
    from agent_gateway.downstream.manager import ProxyManager
    from agent_gateway.front.gateway import Gateway
    from agent_gateway.front.server import build_server

    seen: list[dict[str, Any]] = []

    class Record(Middleware):
        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            seen.append(dict(context.message.arguments or {}))
            return await call_next(context)

    config = GatewayConfig.from_dict({"mcpServers": {"a": echo_server()}}, environ=dict(os.environ))
    manager = ProxyManager(config)
    server = build_server(Gateway(manager, PolicySet.open(), config_path="x"))
    server.add_middleware(Record())
    try:
        async with Client(server) as client:
            ok = await client.call_tool_mcp(
                "call_tool", {"server": "a", "tool": "echo", "arguments": {"text": "hi"}}
            )
            assert ok.content[0].text == "hi"
            assert seen == []
            bad = await client.call_tool_mcp("call_tool", {"server": "a"})
            assert bad.is_error
            assert seen == [{"server": "a"}]
    finally:
        await manager.close()
