"""Direct exposure: downstream tools listed as ``{server}__{tool}``, shortened past 64 chars.

Pure tests for ``direct_name``, then one real gateway per mode (``--expose
direct`` and ``--expose both``) with three echo servers: ``a``, one with a
60-character name (so every direct name of it needs shortening) and
``secret``, which the default policy hides. ``a``'s ``crash`` and ``env``
tools are denied: they must be neither listed nor callable, and calling them
must answer exactly like a tool that does not exist.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import Gateway, await_until, echo_server, py_server, start_gateway

from agent_gateway.core.names import MAX_NAME, direct_name

META_TOOLS = {"list_servers", "list_tools", "get_tool", "call_tool", "gateway_status"}
ECHO_TOOLS = {
    "echo",
    "add",
    "sleep",
    "pid",
    "fail",
    "image",
    "structured",
    "progress",
    "big",
    "env",
    "crash",
    "mixed",
    "meet",
    "with_meta",
}
DENIED = {"crash", "env"}
LONG = "long-server-name-" + "n" * 43  # 60 characters: every direct name of it is > 64
SERVERS = {"a": echo_server(), LONG: echo_server(), "secret": echo_server()}
POLICIES = {
    "default": """
[allow]
servers = ["*"]
[deny]
servers = ["secret"]
[deny.tools]
a = ["crash", "env"]
"""
}
READY_TIMEOUT = 40.0


# --------------------------------------------------------------------------- direct_name


@pytest.mark.parametrize(
    ("server", "tool", "name"),
    [
        ("a", "add", "a__add"),
        ("time", "get_current_time", "time__get_current_time"),
        ("web_", "fetch", "web___fetch"),  # a server may end in "_": kept as is
        ("s" * 30, "t" * 32, "s" * 30 + "__" + "t" * 32),  # exactly 64: untouched
    ],
)
def test_direct_name_short_names_are_server_sep_tool(server: str, tool: str, name: str) -> None:
    assert direct_name(server, tool) == name
    assert len(name) <= MAX_NAME


@pytest.mark.parametrize(
    ("server", "tool"),
    [
        ("s" * 30, "t" * 33),  # 65: one too many
        ("s" * 64, "t"),
        ("s", "t" * 200),
        (LONG, "echo"),
        (LONG, "with_meta"),
    ],
)
def test_direct_name_long_names_are_shortened_stably(server: str, tool: str) -> None:
    name = direct_name(server, tool)
    assert len(name) == MAX_NAME
    assert name == direct_name(server, tool)  # stable: no randomness, no state
    full = f"{server}__{tool}"
    assert re.fullmatch(r".+_[0-9a-f]{6,}", name), name
    prefix = name.rsplit("_", 1)[0]
    assert full.startswith(prefix)  # readable: starts like the full name


def test_direct_name_long_names_sharing_a_prefix_stay_distinct() -> None:
    server = "x" * 40
    tools = [f"{'t' * 40}_{i}" for i in range(50)] + ["t" * 40 + "a", "t" * 40 + "b"]
    names = {direct_name(server, t) for t in tools}
    assert len(names) == len(tools)
    assert all(len(n) <= MAX_NAME for n in names)
    # and a shortened name never equals a short one that happens to look alike
    assert direct_name("s" * 30, "t" * 33) != "s" * 30 + "__" + "t" * 32


def test_direct_name_never_gives_two_tools_one_name() -> None:
    assert direct_name("a_", "x") != direct_name("a", "_x")
    assert direct_name("s_", "t" * 70) != direct_name("s", "_" + "t" * 70)


# --------------------------------------------------------------------------- end to end


def expected_names() -> dict[str, tuple[str, str]]:
    """Direct name -> (server, tool) for every tool the default policy allows."""
    names = {direct_name("a", t): ("a", t) for t in ECHO_TOOLS - DENIED}
    names.update({direct_name(LONG, t): (LONG, t) for t in ECHO_TOOLS})
    return names


async def tools_when_ready(gw: Gateway) -> dict[str, Any]:
    """Poll tools/list until both visible servers' tools are there (they start in background)."""
    want = set(expected_names())
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        tools = {t.name: t for t in await gw.client.list_tools()}
        if want <= set(tools):
            return tools
        if time.monotonic() > deadline:
            missing = sorted(want - set(tools))
            raise AssertionError(f"direct tools missing after {READY_TIMEOUT}s: {missing}")
        await anyio.sleep(0.05)


def unknown_text(result: Any, name: str) -> str:
    assert result.is_error, result
    assert not result.structured_content
    return str(result.content[0].text).replace(name, "NAME")


async def check_direct_tools(gw: Gateway, tools: dict[str, Any]) -> None:
    direct = {n for n in tools if n not in META_TOOLS}
    assert direct == set(expected_names()), sorted(direct ^ set(expected_names()))
    assert all(len(n) <= MAX_NAME for n in direct)
    assert not any(n.startswith("secret") for n in direct)
    assert not {direct_name("a", t) for t in DENIED} & direct

    # calls are routed back to the right server and tool, results passed through
    add = await gw.client.call_tool_mcp("a__add", {"a": 2, "b": 3})
    assert not add.is_error and add.content[0].text == "5", add
    structured = await gw.client.call_tool_mcp("a__structured", {})
    assert structured.structured_content == {"temperature": 21.5, "unit": "C"}
    fail = await gw.client.call_tool_mcp("a__fail", {"message": "direct boom"})
    assert fail.is_error and fail.content[0].text == "direct boom"

    # a shortened name is callable and reaches the long-named server
    long_echo = direct_name(LONG, "echo")
    assert long_echo != f"{LONG}__echo"
    result = await gw.client.call_tool_mcp(long_echo, {"text": "through a short name"})
    assert not result.is_error and result.content[0].text == "through a short name", result

    # denied tools, a hidden server's tools, and names that never existed all answer alike
    baseline = unknown_text(await gw.client.call_tool_mcp("a__nope", {}), "a__nope")
    assert "NAME" in baseline
    for name in [
        "a__crash",
        "a__env",
        "secret__echo",
        "secret__pid",
        "nobody__echo",
        "a_crash",
        f"{LONG}__crash",  # unshortened spelling of a long name
    ]:
        args = {"name": "HOME"} if name.endswith("env") else {}
        assert unknown_text(await gw.client.call_tool_mcp(name, args), name) == baseline, name


