"""Soak: clients calling over HTTP for minutes while the config is edited and servers are killed.

    .venv/bin/python bench/soak.py [--seconds 180] [--clients 8] [--json] [--stderr FILE]

Starts ``agent-gateway serve --transport http`` (open mode) in a temp folder with three
echo servers, ``steady``, ``a`` and ``b`` (tests/servers/echo_server.py), and connects
``--clients`` fastmcp Clients. Each client calls ``call_tool`` back to back, on a server
picked at random (steady's and a's ``echo``, b's ``sleep`` for 20 ms, c's ``add`` while
``c`` exists). Meanwhile the config is saved atomically every ``--edit-every`` seconds,
in rounds of four edits: add server ``c``, change an ``env`` value of ``b`` (which
replaces b), remove ``c``, change a's ``maxConcurrency`` (a keeps its process). Every
``--kill-every`` seconds one downstream server other than ``steady``, by the pid
``gateway_status`` shows, gets SIGKILL.

A warm-up of the same load comes first; then the config is put back and the
gateway's RSS and open file descriptors are read from /proc (clients connected and
idle, every server up); then the measured run; then the same reading again. Then
SIGTERM to the gateway, and every downstream process seen during the run must be gone.

Exit status 1 when something leaked or went wrong: RSS grew more than ``--rss-margin``
MiB, open fds more than ``--fd-margin``, a process outlived the gateway, a call went
past ``--hang-after`` seconds, or an error gave the caller nothing to act on (see
:func:`classify`). Progress on stderr; the table (or ``--json``) on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from _harness import descendants, echo_entry, http_gateway, progress
from fastmcp import Client

SERVER_TIMEOUT = 10.0  # the echo servers' "timeout" in the soak's config
STARTUP_TIMEOUT = 30.0  # and their "startupTimeout": a call may wait for a start, then a call
SETTLE_TIMEOUT = 60.0

# (kind, a fragment of the error text) in the order they are tried; the kind is the table's.
KINDS = [
    ("server removed by an edit", "Unknown server"),
    ("server removed or replaced by an edit", "removed or replaced by a config reload"),
    ("busy (maxConcurrency)", " is busy: "),
    ("circuit breaker open", "fail fast"),
    ("circuit breaker probing", "is being tested"),
    ("restart backoff", "the next restart is in"),
    ("timeout", "did not answer in time"),
    ("killed while answering", "The next call restarts it"),
    ("stopped while starting", "was stopped while starting"),
    ("could not start", "could not start"),
]
# Text that tells a caller what to do next: retry (when), restart, list again, fix config.
NEXT_STEPS = (
    "Call list_servers",
    "Call list_tools",
    "etry in ",
    "The next call restarts it",
    "the next restart is in",
    "in the config",
)


def classify(text: str) -> tuple[str, bool]:
    """The kind of an error result's text, and whether it names a next step."""
    kind = next((k for k, fragment in KINDS if fragment in text), "other")
    return kind, any(step in text for step in NEXT_STEPS)


@dataclass
class Tally:
    """What the clients saw while ``recording``."""

    recording: bool = False
    calls: int = 0
    ok: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    hung: int = 0
    unactionable: list[str] = field(default_factory=list)

    def record(self, took: float, error: str | None, *, hung: str = "") -> None:
        if not self.recording:
            return
        self.calls += 1
        self.latencies.append(took)
        if hung:
            self.hung += 1
            self.kinds[f"hung past --hang-after ({hung})"] += 1
        elif error is None:
            self.ok += 1
        else:
            kind, actionable = classify(error)
            self.kinds[kind] += 1
            if not actionable and len(self.unactionable) < 20:
                self.unactionable.append(error[:300])
            elif not actionable:
                self.unactionable.append("")  # counted, not kept


