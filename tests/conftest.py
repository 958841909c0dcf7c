"""Shared helpers: start a real ``agent-gateway serve`` subprocess and talk to it as an MCP client.

``start_gateway(...)`` writes the config (and policies) into a temp dir,
starts ``python -m agent_gateway serve`` with our own stdio transport (so
the test knows the gateway's pid and stderr), and yields a connected
``fastmcp.Client``. Helpers wait by polling with a deadline, never by sleeping
a fixed time.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from agent_gateway.downstream.stdio import StdioProcessTransport

REPO = Path(__file__).resolve().parent.parent
SERVERS = REPO / "tests" / "servers"
PY = sys.executable
BIN = Path(sys.executable).parent
MCP_TIME = BIN / "mcp-server-time"
EVERYTHING = REPO / "tests" / "npm" / "node_modules" / ".bin" / "mcp-server-everything"
# Passed on to the gateways tests start (`make test` runs the e2e tests again with the
# fast route off): see agent_gateway/front/fastpath.py and agent_gateway/compat.py.
ROUTE_SWITCHES = ("AGENT_GATEWAY_FAST_ROUTE", "AGENT_GATEWAY_COMPAT_OFF")
CATALOG = "AGENT_GATEWAY_CACHE"  # where a gateway keeps its tool catalog
SEARCH = "AGENT_GATEWAY_SEARCH"  # the gateway's default ranker


@pytest.fixture(autouse=True)
def fresh_redactor() -> Iterator[None]:
    """Each test starts with no known secret values: the process's redactor only ever
    accumulates them, and one test's config must not blank out another's names."""
    from agent_gateway.logs import REDACTOR

    REDACTOR.reset()
    yield
    REDACTOR.reset()


@pytest.fixture(autouse=True)
def catalog_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's gateways keep their tool catalog in a fresh tmp folder of its own (not
    its tmp_path, which gateways may watch), never in the user's cache."""
    folder = tmp_path_factory.mktemp("catalog")
    monkeypatch.setenv(CATALOG, str(folder))
    # Ranking by words unless a test asks for the semantic ranker: its model would
    # cost every gateway CPU, and make a test's ranking depend on timing.
    monkeypatch.setenv(SEARCH, "lexical")
    return folder


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def no_unhandled_loop_exceptions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test when an event loop reports an exception nobody handled.

    asyncio reports them through ``call_exception_handler`` ("Task exception was
    never retrieved", "Future exception was never retrieved", a callback that
    raised) and then only logs them: here they fail the test instead. A garbage
    collection at the end makes dropped tasks report now, not in a later test.
    """
    seen: list[dict[str, Any]] = []
    original = asyncio.BaseEventLoop.call_exception_handler

    def record(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        seen.append(context)
        original(loop, context)  # type: ignore[arg-type]

    monkeypatch.setattr(asyncio.BaseEventLoop, "call_exception_handler", record)
    yield
    gc.collect()
    if seen:
        lines = [f"{c.get('message')}: {c.get('exception')!r}" for c in seen]
        pytest.fail("The event loop reported unhandled exceptions:\n" + "\n".join(lines))


def py_server(script: str, *args: str, **extra: Any) -> dict[str, Any]:
    """A config entry that runs ``tests/servers/<script>`` with this Python."""
    return {"command": PY, "args": [str(SERVERS / script), *args], **extra}


def echo_server(**extra: Any) -> dict[str, Any]:
    return py_server("echo_server.py", **extra)


def time_server(**extra: Any) -> dict[str, Any]:
    return {"command": str(MCP_TIME), **extra}


def everything_server(**extra: Any) -> dict[str, Any]:
    if not EVERYTHING.exists():
        pytest.fail(f"{EVERYTHING} is missing: run 'make test' (it installs tests/npm).")
    return {"command": str(EVERYTHING), "args": ["stdio"], **extra}


def write_config(folder: Path, servers: Mapping[str, Any], name: str = ".mcp.json") -> Path:
    path = folder / name
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"mcpServers": dict(servers)}, indent=2))
    tmp.replace(path)
    return path


def write_policies(folder: Path, policies: Mapping[str, str]) -> Path:
    pol = folder / "policies"
    pol.mkdir(exist_ok=True)
    for agent, text in policies.items():
        (pol / f"{agent}.toml").write_text(text)
    return pol


@dataclass
class Gateway:
    client: Client[Any]
    transport: StdioProcessTransport
    folder: Path
    config: Path

    @property
    def pid(self) -> int:
        assert self.transport.pid is not None
        return self.transport.pid

    def stderr(self) -> str:
        return "\n".join(self.transport.stderr)

    async def call(self, name: str, /, **arguments: Any) -> Any:
        """Call a meta-tool; return its raw CallToolResult."""
        return await self.client.call_tool_mcp(name, arguments)

    async def data(self, name: str, /, **arguments: Any) -> Any:
        """Call a meta-tool that must succeed; return its structured content."""
        result = await self.client.call_tool_mcp(name, arguments)
        assert not result.is_error, f"{name} failed: {result.content}\n{self.stderr()}"
        return result.structured_content

    async def downstream(
        self, server: str, tool: str, /, *, agent_id: str | None = None, **arguments: Any
    ) -> Any:
        """call_tool(server, tool, arguments) through the gateway; raw CallToolResult."""
        params: dict[str, Any] = {"server": server, "tool": tool, "arguments": arguments}
        if agent_id is not None:
            params["agent_id"] = agent_id
        return await self.client.call_tool_mcp("call_tool", params)

    async def pids(self) -> dict[str, int]:
        status = await self.data("gateway_status")
        return {s["name"]: s["pid"] for s in status["servers"] if s["pid"]}


def passed_env() -> dict[str, str]:
    """What a gateway child inherits from the test run: coverage, and PYTHONPATH (a worktree
    sharing a venv must run its own code, not the installed copy), and the test's catalog."""
    passed = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    }
    for name in ("COVERAGE_PROCESS_START", CATALOG, SEARCH, *ROUTE_SWITCHES):
        if name in os.environ:
            passed[name] = os.environ[name]
    return passed


