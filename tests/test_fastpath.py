"""The fast ``call_tool`` route: which argument shapes it takes, and that it answers
exactly like fastmcp's own route (end to end: the results and errors callers see)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import echo_server, py_server, start_gateway

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
        ({"server": "a", "tool": "t", "arguments": "x=1"}, ("a", "t", "x=1", None)),
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
            "call_tool", {"server": "a", "tool": "echo", "arguments": [1]}
        )
        assert bad_args.is_error and "arguments" in bad_args.content[0].text
        # A string is taken here too: the gateway reads it (see the parity test).
        not_json = await gw.client.call_tool_mcp(
            "call_tool", {"server": "a", "tool": "echo", "arguments": "text=hi"}
        )
        assert not_json.is_error and "arguments" in not_json.content[0].text


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


# ----- the fast route keeps the slow route's contract ---------------------------------

FAST_ROUTE_ON = {"AGENT_GATEWAY_FAST_ROUTE": "1"}  # whatever the test run's own setting
FAST_ROUTE_OFF = {"AGENT_GATEWAY_FAST_ROUTE": "0"}

# (server, tool, arguments): one call per kind of answer the contract covers.
PARITY_CALLS: list[tuple[str, str, dict[str, Any] | str]] = [
    ("a", "echo", {"text": "hi"}),  # a normal result
    ("a", "structured", {}),  # structured content
    ("a", "fail", {"message": "nope"}),  # isError from the downstream
    ("a", "no_such_tool", {}),  # an unknown tool
    ("a", "env", {"name": "HOME"}),  # a hidden tool (denied by the policy)
    ("hidden", "echo", {"text": "hi"}),  # a hidden server
    ("raw", "ok", {}),
    ("raw", "bad_content", {}),  # an invalid downstream result
    ("raw", "no_content", {}),  # another invalid one
    ("raw", "input_required", {}),  # asks for elicitation, which this caller lacks
    ("a", "add", {"a": 1}),  # arguments failing the tool's schema: a missing field
    ("a", "add", {"a": 1, "b": "two"}),  # and a field of the wrong type
    ("a", "add", '{"a": 1, "b": 2}'),  # arguments as a JSON string
    ("a", "add", "[1, 2]"),  # a JSON string that is not an object
    ("a", "add", "a=1"),  # a string that is not JSON
    ("raw", "picky", {}),  # the downstream's own error about the arguments
    ("a", "crash", {}),  # the server dies during the call
    ("a", "echo", {"text": "after"}),  # and the next call restarts it
]

PARITY_POLICY = """
[allow]
servers = ["a", "raw"]
[deny.tools]
a = ["env"]
"""


async def _answers(folder: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    folder.mkdir()
    servers = {"a": echo_server(), "hidden": echo_server(), "raw": py_server("raw_server.py")}
    answers = []
    async with start_gateway(folder, servers, policies={"default": PARITY_POLICY}, env=env) as gw:
        for server, tool, arguments in PARITY_CALLS:
            params = {"server": server, "tool": tool, "arguments": arguments}
            result = await gw.client.call_tool_mcp("call_tool", params)
            answer = result.model_dump(by_alias=True, exclude_none=True)
            for block in answer["content"]:  # a stderr tail has the downstream's timestamps
                block["text"] = block["text"].split("\nLast stderr lines")[0]
            answers.append(answer)
    return answers


@pytest.mark.timeout(120)
async def test_the_fast_and_slow_routes_answer_every_kind_of_call_identically(
    tmp_path: Path,
) -> None:
    answers: dict[str, list[dict[str, Any]]] = {}

    async def run(name: str, env: dict[str, str]) -> None:
        answers[name] = await _answers(tmp_path / name, env)

    async with anyio.create_task_group() as both:
        both.start_soon(run, "fast", FAST_ROUTE_ON)
        both.start_soon(run, "slow", FAST_ROUTE_OFF)
    fast, slow = answers["fast"], answers["slow"]
    for call, f, s in zip(PARITY_CALLS, fast, slow, strict=True):
        assert f == s, f"{call}: fast route {f} != slow route {s}"
    by_call = dict(zip([c[:2] for c in PARITY_CALLS], fast, strict=False))
    assert by_call[("a", "echo")]["content"][0]["text"] == "after"
    assert by_call[("raw", "ok")]["content"] == [{"type": "text", "text": "fine"}]
    for kind in ("bad_content", "no_content", "input_required"):
        error = by_call[("raw", kind)]
        assert error["isError"] is True
        assert "'raw'" in error["content"][0]["text"], error
    _argument_answers(fast)
    assert by_call[("a", "crash")]["isError"] is True
    assert "'a'" in by_call[("a", "crash")]["content"][0]["text"]


async def _in_process_answer(
    monkeypatch: pytest.MonkeyPatch, *, fast: bool, seen: list[str]
) -> dict[str, Any]:
    """One call_tool through an in-process front whose backend call raises a bug's exception."""
    from fastmcp import Client
    from fastmcp.server.middleware import Middleware

    from agent_gateway.core.config import GatewayConfig
    from agent_gateway.core.policy import PolicySet
    from agent_gateway.downstream.backend import Backend
    from agent_gateway.downstream.manager import ProxyManager
    from agent_gateway.front.gateway import Gateway
    from agent_gateway.front.server import build_server

    class Record(Middleware):
        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            seen.append(context.message.name)
            return await call_next(context)

    async def kaput(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("kaput")

    monkeypatch.setattr(Backend, "call_tool", kaput)
    monkeypatch.setattr(Backend, "call_tool_wire", kaput)
    if fast:
        monkeypatch.delenv("AGENT_GATEWAY_FAST_ROUTE", raising=False)
    else:
        monkeypatch.setenv("AGENT_GATEWAY_FAST_ROUTE", "0")
    config = GatewayConfig.from_dict({"mcpServers": {"a": echo_server()}}, environ=dict(os.environ))
    manager = ProxyManager(config)
    server = build_server(Gateway(manager, PolicySet.open(), config_path="x"))
    server.add_middleware(Record())
    try:
        async with Client(server) as client:
            params = {"server": "a", "tool": "echo", "arguments": {"text": "hi"}}
            result = await client.call_tool_mcp("call_tool", params)
            return result.model_dump(by_alias=True, exclude_none=True)
    finally:
        await manager.close()


async def test_an_exception_inside_either_route_is_the_same_tool_error_naming_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast_seen: list[str] = []
    slow_seen: list[str] = []
    fast = await _in_process_answer(monkeypatch, fast=True, seen=fast_seen)
    slow = await _in_process_answer(monkeypatch, fast=False, seen=slow_seen)
    assert fast_seen == [] and slow_seen == ["call_tool"]  # the switch turns the fast route off
    assert fast == slow
    assert fast["isError"] is True
    assert fast["content"][0]["text"] == "Server 'a' failed: RuntimeError: kaput"


def _argument_answers(answers: list[dict[str, Any]]) -> None:
    """What the argument calls of PARITY_CALLS answered (the same on both routes)."""
    by_call = {(c[0], c[1], str(c[2])): a for c, a in zip(PARITY_CALLS, answers, strict=True)}
    missing = by_call[("a", "add", "{'a': 1}")]
    assert missing["isError"] is True
    text = missing["content"][0]["text"]
    assert text.startswith("Invalid arguments for tool 'add' on server 'a': 'b' is a required")
    assert "Parameters: a: int, b: int" in text
    assert 'Input schema: {"' in text and '"required":["a","b"]' in text
    wrong = by_call[("a", "add", "{'a': 1, 'b': 'two'}")]["content"][0]["text"]
    assert "at 'b': 'two' is not of type 'integer'" in wrong
    assert by_call[("a", "add", '{"a": 1, "b": 2}')]["content"][0]["text"] == "3"
    not_object = by_call[("a", "add", "[1, 2]")]
    assert not_object["isError"] is True
    assert (
        "arguments is a string that is JSON list, not an object"
        in (not_object["content"][0]["text"])
    )
    not_json = by_call[("a", "add", "a=1")]["content"][0]["text"]
    assert not_json.startswith("arguments is a string that is not valid JSON")
    picky = by_call[("raw", "picky", "{}")]
    assert picky["isError"] is True
    assert picky["content"][0]["text"] == "Input validation error: 'path' is required"
    assert picky["content"][1]["text"].startswith("Parameters: (none)\nInput schema: {")