@pytest.mark.anyio
async def test_expose_direct_lists_and_routes_allowed_downstream_tools(tmp_path: Path) -> None:
    async with start_gateway(
        tmp_path, SERVERS, policies=POLICIES, args=["--expose", "direct"], mode="legacy"
    ) as gw:
        tools = await tools_when_ready(gw)
        assert not META_TOOLS & set(tools)
        await check_direct_tools(gw, tools)
        # descriptions and schemas are the downstream's own
        echo = tools["a__echo"]
        assert echo.description == "Echo the text back."
        assert echo.input_schema["properties"] == {"text": {"type": "string"}}
        assert echo.input_schema["required"] == ["text"]
        # the meta-tools are not there, not even by name
        for name in META_TOOLS:
            missing = await gw.client.call_tool_mcp(name, {})
            assert unknown_text(missing, name) == "Unknown tool: 'NAME'"


@pytest.mark.anyio
async def test_expose_both_has_meta_tools_and_direct_tools_that_match_get_tool(
    tmp_path: Path,
) -> None:
    async with start_gateway(tmp_path, SERVERS, policies=POLICIES, args=["--expose", "both"]) as gw:
        tools = await tools_when_ready(gw)
        assert set(tools) >= META_TOOLS
        await check_direct_tools(gw, tools)
        for direct, (server, tool) in sorted(expected_names().items()):
            got = await gw.client.call_tool_mcp("get_tool", {"server": server, "tool": tool})
            assert not got.is_error, got
            definition = got.structured_content
            listed = tools[direct]
            assert listed.description == definition["description"], direct
            assert listed.input_schema == definition["inputSchema"], direct
            assert listed.output_schema == definition["outputSchema"], direct
        # the meta-tools keep applying the same policy
        denied = await gw.client.call_tool_mcp("get_tool", {"server": "a", "tool": "crash"})
        assert denied.is_error and "Unknown tool 'crash'" in denied.content[0].text
        servers = await gw.data("list_servers")
        assert [s["name"] for s in servers["servers"]] == ["a", LONG]


@pytest.mark.anyio
async def test_tools_whose_direct_names_would_collide_are_all_listed_and_each_calls_its_own(
    tmp_path: Path,
) -> None:
    """``ops`` + ``_secret`` used to hash to the plain name of ``ops_`` + ``secret_<hash>``."""
    digest = hashlib.sha256(b"ops\0_secret").hexdigest()[:10]
    tools = {"ops": ["_secret", "run"], "ops_": [f"secret_{digest}", "run"]}
    servers = {
        name: py_server(
            "many_tools_server.py", "--name", name, *[a for t in ts for a in ("--tool", t)]
        )
        for name, ts in tools.items()
    }
    async with start_gateway(tmp_path, servers, args=["--expose", "direct"]) as gw:
        listed: list[str] = []

        async def all_listed() -> bool:
            listed[:] = [t.name for t in await gw.client.list_tools()]
            return len(listed) >= 4

        await await_until(all_listed, READY_TIMEOUT, "four direct tools")
        assert len(listed) == len(set(listed)) == 4, listed
        assert "ops__run" in listed and "ops___run" in listed
        reached = set()
        for name in listed:
            result = await gw.client.call_tool_mcp(name, {"value": "v"})
            assert not result.is_error, (name, result)
            tool, server = result.content[0].text.removesuffix(": v").split(" on ")
            assert name.startswith(f"{server}__{tool}"[:20]), (name, server, tool)
            reached.add((server, tool))
        assert reached == {(s, t) for s, ts in tools.items() for t in ts}


@pytest.mark.anyio
async def test_a_hidden_tool_takes_the_same_path_as_a_missing_one(tmp_path: Path) -> None:
    """Looked up among what the caller may see only: a hidden name never reaches a server."""
    audit = tmp_path / "audit.jsonl"
    args = ["--expose", "direct", "--audit-log", str(audit)]
    async with start_gateway(tmp_path, SERVERS, policies=POLICIES, args=args) as gw:
        await tools_when_ready(gw)
        ok = await gw.client.call_tool_mcp("a__echo", {"text": "x"})
        assert not ok.is_error
        lines = audit.read_text().splitlines()
        assert [json.loads(line)["tool"] for line in lines] == ["echo"]
        answers = []
        for name in ["secret__echo", "nobody__echo", "a__crash", "a__nope"]:
            answers.append(unknown_text(await gw.client.call_tool_mcp(name, {}), name))
            # nothing was called, checked or recorded for it: as for a name never seen
            assert audit.read_text().splitlines() == lines, name
        assert answers == ["Unknown tool: 'NAME'"] * 4
