"""The HTTP front end to end: ``agent-gateway serve --transport http`` as a real subprocess.

One gateway serves the whole module (a start costs seconds): servers ``a``
and ``b`` (echo servers), ``default.toml`` allowing both, ``alice.toml``
allowing only ``a`` and owning a bearer token, ``--allowed-host myhost`` and
``--expose both`` (so direct tools are filtered per bearer token too).
Raw requests check the guard (Host/Origin/bearer/healthz); fastmcp clients of
both protocol eras check the MCP side. SIGTERM gets its own gateway.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from conftest import (
    PY,
    alive,
    echo_server,
    passed_env,
    stop_proc,
    wait_until,
    write_config,
    write_policies,
)
from fastmcp import Client
from mcp import MCPError

TOKEN = secrets.token_urlsafe(24)
TOKEN_SHA = hashlib.sha256(TOKEN.encode()).hexdigest()
POLICIES = {
    "default": '[allow]\nservers = ["*"]\n',
    "alice": f'tokens_sha256 = ["{TOKEN_SHA}"]\n[allow]\nservers = ["a"]\n',
    "bob": '[allow]\nservers = ["*"]\n',
}
START_TIMEOUT = 30.0
META_TOOLS = {"list_servers", "list_tools", "get_tool", "call_tool", "gateway_status"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
}
MCP_ACCEPT = {"Accept": "application/json, text/event-stream"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HttpGateway:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def http_gateway(
    folder: Path,
    servers: Mapping[str, Any],
    *,
    policies: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
) -> Iterator[HttpGateway]:
    """Start ``serve --transport http`` on a free port; wait for ``/healthz``; stop it after."""
    conf = folder / "conf"  # the gateway watches this folder: keep its log out of it
    conf.mkdir()
    config = write_config(conf, servers)
    port = free_port()
    argv = [PY, "-m", "agent_gateway", "serve", "--transport", "http", "--port", str(port)]
    argv += ["--config", str(config), "--log-level", "debug", *args]
    if policies is not None:
        argv += ["--policies", str(write_policies(conf, policies))]
    log = folder / "gateway.log"
    env = {**os.environ, **passed_env(), "PYTHONUNBUFFERED": "1"}  # this tree's code
    with log.open("wb") as err:
        proc = subprocess.Popen(argv, cwd=conf, env=env, stdin=subprocess.DEVNULL, stderr=err)
    gw = HttpGateway(proc, port, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"gateway exited {proc.returncode}:\n{gw.stderr()}")
            with contextlib.suppress(httpx2.TransportError):
                if httpx2.get(f"{gw.base}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"no /healthz after {START_TIMEOUT}s:\n{gw.stderr()}")
            time.sleep(0.05)
        yield gw
    except BaseException:
        sys.stderr.write(f"---- gateway stderr ----\n{gw.stderr()}\n")
        raise
    finally:
        stop_proc(proc, 15)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpGateway]:
    folder = tmp_path_factory.mktemp("http")
    servers = {"a": echo_server(), "b": echo_server()}
    with http_gateway(
        folder, servers, policies=POLICIES, args=["--allowed-host", "myhost", "--expose", "both"]
    ) as gateway:
        yield gateway


def post_init(gw: HttpGateway, headers: Mapping[str, str]) -> httpx2.Response:
    return httpx2.post(gw.url, json=INIT, headers={**MCP_ACCEPT, **headers}, timeout=30)


def init_result(response: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC result of an initialize answered as JSON or as one SSE event."""
    body = response.text
    if response.headers["content-type"].startswith("text/event-stream"):
        data = [line[5:].strip() for line in body.splitlines() if line.startswith("data:")]
        body = next(d for d in data if d)
    return dict(json.loads(body)["result"])


# --------------------------------------------------------------------------- raw HTTP


