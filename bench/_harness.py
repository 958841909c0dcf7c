"""Shared pieces of the benchmarks: processes, readiness, /proc readings, rows, machine info.

Nothing here measures anything by itself. Every process the benchmarks start is a
descendant of the bench process; :func:`remember_tree` notes the live descendants (pid
and start time) so :func:`kill_remembered` can stop any that outlived their benchmark
(say a gateway that was SIGKILLed, leaving its own downstream servers behind), by pid,
and only if the pid still names the same process.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from fastmcp.client.transports import StdioTransport

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
ECHO = REPO / "tests" / "servers" / "echo_server.py"
MANY = REPO / "tests" / "servers" / "many_tools_server.py"
PY = sys.executable
START_TIMEOUT = 30.0  # seconds a server or gateway gets to become ready


def progress(message: str) -> None:
    """One line of progress on stderr (stdout carries the results)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----- statistics -----------------------------------------------------------------------


def stats_ms(samples: list[float]) -> dict[str, float]:
    """p50/p90/mean/min/max in milliseconds of samples given in seconds."""
    ms = sorted(s * 1000 for s in samples)
    p90 = statistics.quantiles(ms, n=10, method="inclusive")[8] if len(ms) > 1 else ms[0]
    return {
        "p50": statistics.median(ms),
        "p90": p90,
        "mean": statistics.fmean(ms),
        "min": ms[0],
        "max": ms[-1],
        "n": len(ms),
    }


def json_size(value: Any) -> int:
    """Characters of ``value`` as compact JSON (as the SDK puts it on the wire)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


# ----- result rows ----------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table. ``gateway`` is always the gateway's number."""

    metric: str
    gateway: float | None
    baseline: float | None
    unit: str
    limit: float | None = None  # target: <= limit ...
    limit_on: str = "gateway"  # ... of "gateway" or of "ratio"
    has_ratio: bool = True  # False when gateway/baseline means nothing
    digits: int = 2

    @property
    def ratio(self) -> float | None:
        if not self.has_ratio or self.gateway is None or not self.baseline:
            return None
        return self.gateway / self.baseline

    @property
    def met(self) -> bool | None:
        value = self.ratio if self.limit_on == "ratio" else self.gateway
        if self.limit is None or value is None:
            return None
        return value <= self.limit

    def target(self) -> str:
        if self.limit is None:
            return ""
        if self.limit_on == "ratio":
            return f"ratio <= {self.limit:g}"
        return f"<= {self.limit:g} {self.unit}"

    def cells(self) -> list[str]:
        ratio = self.ratio
        met = self.met
        return [
            self.metric,
            _fmt(self.gateway, self.unit, self.digits),
            _fmt(self.baseline, self.unit, self.digits),
            "" if ratio is None else f"{ratio:.2f}x",
            self.target(),
            "" if met is None else ("yes" if met else "**no**"),
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "gateway": self.gateway,
            "baseline": self.baseline,
            "unit": self.unit,
            "ratio": self.ratio,
            "target": self.target() or None,
            "met": self.met,
        }


def _fmt(value: float | None, unit: str, digits: int) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f} {unit}"


@dataclass
class Result:
    """What one benchmark hands back: table rows, notes for under the table, raw details."""

    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


# ----- processes ------------------------------------------------------------------------

_remembered: dict[int, int] = {}  # pid -> start time (clock ticks since boot)


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (field 3 is index 0)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _children_table() -> dict[int, list[int]]:
    table: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            table.setdefault(int(fields[1]), []).append(int(entry.name))
    return table


