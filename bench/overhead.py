"""Per-call overhead of the gateway: the same ``tools/call``, direct and through the gateway.

    .venv/bin/python bench/overhead.py [--calls N] [--warmup N] [--json]
                                       [--no-compare-proxy] [--profile-gateway FILE]

Downstream: ``tests/servers/echo_server.py`` tool ``echo`` with text "x", over stdio.
Paths, all held open for the whole run and called INTERLEAVED (one call on each path
per round, the order rotating every round) so machine noise hits them equally:

- direct:  fastmcp.Client -> echo_server.py
- gateway: fastmcp.Client -> ``agent-gateway serve`` (open mode) -> echo_server.py,
           calling the ``call_tool`` meta-tool
- fastmcp proxy (``--compare-proxy``, on by default): fastmcp.Client ->
           ``bench/_fastmcp_proxy.py`` (fastmcp's ``create_proxy``) -> echo_server.py

Each protocol era is one row group: the default (``2026-07-28``, negotiated by
``mode="auto"``) and ``legacy`` (the initialize handshake). The downstream legs use
whatever each middle hop negotiates. ``--profile-gateway FILE`` runs the gateway under
cProfile (its numbers are then inflated; read the profile, not the ratio).
"""

from __future__ import annotations

import argparse
import asyncio
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
    name: str
    client: Client[Any]
    call: Callable[[], Awaitable[Any]]
    samples: list[float] = field(default_factory=list)


def _check(result: Any, path: str) -> None:
    if result.is_error or result.content[0].text != "x":
        raise RuntimeError(f"{path}: unexpected result {result!r}")


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


def _transports(tmp: Path, log: Any, profile: str | None) -> dict[str, StdioTransport]:
    config = tmp / ".mcp.json"
    config.write_text(
        json.dumps({"mcpServers": {"echo": {"command": PY, "args": [str(ECHO)]}}}, indent=2)
    )
    prof = ["-m", "cProfile", "-o", profile] if profile else []
    gateway_args = [*prof, "-m", "agent_gateway", "serve", "--config", str(config)]
    # cwd is a temp dir without a policies/ folder and --policies is not given: open mode.
    env = {"PYTHONPATH": str(REPO)}
    return {
        "direct": StdioTransport(PY, [str(ECHO)], log_file=log),
        "gateway": StdioTransport(
            PY, [*gateway_args, "--log-level", "warning"], env=env, cwd=str(tmp), log_file=log
        ),
        "fastmcp proxy": StdioTransport(PY, [str(PROXY)], cwd=str(tmp), log_file=log),
    }


async def run_era(era: str, args: argparse.Namespace, log: Any) -> dict[str, Any]:
    mode = ERAS[era]
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmpdir:
        transports = _transports(Path(tmpdir), log, args.profile_gateway)
        if not args.compare_proxy:
            del transports["fastmcp proxy"]
        paths: list[Leg] = []
        for name, transport in transports.items():
            client: Client[Any] = Client(transport, mode=mode, timeout=30)
            if name == "gateway":
                tool, arguments = (
                    "call_tool",
                    {"server": "echo", "tool": "echo", "arguments": {"text": "x"}},
                )
            else:
                tool, arguments = "echo", {"text": "x"}

            def call(c: Client[Any] = client, t: str = tool, a: Any = arguments) -> Any:
                return c.call_tool_mcp(t, a)

            paths.append(Leg(name, client, call))
        try:
            for p in paths:
                await p.client.__aenter__()  # type: ignore[no-untyped-call]
            versions = {p.name: p.client.protocol_version for p in paths}
            # The first gateway call starts the downstream; warm-up absorbs it.
            for _ in range(args.warmup):
                for p in paths:
                    _check(await p.call(), p.name)
            for i in range(args.calls):
                k = i % len(paths)
                for p in paths[k:] + paths[:k]:
                    t0 = time.perf_counter()
                    result = await p.call()
                    p.samples.append(time.perf_counter() - t0)
                    _check(result, p.name)
        finally:
            for p in reversed(paths):
                await p.client.close()  # type: ignore[no-untyped-call]
    stats = {p.name: _stats(p.samples) for p in paths}
    direct = stats["direct"]["p50"]
    for s in stats.values():
        s["ratio"] = s["p50"] / direct
    return {"era": era, "protocol": versions, "paths": stats}


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
        "| path | p50 ms | p90 ms | mean ms | ratio vs direct (p50) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        for name, s in r["paths"].items():
            proto = r["protocol"][name]
            lines.append(
                f"| {name} ({r['era']}, {proto}) | {s['p50']:.2f} | {s['p90']:.2f} "
                f"| {s['mean']:.2f} | {s['ratio']:.2f}x |"
            )
    lines += [
        "",
        f"machine: {info['cpus']} CPUs, Python {info['python']}, {info['platform']}, "
        f"fastmcp {info['fastmcp']}, mcp {info['mcp']}",
    ]
    if args.profile_gateway:
        lines.append(f"NOTE: gateway ran under cProfile ({args.profile_gateway}); ratio inflated.")
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
    results = []
    base_profile = args.profile_gateway
    started = time.perf_counter()
    with open(args.stderr, "a") as log:
        for era in eras:
            if base_profile:
                args.profile_gateway = str(Path(f"{base_profile}.{era}").resolve())
            results.append(await run_era(era, args, log))
    args.profile_gateway = base_profile
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