def test_healthz_answers_without_auth(gw: HttpGateway) -> None:
    r = httpx2.get(f"{gw.base}/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    # not even a token that matches nobody is asked about on /healthz
    r = httpx2.get(f"{gw.base}/healthz", headers={"Authorization": "Bearer nobody"})
    assert r.status_code == 200


def test_readiness_says_what_loaded_with_counts_and_no_names(gw: HttpGateway) -> None:
    for path in ("/healthz?ready", "/readyz"):
        r = httpx2.get(f"{gw.base}{path}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "ready" and body["watching"] is True
        assert (body["config_loaded"], body["policies_loaded"]) == (True, True)
        assert (body["servers"], body["agents"], body["open_mode"]) == (2, len(POLICIES), False)
        for name in ("alice", "bob", "/conf", "policies/", TOKEN_SHA):
            assert name not in r.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.com"},
        {"Host": "localhost.evil.com"},
        {"Host": "127.0.0.1.nip.io"},
        {"Host": "otherhost:{port}"},  # not named with --allowed-host
        {"Origin": "http://evil.com"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.com:{port}"},
    ],
)
def test_non_loopback_host_or_origin_is_refused_with_403(
    gw: HttpGateway, headers: dict[str, str]
) -> None:
    headers = {k: v.format(port=gw.port) for k, v in headers.items()}
    r = post_init(gw, headers)
    assert r.status_code == 403, r.text
    assert "--allowed-host" in r.json()["error"]
    assert "mcp-session-id" not in r.headers
    # /healthz is behind the same DNS-rebinding check
    assert httpx2.get(f"{gw.base}/healthz", headers=headers).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Host": "localhost:{port}"},
        {"Host": "[::1]:{port}"},
        {"Host": "myhost:{port}"},  # --allowed-host myhost
        {"Host": "MYHOST"},
        {"Origin": "http://localhost:3000"},
        {"Origin": "https://127.0.0.1:9999"},
        {"Origin": "http://myhost:8080"},
    ],
)
def test_loopback_and_allowed_names_reach_the_mcp_server(
    gw: HttpGateway, headers: dict[str, str]
) -> None:
    headers = {k: v.format(port=gw.port) for k, v in headers.items()}
    r = post_init(gw, headers)
    assert r.status_code == 200, r.text
    assert init_result(r)["serverInfo"]["name"] == "agent-gateway"