@dataclass
class Control:
    """Shared by the controller and the client tasks."""

    go: asyncio.Event = field(default_factory=asyncio.Event)
    done: bool = False
    connected: int = 0
    inflight: int = 0
    has_c: bool = False
    gateway: int = 0  # its pid
    seen: dict[int, int] = field(default_factory=dict)  # downstream pid -> start time

    def look(self) -> None:
        """Remember the gateway's live child processes (to find any left after it exits)."""
        for pid in descendants(self.gateway):
            started = start_time(pid)
            if started is not None:
                self.seen[pid] = started


def text_of(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


def config_doc(edit: int) -> dict[str, Any]:
    """The config after ``edit`` edits, in rounds of four: add c, change b's env (b is
    replaced), remove c, change a's maxConcurrency (a keeps its process)."""
    times = {"timeout": SERVER_TIMEOUT, "startupTimeout": STARTUP_TIMEOUT}
    servers = {
        "steady": {**echo_entry(), **times},  # never edited nor killed
        "a": {**echo_entry(), **times, "maxConcurrency": 16 - edit // 4 % 2},
        "b": {**echo_entry(), **times, "env": {"GEN": str((edit + 2) // 4)}},
    }
    if has_c(edit):
        servers["c"] = {**echo_entry(), **times}
    return {"mcpServers": servers}


def has_c(edit: int) -> bool:
    return edit % 4 in (1, 2)


def save(config: Path, edit: int) -> None:
    tmp = config.with_name(f".{config.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(config_doc(edit), indent=2))
    os.replace(tmp, config)


def sample(pid: int) -> dict[str, float]:
    """RSS (MiB) and open file descriptors of ``pid``, from /proc."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return {"rss_mib": round(rss, 1), "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def start_time(pid: int) -> int | None:
    """The start time of ``pid`` (clock ticks since boot), None if gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else int(fields[19])


async def client_loop(url: str, n: int, tally: Tally, ctl: Control, hang_after: float) -> None:
    rng = random.Random(n)
    async with Client(url, timeout=hang_after * 2) as client:
        ctl.connected += 1
        while True:
            await ctl.go.wait()
            if ctl.done:
                return
            server, tool, args = rng.choice(
                [
                    ("steady", "echo", {"text": "x"}),
                    ("a", "echo", {"text": "x"}),
                    ("b", "sleep", {"seconds": 0.02}),
                ]
                + ([("c", "add", {"a": 1, "b": 2})] if ctl.has_c else [])
            )
            params = {"server": server, "tool": tool, "arguments": args}
            ctl.inflight += 1
            started = time.perf_counter()
            error: str | None = None
            try:
                async with asyncio.timeout(hang_after):
                    result = await client.call_tool_mcp("call_tool", params)
                error = text_of(result) if result.is_error else None
            except TimeoutError:
                tally.record(time.perf_counter() - started, None, hung=f"{server}.{tool}")
                continue
            except Exception as exc:  # the client's own failure: nothing a caller can act on
                error = f"client exception {type(exc).__name__}: {exc}"
            finally:
                ctl.inflight -= 1
            tally.record(time.perf_counter() - started, error)


async def chaos(
    control: Client[Any], config: Path, ctl: Control, until: float, args: argparse.Namespace
) -> dict[str, int]:
    """Edit the config and kill servers until ``until``; returns what it did."""
    done = Counter[str]()
    edit, next_edit, next_kill = 0, time.monotonic(), time.monotonic() + args.kill_every
    what = ["server added", "env value changed", "server removed", "maxConcurrency changed"]
    while time.monotonic() < until:
        ctl.look()
        now = time.monotonic()
        if now >= next_edit:
            edit += 1
            done[what[(edit - 1) % 4]] += 1
            ctl.has_c = has_c(edit)
            save(config, edit)
            next_edit = now + args.edit_every
        if now >= next_kill:
            status = await control.call_tool_mcp("gateway_status", {})
            servers = (status.structured_content or {}).get("servers", [])
            pids = [s["pid"] for s in servers if s["name"] != "steady"]
            live = [p for p in pids if p]
            if live:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(live[done["servers killed"] % len(live)], signal.SIGKILL)
                    done["servers killed"] += 1
            next_kill = now + args.kill_every
        await asyncio.sleep(0.1)
    return dict(done)


async def settle(control: Client[Any], config: Path, gateway: int, ctl: Control) -> None:
    """Put the first config back; wait until its three servers answer and only they run."""
    ctl.go.clear()
    ctl.has_c = False
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while ctl.inflight:
        await _tick(deadline, "the clients' last calls")
    save(config, 0)
    for server in ("steady", "a", "b"):
        while True:
            args = {"server": server, "tool": "env", "arguments": {"name": "GEN"}}
            result = await control.call_tool_mcp("call_tool", args)
            if not result.is_error and text_of(result) in ("", "0"):
                break
            await _tick(deadline, f"server {server!r} to answer from the first config")
    while len([p for p in descendants(gateway) if start_time(p) is not None]) != 3:
        await _tick(deadline, "the removed and replaced servers to exit")
    previous = -1
    while (fds := sample(gateway)["fds"]) != previous:  # closed sockets settle
        previous = int(fds)
        await asyncio.sleep(0.5)


async def _tick(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise RuntimeError(f"timed out after {SETTLE_TIMEOUT:g}s waiting for {what}")
    await asyncio.sleep(0.05)


async def phase(
    control: Client[Any], config: Path, ctl: Control, seconds: float, args: argparse.Namespace
) -> dict[str, int]:
    ctl.go.set()
    return await chaos(control, config, ctl, time.monotonic() + seconds, args)


async def run(args: argparse.Namespace, log: TextIO) -> dict[str, Any]:
    """The whole soak; the numbers for :func:`render` and :func:`failures`."""
    tally, ctl = Tally(), Control()
    with tempfile.TemporaryDirectory(prefix="gw-soak-") as tmp:
        config = Path(tmp) / ".mcp.json"
        save(config, 0)
        extra = ("--log-level", args.log_level)
        async with http_gateway(config, log, *extra) as url, Client(url, timeout=60) as control:
            ctl.gateway = _gateway_pid()
            clients = [
                asyncio.create_task(client_loop(url, n, tally, ctl, args.hang_after))
                for n in range(args.clients)
            ]
            try:
                deadline = time.monotonic() + SETTLE_TIMEOUT
                while ctl.connected < args.clients:
                    await _tick(deadline, "the clients to connect")
                warmup = min(15.0, max(3.0, args.seconds / 6))
                progress(f"soak: warm-up {warmup:.0f} s, {args.clients} clients")
                await phase(control, config, ctl, warmup, args)
                await settle(control, config, ctl.gateway, ctl)
                start = sample(ctl.gateway)
                progress(f"soak: start {start}; running {args.seconds:g} s")
                tally.recording = True
                began = time.monotonic()
                did = await phase(control, config, ctl, args.seconds, args)
                tally.recording = False
                took = time.monotonic() - began
                await settle(control, config, ctl.gateway, ctl)
                end = sample(ctl.gateway)
                progress(f"soak: end {end}")
            finally:
                ctl.done = True
                ctl.go.set()
                await asyncio.gather(*clients, return_exceptions=True)
            ctl.look()
            left = await _stop_gateway(ctl)
    return _summary(tally, did, start, end, left, took, len(ctl.seen))


def _gateway_pid() -> int:
    from _harness import child_pid

    pid = child_pid("agent_gateway")
    if pid is None:
        raise RuntimeError("the gateway process was not found among this process's children")
    return pid


async def _stop_gateway(ctl: Control) -> list[int]:
    """SIGTERM the gateway, wait for it; the downstream pids still alive after (orphans)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(ctl.gateway, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while start_time(ctl.gateway) is not None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # a process group's last members die just after its leader
    return sorted(pid for pid, began in ctl.seen.items() if start_time(pid) == began)


def _summary(
    tally: Tally,
    did: dict[str, int],
    start: dict[str, float],
    end: dict[str, float],
    left: list[int],
    took: float,
    processes: int,
) -> dict[str, Any]:
    ms = sorted(t * 1000 for t in tally.latencies) or [0.0]
    p99 = statistics.quantiles(ms, n=100, method="inclusive")[98] if len(ms) > 1 else ms[0]
    return {
        "seconds": round(took, 1),
        "calls": tally.calls,
        "calls_per_s": round(tally.calls / took, 1) if took else 0.0,
        "ok": tally.ok,
        "errors": dict(tally.kinds.most_common()),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(ms[-1], 1),
        "hung": tally.hung,
        "unactionable": len(tally.unactionable),
        "unactionable_samples": [t for t in tally.unactionable if t][:5],
        "chaos": did,
        "start": start,
        "end": end,
        "downstream_processes": processes,
        "left_after_shutdown": left,
    }


def failures(result: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """Why the soak failed; empty when it passed."""
    found = []
    grew = result["end"]["rss_mib"] - result["start"]["rss_mib"]
    if grew > args.rss_margin:
        found.append(f"RSS grew {grew:.1f} MiB (margin {args.rss_margin:g} MiB)")
    fds = result["end"]["fds"] - result["start"]["fds"]
    if fds > args.fd_margin:
        found.append(f"open fds grew by {fds:g} (margin {args.fd_margin})")
    if result["left_after_shutdown"]:
        found.append(f"processes left after shutdown: {result['left_after_shutdown']}")
    if result["hung"]:
        found.append(f"{result['hung']} call(s) hung past {args.hang_after:g} s")
    if result["unactionable"]:
        found.append(f"{result['unactionable']} error(s) named no next step")
    if not result["ok"]:
        found.append("no call succeeded")
    return found


def render(result: dict[str, Any], problems: list[str]) -> str:
    start, end = result["start"], result["end"]
    lines = [
        "| soak | value |",
        "|---|---:|",
        f"| run | {result['seconds']:g} s |",
        f"| calls | {result['calls']:,} ({result['calls_per_s']:g}/s) |",
        f"| ok | {result['ok']:,} |",
    ]
    lines += [f"| error: {kind} | {n:,} |" for kind, n in result["errors"].items()]
    lines += [f"| chaos: {what} | {n} |" for what, n in result["chaos"].items()]
    lines += [
        f"| latency p50 / p99 / max | {result['p50_ms']:g} / {result['p99_ms']:g} / "
        f"{result['max_ms']:g} ms |",
        f"| gateway RSS start / end | {start['rss_mib']:g} / {end['rss_mib']:g} MiB |",
        f"| gateway open fds start / end | {start['fds']:g} / {end['fds']:g} |",
        f"| downstream processes seen | {result['downstream_processes']} |",
        f"| processes left after shutdown | {len(result['left_after_shutdown'])} |",
        f"| calls hung past their timeout | {result['hung']} |",
        f"| errors with no next step | {result['unactionable']} |",
        f"| verdict | {'pass' if not problems else 'FAIL: ' + '; '.join(problems)} |",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=180.0, help="the measured run (default 180)")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument("--edit-every", type=float, default=3.0, help="seconds between config saves")
    p.add_argument("--kill-every", type=float, default=10.0, help="seconds between kills")
    p.add_argument(
        "--hang-after",
        type=float,
        default=STARTUP_TIMEOUT + SERVER_TIMEOUT + 10,
        help="a hung call",
    )
    p.add_argument("--rss-margin", type=float, default=30.0, help="MiB of RSS growth allowed")
    p.add_argument("--fd-margin", type=int, default=4, help="open fds of growth allowed")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--log-level", default="warning", help="the gateway's --log-level")
    p.add_argument("--stderr", metavar="FILE", default=os.devnull, help="servers' stderr")
    return p.parse_args(argv)


async def amain(args: argparse.Namespace) -> int:
    with open(args.stderr, "a") as log:
        result = await run(args, log)
    problems = failures(result, args)
    if result["unactionable_samples"]:
        progress("errors with no next step, e.g.: " + " | ".join(result["unactionable_samples"]))
    print(
        json.dumps({**result, "failures": problems}, indent=2)
        if args.json
        else render(result, problems)
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(amain(parse_args())))
