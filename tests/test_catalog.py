"""The tool catalog: each server's tool list kept across launches, keyed by its spec's hash.

Pure part (key, file text), the folder (atomic writes, corrupt entries ignored), and end to
end: a real gateway, restarted, answers list_tools from the catalog without starting servers.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import mcp_types
import pytest
from conftest import PY, SERVERS, Gateway, start_gateway, write_config

from agent_gateway.core.catalog import decode, encode, entry_key
from agent_gateway.core.config import GatewayConfig, ServerSpec
from agent_gateway.downstream.catalog import Catalog

pytestmark = pytest.mark.anyio

BASE: dict[str, Any] = {"command": "srv", "args": ["--a"], "env": {"TOKEN": "s3cret-value"}}


def spec(entry: dict[str, Any], name: str = "s") -> ServerSpec:
    config = GatewayConfig.from_dict({"mcpServers": {name: entry}}, environ={"HOME": "/tmp"})
    return config.servers[name]


# ----- pure: key and file text ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "same"),
    [
        ({"description": "new words"}, True),
        ({"args": ["--b"]}, False),
        ({"command": "other"}, False),
        ({"env": {"TOKEN": "another"}}, False),
        ({"cwd": "/srv"}, False),
        ({"timeout": 5}, False),
    ],
)
def test_an_entry_key_changes_with_every_connection_field_but_not_the_description(
    change: dict[str, Any], same: bool
) -> None:
    assert (entry_key(spec(BASE)) == entry_key(spec({**BASE, **change}))) is same


def test_remote_servers_are_keyed_by_url_headers_and_type() -> None:
    http = {"type": "http", "url": "https://x.example/mcp", "headers": {"A": "1"}}
    keys = {
        entry_key(spec(e))
        for e in (
            http,
            {**http, "url": "https://y.example/mcp"},
            {**http, "headers": {"A": "2"}},
            {**http, "type": "sse"},
        )
    }
    assert len(keys) == 4


TOOLS: list[list[dict[str, Any]]] = [
    [],
    [{"name": "a", "inputSchema": {"type": "object"}}],
    [
        {"name": "a", "description": "Does a.", "inputSchema": {"type": "object"}},
        {"name": "b", "inputSchema": {"type": "object", "properties": {"x": {"type": "integer"}}}},
    ],
]


@pytest.mark.parametrize("tools", TOOLS)
def test_an_entry_reads_back_as_it_was_written(tools: list[dict[str, Any]]) -> None:
    assert decode(encode("srv", tools)) == ("srv", tools)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{not json",
        "[]",
        json.dumps({"format": 99, "server": "s", "tools": []}),
        json.dumps({"format": 1, "tools": []}),
        json.dumps({"format": 1, "server": "s", "tools": {}}),
        json.dumps({"format": 1, "server": "s", "tools": [{"description": "no name"}]}),
    ],
)
def test_text_that_is_not_an_entry_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        decode(text)


# ----- the folder ----------------------------------------------------------------------------


def tool(name: str) -> mcp_types.Tool:
    return mcp_types.Tool(name=name, description=f"Does {name}.", input_schema={"type": "object"})


def test_a_saved_list_loads_back_and_never_holds_secret_values(tmp_path: Path) -> None:
    catalog, s = Catalog(tmp_path / "c"), spec(BASE)
    catalog.save(s, [tool("alpha"), tool("beta")])
    loaded = catalog.load(s)
    assert loaded is not None and [t.name for t in loaded] == ["alpha", "beta"]
    files = list((tmp_path / "c").iterdir())
    assert [f.name for f in files] == [catalog.path_of(s).name]  # no temp file left behind
    assert "s3cret-value" not in files[0].read_text()
    assert catalog.load(spec({**BASE, "args": ["--b"]})) is None


def test_a_corrupt_entry_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    catalog, s = Catalog(tmp_path), spec(BASE)
    catalog.path_of(s).write_text('{"format": 1, "server": "s", "tools": [')
    with caplog.at_level(logging.WARNING):
        assert catalog.load(s) is None
    assert "corrupt catalog entry" in caplog.text
    catalog.save(s, [tool("alpha")])  # and the next live list replaces it
    assert catalog.load(s) is not None


def test_an_unwritable_catalog_folder_is_a_warning_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING):
        Catalog(blocker / "sub").save(spec(BASE), [tool("alpha")])
    assert "Could not save the catalog entry" in caplog.text


# ----- end to end ----------------------------------------------------------------------------


def counted(folder: Path, name: str = "s", *extra: str) -> dict[str, Any]:
    """A server that appends a line to ``<name>.starts`` each time it starts, with the
    tools listed in ``<name>.tools`` (one a line): its spec stays the same when they change."""
    starts, tools = folder / f"{name}.starts", folder / f"{name}.tools"
    script = (
        f'echo start >> "{starts}"; exec "{PY}" "{SERVERS / "many_tools_server.py"}" '
        f"--name {name} $(sed 's/^/--tool /' \"{tools}\")"
    )
    return {"command": "/bin/sh", "args": ["-c", script, *extra]}


def set_tools(folder: Path, name: str, *tools: str) -> None:
    (folder / f"{name}.tools").write_text("".join(f"{t}\n" for t in tools))


def starts(folder: Path, name: str = "s") -> int:
    path = folder / f"{name}.starts"
    return len(path.read_text().splitlines()) if path.exists() else 0


def names(listed: dict[str, Any]) -> list[str]:
    return sorted(t["name"] for t in listed["tools"])


async def warm(folder: Path, servers: dict[str, Any]) -> None:
    """Launch once and list every server live, so the catalog holds their lists."""
    async with start_gateway(folder, servers) as gw:
        listed = await gw.data("list_tools")
        assert "cached" not in listed and not listed["errors"]


async def test_a_restarted_gateway_lists_tools_from_the_catalog_without_starting_the_server(
    tmp_path: Path,
) -> None:
    set_tools(tmp_path, "s", "alpha", "beta")
    servers = {"s": counted(tmp_path)}
    await warm(tmp_path, servers)
    assert starts(tmp_path) == 1
    async with start_gateway(tmp_path, servers) as gw:
        listed = await gw.data("list_tools")
        assert names(listed) == ["alpha", "beta"] and listed["cached"] == ["s"]
        found = await gw.data("list_tools", query="beta")
        assert found["tools"][0]["name"] == "beta" and found["cached"] == ["s"]
        one = await gw.data("list_tools", server="s")
        assert names(one) == ["alpha", "beta"]
        got = await gw.client.call_tool_mcp("get_tool", {"server": "s", "tool": "alpha"})
        assert not got.is_error
        assert starts(tmp_path) == 1  # nothing started


async def test_an_entry_is_marked_cached_until_the_server_has_started_and_refreshed_it(
    tmp_path: Path,
) -> None:
    set_tools(tmp_path, "s", "alpha")
    servers = {"s": counted(tmp_path)}
    await warm(tmp_path, servers)
    async with start_gateway(tmp_path, servers) as gw:
        (server,) = (await gw.data("list_servers"))["servers"]
        assert server["cached"] is True and server["tools"] == 1 and server["state"] == "idle"
        result = await gw.downstream("s", "alpha", value="x")
        assert not result.is_error, result
        listed = await gw.data("list_tools")
        assert "cached" not in listed and names(listed) == ["alpha"]
        (server,) = (await gw.data("list_servers"))["servers"]
        assert "cached" not in server and server["tools"] == 1
    assert starts(tmp_path) == 2


async def test_a_tool_gone_after_the_refresh_answers_unknown_tool_and_the_entry_is_rewritten(
    tmp_path: Path,
) -> None:
    set_tools(tmp_path, "s", "alpha", "beta")
    servers = {"s": counted(tmp_path)}
    await warm(tmp_path, servers)
    set_tools(tmp_path, "s", "alpha")  # the server changed since: beta is gone
    async with start_gateway(tmp_path, servers) as gw:
        assert names(await gw.data("list_tools")) == ["alpha", "beta"]  # the catalog's word
        result = await gw.downstream("s", "beta")
        assert result.is_error
        assert "Unknown tool 'beta' on server 's'" in result.content[0].text
        assert names(await gw.data("list_tools")) == ["alpha"]
    async with start_gateway(tmp_path, servers) as gw:
        listed = await gw.data("list_tools")
        assert names(listed) == ["alpha"] and listed["cached"] == ["s"]
    assert starts(tmp_path) == 2


async def test_a_changed_spec_does_not_reuse_the_old_entry(tmp_path: Path) -> None:
    set_tools(tmp_path, "s", "alpha")
    await warm(tmp_path, {"s": counted(tmp_path)})
    async with start_gateway(tmp_path, {"s": counted(tmp_path, "s", "changed-arg")}) as gw:
        listed = await gw.data("list_tools")
        assert "cached" not in listed and names(listed) == ["alpha"]
    assert starts(tmp_path) == 2


async def test_a_reload_keeps_answering_from_the_catalog(tmp_path: Path) -> None:
    set_tools(tmp_path, "s", "alpha")
    set_tools(tmp_path, "t", "gamma")
    await warm(tmp_path, {"s": counted(tmp_path)})
    async with start_gateway(tmp_path, {"s": counted(tmp_path)}) as gw:
        write_config(tmp_path, {"s": counted(tmp_path), "t": counted(tmp_path, "t")})
        await await_listed(gw, ["alpha", "gamma"])
        listed = await gw.data("list_tools")
        assert listed["cached"] == ["s"]
    assert starts(tmp_path, "s") == 1 and starts(tmp_path, "t") == 1


async def await_listed(gw: Gateway, expected: list[str]) -> None:
    from conftest import await_until

    async def listed() -> bool:
        return names(await gw.data("list_tools")) == expected

    await await_until(listed, what=f"list_tools to show {expected}")


async def test_policies_filter_catalog_lists_as_they_filter_live_ones(tmp_path: Path) -> None:
    set_tools(tmp_path, "s", "alpha", "beta")
    servers = {"s": counted(tmp_path)}
    await warm(tmp_path, servers)
    policy = '[allow]\nservers = ["s"]\n[deny.tools]\ns = ["beta"]\n'
    async with start_gateway(tmp_path, servers, policies={"default": policy}) as gw:
        listed = await gw.data("list_tools")
        assert names(listed) == ["alpha"] and listed["cached"] == ["s"]
        assert (await gw.data("list_servers"))["servers"][0]["tools"] == 1
        got = await gw.client.call_tool_mcp("get_tool", {"server": "s", "tool": "beta"})
        assert got.is_error
    assert starts(tmp_path) == 1


async def test_a_corrupt_catalog_file_is_ignored_and_the_server_is_asked(
    tmp_path: Path, catalog_dir: Path
) -> None:
    set_tools(tmp_path, "s", "alpha")
    servers = {"s": counted(tmp_path)}
    await warm(tmp_path, servers)
    (entry,) = catalog_dir.iterdir()
    entry.write_bytes(b"\xff\x00 not an entry")
    async with start_gateway(tmp_path, servers) as gw:
        listed = await gw.data("list_tools")
        assert "cached" not in listed and names(listed) == ["alpha"]
        assert "Ignoring" in gw.stderr()
    assert starts(tmp_path) == 2
    assert decode(entry.read_text())[0] == "s"  # rewritten by the live list


async def test_fifty_servers_with_a_warm_catalog_answer_a_search_without_starting_any(
    tmp_path: Path, catalog_dir: Path
) -> None:
    servers = {f"srv{i:02d}": counted(tmp_path, f"srv{i:02d}") for i in range(50)}
    config = GatewayConfig.from_file(str(write_config(tmp_path, servers)))
    catalog = Catalog(catalog_dir)  # warmed here: starting 50 servers would prove nothing more
    for name, s in config.servers.items():
        catalog.save(s, [tool(f"{name}_read"), tool(f"{name}_write")])
    async with start_gateway(tmp_path, servers) as gw:
        began = time.perf_counter()
        found = await gw.data("list_tools", query="srv07 write", limit=5)
        took = time.perf_counter() - began
        assert found["tools"][0] == {
            "server": "srv07",
            "name": "srv07_write",
            "summary": "Does srv07_write.",
            "sig": "",
        }
        assert found["total"] == 100 and len(found["cached"]) == 50
    assert not list(tmp_path.glob("*.starts")), "a server was started"
    assert took < 2.0, f"list_tools(query) took {took * 1000:.0f} ms"  # target: 100 ms