def test_a_bearer_token_that_matches_nobody_is_401_never_anonymous(gw: HttpGateway) -> None:
    for auth in ("Bearer not-a-known-token", f"Bearer {TOKEN}x", "Basic YWxpY2U6eA=="):
        r = post_init(gw, {"Authorization": auth})
        assert r.status_code == 401, (auth, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "agent-gateway token" in r.json()["error"] or "Bearer TOKEN" in r.json()["error"]
        assert "not-a-known-token" not in r.text
    # no token at all passes the guard (the caller gets default.toml), a known one too
    assert post_init(gw, {}).status_code == 200
    assert post_init(gw, {"Authorization": f"Bearer {TOKEN}"}).status_code == 200


# --------------------------------------------------------------------------- MCP clients


async def meta(client: Client[Any], name: str, /, **arguments: Any) -> Any:
    return await client.call_tool_mcp(name, arguments)


async def servers_of(client: Client[Any], **arguments: Any) -> list[str]:
    result = await meta(client, "list_servers", **arguments)
    assert not result.is_error, result
    return [s["name"] for s in result.structured_content["servers"]]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_clients_of_both_eras_list_and_call(gw: HttpGateway, mode: str) -> None:
    async with Client(gw.url, mode=mode, timeout=30) as client:
        names = {t.name for t in await client.list_tools()}
        assert names >= META_TOOLS
        assert await servers_of(client) == ["a", "b"]
        for server in ("a", "b"):
            result = await meta(
                client, "call_tool", server=server, tool="echo", arguments={"text": f"hi {mode}"}
            )
            assert not result.is_error, result
            assert result.content[0].text == f"hi {mode}"
        status = (await meta(client, "gateway_status")).structured_content
        assert status["agent"] is None
        assert {s["name"] for s in status["servers"]} == {"a", "b"}


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_bearer_token_binds_the_connection_to_its_agent(gw: HttpGateway, mode: str) -> None:
    async with Client(gw.url, mode=mode, auth=TOKEN, timeout=30) as client:
        assert await servers_of(client) == ["a"]
        assert await servers_of(client, agent_id="alice") == ["a"]
        status = (await meta(client, "gateway_status")).structured_content
        assert status["agent"] == "alice"
        assert [s["name"] for s in status["servers"]] == ["a"]

        ok = await meta(client, "call_tool", server="a", tool="echo", arguments={"text": "yo"})
        assert not ok.is_error and ok.content[0].text == "yo"

        hidden = await meta(client, "call_tool", server="b", tool="echo", arguments={"text": "x"})
        assert hidden.is_error
        assert "Unknown server 'b'" in hidden.content[0].text

        # a declared agent_id never overrides the token's agent, on any meta-tool
        for name, args in [
            ("list_servers", {}),
            ("gateway_status", {}),
            ("call_tool", {"server": "a", "tool": "echo", "arguments": {"text": "x"}}),
        ]:
            refused = await meta(client, name, agent_id="bob", **args)
            assert refused.is_error, (name, refused)
            text = refused.content[0].text
            assert "'bob'" in text and "'alice'" in text, text

    # the same declared agent_id without a token is a convenience, and is honoured
    async with Client(gw.url, mode=mode, timeout=30) as client:
        assert await servers_of(client, agent_id="bob") == ["a", "b"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_token_protected_agent_is_unreachable_by_agent_id_without_its_token(
    gw: HttpGateway, mode: str
) -> None:
    async with Client(gw.url, mode=mode, timeout=30) as client:
        for name, args in [
            ("list_servers", {}),
            ("list_tools", {}),
            ("get_tool", {"server": "a", "tool": "echo"}),
            ("call_tool", {"server": "a", "tool": "echo", "arguments": {"text": "x"}}),
            ("gateway_status", {}),
        ]:
            refused = await meta(client, name, agent_id="alice", **args)
            assert refused.is_error, (name, refused)
            assert not refused.structured_content
            text = refused.content[0].text
            assert "'alice'" in text and "Bearer TOKEN" in text, text
        # a declared agent without tokens is still a convenience
        assert await servers_of(client, agent_id="bob") == ["a", "b"]


def test_a_request_with_two_authorization_headers_gets_400(gw: HttpGateway) -> None:
    headers = [
        ("Authorization", f"Bearer {TOKEN}"),
        ("Authorization", "Bearer other"),
        ("Accept", MCP_ACCEPT["Accept"]),
        ("Content-Type", "application/json"),
    ]
    response = httpx2.post(gw.url, headers=headers, content=json.dumps(INIT), timeout=10)
    assert response.status_code == 400
    assert "more than one Authorization header" in response.json()["error"]
    assert TOKEN not in response.text


async def direct_tools(client: Client[Any], want: set[str]) -> set[str]:
    """Poll tools/list until ``want`` is listed (servers start in the background)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        names = {t.name for t in await client.list_tools()} - META_TOOLS
        if want <= names or time.monotonic() > deadline:
            return names
        await anyio.sleep(0.05)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_direct_tools_are_filtered_by_the_bearer_token(gw: HttpGateway, mode: str) -> None:
    async with Client(gw.url, mode=mode, timeout=30) as anonymous:
        names = await direct_tools(anonymous, {"a__echo", "b__echo"})
        assert {"a__echo", "b__echo"} <= names
    async with Client(gw.url, mode=mode, auth=TOKEN, timeout=30) as alice:
        names = await direct_tools(alice, {"a__echo"})
        assert "a__echo" in names
        assert not [n for n in names if n.startswith("b__")], names
        ok = await alice.call_tool_mcp("a__echo", {"text": "direct"})
        assert not ok.is_error and ok.content[0].text == "direct"
        hidden = await alice.call_tool_mcp("b__echo", {"text": "x"})
        missing = await alice.call_tool_mcp("b__nope", {"text": "x"})
        assert hidden.is_error and missing.is_error
        as_missing = missing.content[0].text.replace("b__nope", "b__echo")
        assert hidden.content[0].text == as_missing  # hidden reads exactly like missing


@pytest.mark.anyio
async def test_a_client_with_an_unknown_token_cannot_connect(gw: HttpGateway) -> None:
    """fastmcp reports the 401 as a bare MCPError -32603; the raw test above checks the 401."""
    client: Client[Any] = Client(gw.url, auth="definitely-not-a-token", timeout=30)
    with pytest.raises((MCPError, httpx2.HTTPStatusError)):
        async with client:
            await client.list_tools()


# --------------------------------------------------------------------------- shutdown


@pytest.mark.anyio
async def test_sigterm_exits_0_promptly_and_stops_the_downstreams(tmp_path: Path) -> None:
    with http_gateway(tmp_path, {"a": echo_server()}) as gw:
        async with Client(gw.url, timeout=30) as client:
            result = await meta(client, "call_tool", server="a", tool="pid", arguments={})
            assert not result.is_error, result
            echo_pid = int(result.content[0].text)
            status = (await meta(client, "gateway_status")).structured_content
            assert status["servers"][0]["pid"] == echo_pid
        assert alive(echo_pid)
        started = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        try:
            code = gw.proc.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the gateway ignored SIGTERM for 10 s:\n{gw.stderr()}")
        took = time.monotonic() - started
        assert code == 0, gw.stderr()
        wait_until(lambda: not alive(echo_pid), timeout=5, what="the echo server to exit")
        assert took < 10
        assert "Gateway stopped." in gw.stderr()


def test_sigterm_stops_the_http_front_without_an_error_traceback(tmp_path: Path) -> None:
    """Nothing started downstream, so the gateway's own close is instant and the race is lost."""
    with http_gateway(tmp_path, {"a": echo_server()}) as gw:
        assert post_init(gw, {}).status_code == 200
        gw.proc.send_signal(signal.SIGTERM)
        assert gw.proc.wait(10) == 0
        log = gw.stderr()
        assert "Gateway stopped." in log
        assert "Traceback" not in log and "ERROR" not in log, log
