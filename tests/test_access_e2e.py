"""Access control end to end: a real gateway subprocess over stdio, real echo servers.

Each test starts one gateway and runs several attacks against it (a gateway
start costs about two seconds). The servers are ``public``, ``calc`` and
``secret``, all echo servers; ``secret`` carries a marker in its command line
so the test can prove from ``/proc`` that it was never started.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    PY,
    REPO,
    Gateway,
    alive,
    echo_server,
    passed_env,
    py_server,
    start_gateway,
    write_config,
    write_policies,
)
from fastmcp import Client

from agent_gateway.core.policy import PolicySet
from agent_gateway.downstream.stdio import StdioProcessTransport

pytestmark = pytest.mark.anyio

SECRET_MARK = "secret-server-marker-6b1f"
SERVERS = {
    "public": echo_server(),
    "calc": py_server("echo_server.py", "--name", "calc"),
    "secret": py_server("echo_server.py", "--name", SECRET_MARK),
}
META_TOOLS = ("list_servers", "list_tools", "get_tool", "call_tool", "gateway_status")

ALICE = """
description = "alice: public minus dangerous tools, calc narrowed to add"
[allow]
servers = ["public", "calc"]
[allow.tools]
calc = ["add"]
[deny.tools]
"*" = ["crash", "env"]
"""
BOB = """
description = "bob: everything but secret and calc"
[allow]
servers = ["*"]
[deny]
servers = ["secret", "calc"]
"""
ADMIN = """
[allow]
servers = ["*"]
"""
POLICIES = {"alice": ALICE, "bob": BOB, "admin": ADMIN}


# --------------------------------------------------------------------------- helpers


def text(result: Any) -> str:
    assert result.content, result
    return str(result.content[0].text)


async def meta(gw: Gateway, name: str, /, **arguments: Any) -> Any:
    """Call meta-tool ``name`` (conftest's ``gw.call`` cannot pass an argument named tool)."""
    return await gw.client.call_tool_mcp(name, arguments)


async def data(gw: Gateway, name: str, /, **arguments: Any) -> Any:
    result = await meta(gw, name, **arguments)
    assert not result.is_error, f"{name}({arguments}) failed: {result.content}"
    return result.structured_content


async def refused(gw: Gateway, name: str, /, **arguments: Any) -> str:
    result = await meta(gw, name, **arguments)
    assert result.is_error, f"{name}({arguments}) was served: {result}"
    assert not result.structured_content
    return text(result)


async def same_as_missing(
    gw: Gateway, meta_tool: str, key: str, name: str, missing: str, /, **arguments: Any
) -> None:
    """``meta_tool`` answers for ``name`` exactly as for the missing ``missing`` (name swapped)."""
    hidden = await refused(gw, meta_tool, **{key: name}, **arguments)
    absent = await refused(gw, meta_tool, **{key: missing}, **arguments)
    assert name in hidden and missing in absent
    assert hidden == absent.replace(missing, name), (hidden, absent)


def children_with(pid: int, marker: str) -> list[int]:
    """Pids of the direct children of ``pid`` whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and marker in cmdline:
            found.append(int(entry))
    return found


def server_names(data: dict[str, Any]) -> set[str]:
    return {s["name"] for s in data["servers"]}


def tool_pairs(data: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["server"], t["name"]) for t in data["tools"]}


async def assert_sees_alice_view(gw: Gateway, **who: Any) -> None:
    assert server_names(await data(gw, "list_servers", **who)) == {"public", "calc"}
    listed = await data(gw, "list_tools", limit=1000, **who)
    pairs = tool_pairs(listed)
    assert listed["errors"] == []
    assert {n for s, n in pairs if s == "calc"} == {"add"}  # allow.tools narrowing
    public = {n for s, n in pairs if s == "public"}
    assert {"echo", "pid", "add"} <= public
    assert not {"crash", "env"} & public  # deny.tools
    assert listed["total"] == len(pairs) == len(public) + 1
    assert not any(s == "secret" for s, _ in pairs)
    counts = {s["name"]: s["tools"] for s in (await data(gw, "list_servers", **who))["servers"]}
    assert counts == {"public": len(public), "calc": 1}


# --------------------------------------------------------------------------- repo policies/


def test_the_repo_policies_folder_loads_and_means_what_it_says() -> None:
    policies = PolicySet.from_dir(str(REPO / "policies"), explicit=True)
    assert {"default", "backend-agent", "reviewer"} <= set(policies.agents)
    assert not policies.open_mode
    for agent in policies.agents:
        assert policies.agents[agent].description, f"{agent}.toml has no description"
    # default: the example servers of .mcp.json.example, nothing destructive.
    assert policies.server_visible(None, "time")
    assert policies.tool_allowed(None, "notes", "add_note")
    assert not policies.tool_allowed(None, "notes", "delete_note")
    assert not policies.tool_allowed(None, "notes", "drop_all")
    assert not policies.server_visible(None, "postgres")
    # backend-agent: allow.tools narrowing, deny.servers, deny.tools.
    assert policies.tool_allowed("backend-agent", "postgres", "query")
    assert not policies.tool_allowed("backend-agent", "postgres", "vacuum")
    assert not policies.server_visible("backend-agent", "prod-db")
    assert not policies.tool_allowed("backend-agent", "notes", "delete_note")
    # reviewer: read-only.
    assert policies.tool_allowed("reviewer", "notes", "search_notes")
    assert not policies.tool_allowed("reviewer", "notes", "add_note")
    assert not policies.server_visible("reviewer", "postgres")
    for name in ("backend-agent", "reviewer"):
        source = (REPO / "policies" / f"{name}.toml").read_text()
        assert "# tokens_sha256 = [" in source  # shown, commented out
        assert policies.agents[name].tokens_sha256 == ()


@pytest.mark.parametrize("name", ["backend-agent", "reviewer"])
def test_the_example_token_line_uncommented_in_place_gives_the_agent_a_token(
    tmp_path: Path, name: str
) -> None:
    source = (REPO / "policies" / f"{name}.toml").read_text()
    lines = source.splitlines()
    token_line = next(i for i, line in enumerate(lines) if line.startswith("# tokens_sha256"))
    first_table = next(i for i, line in enumerate(lines) if line.startswith("["))
    assert token_line < first_table, "tokens_sha256 must sit above the first [table]"
    digest = "ab" * 32
    lines[token_line] = f'tokens_sha256 = ["{digest}"]'
    (tmp_path / f"{name}.toml").write_text("\n".join(lines) + "\n")
    policies = PolicySet.from_dir(str(tmp_path), explicit=True)
    assert policies.agents[name].tokens_sha256 == (digest,)
    assert "tokens_sha256" not in (policies.agents[name].deny.tools or {})
    assert policies.token_agents == {name}


def test_the_example_config_servers_are_all_allowed_by_default() -> None:
    import json

    example = json.loads((REPO / ".mcp.json.example").read_text())["mcpServers"]
    policies = PolicySet.from_dir(str(REPO / "policies"), explicit=True)
    assert example, "no servers in .mcp.json.example"
    for name in example:
        assert policies.server_visible(None, name), name


# --------------------------------------------------------------------------- bound identity


async def test_launch_bound_alice_sees_only_her_policy_and_cannot_spoof(tmp_path: Path) -> None:
    async with start_gateway(tmp_path, SERVERS, policies=POLICIES, args=["--agent", "alice"]) as gw:
        await assert_sees_alice_view(gw)
        await assert_sees_alice_view(gw, agent_id="alice")  # the bound name itself is fine
        await assert_sees_alice_view(gw, agent_id="")  # empty counts as none
        status = await data(gw, "gateway_status")
        assert status["agent"] == "alice" and status["open_mode"] is False

        # Spoof: a different agent_id is refused by every meta-tool, never served as admin.
        spoofs: dict[str, dict[str, Any]] = {
            "list_servers": {},
            "list_tools": {},
            "get_tool": {"server": "secret", "tool": "pid"},
            "call_tool": {"server": "secret", "tool": "pid"},
            "gateway_status": {},
        }
        assert set(spoofs) == set(META_TOOLS)
        for tool, arguments in spoofs.items():
            message = await refused(gw, tool, agent_id="admin", **arguments)
            assert "'admin'" in message and "'alice'" in message, message
            assert SECRET_MARK not in message
        # Even a tool alice may use is refused under a spoofed id.
        await refused(gw, "call_tool", server="public", tool="echo", agent_id="admin")

        # Hidden server by name: exactly the text of a missing server.
        await same_as_missing(gw, "list_tools", "server", "secret", "nosuch")
        await same_as_missing(gw, "get_tool", "server", "secret", "nosuch", tool="pid")
        await same_as_missing(gw, "call_tool", "server", "secret", "nosuch", tool="pid")
        await same_as_missing(gw, "list_tools", "server", "secret", "absent", query="pid")

        # Denied tool by name: exactly the text of a missing tool.
        for server, denied in (("public", "crash"), ("public", "env"), ("calc", "echo")):
            await same_as_missing(gw, "get_tool", "tool", denied, "nosuchtool", server=server)
            await same_as_missing(
                gw, "call_tool", "tool", denied, "nosuchtool", server=server, arguments={}
            )

        # ...and the downstream never ran it: public still has the same live process.
        before = int(text(await gw.downstream("public", "pid")))
        await refused(gw, "call_tool", server="public", tool="crash")
        await refused(gw, "call_tool", server="calc", tool="crash")
        after = int(text(await gw.downstream("public", "pid")))
        assert after == before and alive(before)
        status = await data(gw, "gateway_status")
        assert {s["name"]: s["restarts"] for s in status["servers"]} == {"public": 0, "calc": 0}

        # Search for a denied tool: not found by name, not counted.
        for query in ("crash", "Kill this server process", "env", "environment variable"):
            found = await data(gw, "list_tools", query=query)
            assert not {"crash", "env"} & {n for s, n in tool_pairs(found) if s == "public"}
            assert ("calc", "crash") not in tool_pairs(found)
        found = await data(gw, "list_tools", server="calc", query="echo")
        assert found["tools"] == [] or tool_pairs(found) == {("calc", "add")}

        # The secret server was never started by any of the above.
        assert children_with(gw.pid, SECRET_MARK) == []
        assert "secret" not in {s["name"] for s in status["servers"]}


async def test_agent_env_variable_binds_like_the_flag(tmp_path: Path) -> None:
    env = {"AGENT_GATEWAY_AGENT": "alice"}
    async with start_gateway(tmp_path, SERVERS, policies=POLICIES, env=env) as gw:
        # No list_tools here: the flag test covers the tools; this one starts no server.
        assert server_names(await data(gw, "list_servers")) == {"public", "calc"}
        status = await data(gw, "gateway_status")
        assert status["agent"] == "alice" and status["open_mode"] is False
        message = await refused(gw, "list_servers", agent_id="bob")
        assert "'bob'" in message and "'alice'" in message
        await refused(gw, "call_tool", server="secret", tool="pid", agent_id="admin")
        await same_as_missing(gw, "call_tool", "server", "secret", "nosuch", tool="pid")
        await same_as_missing(gw, "get_tool", "tool", "crash", "nosuchtool", server="calc")
        assert children_with(gw.pid, SECRET_MARK) == []


# --------------------------------------------------------------------------- declared / none


async def test_declared_unknown_and_anonymous_callers(tmp_path: Path) -> None:
    """No bound identity and no default.toml: agent_id scopes; unknown and none see nothing."""
    async with start_gateway(tmp_path, SERVERS, policies=POLICIES) as gw:
        # Declared bob: scoped to bob's policy.
        bob = await data(gw, "list_servers", agent_id="bob")
        assert server_names(bob) == {"public"} and "hint" not in bob
        listed = await data(gw, "list_tools", agent_id="bob", limit=1000)
        assert {s for s, _ in tool_pairs(listed)} == {"public"}
        assert ("public", "crash") in tool_pairs(listed)  # bob has no deny.tools
        await same_as_missing(gw, "list_tools", "server", "secret", "nosuch", agent_id="bob")
        await same_as_missing(gw, "call_tool", "server", "calc", "nope", tool="add", agent_id="bob")

        # Declared alice on the same connection: her own narrower view.
        alice_id = {"agent_id": "alice"}  # no list_tools here: it would start calc
        alice = await data(gw, "list_servers", **alice_id)
        assert server_names(alice) == {"public", "calc"}
        await same_as_missing(
            gw, "get_tool", "tool", "crash", "nosuch", server="public", **alice_id
        )
        await same_as_missing(gw, "get_tool", "tool", "echo", "nosuch", server="calc", **alice_id)

        # Declared admin starts secret; bob's gateway_status must not list it.
        started = await meta(gw, "call_tool", server="secret", tool="pid", agent_id="admin")
        assert not started.is_error and int(text(started)) > 0
        assert "secret" in server_names(await data(gw, "gateway_status", agent_id="admin"))
        for who in ({"agent_id": "bob"}, {"agent_id": "alice"}, {}, {"agent_id": "mallory"}):
            status = await data(gw, "gateway_status", **who)
            assert "secret" not in server_names(status), who
            assert SECRET_MARK not in str(status)
        assert (await data(gw, "gateway_status", agent_id="bob"))["agent"] == "bob"

        # Unknown agent: nothing, a hint naming the file, the rest as for a missing server.
        mallory = await data(gw, "list_servers", agent_id="mallory")
        assert mallory["servers"] == []
        assert "policies/mallory.toml" in mallory["hint"]
        nothing = await data(gw, "list_tools", agent_id="mallory")
        assert nothing["tools"] == [] and nothing["total"] == 0
        for server in ("public", "secret"):
            who = {"agent_id": "mallory"}
            await same_as_missing(gw, "list_tools", "server", server, "nosuch", **who)
            await same_as_missing(gw, "get_tool", "server", server, "nosuch", tool="echo", **who)
            await same_as_missing(gw, "call_tool", "server", server, "nosuch", tool="echo", **who)
        status = await data(gw, "gateway_status", agent_id="mallory")
        assert status["servers"] == [] and status["agent"] == "mallory"

        # No identity and no default.toml: nothing visible.
        anonymous = await data(gw, "list_servers")
        assert anonymous["servers"] == []
        assert "default.toml" in anonymous["hint"]
        assert (await data(gw, "list_tools"))["total"] == 0
        await same_as_missing(gw, "call_tool", "server", "public", "nosuch", tool="echo")
        await same_as_missing(gw, "get_tool", "server", "public", "nosuch", tool="echo")
        status = await data(gw, "gateway_status")
        assert status["servers"] == [] and status["agent"] is None

        # secret runs once (admin started it); mallory and the anonymous caller started nothing.
        assert len(children_with(gw.pid, SECRET_MARK)) == 1


async def test_open_mode_without_a_policies_folder(tmp_path: Path) -> None:
    servers = {"public": SERVERS["public"], "secret": SERVERS["secret"]}
    async with start_gateway(tmp_path, servers) as gw:  # no policies/ in its cwd, none given
        status = await data(gw, "gateway_status")
        assert status["open_mode"] is True and status["agent"] is None
        for who in ({}, {"agent_id": "anyone"}):
            assert server_names(await data(gw, "list_servers", **who)) == {"public", "secret"}
        listed = await data(gw, "list_tools", server="secret", limit=1000)
        assert {("secret", "crash"), ("secret", "env")} <= tool_pairs(listed)
        echoed = await meta(gw, "call_tool", server="secret", tool="echo", arguments={"text": "hi"})
        assert not echoed.is_error and text(echoed) == "hi"
        assert "secret" in server_names(await data(gw, "gateway_status"))
        assert "open mode" in gw.stderr().lower()


# --------------------------------------------------------------------------- refusing to start


def test_serve_exits_1_for_an_explicit_policies_path_that_does_not_exist(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"public": echo_server()})
    missing = tmp_path / "nope"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_GATEWAY_")}
    argv = ["-m", "agent_gateway", "serve", "--config", str(config), "--policies", str(missing)]
    done = subprocess.run(
        [sys.executable, *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=30,
    )
    assert done.returncode == 1, done.stderr
    assert str(missing) in done.stderr
    assert done.stdout == ""


@pytest.fixture
def serve_main(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """``agent-gateway serve`` in-process (the same ``main`` the process runs): code, out, err."""
    cli = importlib.import_module("agent_gateway.cli.main")

    # main() would replace the root logger's handlers; keep pytest's.
    monkeypatch.setattr(cli, "setup_logging", lambda *_, **__: None)
    # If serve ever got past loading (the bug under test), fail fast instead of serving.

    async def never_serve(*_: Any) -> int:
        return 99

    monkeypatch.setattr("agent_gateway.serve.serve", never_serve)
    for name in list(os.environ):
        if name.startswith("AGENT_GATEWAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, {"public": echo_server()})

    def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        code = cli.main(["serve", "--config", str(config), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_serve_exits_1_for_a_missing_path_given_by_environment(
    tmp_path: Path, serve_main: Callable[..., tuple[int, str, str]]
) -> None:
    missing = tmp_path / "gone"
    code, out, err = serve_main(env={"AGENT_GATEWAY_POLICIES": str(missing)})
    assert (code, out) == (1, "")
    assert str(missing) in err


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ('[allow]\nservers = ["*"]\nservres = ["secret"]\n', "servres"),  # unknown key
        ('[alow]\nservers = ["*"]\n', "alow"),  # unknown table
        ('[allow]\nservers = "*"\n', "allow.servers"),  # wrong type
        ('[allow]\nservers = ["*"\n', "invalid TOML at line"),  # syntax
        ('tokens_sha256 = ["not-a-digest"]\n', "tokens_sha256"),
    ],
    ids=["unknown-key", "unknown-table", "wrong-type", "syntax", "bad-digest"],
)
def test_serve_exits_1_for_a_broken_policy_file_naming_it(
    tmp_path: Path, serve_main: Callable[..., tuple[int, str, str]], source: str, needle: str
) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "alice.toml").write_text(ALICE)
    broken = folder / "bob.toml"
    broken.write_text(source)
    code, out, err = serve_main("--policies", str(folder))
    assert (code, out) == (1, "")
    assert str(broken) in err
    assert needle in err
    assert "not-a-digest" not in err  # a pasted token is never echoed
    assert "alice.toml" not in err  # the good file is not blamed


def test_serve_exits_1_for_a_broken_default_policies_folder(
    tmp_path: Path, serve_main: Callable[..., tuple[int, str, str]]
) -> None:
    # ./policies is used without being given: broken files there are still errors, not open mode.
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "default.toml").write_text("[deny]\nserver = []\n")
    code, out, err = serve_main()
    assert (code, out) == (1, "")
    assert "default.toml" in err and "server" in err


# --------------------------------------------------------------------------- launched from anywhere


@asynccontextmanager
async def ide_launch(config: Path, cwd: Path, *args: str) -> AsyncIterator[Gateway]:
    """Start the gateway as an IDE does: an absolute --config, any working directory."""
    argv = ["-m", "agent_gateway", "serve", "--config", str(config), "--log-level", "debug"]
    transport = StdioProcessTransport("gateway", PY, [*argv, *args], passed_env(), str(cwd))
    client: Client[Any] = Client(transport, timeout=60)
    try:
        async with client:
            yield Gateway(client, transport, config.parent, config)
    except BaseException:
        sys.stderr.write("---- gateway stderr ----\n" + "\n".join(transport.stderr) + "\n")
        raise


def project(tmp_path: Path) -> tuple[Path, Path]:
    """``proj/.mcp.json`` whose servers run ``bin/echo.sh`` (relative), and another cwd."""
    proj, elsewhere = tmp_path / "proj", tmp_path / "elsewhere"
    (proj / "bin").mkdir(parents=True)
    elsewhere.mkdir()
    script = proj / "bin" / "echo.sh"
    script.write_text(f'#!/bin/sh\nexec "{PY}" "{REPO}/tests/servers/echo_server.py" "$@"\n')
    script.chmod(0o755)
    servers = {
        "public": {"command": "bin/echo.sh"},
        "calc": {"command": "./bin/echo.sh", "args": ["--name", "calc"], "cwd": "bin"},
        "secret": {"command": "bin/echo.sh", "args": ["--name", SECRET_MARK]},
    }
    return write_config(proj, servers), elsewhere


async def test_an_ide_launch_from_another_folder_uses_the_configs_folder(tmp_path: Path) -> None:
    config, elsewhere = project(tmp_path)
    write_policies(config.parent, POLICIES)
    (elsewhere / "policies").mkdir()  # a policies folder in the cwd must not count
    async with ide_launch(config, elsewhere, "--agent", "alice") as gw:
        status = await data(gw, "gateway_status")
        assert status["open_mode"] is False and status["agent"] == "alice"
        assert status["policies"] == str(config.parent / "policies")
        assert server_names(await data(gw, "list_servers")) == {"public", "calc"}
        await same_as_missing(gw, "call_tool", "tool", "crash", "nosuchtool", server="public")
        await same_as_missing(gw, "call_tool", "server", "secret", "nosuch", tool="pid")
        # relative commands ran; the default cwd is the config's folder, a relative cwd under it
        echoed = await gw.downstream("public", "echo", text="hi")
        assert not echoed.is_error and text(echoed) == "hi"
        added = await gw.downstream("calc", "add", a=1, b=2)
        assert not added.is_error and text(added) == "3"
        pids = await gw.pids()
        assert os.readlink(f"/proc/{pids['public']}/cwd") == str(config.parent)
        assert os.readlink(f"/proc/{pids['calc']}/cwd") == str(config.parent / "bin")
        assert children_with(gw.pid, SECRET_MARK) == []


async def test_a_bound_agent_without_a_policies_folder_sees_nothing_not_open_mode(
    tmp_path: Path,
) -> None:
    config, elsewhere = project(tmp_path)
    async with ide_launch(config, elsewhere, "--agent", "ghost") as gw:
        listed = await data(gw, "list_servers")
        assert listed["servers"] == []
        assert str(config.parent / "policies" / "ghost.toml") in listed["hint"]
        status = await data(gw, "gateway_status")
        assert status["open_mode"] is False and status["servers"] == []
        assert (await data(gw, "list_tools"))["total"] == 0
        await same_as_missing(gw, "call_tool", "server", "public", "nosuch", tool="echo")
        await same_as_missing(gw, "get_tool", "server", "public", "nosuch", tool="echo")
        assert children_with(gw.pid, "echo_server.py") == []
