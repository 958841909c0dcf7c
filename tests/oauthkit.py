"""Shared by the OAuth tests: the OAuth-protected test server and a scripted ``login``.

The "browser" of a login is the test itself: it reads the URL that
``agent-gateway login --no-browser`` prints on stderr and GETs it; the test
server's authorization endpoint approves at once and redirects to the
login's loopback callback, which urllib follows.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import PY, SERVERS, passed_env, stop_proc

READY = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class AuthServer:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/test/stats", timeout=5) as r:
            return dict(json.load(r))

    def revoke_refresh_tokens(self) -> None:
        self._post("/test/revoke")

    def revoke_access_tokens(self) -> None:
        self._post("/test/revoke-access")

    def expire_access_tokens(self) -> None:
        self._post("/test/expire-access")

    def _post(self, path: str) -> None:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method="POST")
        with urllib.request.urlopen(req, timeout=5):
            pass


@contextlib.contextmanager
def auth_server(log: Path, **env: str) -> Iterator[AuthServer]:
    """tests/servers/oauth_server.py on a free port, yielded once it answers."""
    port = free_port()
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [PY, str(SERVERS / "oauth_server.py"), str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )
    server = AuthServer(port, proc)
    try:
        deadline = time.monotonic() + READY
        while True:
            with contextlib.suppress(OSError):
                server.stats()
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"oauth server did not start: {log.read_text()}")
            time.sleep(0.05)
        yield server
    finally:
        stop_proc(proc, 5)


def state_env(state: Path) -> dict[str, str]:
    """Where logins live for one test (platformdirs' user state folder follows it)."""
    return {"XDG_STATE_HOME": str(state)}


def token_file(state: Path, server: str) -> Path:
    return state / "agent-gateway" / "oauth" / f"{server}.json"


def stored_tokens(state: Path, server: str) -> dict[str, Any]:
    """The token response stored for ``server`` (the test reads the file the user cannot leak)."""
    data = json.loads(token_file(state, server).read_text())
    (item,) = data["entries"]["mcp-oauth-token"].values()
    return dict(item["value"])


def set_stored_expiry(state: Path, server: str, expires_at: float) -> None:
    """Make the stored login say its access token expires at ``expires_at`` (the server's
    own record of the token is unchanged)."""
    from agent_gateway.downstream.tokenstore import write_private

    path = token_file(state, server)
    data = json.loads(path.read_text())
    for item in data["entries"]["mcp-oauth-token-expiry"].values():
        item["value"]["expires_at"] = expires_at
    write_private(path, data)


def login(
    config: Path,
    server: str,
    state: Path,
    *,
    env: Mapping[str, str] | None = None,
    browse: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``agent-gateway login SERVER --no-browser``, with this test as the browser."""
    argv = [PY, "-m", "agent_gateway", "login", server, "--config", str(config)]
    child_env = {**os.environ, **passed_env(), **state_env(state), **(env or {})}
    proc = subprocess.Popen(
        [*argv, "--no-browser", "--timeout", "20"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env,
    )
    assert proc.stderr is not None and proc.stdout is not None
    seen: list[str] = []
    for line in proc.stderr:
        seen.append(line)
        if browse and line.startswith("  http"):
            with urllib.request.urlopen(line.strip(), timeout=10) as answer:
                assert answer.status == 200
            break
    try:
        out, rest = proc.communicate(timeout=25)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(argv, proc.returncode, out, "".join(seen) + rest)


def assert_no_token_text(state: Path, server: str, *texts: str) -> None:
    """No stored access or refresh token appears in any of ``texts``."""
    tokens = stored_tokens(state, server)
    for value in (tokens["access_token"], tokens.get("refresh_token")):
        for text in texts:
            assert not value or value not in text


def write_oauth_config(folder: Path, servers: Mapping[str, Any]) -> Path:
    """The ``.mcp.json`` the gateway and ``login`` read (the same file start_gateway writes)."""
    from conftest import write_config

    return write_config(folder, servers)


async def login_here(config: Path, server: str, state: Path) -> None:
    """The same login in this process (no interpreter start-up): for tests that need a login
    to begin with rather than test the command. ``XDG_STATE_HOME`` must name ``state``."""
    import threading

    from agent_gateway.core.config import GatewayConfig
    from agent_gateway.downstream.oauth import login as run_login

    assert os.environ.get("XDG_STATE_HOME") == str(state)
    spec = GatewayConfig.from_file(config).servers[server]

    def browse(text: str) -> None:
        url = text.split()[-1]
        threading.Thread(target=lambda: urllib.request.urlopen(url, timeout=10).close()).start()

    await run_login(spec, say=browse, open_browser=False, timeout=20)
