"""``--log-level debug`` writes no secret: configured values and secret shapes are redacted.

The end-to-end test runs ``agent-gateway serve --log-level debug`` over a
config full of recognisable secret values (stdio ``env``, remote ``headers``,
URL userinfo, ``?api_key=``), connects a real client, calls a tool of each
server with a recognisable argument value, and scans the whole stderr.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from conftest import PY, SERVERS, echo_server, stop_proc
from fastmcp import Client
from test_http_e2e import http_gateway

from agent_gateway.core.config import GatewayConfig
from agent_gateway.logs import REDACTED, Redactor, secrets_of

SECRETS = (
    "envsecret-1111",
    "envsecret-2222",
    "urluser-3333",
    "urlpass-3333",
    "hdrsecret-5555",
    "hdrsecret-6666",
    "querysecret-4444",
)
ARGUMENT = "argvalue-7777"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.DEF-123", f"Authorization: Bearer {REDACTED}"),
        ("basic  dXNlcjpwYXNz", f"basic  {REDACTED}"),
        ("GET https://bob:pw@host:1/mcp", f"GET https://{REDACTED}@host:1/mcp"),
        ("https://host/x?api_key=s3cr3t&page=2", f"https://host/x?api_key={REDACTED}&page=2"),
        ("https://host/x?a=1&access_token=t0k", f"https://host/x?a=1&access_token={REDACTED}"),
        ("?Password=hunter2 and more", f"?Password={REDACTED} and more"),
        ("https://host/x?page=2&sort=name", "https://host/x?page=2&sort=name"),
        ("Server 'keys' started (pid 12).", "Server 'keys' started (pid 12)."),
    ],
)
def test_secret_shapes_are_redacted_and_the_rest_is_left_alone(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


def test_the_secret_values_of_a_config_are_its_env_headers_userinfo_and_key_like_query() -> None:
    config = GatewayConfig.from_dict(
        {
            "mcpServers": {
                "local": {"command": "x", "env": {"TOKEN": "${T}", "MODE": "fast"}},
                "remote": {
                    "url": "https://u-1:p-2@h/mcp?api_key=q-3&page=4",
                    "headers": {"Authorization": "Bearer h-5"},
                },
            }
        },
        environ={"T": "from-env"},
    )
    assert secrets_of(config.servers["local"]) == {"from-env", "fast"}
    assert secrets_of(config.servers["remote"]) == {"u-1", "p-2", "q-3", "Bearer h-5", "h-5"}
    redactor = Redactor()
    redactor.add(secrets_of(config.servers["local"]))
    record = logging.LogRecord("x", logging.INFO, "f", 1, "env %s and %r", ("from-env", "x"), None)
    redactor.filter(record)
    assert record.getMessage() == f"env {REDACTED} and 'x'"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _http_echo() -> Iterator[int]:
    port = _free_port()
    argv = [PY, str(SERVERS / "echo_server.py"), "--http", str(port)]
    proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx2.TransportError):
                httpx2.get(f"http://127.0.0.1:{port}/mcp", timeout=2)
                break
            assert time.monotonic() < deadline, "the HTTP echo server did not start"
            time.sleep(0.05)
        yield port
    finally:
        stop_proc(proc, 5)


@pytest.mark.anyio
@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_serve_at_debug_level_writes_no_secret_and_no_argument_value(
    tmp_path: Path, log_format: str
) -> None:
    """The whole stderr of a gateway (in a file, every line), both log formats."""
    with _http_echo() as port:
        url = f"http://urluser-3333:urlpass-3333@127.0.0.1:{port}/mcp?api_key=querysecret-4444"
        servers = {
            "local": echo_server(env={"API_TOKEN": SECRETS[0], "DB_PASSWORD": SECRETS[1]}),
            "remote": {
                "url": url,
                "headers": {"Authorization": f"Bearer {SECRETS[4]}", "X-Custom": SECRETS[5]},
            },
        }
        with http_gateway(tmp_path, servers, args=["--log-format", log_format]) as gw:
            async with Client(gw.url, timeout=30) as client:
                for server in ("local", "remote"):
                    args = {"server": server, "tool": "echo", "arguments": {"text": ARGUMENT}}
                    result = await client.call_tool_mcp("call_tool", args)
                    assert not result.is_error, result
                    assert result.content[0].text == ARGUMENT
                await client.call_tool_mcp("gateway_status", {})
            stderr = gw.stderr()
    assert "Server 'local' started" in stderr  # it did log, at debug level
    assert "Calling tool 'echo' on 'remote'" in stderr
    for needle in (*SECRETS, ARGUMENT):
        leaks = [line for line in stderr.splitlines() if needle in line]
        assert not leaks, leaks


def test_log_format_json_makes_every_line_json_the_libraries_too(tmp_path: Path) -> None:
    """fastmcp's and uvicorn's lines too: neither may install handlers of their own."""
    import json

    with http_gateway(tmp_path, {"echo": echo_server()}, args=["--log-format", "json"]) as gw:
        deadline = time.monotonic() + 10
        while '"uvicorn' not in gw.stderr() and time.monotonic() < deadline:
            time.sleep(0.05)
        stop_proc(gw.proc, 15)
        lines = [line for line in gw.stderr().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a log line that is not JSON: {line!r}")
    loggers = {r["logger"].split(".")[0] for r in records}
    assert {"agent_gateway", "uvicorn", "fastmcp"} <= loggers, loggers
