"""Hot-reload latency: from an atomic save of ``.mcp.json`` to the change being visible.

    .venv/bin/python bench/reload.py [--edits 20] [--json] [--stderr FILE]

Starts ``agent-gateway serve`` over stdio in a temp dir without a ``policies/``
folder (open mode), connected with fastmcp's ``StdioTransport``. Then, ``--edits``
times, saves the config the way editors do (write a temp file, rename it over
``.mcp.json``), alternately ADDING a server and RENAMING the last added one, and
times from the rename to the moment ``list_servers`` shows exactly the new set,
polling ``list_servers`` back to back. Servers are never called, so no downstream
process starts: this measures watch + validate + diff + apply, plus at most one
``list_servers`` round trip (its p50 is printed too, as the resolution).
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
from pathlib import Path
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StdioTransport

REPO = Path(__file__).resolve().parent.parent
ECHO = REPO / "tests" / "servers" / "echo_server.py"
PY = sys.executable
POLL_TIMEOUT = 10.0


def entry(description: str) -> dict[str, Any]:
    return {"command": PY, "args": [str(ECHO)], "description": description}


def save(config: Path, names: list[str]) -> float:
    """Atomic save; returns perf_counter() right after the rename."""
    tmp = config.with_name(f".{config.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"mcpServers": {n: entry(n) for n in names}}, indent=2))
    os.replace(tmp, config)
    return time.perf_counter()


async def listed(client: Client[Any]) -> list[str]:
    result = await client.call_tool_mcp("list_servers", {})
    if result.is_error or result.structured_content is None:
        raise RuntimeError(f"list_servers failed: {result.content}")
    return sorted(s["name"] for s in result.structured_content["servers"])


def next_names(i: int, names: list[str]) -> list[str]:
    """Even edits add ``addI``; odd edits rename the last added server to ``renamedI``."""
    if i % 2 == 0:
        return [*names, f"add{i}"]
    return [*names[:-1], f"renamed{i}"]


def stats(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    deciles = statistics.quantiles(ms, n=10, method="inclusive")
    return {
        "p50": statistics.median(ms),
        "p90": deciles[8],
        "mean": statistics.fmean(ms),
        "min": ms[0],
        "max": ms[-1],
        "n": len(ms),
    }


async def run(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gw-reload-") as tmpdir:
        folder = Path(tmpdir)
        config = folder / ".mcp.json"
        names = ["base"]
        save(config, names)
        # cwd is a temp dir without a policies/ folder and --policies is not given: open mode.
        transport = StdioTransport(
            PY,
            ["-m", "agent_gateway", "serve", "--config", str(config), "--log-level", "warning"],
            env={"PYTHONPATH": str(REPO)},
            cwd=str(folder),
            log_file=log,
        )
        client: Client[Any] = Client(transport, timeout=30)
        async with client:
            if await listed(client) != names:
                raise RuntimeError("the gateway does not list the initial config")
            rtt: list[float] = []
            for _ in range(30):
                t0 = time.perf_counter()
                await listed(client)
                rtt.append(time.perf_counter() - t0)
            # The watch is armed shortly after start: make sure it sees saves before timing.
            await wait_visible(client, config, ["base", "warmup"])
            await wait_visible(client, config, names)
            samples: list[float] = []
            polls: list[int] = []
            for i in range(args.edits):
                names = next_names(i, names)
                elapsed, n = await timed_edit(client, config, names)
                samples.append(elapsed)
                polls.append(n)
    return {
        "edits": args.edits,
        "reload": stats(samples),
        "list_servers_rtt": stats(rtt),
        "polls_p50": statistics.median(polls),
    }


async def timed_edit(client: Client[Any], config: Path, names: list[str]) -> tuple[float, int]:
    expected = sorted(names)
    t0 = save(config, names)
    polls = 0
    while True:
        polls += 1
        if await listed(client) == expected:
            return time.perf_counter() - t0, polls
        if time.perf_counter() - t0 > POLL_TIMEOUT:
            raise RuntimeError(f"the change to {expected} was not visible within {POLL_TIMEOUT}s")


async def wait_visible(client: Client[Any], config: Path, names: list[str]) -> None:
    """Save until the gateway shows ``names`` (the first saves may precede the watch)."""
    deadline = time.perf_counter() + POLL_TIMEOUT
    expected = sorted(names)
    while time.perf_counter() < deadline:
        save(config, names)
        for _ in range(25):
            if await listed(client) == expected:
                return
            await asyncio.sleep(0.02)
    raise RuntimeError("the gateway never picked up the config; is the watcher running?")


def render(result: dict[str, Any]) -> str:
    r, rtt = result["reload"], result["list_servers_rtt"]
    info = (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load {os.getloadavg()[0]:.2f}"
    )
    return "\n".join(
        [
            f"atomic save of .mcp.json -> visible in list_servers, {result['edits']} edits "
            "(add / rename a server, alternating)",
            f"reload p50 {r['p50']:.1f} ms, p90 {r['p90']:.1f} ms "
            f"(mean {r['mean']:.1f}, min {r['min']:.1f}, max {r['max']:.1f}); "
            f"list_servers round trip p50 {rtt['p50']:.2f} ms, "
            f"polls per edit p50 {result['polls_p50']:g}",
            f"machine: {info}",
            "",
            "| benchmark | edits | p50 ms | p90 ms |",
            "|---|---:|---:|---:|",
            f"| reload: atomic save -> list_servers | {result['edits']} "
            f"| {r['p50']:.1f} | {r['p90']:.1f} |",
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--edits", type=int, default=20, help="timed saves (20)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument(
        "--stderr",
        metavar="FILE",
        default=os.devnull,
        help="where the gateway's stderr goes (default: discarded)",
    )
    args = p.parse_args(argv)
    if args.edits < 2:
        p.error("--edits must be >= 2")
    return args


async def amain(args: argparse.Namespace) -> int:
    with open(args.stderr, "a") as log:
        result = await run(args, log)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(render(result))
    return 0


def main() -> int:
    return asyncio.run(amain(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