@asynccontextmanager
async def start_gateway(
    folder: Path,
    servers: Mapping[str, Any] | None = None,
    *,
    policies: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    mode: str = "auto",
    open_mode: bool = True,
    client_options: Mapping[str, Any] | None = None,
    log_handler: Any = None,
) -> AsyncIterator[Gateway]:
    """Start ``agent-gateway serve`` in ``folder`` (its cwd) and connect to it."""
    config = write_config(folder, servers or {})
    argv = ["-m", "agent_gateway", "serve", "--config", str(config), "--log-level", "debug"]
    if policies is not None:
        argv += ["--policies", str(write_policies(folder, policies))]
    elif not open_mode:
        argv += ["--policies", str(folder / "policies")]
    child_env = {"PYTHONUNBUFFERED": "1", **passed_env(), **(env or {})}
    transport = StdioProcessTransport("gateway", PY, [*argv, *args], child_env, str(folder))
    client: Client[Any] = Client(
        transport, mode=mode, timeout=60, log_handler=log_handler, **(client_options or {})
    )
    try:
        async with client:
            yield Gateway(client, transport, folder, config)
    except BaseException:
        sys.stderr.write("---- gateway stderr ----\n" + "\n".join(transport.stderr) + "\n")
        raise


def stop_proc(proc: Any, grace: float) -> None:
    """SIGTERM a ``subprocess.Popen`` we started; SIGKILL it after ``grace`` seconds."""
    import signal
    import subprocess

    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def marked(marker: str) -> list[int]:
    """Pids of live (non-zombie) processes whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if marker.encode() in cmdline and alive(int(entry)):
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.02)


async def await_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> None:
    import anyio

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if hasattr(value, "__await__"):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await anyio.sleep(0.02)
