"""Meta mode reaches a server's resources and prompts through call_tool's protocol methods."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Gateway, py_server, start_gateway

pytestmark = pytest.mark.anyio

POLICIES = {
    "default": """
[allow]
servers = ["*"]
[deny]
servers = ["secret"]
"""
}
SERVERS = {
    "docs": py_server("resources_server.py"),
    "secret": py_server("resources_server.py"),
    "bare": py_server("resources_server.py", "--bare"),
}


async def items(gw: Gateway, server: str, method: str, **arguments: object) -> Any:
    result = await gw.downstream(server, method, **arguments)
    assert not result.is_error, result.content
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


async def error_of(gw: Gateway, server: str, method: str, **arguments: object) -> str:
    result = await gw.downstream(server, method, **arguments)
    assert result.is_error, result
    return str(result.content[0].text)


async def test_call_tool_lists_reads_and_renders_a_servers_resources_and_prompts(
    tmp_path: Path,
) -> None:
    async with start_gateway(tmp_path, SERVERS, policies=POLICIES) as gw:
        listed = await items(gw, "docs", "resources/list")
        assert {r["uri"] for r in listed["resources"]} >= {"docs://readme", "data://config.json"}
        assert [t["uriTemplate"] for t in listed["resourceTemplates"]] == ["greet://{name}"]
        prompts = await items(gw, "docs", "prompts/list")
        assert "review" in {p["name"] for p in prompts["prompts"]}

        read = await items(gw, "docs", "resources/read", uri="docs://readme")
        [item] = read["contents"]
        assert item["text"].startswith("# Readme")
        assert item["mimeType"] == "text/markdown"

        greeting = await items(gw, "docs", "resources/read", uri="greet://Ada")
        assert "Ada" in greeting["contents"][0]["text"]

        prompt = await items(gw, "docs", "prompts/get", name="review", arguments={"code": "x = 1"})
        assert "x = 1" in json.dumps(prompt["messages"])

        assert await items(gw, "bare", "resources/list") == {
            "resources": [],
            "resourceTemplates": [],
        }
        assert await items(gw, "bare", "prompts/list") == {"prompts": []}


async def test_a_hidden_server_answers_exactly_like_a_missing_one(
    tmp_path: Path,
) -> None:
    async with start_gateway(tmp_path, SERVERS, policies=POLICIES) as gw:
        hidden = await error_of(gw, "secret", "resources/read", uri="docs://readme")
        missing = await error_of(gw, "nosuch", "resources/read", uri="docs://readme")
        assert hidden.replace("secret", "X") == missing.replace("nosuch", "X")
        assert "Unknown server" in hidden
        status = await gw.data("gateway_status")
        assert "secret" not in {s["name"] for s in status["servers"] if s["pid"]}


async def test_unknown_resources_and_prompts_are_named_in_the_error(tmp_path: Path) -> None:
    async with start_gateway(tmp_path, SERVERS, policies=POLICIES) as gw:
        assert "Unknown resource 'docs://nope'" in await error_of(
            gw, "docs", "resources/read", uri="docs://nope"
        )
        assert "Unknown prompt 'nope'" in await error_of(gw, "docs", "prompts/get", name="nope")
        assert "needs 'uri'" in await error_of(gw, "docs", "resources/read")
