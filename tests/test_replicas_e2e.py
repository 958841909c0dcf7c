"""Two gateway replicas behind a real load balancer (HAProxy), sharing one config folder.

What a Kubernetes Deployment of N replicas behind a Service does, without a
cluster: two ``serve --transport http`` processes on loopback read the same
files, laid out as the kubelet lays out a ConfigMap volume (``..data``
symlinks, ``tests/configmap.py``), and HAProxy balances round-robin over
them, health-checking ``/healthz?ready``, retrying a refused connection on
the other replica, and sticking a handshake-era client to the replica that
holds its session (by its ``Mcp-Session-Id``). Clients are fastmcp Clients
of the sessionless 2026-07-28 protocol (the default mode), and one
handshake-era client. Only server ``a`` is ever called (each start of a
downstream costs seconds of CPU); ``b`` and ``c`` are there to be seen or
hidden. Each replica writes its audit lines and JSON logs to stdout
(``--audit-log - --log-output stdout``), which is how the test tells which
replica served which call.

HAProxy comes from Debian's packages (``make install-test`` installs it as
root); without it the test is skipped, saying so.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from configmap import update_volume, write_volume
from conftest import PY, echo_server, stop_proc
from fastmcp import Client

# Two gateways, two downstream starts and HAProxy: about 15 s on an idle 2-core machine,
# several times that while other test processes share it.
pytestmark = pytest.mark.timeout(150)

ALICE, BOB = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
START_TIMEOUT = 30.0
SWAP_REACHES_BOTH_WITHIN = 3.0  # seconds (the watcher applies a swap in well under one)


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def policy(globs: list[str], token: str | None = None) -> str:
    tokens = f'tokens_sha256 = ["{sha(token)}"]\n' if token else ""
    return f"{tokens}[allow]\nservers = {json.dumps(globs)}\n"


def payload(servers: list[str], alice: list[str]) -> dict[str, str]:
    """The ConfigMap: .mcp.json, and one policy file per agent under policies/."""
    config = {"mcpServers": {name: echo_server() for name in servers}}
    return {
        ".mcp.json": json.dumps(config),
        "policies/default.toml": policy(["b"]),
        "policies/alice.toml": policy(alice, ALICE),
        "policies/bob.toml": policy(["a"], BOB),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Replica:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def lines(self) -> list[dict[str, Any]]:
        """Every stdout line, each one JSON object (a log line or an audit line)."""
        text = self.stdout.read_text(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def audited(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if "allowed" in line]


def start_replica(name: str, folder: Path, volume: Path) -> Replica:
    port = free_port()
    out, err = folder / f"{name}.stdout", folder / f"{name}.stderr"
    argv = [PY, "-m", "agent_gateway", "serve", "--transport", "http", "--port", str(port)]
    argv += ["--config", str(volume / ".mcp.json"), "--policies", str(volume / "policies")]
    argv += ["--audit-log", "-", "--log-output", "stdout", "--log-format", "json"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            argv, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=o, stderr=e
        )
    return Replica(name, port, proc, out, err)


def wait_ready(replica: Replica) -> dict[str, Any]:
    """Poll the replica's readiness answer until 200; return its body."""
    deadline = time.monotonic() + START_TIMEOUT
    url = f"http://127.0.0.1:{replica.port}/healthz?ready"
    while True:
        if replica.proc.poll() is not None:
            raise AssertionError(f"{replica.name} exited:\n{replica.stderr.read_text()}")
        with contextlib.suppress(httpx2.TransportError):
            answer = httpx2.get(url, timeout=2)
            if answer.status_code == 200:
                return dict(answer.json())
            assert answer.status_code == 503, answer.text
        if time.monotonic() > deadline:
            raise AssertionError(f"{replica.name} not ready after {START_TIMEOUT}s")
        time.sleep(0.05)


HAPROXY_CFG = """\
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
frontend mcp
    bind 127.0.0.1:{port}
    default_backend gateways
backend gateways
    balance roundrobin
    # Session affinity for handshake-era clients: their Mcp-Session-Id lives in one
    # replica. 2026-07-28 clients send none to stick on, so they still spread.
    stick-table type string len 128 size 100k expire 1h
    stick on req.hdr(mcp-session-id)
    stick store-response res.hdr(mcp-session-id)
    option httpchk
    http-check send meth GET uri /healthz?ready ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    timeout check 3s
    default-server inter 300ms fall 2 rise 1
{servers}
"""


