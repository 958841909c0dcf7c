"""The benchmarks of ``run_all.py``, one coroutine each: ``bench_NAME(plan, log) -> Result``.

Each measures the gateway and its baseline in the same run (interleaved where the two
can take turns), and hands back table rows; see bench/README.md for what each row means.
``overhead`` and ``reload`` call into ``overhead.py`` and ``reload.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import mcp_types
import overhead
import reload
import soak
from _harness import (
    ECHO,
    MANY,
    PY,
    START_TIMEOUT,
    Result,
    Row,
    child_pid,
    children_matching,
    cmdline,
    cpu_seconds,
    descendants,
    echo_entry,
    gateway_args,
    http_echo,
    http_gateway,
    json_size,
    progress,
    remember_tree,
    rss_mib,
    stats_ms,
    stdio,
    tree_cpu,
    write_config,
)
from fastmcp import Client

ECHO_X = {"text": "x"}
CALL_ECHO = {"server": "echo", "tool": "echo", "arguments": ECHO_X}


@dataclass(frozen=True)
class Plan:
    """How much to measure: the full run or ``--quick``."""

    quick: bool
    calls: int  # 1, 2: measured calls per path
    warmup: int  # 1, 2: warm-up calls per path
    rounds: int  # 3: timed rounds of 50 concurrent calls per path
    phase_s: float  # 4: seconds per throughput phase (two phases per path)
    reps: int  # 5, 6: cold starts per path
    edits: int  # 8: timed config saves
    soak_s: float = 90.0  # 10: seconds of the measured soak (bench/soak.py; alone: 180)

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(True, calls=60, warmup=10, rounds=3, phase_s=1.0, reps=2, edits=6, soak_s=20)
        return cls(False, calls=200, warmup=20, rounds=7, phase_s=2.5, reps=5, edits=16)


def _tmp(name: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=f"gw-bench-{name}-")


def _gateway(config: Path, log: TextIO, *extra: str) -> Client[Any]:
    """A client of a stdio gateway in open mode (cwd: the config's folder, no policies/)."""
    return Client(stdio(PY, gateway_args(config, *extra), log=log, cwd=config.parent), timeout=60)


def _echo(log: TextIO, *extra: str) -> Client[Any]:
    return Client(stdio(PY, [str(ECHO), *extra], log=log), timeout=60)


def _ok(result: mcp_types.CallToolResult, what: str, text: str | None = None) -> None:
    if result.is_error:
        raise RuntimeError(f"{what}: error result {result.content!r}")
    if text is not None:
        first = result.content[0] if result.content else None
        if not isinstance(first, mcp_types.TextContent) or first.text != text:
            raise RuntimeError(f"{what}: expected {text!r}, got {result.content!r}")


def _structured(result: mcp_types.CallToolResult, what: str) -> dict[str, Any]:
    _ok(result, what)
    if result.structured_content is None:
        raise RuntimeError(f"{what}: no structured content")
    return dict(result.structured_content)


def _tools_size(tools: list[mcp_types.Tool]) -> int:
    return json_size([t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools])


def _tools_size_spaced(tools: list[mcp_types.Tool]) -> int:
    return len(
        json.dumps([t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools])
    )


def _median(values: list[float]) -> float:
    return statistics.median(values)


async def _enter_all(
    stack: contextlib.AsyncExitStack, *managers: AbstractAsyncContextManager[str]
) -> list[str]:
    """Enter the context managers concurrently onto ``stack``; fail if any failed."""
    entered = await asyncio.gather(
        *(stack.enter_async_context(m) for m in managers), return_exceptions=True
    )
    values: list[str] = []
    for value in entered:
        if isinstance(value, BaseException):
            raise value
        values.append(value)
    return values


@contextlib.asynccontextmanager
async def opened(clients: list[Client[Any]]) -> AsyncIterator[None]:
    """Connect ``clients`` concurrently and keep them open for the block.

    fastmcp ties a client's context to the task that entered it, so each client is
    entered and exited by a task of its own.
    """
    ready = [asyncio.Event() for _ in clients]
    leave = asyncio.Event()

    async def hold(client: Client[Any], event: asyncio.Event) -> None:
        async with client:
            event.set()
            await leave.wait()

    holders = [asyncio.create_task(hold(c, e)) for c, e in zip(clients, ready, strict=True)]
    all_ready = asyncio.ensure_future(asyncio.gather(*(e.wait() for e in ready)))
    all_ready.add_done_callback(lambda f: f.cancelled() or f.exception())  # no "never retrieved"
    try:
        waiting: list[asyncio.Future[Any]] = [all_ready, *holders]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for holder in holders:
            if holder.done():  # a holder only ends early by failing
                holder.result()
                raise RuntimeError("a client closed before the benchmark began")
        yield
    finally:
        all_ready.cancel()
        leave.set()
        await asyncio.gather(*holders, return_exceptions=True)


# ----- 1. per-call overhead, stdio front (overhead.py) ----------------------------------


async def bench_overhead(plan: Plan, log: TextIO) -> Result:
    args = overhead.parse_args(
        ["--calls", str(plan.calls), "--warmup", str(plan.warmup), "--era", "default"]
    )
    [r] = await overhead.measure(["default"], args, log)
    p = r["paths"]
    direct, gateway, proxy = p["direct"], p["gateway"], p["fastmcp proxy"]
    head = "1 stdio front: call p50"
    rows = [
        Row(f"{head} vs direct", gateway["p50"], direct["p50"], "ms", 1.5, "ratio"),
        Row(f"{head} vs fastmcp create_proxy", gateway["p50"], proxy["p50"], "ms"),
        Row(
            "1 stdio front: server CPU per call vs direct",
            gateway.get("cpu_ms"),
            direct.get("cpu_ms"),
            "ms",
        ),
    ]
    notes = [
        f"1: fastmcp create_proxy / direct p50 = {proxy['ratio']:.2f}x in the same loop "
        f"(gateway / direct {gateway['ratio']:.2f}x); p90 gateway {gateway['p90']:.2f} ms, "
        f"direct {direct['p90']:.2f} ms, proxy {proxy['p90']:.2f} ms; {plan.calls} interleaved "
        f"calls per path, protocol {r['protocol']['gateway']}."
    ]
    return Result(rows, notes, {"overhead": r})


# ----- interleaved latency loop (2) -----------------------------------------------------


@dataclass
class Lane:
    name: str
    client: Client[Any]
    call: Callable[[], Awaitable[mcp_types.CallToolResult]]


async def _interleaved(lanes: list[Lane], calls: int, warmup: int) -> dict[str, dict[str, Any]]:
    """One call per path per round, order rotating each round; clients already connected."""
    for _ in range(warmup):
        for p in lanes:
            _ok(await p.call(), p.name, "x")
    samples: dict[str, list[float]] = {p.name: [] for p in lanes}
    for i in range(calls):
        k = i % len(lanes)
        for p in lanes[k:] + lanes[:k]:
            t0 = time.perf_counter()
            result = await p.call()
            samples[p.name].append(time.perf_counter() - t0)
            _ok(result, p.name, "x")
    return {name: stats_ms(s) for name, s in samples.items()}


# ----- 2. per-call overhead, HTTP front -------------------------------------------------


async def bench_http(plan: Plan, log: TextIO) -> Result:
    with _tmp("http") as tmp:
        folder = Path(tmp)
        config = write_config(folder / "conf", {"echo": echo_entry()})
        async with (
            http_gateway(config, log) as gw_url,
            http_echo(folder, log) as echo_url,
            Client(gw_url, timeout=60) as gw,
            Client(echo_url, timeout=60) as echo_http,
            _echo(log) as echo_stdio,
        ):
            remember_tree()
            lanes = [
                Lane("gateway", gw, lambda: gw.call_tool_mcp("call_tool", CALL_ECHO)),
                Lane("echo http", echo_http, lambda: echo_http.call_tool_mcp("echo", ECHO_X)),
                Lane("echo stdio", echo_stdio, lambda: echo_stdio.call_tool_mcp("echo", ECHO_X)),
            ]
            # The gateway's first call starts its echo server.
            _ok(await gw.call_tool_mcp("call_tool", CALL_ECHO), "gateway", "x")
            remember_tree()
            s = await _interleaved(lanes, plan.calls, plan.warmup)
            protocol = gw.protocol_version
    g, h, d = s["gateway"], s["echo http"], s["echo stdio"]
    rows = [
        Row("2 HTTP front: call p50 vs echo served over HTTP", g["p50"], h["p50"], "ms"),
        Row("2 HTTP front: call p50 vs echo direct over stdio (info)", g["p50"], d["p50"], "ms"),
    ]
    notes = [
        f"2: client -> gateway (HTTP) -> echo (stdio), {plan.calls} interleaved calls per "
        f"path, protocol {protocol}; p90 gateway {g['p90']:.2f} ms, echo over HTTP "
        f"{h['p90']:.2f} ms, echo over stdio {d['p90']:.2f} ms."
    ]
    return Result(rows, notes, {"http": s})


# ----- 3. 50 concurrent 100 ms calls ----------------------------------------------------

CONCURRENT = 50
SLEEP_S = 0.1


async def bench_concurrency(plan: Plan, log: TextIO) -> Result:
    with _tmp("conc") as tmp:
        config = write_config(Path(tmp) / "conf", {"echo": echo_entry()})
        async with _gateway(config, log) as gw, _echo(log) as direct:

            async def via_gateway(seconds: float) -> mcp_types.CallToolResult:
                arguments = {"server": "echo", "tool": "sleep", "arguments": {"seconds": seconds}}
                result: mcp_types.CallToolResult = await gw.call_tool_mcp("call_tool", arguments)
                return result

            async def via_direct(seconds: float) -> mcp_types.CallToolResult:
                result: mcp_types.CallToolResult = await direct.call_tool_mcp(
                    "sleep", {"seconds": seconds}
                )
                return result

            async def burst(call: Callable[[float], Awaitable[Any]], name: str) -> float:
                t0 = time.perf_counter()
                results = await asyncio.gather(*(call(SLEEP_S) for _ in range(CONCURRENT)))
                wall = time.perf_counter() - t0
                for r in results:
                    _ok(r, name, f"slept {SLEEP_S} seconds")
                return wall

            legs = [("gateway", via_gateway), ("direct", via_direct)]
            for name, call in legs:  # start the downstream, then one untimed burst each
                _ok(await call(0), name)
            remember_tree()
            for name, call in legs:
                await burst(call, name)
            walls: dict[str, list[float]] = {"gateway": [], "direct": []}
            for i in range(plan.rounds):
                for name, call in legs if i % 2 == 0 else legs[::-1]:
                    walls[name].append(await burst(call, name))
    g, d = _median(walls["gateway"]), _median(walls["direct"])
    rows = [
        Row(
            f"3 {CONCURRENT} concurrent {SLEEP_S * 1000:g} ms calls: wall vs direct",
            g,
            d,
            "s",
            0.2,
            digits=3,
        )
    ]
    notes = [
        f"3: median of {plan.rounds} bursts per path (alternating); gateway max "
        f"{max(walls['gateway']):.3f} s, direct max {max(walls['direct']):.3f} s."
    ]
    return Result(rows, notes, {"walls_s": walls})


# ----- 4. throughput, 8 concurrent clients ----------------------------------------------

CLIENTS = 8


async def bench_throughput(plan: Plan, log: TextIO) -> Result:
    with _tmp("tput") as tmp:
        folder = Path(tmp)
        config = write_config(folder / "conf", {"echo": echo_entry()})
        async with contextlib.AsyncExitStack() as stack:
            gw_url, echo_url = await _enter_all(  # both start at once
                stack, http_gateway(config, log), http_echo(folder, log)
            )
            groups: dict[str, list[tuple[Client[Any], str, dict[str, Any]]]] = {
                "gateway": [],
                "echo http": [],
                "echo stdio x8": [],
            }
            for _ in range(CLIENTS):
                groups["gateway"].append((Client(gw_url, timeout=60), "call_tool", CALL_ECHO))
                groups["echo http"].append((Client(echo_url, timeout=60), "echo", ECHO_X))
                groups["echo stdio x8"].append((_echo(log), "echo", ECHO_X))

            async def warm(client: Client[Any], tool: str, arguments: Any) -> None:
                for _ in range(3):
                    _ok(await client.call_tool_mcp(tool, arguments), tool, "x")

            async def loop(client: Client[Any], tool: str, arguments: Any, end: float) -> int:
                n = 0
                while time.perf_counter() < end:
                    _ok(await client.call_tool_mcp(tool, arguments), tool, "x")
                    n += 1
                return n

            http_port = echo_url.rsplit(":", 1)[1].split("/")[0]
            progress("  gateway and echo server up over HTTP; connecting the clients")
            async with opened([c for group in groups.values() for c, _, _ in group]):
                remember_tree()
                progress(f"  {3 * CLIENTS} clients connected; warming up")
                # Warm-up; the first call through the gateway starts its echo server.
                _ok(await groups["gateway"][0][0].call_tool_mcp("call_tool", CALL_ECHO), "gw")
                await asyncio.gather(
                    *(warm(*member) for group in groups.values() for member in group)
                )
                remember_tree()
                gw_pid = child_pid(str(config))
                servers = {
                    "gateway": [] if gw_pid is None else [gw_pid],
                    "echo http": children_matching(f"--http {http_port}"),
                    "echo stdio x8": [
                        p for p in children_matching(str(ECHO)) if "--http" not in cmdline(p)
                    ],
                }

                calls = dict.fromkeys(groups, 0)
                server_cpu = dict.fromkeys(groups, 0.0)
                wall = dict.fromkeys(groups, 0.0)
                cpu = dict.fromkeys(groups, 0.0)
                names = list(groups)
                for i in range(2 * len(names)):  # every path gets two phases, order rotating
                    name = names[(i + i // len(names)) % len(names)]
                    s0 = tree_cpu(servers[name])
                    c0, t0 = cpu_seconds(), time.perf_counter()
                    end = t0 + plan.phase_s
                    counts = await asyncio.gather(*(loop(*member, end) for member in groups[name]))
                    wall[name] += time.perf_counter() - t0
                    cpu[name] += cpu_seconds() - c0
                    server_cpu[name] += tree_cpu(servers[name]) - s0
                    calls[name] += sum(counts)
                    progress(f"  {name}: {sum(counts) / plan.phase_s:.0f} calls/s")
    rate = {n: calls[n] / wall[n] for n in names}
    client_cpu = {n: cpu[n] / wall[n] for n in names}
    server_load = {n: server_cpu[n] / wall[n] for n in names}
    per_call_ms = {n: server_cpu[n] * 1000 / calls[n] for n in names if calls[n]}
    head = f"4 {CLIENTS} clients: throughput (higher is better)"
    rows = [
        Row(
            f"{head} vs 1 echo over HTTP, {CLIENTS} sessions",
            rate["gateway"],
            rate["echo http"],
            "calls/s",
            digits=0,
        ),
        Row(
            f"{head} vs {CLIENTS} echo processes over stdio (info)",
            rate["gateway"],
            rate["echo stdio x8"],
            "calls/s",
            digits=0,
        ),
    ]
    notes = [
        f"4: {CLIENTS} sessions per path looping echo calls, 2 x {plan.phase_s:g} s per path, "
        "paths taking turns; the bench's own client process used "
        + ", ".join(f"{client_cpu[n]:.2f} CPU ({n})" for n in names)
        + f" of {os.cpu_count()}: when near 1.0 the client, not the server, caps the rate. "
        "Server side (process tree: the gateway with its echo child; the HTTP echo; the 8 "
        "stdio echoes): "
        + ", ".join(
            f"{server_load[n]:.2f} CPU, {per_call_ms.get(n, 0):.2f} ms CPU/call ({n})"
            for n in names
        )
        + "."
    ]
    details = {
        "calls_per_s": rate,
        "calls": calls,
        "client_cpu": client_cpu,
        "server_cpu": server_load,
        "server_cpu_ms_per_call": per_call_ms,
    }
    return Result(rows, notes, details)


# ----- 5. spawn to first answer with 50 servers configured ------------------------------

SERVERS = 50


def _many_echo_config(folder: Path, count: int = SERVERS) -> Path:
    return write_config(folder, {f"s{i:02d}": echo_entry() for i in range(count)})


async def bench_startup(plan: Plan, log: TextIO) -> Result:
    times: dict[str, list[float]] = {"gateway": [], "direct": []}
    started_servers = 0
    with _tmp("start") as tmp:
        config = _many_echo_config(Path(tmp) / "conf")

        async def gateway() -> float:
            nonlocal started_servers
            t0 = time.perf_counter()
            async with _gateway(config, log) as c:
                listed = _structured(await c.call_tool_mcp("list_servers", {}), "list_servers")
                elapsed = time.perf_counter() - t0
                remember_tree()
            servers = listed["servers"]
            if len(servers) != SERVERS:
                raise RuntimeError(f"list_servers shows {len(servers)} servers, not {SERVERS}")
            started_servers = max(started_servers, sum(s["state"] != "idle" for s in servers))
            return elapsed

        async def direct() -> float:
            t0 = time.perf_counter()
            async with _echo(log) as c:
                tools = await c.list_tools()
                elapsed = time.perf_counter() - t0
            if not tools:
                raise RuntimeError("the echo server lists no tools")
            return elapsed

        legs: list[tuple[str, Callable[[], Awaitable[float]]]] = [
            ("gateway", gateway),
            ("direct", direct),
        ]
        for i in range(plan.reps):
            for name, run in legs if i % 2 == 0 else legs[::-1]:
                times[name].append(await run())
    g, d = _median(times["gateway"]), _median(times["direct"])
    rows = [
        Row(
            f"5 spawn to first list_servers, {SERVERS} servers vs one echo: spawn to tools/list",
            g,
            d,
            "s",
            1.0,
            digits=3,
        )
    ]
    notes = [
        f"5: median of {plan.reps} cold starts per path (alternating); gateway max "
        f"{max(times['gateway']):.3f} s; servers not idle at the first answer: {started_servers}."
    ]
    return Result(rows, notes, {"seconds": times, "started_servers": started_servers})


# ----- 6. first call, including the downstream start -------------------------------------


async def bench_first_call(plan: Plan, log: TextIO) -> Result:
    times: dict[str, list[float]] = {"gateway": [], "direct": []}
    with _tmp("first") as tmp:
        config = write_config(Path(tmp) / "conf", {"echo": echo_entry()})

        async def gateway() -> float:
            async with _gateway(config, log) as c:
                _structured(await c.call_tool_mcp("list_servers", {}), "list_servers")
                t0 = time.perf_counter()
                result = await c.call_tool_mcp("call_tool", CALL_ECHO)
                elapsed = time.perf_counter() - t0
                remember_tree()
            _ok(result, "gateway", "x")
            return elapsed

        async def direct() -> float:
            t0 = time.perf_counter()
            async with _echo(log) as c:
                result = await c.call_tool_mcp("echo", ECHO_X)
                elapsed = time.perf_counter() - t0
            _ok(result, "direct", "x")
            return elapsed

        legs: list[tuple[str, Callable[[], Awaitable[float]]]] = [
            ("gateway", gateway),
            ("direct", direct),
        ]
        for i in range(plan.reps):
            for name, run in legs if i % 2 == 0 else legs[::-1]:
                times[name].append(await run())
    g, d = _median(times["gateway"]), _median(times["direct"])
    rows = [
        Row(
            "6 first call_tool incl. downstream start vs spawn + initialize + call",
            g,
            d,
            "s",
            digits=3,
        )
    ]
    notes = [f"6: median of {plan.reps} per path (alternating), gateway already initialized."]
    return Result(rows, notes, {"seconds": times})


# ----- 7. memory ------------------------------------------------------------------------

CONNECT = 10


async def bench_memory(plan: Plan, log: TextIO) -> Result:
    with _tmp("rss") as tmp:
        config = _many_echo_config(Path(tmp) / "conf")
        async with _gateway(config, log) as gw, _echo(log, "--name", "rss-baseline") as echo:
            _structured(await gw.call_tool_mcp("list_servers", {}), "list_servers")
            _structured(await gw.call_tool_mcp("gateway_status", {}), "gateway_status")
            await echo.list_tools()
            _ok(await echo.call_tool_mcp("echo", ECHO_X), "echo", "x")
            remember_tree()
            gw_pid, echo_pid = child_pid(str(config)), child_pid("rss-baseline")
            if gw_pid is None or echo_pid is None:
                raise RuntimeError("cannot find the gateway's or the echo server's process")
            idle, echo_idle = rss_mib(gw_pid), rss_mib(echo_pid)

            async def call(server: str) -> None:
                arguments = {"server": server, "tool": "echo", "arguments": ECHO_X}
                _ok(await gw.call_tool_mcp("call_tool", arguments), server, "x")

            # The first connection also loads the gateway's client-side code: measure the
            # per-server cost on the next CONNECT servers.
            await call("s00")
            one = rss_mib(gw_pid)
            await asyncio.gather(*(call(f"s{i:02d}") for i in range(1, CONNECT + 1)))
            remember_tree()
            more = rss_mib(gw_pid)
            kids = [r for r in (rss_mib(p) for p in descendants(gw_pid)) if r is not None]
    if idle is None or one is None or more is None:
        raise RuntimeError("the gateway's RSS could not be read")
    per_server = (more - one) / CONNECT
    kid_rss = statistics.fmean(kids) if kids else None
    rows = [
        Row(
            f"7 RSS idle, {SERVERS} servers configured vs one idle echo server",
            idle,
            echo_idle,
            "MiB",
            100,
            digits=1,
        ),
        Row(
            "7 RSS per connected server (gateway process) vs one echo server's own RSS",
            per_server,
            kid_rss,
            "MiB",
            digits=2,
        ),
    ]
    notes = [
        f"7: gateway VmRSS {idle:.1f} MiB idle, {one:.1f} after its first server (one-time "
        f"+{one - idle:.1f}), {more:.1f} after {CONNECT} more; literal (RSS after "
        f"{CONNECT + 1} - idle) / {CONNECT + 1} = {(more - idle) / (CONNECT + 1):.2f} MiB. "
        f"{len(kids)} downstream processes, {sum(kids):.0f} MiB in all"
        + ("" if kid_rss is None else f" ({kid_rss:.1f} MiB each)")
        + "."
    ]
    details = {
        "gateway_rss_mib": {"idle": idle, "first_server": one, f"plus_{CONNECT}": more},
        "echo_rss_mib": echo_idle,
        "downstream_rss_mib": kids,
    }
    return Result(rows, notes, details)


# ----- 8. reload latency (reload.py) ----------------------------------------------------


async def bench_reload(plan: Plan, log: TextIO) -> Result:
    result = await reload.run(reload.parse_args(["--edits", str(plan.edits)]), log)
    r, rtt = result["reload"], result["list_servers_rtt"]
    rows = [
        Row(
            "8 reload p50: atomic save to list_servers vs a list_servers round trip",
            r["p50"],
            rtt["p50"],
            "ms",
            150,
            has_ratio=False,
            digits=1,
        ),
        Row("8 reload p90", r["p90"], None, "ms", has_ratio=False, digits=1),
    ]
    notes = [
        f"8: {plan.edits} edits (add / rename a server, alternating); max {r['max']:.1f} ms; "
        f"the round trip is the polling resolution, not a comparable baseline."
    ]
    return Result(rows, notes, {"reload": result})


# ----- 9. sizes -------------------------------------------------------------------------

TOOLS = 100


async def bench_sizes(plan: Plan, log: TextIO) -> Result:
    with _tmp("size") as tmp:
        many = {"command": PY, "args": [str(MANY), "--count", str(TOOLS)]}
        meta_conf = write_config(Path(tmp) / "meta", {"many": many})
        direct_conf = write_config(Path(tmp) / "direct", {"many": many})
        async with (
            _gateway(meta_conf, log) as meta,
            _gateway(direct_conf, log, "--expose", "direct") as direct,
            Client(stdio(PY, [str(MANY), "--count", str(TOOLS)], log=log), timeout=60) as own,
        ):
            remember_tree()
            meta_tools = await meta.list_tools()
            answer = await meta.call_tool_mcp("list_tools", {"server": "many", "limit": TOOLS})
            listed = _structured(answer, "list_tools")
            if listed["total"] != TOOLS or len(listed["tools"]) != TOOLS:
                raise RuntimeError(f"list_tools gave {len(listed['tools'])} of {listed['total']}")
            own_tools = await own.list_tools()
            # Direct mode starts its servers in the background: poll until all tools show.
            deadline = time.monotonic() + START_TIMEOUT
            while len(direct_tools := await direct.list_tools()) < TOOLS:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"direct mode lists {len(direct_tools)} tools")
                await asyncio.sleep(0.05)
            remember_tree()
    meta_size, direct_size = _tools_size(meta_tools), _tools_size(direct_tools)
    own_size, answer_size = _tools_size(own_tools), json_size(listed)
    whole = json_size(answer.model_dump(by_alias=True, exclude_none=True, mode="json"))
    rows = [
        Row(
            f"9 tools/list size, meta mode vs direct mode ({TOOLS} tools)",
            meta_size,
            direct_size,
            "chars",
            3000,
            digits=0,
        ),
        Row(
            f"9 list_tools answer for a {TOOLS}-tool server vs its own tools/list",
            answer_size,
            own_size,
            "chars",
            digits=0,
        ),
    ]
    notes = [
        f"9: compact JSON (with json.dumps' default separators the meta-mode list is "
        f"{_tools_size_spaced(meta_tools):,} chars); meta mode lists {len(meta_tools)} tools, "
        f"direct mode "
        f"{len(direct_tools)}. The whole list_tools result as sent (text content plus "
        f"structuredContent, which repeat each other) is {whole:,} chars."
    ]
    details = {
        "meta_tools_list": meta_size,
        "direct_tools_list": direct_size,
        "own_tools_list": own_size,
        "list_tools_structured": answer_size,
        "list_tools_result": whole,
    }
    return Result(rows, notes, details)


# ----- 10. soak -------------------------------------------------------------------------


async def bench_soak(plan: Plan, log: TextIO) -> Result:
    args = soak.parse_args(["--seconds", str(plan.soak_s)])
    r = await soak.run(args, log)
    problems = soak.failures(r, args)
    grew = r["end"]["rss_mib"] - r["start"]["rss_mib"]
    fds = r["end"]["fds"] - r["start"]["fds"]
    rows = [
        Row(
            f"10 soak: calls/s, {args.clients} HTTP clients",
            r["calls_per_s"],
            None,
            "/s",
            has_ratio=False,
            digits=1,
        ),
        Row("10 soak latency p50", r["p50_ms"], None, "ms", has_ratio=False, digits=1),
        Row("10 soak latency p99", r["p99_ms"], None, "ms", has_ratio=False, digits=1),
        Row("10 soak RSS growth", grew, None, "MiB", args.rss_margin, has_ratio=False, digits=1),
        Row("10 soak open fd growth", fds, None, "fds", args.fd_margin, has_ratio=False, digits=0),
        Row(
            "10 soak processes left after shutdown",
            len(r["left_after_shutdown"]),
            None,
            "",
            0,
            has_ratio=False,
            digits=0,
        ),
        Row(
            "10 soak calls hung past their timeout",
            r["hung"],
            None,
            "",
            0,
            has_ratio=False,
            digits=0,
        ),
        Row(
            "10 soak errors with no next step",
            r["unactionable"],
            None,
            "",
            0,
            has_ratio=False,
            digits=0,
        ),
    ]
    kinds = ", ".join(f"{k} {n}" for k, n in r["errors"].items()) or "none"
    chaos = ", ".join(f"{k} {n}" for k, n in r["chaos"].items())
    notes = [
        f"10: {r['calls']:,} calls in {r['seconds']:g} s, {r['ok']:,} ok; errors: {kinds}; "
        f"chaos: {chaos}; RSS {r['start']['rss_mib']:g} -> {r['end']['rss_mib']:g} MiB, "
        f"fds {r['start']['fds']:g} -> {r['end']['fds']:g}"
        + (f"; FAILED: {'; '.join(problems)}" if problems else "")
    ]
    return Result(rows, notes, {"soak": r})


BENCHMARKS: dict[str, tuple[str, Callable[[Plan, TextIO], Awaitable[Result]]]] = {
    "overhead": ("per-call overhead, stdio front", bench_overhead),
    "http": ("per-call overhead, HTTP front", bench_http),
    "concurrency": (f"{CONCURRENT} concurrent {SLEEP_S * 1000:g} ms calls", bench_concurrency),
    "throughput": (f"throughput, {CLIENTS} concurrent clients", bench_throughput),
    "startup": (f"spawn to first answer, {SERVERS} servers", bench_startup),
    "first_call": ("first call including the downstream start", bench_first_call),
    "memory": ("RSS idle and per connected server", bench_memory),
    "reload": ("reload latency", bench_reload),
    "sizes": ("tools/list and list_tools sizes", bench_sizes),
    "soak": ("soak: HTTP clients under config edits and server kills", bench_soak),
}

__all__ = ["BENCHMARKS", "Plan", "progress"]
