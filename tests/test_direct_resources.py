"""Direct exposure of downstream resources, resource templates and prompts.

Pure tests for the ``agw://{server}/{uri}`` scheme, then real gateways with:
``docs`` (tests/servers/resources_server.py), ``secret`` (the same server,
hidden by the default policy), ``everything`` (@modelcontextprotocol/
server-everything), ``bare`` (a server with no resources or prompts
capability) and ``tools`` (the echo server: one resource, one prompt).
Resources, templates and prompts of the visible servers are listed
namespaced; reads and gets reach the right server and item and carry its
result. The hidden server's items are neither listed nor readable, and
answer exactly like items that do not exist, also when a policy edit hides
a server whose items were listed before. Meta mode lists none of them.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import anyio
import mcp_types
import pytest
from conftest import (
    Gateway,
    await_until,
    echo_server,
    everything_server,
    py_server,
    start_gateway,
)
from mcp import MCPError

from agent_gateway.core.names import direct_name, direct_uri, split_direct_uri

POLICIES = {
    "default": """
[allow]
servers = ["*"]
[deny]
servers = ["secret"]
[deny.tools]
docs = ["ping"]
"""
}
SERVERS = {
    "docs": py_server("resources_server.py"),
    "secret": py_server("resources_server.py"),
    "everything": everything_server(),
    "bare": py_server("resources_server.py", "--bare"),
    "tools": echo_server(),
}
DOCS_RESOURCES = {
    "agw://docs/docs://readme": "docs__readme",
    "agw://docs/data://config.json": "docs__config",
    "agw://docs/img://pixel.png": "docs__pixel",
}
README = "# Readme\n\nHello from the resources server.\n"
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR4nGNgAAIAAAUAAXpeqz8AAAAASUVORK5CYII="
)
EVERYTHING_README = "agw://everything/demo://resource/static/document/architecture.md"
EVERYTHING_TEXT = "agw://everything/demo://resource/dynamic/text/{resourceId}"
STYLE = direct_name("docs", "_style")  # starts with "_": hashed
READY_TIMEOUT = 60.0


# --------------------------------------------------------------------------- URI scheme


@pytest.mark.parametrize(
    ("server", "uri"),
    [
        ("docs", "docs://readme"),
        ("a_", "file:///tmp/a b/../c?x=1#frag"),
        ("My.Server-2", "agw://other/x"),  # a downstream URI that looks namespaced
        ("s", "greet://{name}{?lang}"),  # a template
        ("s", ""),
    ],
)
def test_direct_uri_reads_back_to_exactly_server_and_uri(server: str, uri: str) -> None:
    namespaced = direct_uri(server, uri)
    assert namespaced.startswith(f"agw://{server}/")
    assert split_direct_uri(namespaced) == (server, uri)


def test_template_expansion_of_a_direct_uri_routes_to_the_downstream_expansion() -> None:
    template = direct_uri("docs", "greet://{name}")
    expanded = template.replace("{name}", "World")  # RFC 6570 level 1
    assert split_direct_uri(expanded) == ("docs", "greet://World")


@pytest.mark.parametrize(
    "uri", ["docs://readme", "agw://", "agw://docs", "agw:///docs://readme", "AGW://docs/x"]
)
def test_other_uris_are_not_direct(uri: str) -> None:
    assert split_direct_uri(uri) is None


# --------------------------------------------------------------------------- end to end


async def lists_when_ready(gw: Gateway) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Poll until the visible servers' items are listed (servers start in the background)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        resources = {str(r.uri): r for r in await gw.client.list_resources()}
        templates = {t.uri_template: t for t in await gw.client.list_resource_templates()}
        prompts = {p.name: p for p in await gw.client.list_prompts()}
        if (
            set(DOCS_RESOURCES) <= set(resources)
            and {EVERYTHING_README, "agw://tools/echo://greeting"} <= set(resources)
            and {"agw://docs/greet://{name}", EVERYTHING_TEXT} <= set(templates)
            and {"docs__review", STYLE, "everything__args-prompt", "tools__greet"} <= set(prompts)
        ):
            return resources, templates, prompts
        if time.monotonic() > deadline:
            raise AssertionError(
                f"direct items missing after {READY_TIMEOUT}s: {sorted(resources)} "
                f"{sorted(templates)} {sorted(prompts)}\n{gw.stderr()}"
            )
        await anyio.sleep(0.05)


def own_meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    """A result's ``_meta`` less the gateway's own server info (the downstream's is dropped)."""
    meta = dict(meta or {})
    info = meta.pop(mcp_types.SERVER_INFO_META_KEY, None)
    assert info is None or info["name"] == "agent-gateway", info
    return meta


async def read_error(gw: Gateway, uri: str) -> str:
    with pytest.raises(MCPError) as caught:
        await gw.client.read_resource_mcp(uri)
    return str(caught.value).replace(uri, "URI")


async def prompt_error(gw: Gateway, name: str, arguments: dict[str, Any] | None = None) -> str:
    with pytest.raises(MCPError) as caught:
        await gw.client.get_prompt_mcp(name, arguments)
    return str(caught.value).replace(name, "NAME")


async def check_resources(
    gw: Gateway, resources: dict[str, Any], templates: dict[str, Any]
) -> None:
    # every URI is agw://{server}/...; the hidden and the bare server have none
    servers = {u.split("/")[2] for u in resources}
    assert servers == {"docs", "everything", "tools"}, sorted(resources)
    assert all(split_direct_uri(u) for u in resources)
    assert resources["agw://tools/echo://greeting"].name == "tools__greeting"
    docs = {u: r for u, r in resources.items() if u.startswith("agw://docs/")}
    assert {u: r.name for u, r in docs.items()} == DOCS_RESOURCES
    readme = docs["agw://docs/docs://readme"]
    assert readme.description == "The readme."
    assert readme.mime_type == "text/markdown"
    assert resources[EVERYTHING_README].name == "everything__architecture.md"
    assert resources[EVERYTHING_README].mime_type == "text/markdown"
    assert {u for u in templates if u.startswith("agw://docs/")} == {"agw://docs/greet://{name}"}
    greet = templates["agw://docs/greet://{name}"]
    assert greet.name == "docs__greet"
    assert greet.description == "A greeting for name."
    assert templates[EVERYTHING_TEXT].name == "everything__Dynamic Text Resource"

    # reads reach the right server and resource; content as the downstream sent it
    text = await gw.client.read_resource_mcp("agw://docs/docs://readme")
    [item] = text.contents
    assert item.text == README
    assert item.mime_type == "text/markdown"
    assert item.uri == "agw://docs/docs://readme"  # readable again by this URI
    config = await gw.client.read_resource_mcp("agw://docs/data://config.json")
    [item] = config.contents
    assert (item.text, item.mime_type, item.meta) == (
        '{"debug": true}',
        "application/json",
        {"v": 1},
    )
    assert own_meta(config.meta) == {"source": "resources_server"}
    blob = await gw.client.read_resource_mcp("agw://docs/img://pixel.png")
    [item] = blob.contents
    assert item.blob == PNG_B64
    assert item.mime_type == "image/png"
    assert base64.b64decode(item.blob).startswith(b"\x89PNG")
    long_doc = await gw.client.read_resource_mcp(EVERYTHING_README)
    assert long_doc.contents[0].text.startswith("# Everything Server")

    # URIs expanded from the listed templates route to the downstream's expansion
    hello = await gw.client.read_resource_mcp("agw://docs/greet://World")
    assert [(c.uri, c.text) for c in hello.contents] == [
        ("agw://docs/greet://World", "Hello, World!")
    ]
    dynamic = await gw.client.read_resource_mcp(EVERYTHING_TEXT.replace("{resourceId}", "3"))
    assert "3" in dynamic.contents[0].text

    # the hidden server's resources, unknown servers and unknown resources answer alike
    baseline = await read_error(gw, "agw://nobody/docs://readme")
    assert baseline == "Resource not found: 'URI'"
    for uri in [
        "agw://secret/docs://readme",
        "agw://secret/greet://World",
        "agw://secret/img://pixel.png",
        "agw://docs/nope://missing",
        "agw://bare/docs://readme",
        "agw://docs",
        "docs://readme",  # the downstream URI itself is not the gateway's
    ]:
        assert await read_error(gw, uri) == baseline, uri


async def check_prompts(gw: Gateway, prompts: dict[str, Any]) -> None:
    direct = {n for n in prompts}
    assert {n.split("__")[0] for n in direct} == {"docs", "everything", "tools"}, sorted(direct)
    docs = {n for n in direct if n.startswith("docs")}
    assert docs == {"docs__review", STYLE}
    assert STYLE.startswith("docs___style_")  # readable, then a hash
    review = prompts["docs__review"]
    assert review.description == "Review some code."
    assert [(a.name, a.required) for a in review.arguments] == [
        ("code", True),
        ("language", False),
    ]
    assert {"everything__simple-prompt", "everything__args-prompt"} <= direct

    # gets reach the right server and prompt, with the arguments; results as sent
    got = await gw.client.get_prompt_mcp("docs__review", {"code": "x = 1", "language": "rust"})
    assert got.description == "A rust review"
    assert [(m.role, m.content.text) for m in got.messages] == [
        ("user", "Please review this rust code:\nx = 1"),
        ("assistant", "I will look at it."),
    ]
    assert own_meta(got.meta) == {"prompt": "review"}
    style = await gw.client.get_prompt_mcp(STYLE)
    assert [m.content.text for m in style.messages] == ["Use four spaces."]
    hello = await gw.client.get_prompt_mcp("tools__greet", {"name": "Ada"})
    assert [m.content.text for m in hello.messages] == ["Hello, Ada!"]
    city = await gw.client.get_prompt_mcp("everything__args-prompt", {"city": "Lyon"})
    assert "Lyon" in city.messages[0].content.text
    # a downstream's own error names the server and says what is wrong
    missing = await prompt_error(gw, "docs__review", {})
    assert "Server 'docs'" in missing and "code" in missing, missing

    # the hidden server's prompts, unknown servers and unknown prompts answer alike
    baseline = await prompt_error(gw, "nobody__review")
    assert baseline == "Unknown prompt: 'NAME'"
    for name in [
        "secret__review",
        direct_name("secret", "_style"),
        "docs__nope",
        "docs___style",  # the unhashed spelling of a hashed name
        "bare__review",
        "review",
    ]:
        assert await prompt_error(gw, name, {"code": "x"}) == baseline, name


@pytest.mark.anyio
@pytest.mark.parametrize("expose", ["direct", "both"])
async def test_expose_direct_lists_and_routes_resources_templates_and_prompts(
    tmp_path: Path, expose: str
) -> None:
    async with start_gateway(tmp_path, SERVERS, policies=POLICIES, args=["--expose", expose]) as gw:
        resources, templates, prompts = await lists_when_ready(gw)
        await check_resources(gw, resources, templates)
        await check_prompts(gw, prompts)
        # a hidden tool rule does not hide resources or prompts (server visibility only)
        tools = {t.name for t in await gw.client.list_tools()}
        assert "docs__ping" not in tools
        assert "bare__ping" in tools
        # nothing about a server that has no resources or prompts went wrong
        assert "Skipping" not in gw.stderr()


@pytest.mark.anyio
async def test_meta_mode_lists_no_downstream_resources_or_prompts(tmp_path: Path) -> None:
    servers = {"docs": SERVERS["docs"]}
    async with start_gateway(tmp_path, servers, policies=POLICIES) as gw:
        # start docs, so there would be something to list
        result = await gw.downstream("docs", "nothing")
        assert result.is_error
        await gw.data("list_tools", server="docs")
        assert await gw.client.list_resources() == []
        assert await gw.client.list_resource_templates() == []
        assert await gw.client.list_prompts() == []
        baseline = await read_error(gw, "agw://nobody/docs://readme")
        assert await read_error(gw, "agw://docs/docs://readme") == baseline
        assert await prompt_error(gw, "docs__review", {"code": "x"}) == await prompt_error(
            gw, "nobody__review", {"code": "x"}
        )


@pytest.mark.anyio
async def test_a_server_hidden_by_a_policy_edit_stops_answering_by_its_direct_names(
    tmp_path: Path,
) -> None:
    """Names listed (and remembered for routing) before the edit answer as missing after it."""
    servers = {"docs": SERVERS["docs"], "tools": SERVERS["tools"]}
    async with start_gateway(
        tmp_path, servers, policies=POLICIES, args=["--expose", "direct"]
    ) as gw:

        async def listed() -> bool:
            prompts = {p.name for p in await gw.client.list_prompts()}
            return {"docs__review", "tools__greet"} <= prompts

        await await_until(listed, timeout=READY_TIMEOUT, what="docs' and tools' prompts")
        got = await gw.client.get_prompt_mcp("docs__review", {"code": "x"})
        assert got.messages
        readme = await gw.client.read_resource_mcp("agw://docs/docs://readme")
        assert readme.contents[0].text == README

        (tmp_path / "policies" / "default.toml").write_text(
            POLICIES["default"].replace('servers = ["secret"]', 'servers = ["secret", "docs"]')
        )

        async def docs_gone() -> bool:
            prompts = {p.name for p in await gw.client.list_prompts()}
            resources = {str(r.uri) for r in await gw.client.list_resources()}
            templates = {t.uri_template for t in await gw.client.list_resource_templates()}
            return (
                "tools__greet" in prompts
                and not any(n.startswith("docs") for n in prompts)
                and not any(u.startswith("agw://docs/") for u in resources | templates)
            )

        await await_until(docs_gone, what="docs' items to be unlisted after the policy edit")
        assert await prompt_error(gw, "docs__review", {"code": "x"}) == "Unknown prompt: 'NAME'"
        assert await prompt_error(gw, STYLE) == "Unknown prompt: 'NAME'"
        for uri in ["agw://docs/docs://readme", "agw://docs/greet://World"]:
            assert await read_error(gw, uri) == "Resource not found: 'URI'"
        # the visible server still answers
        hello = await gw.client.get_prompt_mcp("tools__greet", {"name": "Ada"})
        assert [m.content.text for m in hello.messages] == ["Hello, Ada!"]


@pytest.mark.anyio
async def test_a_hidden_prompt_takes_the_same_path_as_a_missing_one(tmp_path: Path) -> None:
    """Both are looked up among the caller's visible prompts only; the hidden server is not asked.

    ``docs`` is listed (so its prompts were seen), then hidden by a policy edit.
    Getting ``docs__review`` must then do exactly what getting a name that never
    existed does: the same requests to the visible server, none to ``docs``, the
    same answer.
    """
    logs = {name: tmp_path / f"{name}.log" for name in ("docs", "tools")}
    servers = {
        name: py_server("resources_server.py", "--record", str(log)) for name, log in logs.items()
    }
    async with start_gateway(
        tmp_path, servers, policies=POLICIES, args=["--expose", "direct"]
    ) as gw:

        async def listed() -> bool:
            prompts = {p.name for p in await gw.client.list_prompts()}
            return {"docs__review", "tools__review"} <= prompts

        await await_until(listed, timeout=READY_TIMEOUT, what="docs' and tools' prompts")
        (tmp_path / "policies" / "default.toml").write_text(
            POLICIES["default"].replace('servers = ["secret"]', 'servers = ["secret", "docs"]')
        )

        async def docs_gone() -> bool:
            prompts = {p.name for p in await gw.client.list_prompts()}
            return "tools__review" in prompts and "docs__review" not in prompts

        await await_until(docs_gone, what="docs' prompts to be unlisted after the policy edit")

        def requests() -> dict[str, list[str]]:
            return {name: log.read_text().splitlines() for name, log in logs.items()}

        answers, effects = [], []
        for name in ["docs__review", "nobody__review"]:
            before = requests()
            answers.append(await prompt_error(gw, name, {"code": "x"}))
            after = requests()
            effects.append({s: after[s][len(before[s]) :] for s in logs})
        assert answers == ["Unknown prompt: 'NAME'"] * 2
        assert effects[0] == effects[1], effects
        assert effects[0]["docs"] == []


@pytest.mark.anyio
async def test_resource_links_in_a_direct_result_point_at_the_gateway_and_read_back(
    tmp_path: Path,
) -> None:
    servers = {"everything": everything_server()}
    async with start_gateway(tmp_path, servers, args=["--expose", "direct"]) as gw:

        async def listed() -> bool:
            return "everything__get-resource-links" in {
                t.name for t in await gw.client.list_tools()
            }

        await await_until(listed, READY_TIMEOUT, "server-everything's tools")
        result = await gw.client.call_tool_mcp("everything__get-resource-links", {"count": 2})
        assert not result.is_error, result
        links = [c for c in result.content if isinstance(c, mcp_types.ResourceLink)]
        assert len(links) == 2
        for link in links:
            assert split_direct_uri(str(link.uri)) is not None, link.uri
            assert str(link.uri).startswith("agw://everything/")
            read = await gw.client.read_resource_mcp(str(link.uri))
            assert read.contents and str(read.contents[0].uri) == str(link.uri)