@contextlib.contextmanager
def haproxy(folder: Path, replicas: list[Replica]) -> Iterator[str]:
    """HAProxy round-robin over ``replicas``; yields the balanced MCP URL."""
    port = free_port()
    servers = "\n".join(f"    server {r.name} 127.0.0.1:{r.port} check" for r in replicas)
    cfg = folder / "haproxy.cfg"
    cfg.write_text(HAPROXY_CFG.format(port=port, servers=servers))
    check = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    log = folder / "haproxy.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            ["haproxy", "-db", "-f", str(cfg)], stdin=subprocess.DEVNULL, stdout=err, stderr=err
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(httpx2.TransportError):
                if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "HAProxy did not answer"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop_proc(proc, 5)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Path, list[Replica], str]]:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (make install-test installs it with apt-get as root)")
    volume = tmp_path / "etc"  # the ConfigMap both replicas mount
    write_volume(volume, payload(["a", "b"], alice=["a", "b"]))
    replicas = [start_replica(name, tmp_path, volume) for name in ("r1", "r2")]
    try:
        for replica in replicas:
            body = wait_ready(replica)
            assert body["servers"] == 2 and body["agents"] == 3 and body["watching"] is True
        with haproxy(tmp_path, replicas) as url:
            yield volume, replicas, url
    finally:
        for replica in replicas:  # both stop at once
            if replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGTERM)
        for replica in replicas:
            stop_proc(replica.proc, 10)


async def visible(client: Client[Any]) -> list[str]:
    result = await client.call_tool("list_servers", {})
    return sorted(s["name"] for s in result.structured_content["servers"])


async def echo_calls(client: Client[Any], server: str, count: int) -> None:
    for i in range(count):
        arguments = {"server": server, "tool": "echo", "arguments": {"text": f"{i}"}}
        result = await client.call_tool("call_tool", arguments)
        assert result.content[0].text == f"{i}"


def clients(url: str) -> tuple[Client[Any], Client[Any], Client[Any]]:
    """Alice's, Bob's and an anonymous client of the 2026-07-28 protocol (the default)."""
    return (
        Client(url, auth=ALICE, timeout=30),
        Client(url, auth=BOB, timeout=30),
        Client(url, timeout=30),
    )


@pytest.mark.anyio
async def test_two_replicas_behind_haproxy_share_one_configmap_and_survive_a_kill(
    cluster: tuple[Path, list[Replica], str],
) -> None:
    volume, (r1, r2), url = cluster
    alice, bob, anonymous = clients(url)
    async with alice, bob, anonymous:
        for client in (alice, bob, anonymous):  # sessionless: no replica holds their state
            assert client.session.protocol_version == "2026-07-28"
        # Calls of two clients spread over both replicas; tokens and policies hold.
        async with anyio.create_task_group() as tg:
            tg.start_soon(echo_calls, alice, "a", 6)
            tg.start_soon(echo_calls, bob, "a", 6)
        arguments = {"server": "b", "tool": "echo", "arguments": {"text": "x"}}
        denied = await bob.call_tool("call_tool", arguments, raise_on_error=False)
        assert denied.is_error and "Unknown server 'b'" in denied.content[0].text
        for replica in (r1, r2):
            assert replica.audited(), f"{replica.name} served no call: nothing was spread"
        served = [line for r in (r1, r2) for line in r.audited()]
        assert sorted((x["agent"], x["server"], x["allowed"]) for x in served) == sorted(
            [("alice", "a", True)] * 6 + [("bob", "a", True)] * 6 + [("bob", "b", False)]
        )
        for _ in range(2):  # round-robin: each identity reaches both replicas
            assert await visible(alice) == ["a", "b"]
            assert await visible(bob) == ["a"]
            assert await visible(anonymous) == ["b"]
        refused = httpx2.post(url, headers={"Authorization": "Bearer nobody"}, json={})
        assert refused.status_code == 401
        # A handshake-era client keeps its session: the balancer sticks on its session id.
        async with Client(url, auth=ALICE, timeout=30, mode="legacy") as legacy:
            assert legacy.session.protocol_version != "2026-07-28"
            for _ in range(3):
                assert await visible(legacy) == ["a", "b"]

        # A ConfigMap update (a ..data swap) reaches both replicas.
        started = time.monotonic()
        update_volume(volume, payload(["a", "b", "c"], alice=["a", "c"]))
        for replica in (r1, r2):
            async with Client(replica.url, auth=ALICE, timeout=30) as direct:
                with anyio.fail_after(SWAP_REACHES_BOTH_WITHIN):
                    while await visible(direct) != ["a", "c"]:
                        await anyio.sleep(0.05)
        print(f"swap reached both replicas in {time.monotonic() - started:.2f}s")
        assert await visible(bob) == ["a"]
        assert await visible(bob) == ["a"]

        # One replica killed mid-run: the clients' next calls succeed on the other.
        r1.proc.send_signal(signal.SIGKILL)
        r1.proc.wait(5)
        before = len(r2.audited())
        async with anyio.create_task_group() as tg:
            tg.start_soon(echo_calls, alice, "a", 5)
            tg.start_soon(echo_calls, bob, "a", 5)
        assert await visible(alice) == ["a", "c"]
    assert len(r2.audited()) - before == 10
    assert any(line.get("level") == "info" for line in r2.lines())  # logs too, as JSON