def descendants(pid: int) -> list[int]:
    """Live descendants of ``pid`` (Linux /proc; empty elsewhere)."""
    table = _children_table()
    found: list[int] = []
    todo = list(table.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(table.get(child, []))
    return found


def remember_tree() -> None:
    """Note every live descendant of this process, for :func:`kill_remembered`."""
    for pid in descendants(os.getpid()):
        fields = _stat_fields(pid)
        if fields is not None and fields[0] != "Z":
            _remembered[pid] = int(fields[19])


def kill_remembered(grace: float = 3.0) -> list[int]:
    """SIGTERM, then SIGKILL after ``grace``, remembered processes still alive. Returns them."""

    def alive() -> list[int]:
        pids = []
        for pid, started in _remembered.items():
            fields = _stat_fields(pid)
            if fields is not None and fields[0] != "Z" and int(fields[19]) == started:
                pids.append(pid)
        return pids

    left = alive()
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in alive():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    _remembered.clear()
    return left


def tree_cpu(pids: Iterable[int]) -> float:
    """User+system CPU seconds of these processes and their live descendants (/proc)."""
    from overhead import _proc_table, _tree_cpu

    table = _proc_table()
    return sum(_tree_cpu(pid, table) for pid in pids)


def cmdline(pid: int) -> str:
    """The command line of ``pid``, arguments joined by spaces ("" if it is gone)."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def children_matching(marker: str) -> list[int]:
    """Pids of this process's children whose command line contains ``marker``."""
    return [p for p in _children_table().get(os.getpid(), []) if marker in cmdline(p)]


def child_pid(marker: str) -> int | None:
    """The pid of this process's child whose command line contains ``marker``."""
    found = children_matching(marker)
    return found[0] if found else None


def rss_mib(pid: int) -> float | None:
    """VmRSS of one process in MiB (None if it is gone or not Linux)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def stdio(command: str, args: list[str], *, log: TextIO, cwd: Path | None = None) -> StdioTransport:
    """A stdio transport whose process stops when the client's context exits."""
    return StdioTransport(
        command,
        args,
        env={"PYTHONPATH": str(REPO)},
        cwd=None if cwd is None else str(cwd),
        keep_alive=False,
        log_file=log,
    )


def gateway_args(config: Path, *extra: str) -> list[str]:
    """``python -m agent_gateway serve`` arguments (after the interpreter)."""
    return [
        "-m",
        "agent_gateway",
        "serve",
        "--config",
        str(config),
        "--log-level",
        "warning",
        *extra,
    ]


def write_config(folder: Path, servers: dict[str, dict[str, Any]]) -> Path:
    """``folder/.mcp.json`` with these servers; ``folder`` must hold no policies/ folder."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / ".mcp.json"
    config.write_text(json.dumps({"mcpServers": servers}, indent=2))
    return config


def echo_entry(*extra: str) -> dict[str, Any]:
    return {"command": PY, "args": [str(ECHO), *extra]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_status(url: str) -> int | None:
    """The HTTP status of GET url, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


async def wait_http(url: str, proc: subprocess.Popen[bytes], *, ok: Iterable[int]) -> None:
    """Poll GET url until its status is in ``ok``; fail if ``proc`` exits or on deadline."""
    wanted = set(ok)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before {url} answered")
        if await asyncio.to_thread(_http_status, url) in wanted:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {START_TIMEOUT}s")
        await asyncio.sleep(0.02)


async def stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the process group started for ``proc``; SIGKILL it after ``grace``."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the group, if any
    if proc.poll() is None:
        proc.wait()


async def _start_http(
    args: list[str], *, health: str, ok: Iterable[int], cwd: Path, log: TextIO
) -> subprocess.Popen[bytes]:
    """Start ``python ARGS`` in its own process group; return once GET ``health`` is in ``ok``."""
    proc = subprocess.Popen(
        [PY, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    try:
        await wait_http(health, proc, ok=ok)
    except BaseException:
        await stop(proc)
        raise
    remember_tree()
    return proc


@contextlib.asynccontextmanager
async def _http_on_free_port(
    make_args: Callable[[int], list[str]],
    health_path: str,
    ok: Iterable[int],
    cwd: Path,
    log: TextIO,
) -> AsyncIterator[str]:
    """Serve on a free port (retried: a port can be taken before the server binds it)."""
    codes = list(ok)
    for attempt in range(3):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        try:
            proc = await _start_http(
                make_args(port), health=base + health_path, ok=codes, cwd=cwd, log=log
            )
            break
        except RuntimeError:
            if attempt == 2:
                raise
    try:
        yield f"{base}/mcp"
    finally:
        remember_tree()
        await stop(proc)


def http_gateway(config: Path, log: TextIO, *extra: str) -> AbstractAsyncContextManager[str]:
    """The gateway over HTTP (open mode: cwd is the config's folder); yields its MCP url."""
    return _http_on_free_port(
        lambda port: gateway_args(config, "--transport", "http", "--port", str(port), *extra),
        "/healthz",
        [200],
        config.parent,
        log,
    )


def http_echo(folder: Path, log: TextIO) -> AbstractAsyncContextManager[str]:
    """``tests/servers/echo_server.py --http PORT``: the same tools over streamable HTTP."""
    # GET /mcp without an MCP Accept header: any HTTP answer means it is serving.
    return _http_on_free_port(
        lambda port: [str(ECHO), "--http", str(port)], "/mcp", range(200, 600), folder, log
    )


def process_seconds() -> float | None:
    """Seconds since this process started (imports included); None off Linux."""
    fields = _stat_fields(os.getpid())
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if fields is None:
        return None
    return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """User+system CPU of this process so far."""
    t = os.times()
    return t.user + t.system


# ----- the machine ----------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return None


def _os_name() -> str:
    name = platform.system()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                name = line.split("=", 1)[1].strip().strip('"')
    return f"{name}, kernel {platform.release()}"


def _git(*args: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=5, check=False
        )
        if done.returncode == 0:
            return done.stdout.strip()
    return ""


def machine() -> dict[str, Any]:
    """The machine and versions, for the results header."""
    from overhead import machine as versions

    info = versions()
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--", "agent_gateway")
    ram = _ram_gib()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": None if ram is None else round(ram, 1),
        "os": _os_name(),
        "python": info["python"],
        "fastmcp": info["fastmcp"],
        "mcp": info["mcp"],
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "load_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "commit": (commit + (" (agent_gateway/ modified)" if dirty else "")) or None,
    }
