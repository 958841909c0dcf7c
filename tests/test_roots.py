"""A downstream's roots/list outside any call reaches the sole client that may see it.

End to end against @modelcontextprotocol/server-everything, which asks its
client for roots 350 ms after the handshake (outside any call) and again on
``notifications/roots/list_changed``, and whose ``get-roots-list`` tool shows
the roots it holds. The caller is a handshake-era fastmcp Client over stdio,
the gateway's only client. Who counts as the sole client is table-tested
without processes.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mcp_types
import pytest
from conftest import await_until, everything_server, start_gateway
from mcp.server.connection import Connection

from agent_gateway.core.policy import PolicySet
from agent_gateway.front.roots import Clients

pytestmark = pytest.mark.anyio

SERVERS = {"ev": everything_server()}


def text_of(result: mcp_types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, mcp_types.TextContent))


class RootsOfTheCaller:
    """The caller's roots handler: the current roots, and how often it was asked."""

    def __init__(self, *uris: str) -> None:
        self.uris = list(uris)
        self.asked = 0

    def __call__(self, context: Any) -> list[str]:
        self.asked += 1
        return list(self.uris)


async def test_a_servers_roots_request_at_start_up_is_answered_by_the_sole_client(
    tmp_path: Path,
) -> None:
    roots = RootsOfTheCaller("file:///work/the-ide-project")
    options = {"roots": roots}
    args = ["--expose", "direct"]  # the server starts at launch, before any call
    async with start_gateway(
        tmp_path, SERVERS, args=args, mode="legacy", client_options=options
    ) as gw:
        await await_until(lambda: roots.asked, what="the server asking for roots at start-up")
        asked = roots.asked
        result = await gw.client.call_tool_mcp("ev__get-roots-list", {})
        assert not result.is_error, text_of(result)
        assert "file:///work/the-ide-project" in text_of(result)
        assert roots.asked == asked  # it kept the roots it got outside the call


async def test_a_callers_roots_change_is_forwarded_and_the_server_asks_again(
    tmp_path: Path,
) -> None:
    roots = RootsOfTheCaller("file:///work/first-project")
    options = {"roots": roots}
    args = ["--expose", "direct"]
    async with start_gateway(
        tmp_path, SERVERS, args=args, mode="legacy", client_options=options
    ) as gw:
        await await_until(lambda: roots.asked, what="the server asking for roots at start-up")
        asked = roots.asked
        roots.uris = ["file:///work/second-project"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # roots are deprecated in 2026-07-28
            await gw.client.send_roots_list_changed()
        await await_until(lambda: roots.asked > asked, what="the server asking again")
        result = await gw.client.call_tool_mcp("ev__get-roots-list", {})
        assert "file:///work/second-project" in text_of(result), text_of(result)
        assert "first-project" not in text_of(result)


async def test_a_sole_client_without_roots_leaves_the_server_working(tmp_path: Path) -> None:
    async with start_gateway(tmp_path, SERVERS, args=["--expose", "direct"], mode="legacy") as gw:
        assert "ev__echo" in {t.name for t in await gw.client.list_tools()}
        result = await gw.client.call_tool_mcp("ev__echo", {"message": "still here"})
        assert "still here" in text_of(result)


# ----- who is the sole client of a server (no processes) ----------------------------


def connection() -> Connection:
    return Connection.for_loop(SimpleNamespace())  # type: ignore[arg-type]


def clients_with(policies: PolicySet, servers: list[str]) -> Clients:
    manager = SimpleNamespace(backends=dict.fromkeys(servers), names=lambda: list(servers))
    return Clients(SimpleNamespace(manager=manager, policies=policies))  # type: ignore[arg-type]


POLICIES = PolicySet.from_dicts(
    {
        "alice": {"allow": {"servers": ["files", "shared"]}},
        "bob": {"allow": {"servers": ["shared", "secret"]}},
    }
)


def test_the_one_client_that_may_see_a_server_is_its_sole_client() -> None:
    clients = clients_with(POLICIES, ["files", "shared", "secret"])
    ide, other = connection(), connection()
    clients.record(ide, "alice")
    clients.record(other, "bob")
    assert clients.sole_client("files") is ide
    assert clients.sole_client("secret") is other
    assert clients.sole_client("shared") is None  # two clients may see it: neither is asked
    assert clients.sole_client("missing") is None
    assert clients.sole_servers(ide) == ["files"]


def test_a_server_hidden_from_any_identity_a_client_used_never_gets_its_roots() -> None:
    clients = clients_with(POLICIES, ["files", "shared", "secret"])
    mixed = connection()
    clients.record(mixed, "alice")
    clients.record(mixed, "bob")  # the same connection also acted as bob
    assert clients.sole_client("files") is None  # bob may not see files
    assert clients.sole_client("secret") is None  # alice may not see secret
    assert clients.sole_client("shared") is mixed


def test_a_client_with_no_policy_is_the_sole_client_of_nothing() -> None:
    clients = clients_with(POLICIES, ["files"])
    clients.record(connection(), "carol")
    assert clients.sole_client("files") is None


async def test_a_closed_client_is_forgotten() -> None:
    clients = clients_with(POLICIES, ["files"])
    ide = connection()
    clients.record(ide, "alice")
    await ide.exit_stack.aclose()
    assert clients.sole_client("files") is None
