"""Remote downstream servers: streamable HTTP and SSE, behind a stdio gateway.

The echo server runs as its own process with ``--http PORT`` and ``--sse
PORT``; the gateway reaches it by URL. A URL where nothing listens is an
error that names the server, and the other servers keep working. A remote
server that dies is reported, and used again once it is back.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import PY, SERVERS, Gateway, start_gateway, stop_proc

pytestmark = pytest.mark.anyio

READY_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@contextlib.contextmanager
def remote_echo(flag: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``echo_server.py --http|--sse PORT``, yielded once the port accepts connections."""
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [PY, str(SERVERS / "echo_server.py"), flag, str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not listening(port):
            if proc.poll() is not None:
                raise AssertionError(f"echo {flag} exited {proc.returncode}: {log.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"echo {flag} not listening after {READY_TIMEOUT}s")
            time.sleep(0.05)
        yield proc
    except BaseException:
        sys.stderr.write(f"---- echo {flag} stderr ----\n{log.read_text(errors='replace')}\n")
        raise
    finally:
        stop_proc(proc, 10)


def text(result: Any) -> str:
    assert result.content, result
    return str(result.content[0].text)


async def echo_via(gw: Gateway, server: str, message: str) -> Any:
    return await gw.downstream(server, "echo", text=message)


async def test_http_and_sse_downstreams_a_refused_one_and_one_that_dies(tmp_path: Path) -> None:
    """One gateway (a start costs seconds) for all four stories, in order."""
    http_port, sse_port, dead_port = free_port(), free_port(), free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    conf = tmp_path / "conf"
    conf.mkdir()
    servers = {
        "web": {"url": f"http://127.0.0.1:{http_port}/mcp", "description": "echo over HTTP"},
        "stream": {"type": "sse", "url": f"http://127.0.0.1:{sse_port}/sse"},
        "down": {"type": "http", "url": f"http://127.0.0.1:{dead_port}/mcp", "startupTimeout": 10},
    }
    with contextlib.ExitStack() as web, remote_echo("--sse", sse_port, logs / "sse.log"):
        first = web.enter_context(remote_echo("--http", http_port, logs / "http.log"))
        async with start_gateway(conf, servers) as gw:
            # 1. both remote transports carry calls, results unchanged
            for server in ("web", "stream"):
                result = await echo_via(gw, server, f"hello {server}")
                assert not result.is_error, (server, result, gw.stderr())
                assert text(result) == f"hello {server}"
            added = await gw.downstream("stream", "add", a=20, b=22)
            assert text(added) == "42"
            structured = await gw.downstream("web", "structured")
            assert structured.structured_content == {"temperature": 21.5, "unit": "C"}
            assert int(text(await gw.downstream("web", "pid"))) == first.pid

            # 2. nothing listening: a tool error naming the server, never a protocol failure
            refused = await echo_via(gw, "down", "anyone?")
            assert refused.is_error
            assert "'down'" in text(refused), text(refused)
            assert "'web'" not in text(refused) and "'stream'" not in text(refused)

            # listing all servers' tools reports it in errors and lists the others
            listing = await gw.data("list_tools", limit=1000)
            assert [e["server"] for e in listing["errors"]] == ["down"]
            assert "'down'" in listing["errors"][0]["error"]
            assert {t["server"] for t in listing["tools"]} == {"web", "stream"}

            servers_now = {s["name"]: s for s in (await gw.data("list_servers"))["servers"]}
            assert servers_now["down"]["state"] == "error"
            assert servers_now["down"]["error"]
            assert servers_now["web"]["state"] == "ready"
            assert servers_now["web"]["description"] == "echo over HTTP"
            assert servers_now["stream"]["state"] == "ready"
            for server in ("web", "stream"):  # the others are still served
                assert text(await echo_via(gw, server, "still here")) == "still here"

            # 3. the HTTP server dies: calls fail with its name, the others carry on
            web.close()
            failed = await gw.downstream("web", "pid")
            assert failed.is_error, failed
            assert "'web'" in text(failed)
            assert text(await echo_via(gw, "stream", "unaffected")) == "unaffected"

            # 4. it comes back on the same URL: the gateway uses it again
            with remote_echo("--http", http_port, logs / "http.log") as second:
                deadline = time.monotonic() + READY_TIMEOUT
                while True:
                    again = await gw.downstream("web", "pid")
                    if not again.is_error:
                        break
                    assert "'web'" in text(again), text(again)
                    if time.monotonic() > deadline:
                        raise AssertionError(f"web never came back: {text(again)}\n{gw.stderr()}")
                    await anyio.sleep(0.1)
                assert int(text(again)) == second.pid
