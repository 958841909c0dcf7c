"""Per-call overhead of the gateway: the same ``tools/call``, direct and through the gateway.

    .venv/bin/python bench/overhead.py [--calls N] [--warmup N] [--json]
                                       [--no-compare-proxy] [--profile-gateway FILE]

Downstream: ``tests/servers/echo_server.py`` tool ``echo`` with text "x", over stdio.
Paths, all started together, held open for the whole run and called INTERLEAVED in one
loop (one call on each path per round, the order rotating every round) so machine noise
hits them equally:

- direct:  fastmcp.Client -> echo_server.py
- gateway: fastmcp.Client -> ``agent-gateway serve`` (open mode) -> echo_server.py,
           calling the ``call_tool`` meta-tool
- fastmcp proxy (``--compare-proxy``, on by default): fastmcp.Client ->
           ``bench/_fastmcp_proxy.py`` (fastmcp's ``create_proxy``) -> echo_server.py

Each protocol era is one row group, and both run in the same loop: the default
(``2026-07-28``, negotiated by ``mode="auto"``) and ``legacy`` (the initialize
handshake). The downstream legs use whatever each middle hop negotiates. The CPU column
is user+system CPU of each path's server process tree per call, read from /proc.
``--profile-gateway FILE`` runs the gateway under cProfile, writing FILE.<era> (its
latency is then inflated; read the profile, not the ratio).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StdioTransport

REPO = Path(__file__).resolve().parent.parent
ECHO = REPO / "tests" / "servers" / "echo_server.py"
PROXY = Path(__file__).resolve().parent / "_fastmcp_proxy.py"
PY = sys.executable
ERAS = {"default": "auto", "legacy": "legacy"}


@dataclass
class Leg:
    era: str
    name: str
    marker: str  # a substring of this leg's command line, unique among the legs
    client: Client[Any]
    call: Callable[[], Awaitable[Any]]
    samples: list[float] = field(default_factory=list)
    pid: int | None = None


def _check(result: Any, leg: Leg) -> None:
    if result.is_error or result.content[0].text != "x":
        raise RuntimeError(f"{leg.name} ({leg.era}): unexpected result {result!r}")


def _stats(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    deciles = statistics.quantiles(ms, n=10, method="inclusive")
    return {
        "p50": statistics.median(ms),
        "p90": deciles[8],
        "mean": statistics.fmean(ms),
        "min": ms[0],
        "n": len(ms),
    }


# ----- CPU time per call of each path's process tree (Linux /proc; skipped elsewhere) -----

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, user+system CPU seconds) for every process we can read."""
    table: dict[int, tuple[int, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / TICK
            table[int(stat.parent.name)] = (int(fields[1]), cpu)
    return table


def _tree_cpu(pid: int, table: dict[int, tuple[int, float]]) -> float:
    """CPU seconds of ``pid`` and its live descendants."""
    kids = [k for k, (ppid, _) in table.items() if ppid == pid]
    return table.get(pid, (0, 0.0))[1] + sum(_tree_cpu(k, table) for k in kids)


def _find_pids(legs: list[Leg]) -> None:
    """Match our child processes to the legs by command line (Linux /proc only)."""
    me = os.getpid()
    for pid, (ppid, _) in _proc_table().items():
        if ppid != me:
            continue
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            for leg in legs:
                if leg.marker in cmd:
                    leg.pid = pid


def _cpu_snapshot(legs: list[Leg]) -> dict[int, tuple[float, float]]:
    """pid -> (CPU seconds of the process tree, of the process alone)."""
    table = _proc_table()
    return {
        leg.pid: (_tree_cpu(leg.pid, table), table.get(leg.pid, (0, 0.0))[1])
        for leg in legs
        if leg.pid is not None
    }


def _legs(era: str, folder: Path, args: argparse.Namespace, log: Any) -> list[Leg]:
    """The clients (not yet connected) for one era: direct, gateway, fastmcp proxy."""
    folder.mkdir()
    config = folder / ".mcp.json"
    config.write_text(
        json.dumps({"mcpServers": {"echo": {"command": PY, "args": [str(ECHO)]}}}, indent=2)
    )
    profile = args.profile_gateway
    prof = ["-m", "cProfile", "-o", str(Path(f"{profile}.{era}").resolve())] if profile else []
    gateway = [*prof, "-m", "agent_gateway", "serve", "--config", str(config)]
    echo_args = {"text": "x"}
    specs: list[tuple[str, str, StdioTransport, str, dict[str, Any]]] = [
        (
            "direct",
            f"direct-{era}",
            StdioTransport(PY, [str(ECHO), "--name", f"direct-{era}"], log_file=log),
            "echo",
            echo_args,
        ),
        (
            # cwd is a folder without policies/ and --policies is not given: open mode.
            "gateway",
            str(config),
            StdioTransport(
                PY,
                [*gateway, "--log-level", "warning"],
                env={"PYTHONPATH": str(REPO)},
                cwd=str(folder),
                log_file=log,
            ),
            "call_tool",
            {"server": "echo", "tool": "echo", "arguments": echo_args},
        ),
    ]
    if args.compare_proxy:
        specs.append(
            (
                "fastmcp proxy",
                f"proxy-{era}",
                StdioTransport(PY, [str(PROXY), f"proxy-{era}"], cwd=str(folder), log_file=log),
                "echo",
                echo_args,
            )
        )
    legs = []
    for name, marker, transport, tool, arguments in specs:
        client: Client[Any] = Client(transport, mode=ERAS[era], timeout=30)

        def call(c: Client[Any] = client, t: str = tool, a: Any = arguments) -> Any:
            return c.call_tool_mcp(t, a)

        legs.append(Leg(era, name, marker, client, call))
    return legs


async def measure(eras: list[str], args: argparse.Namespace, log: Any) -> list[dict[str, Any]]:
    """Start every leg of every era at once, warm up, then time one interleaved loop."""
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmpdir:
        legs = [leg for era in eras for leg in _legs(era, Path(tmpdir) / era, args, log)]
        try:
            await asyncio.gather(*(leg.client.__aenter__() for leg in legs))
            # The first call through the gateway or the proxy starts its echo server:
            # do those in parallel, then the rest of the warm-up one at a time.
            for result, leg in zip(
                await asyncio.gather(*(leg.call() for leg in legs)), legs, strict=True
            ):
                _check(result, leg)
            for _ in range(args.warmup - 1):
                for leg in legs:
                    _check(await leg.call(), leg)
            _find_pids(legs)
            cpu0 = _cpu_snapshot(legs)
            wall0 = time.perf_counter()
            for i in range(args.calls):
                k = i % len(legs)
                for leg in legs[k:] + legs[:k]:
                    t0 = time.perf_counter()
                    result = await leg.call()
                    leg.samples.append(time.perf_counter() - t0)
                    _check(result, leg)
            wall = time.perf_counter() - wall0
            cpu1 = _cpu_snapshot(legs)
            versions = {(leg.era, leg.name): leg.client.protocol_version for leg in legs}
        finally:
            await asyncio.gather(*(leg.client.close() for leg in legs), return_exceptions=True)
    results = []
    for era in eras:
        stats: dict[str, dict[str, float]] = {}
        for leg in legs:
            if leg.era != era:
                continue
            s = stats[leg.name] = _stats(leg.samples)
            if leg.pid in cpu0 and leg.pid in cpu1:
                # Every leg's calls interleave in one loop, so a process tree's CPU over
                # the loop divided by the calls it served is its own cost per call.
                (tree1, self1), (tree0, self0) = cpu1[leg.pid], cpu0[leg.pid]
                s["cpu_ms"] = (tree1 - tree0) * 1000 / args.calls
                s["cpu_self_ms"] = (self1 - self0) * 1000 / args.calls
        for s in stats.values():
            s["ratio"] = s["p50"] / stats["direct"]["p50"]
            if "cpu_ms" in s and "cpu_ms" in stats["direct"]:
                s["cpu_extra_ms"] = s["cpu_ms"] - stats["direct"]["cpu_ms"]
        protocol = {leg.name: versions[era, leg.name] for leg in legs if leg.era == era}
        results.append({"era": era, "protocol": protocol, "paths": stats})
    for r in results:
        r["loop_s"] = round(wall, 2)
    return results


def machine() -> dict[str, Any]:
    import fastmcp
    import mcp

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "fastmcp": fastmcp.__version__,
        "mcp": getattr(mcp, "__version__", None) or _dist_version("mcp"),
    }


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def render(results: list[dict[str, Any]], info: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"tools/call echo('x') over stdio, {args.calls} interleaved calls per path "
        f"after {args.warmup} warm-up",
        "",
        "| path | p50 ms | p90 ms | mean ms | ratio vs direct (p50) | server CPU ms/call |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for name, s in r["paths"].items():
            proto = r["protocol"][name]
            cpu = f"{s['cpu_ms']:.2f}" if "cpu_ms" in s else "n/a"
            lines.append(
                f"| {name} ({r['era']}, {proto}) | {s['p50']:.2f} | {s['p90']:.2f} "
                f"| {s['mean']:.2f} | {s['ratio']:.2f}x | {cpu} |"
            )
    lines += [
        "",
        "server CPU ms/call: user+system CPU of the path's server process tree (the middle",
        "hop plus its echo child; for direct, the echo server alone) per measured call.",
        f"machine: {info['cpus']} CPUs, Python {info['python']}, {info['platform']}, "
        f"fastmcp {info['fastmcp']}, mcp {info['mcp']}",
    ]
    if args.profile_gateway:
        lines.append(
            f"NOTE: the gateway ran under cProfile ({args.profile_gateway}.<era>): "
            "its latency is inflated."
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--calls", type=int, default=300, help="measured calls per path (300)")
    p.add_argument("--warmup", type=int, default=30, help="warm-up calls per path (30)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--compare-proxy",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure fastmcp's create_proxy (default on)",
    )
    p.add_argument(
        "--era",
        choices=[*ERAS, "both"],
        default="both",
        help="protocol era(s) to measure (both)",
    )
    p.add_argument(
        "--profile-gateway",
        metavar="FILE",
        help="run the gateway under cProfile, writing FILE (per era: FILE.default, FILE.legacy)",
    )
    p.add_argument(
        "--stderr",
        metavar="FILE",
        default=os.devnull,
        help="where the servers' stderr goes (default: discarded)",
    )
    args = p.parse_args(argv)
    if args.calls < 2 or args.warmup < 1:
        p.error("--calls must be >= 2 and --warmup >= 1")
    return args


async def amain(args: argparse.Namespace) -> int:
    eras = list(ERAS) if args.era == "both" else [args.era]
    if args.profile_gateway:
        # The SDK's stdio client SIGTERMs a server 2 s after closing its stdin and
        # SIGKILLs it 2 s later; a profiled gateway (which first stops its own echo
        # server) can need longer, and a killed one writes no profile.
        import mcp.client.stdio

        mcp.client.stdio.PROCESS_TERMINATION_TIMEOUT = 30.0
    started = time.perf_counter()
    with open(args.stderr, "a") as log:
        results = await measure(eras, args, log)
    info = machine()
    info["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps({"machine": info, "calls": args.calls, "results": results}, indent=2))
    else:
        print(render(results, info, args))
        print(f"total {info['seconds']} s")
    return 0


def main() -> int:
    return asyncio.run(amain(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
