"""Run every benchmark, each against its baseline in the same run; print one markdown table.

    .venv/bin/python bench/run_all.py [--quick] [--only NAME[,NAME]] [--json]
                                      [--stderr FILE] [--output PATH | --no-write]

Progress goes to stderr; the table (or JSON with ``--json``) to stdout, and the table
to ``bench/results.md`` with a header naming the machine. Benchmarks, not tests: a
missed target never fails the run; the exit status is 1 only if a benchmark crashed
(twice: each is retried once, since the gateway may be mid-edit), 130 on Ctrl-C.
Names for --only: overhead, http, concurrency, throughput, startup, first_call, memory,
reload, sizes, soak (or their numbers 1-10). The full run takes 5-6 minutes on 2 busy CPUs
(the soak alone, bench/soak.py, runs longer by default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

from _harness import (
    BENCH,
    Result,
    kill_remembered,
    machine,
    process_seconds,
    progress,
    remember_tree,
)
from benchmarks import BENCHMARKS, Plan

RESULTS = BENCH / "results.md"
TIMEOUT_S = 150.0  # per benchmark attempt: a hang must not eat the whole budget
ATTEMPTS = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    p.add_argument("--only", metavar="NAME[,NAME]", help="run only these benchmarks")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument(
        "--stderr",
        metavar="FILE",
        default=os.devnull,
        help="where the servers' and gateways' stderr goes (default: discarded)",
    )
    p.add_argument("--output", metavar="PATH", default=str(RESULTS), help="the markdown file")
    p.add_argument("--no-write", action="store_true", help="do not write the markdown file")
    args = p.parse_args(argv)
    names = list(BENCHMARKS)
    if args.only:
        chosen = []
        for raw in args.only.split(","):
            name = raw.strip()
            if name.isdigit() and 1 <= int(name) <= len(names):
                name = names[int(name) - 1]
            if name not in BENCHMARKS:
                p.error(f"unknown benchmark {raw!r}; choose from {', '.join(names)}")
            if name not in chosen:
                chosen.append(name)
        names = [n for n in BENCHMARKS if n in chosen]
    args.names = names
    return args


async def run_one(name: str, plan: Plan, log: TextIO) -> Result | str:
    """The benchmark's result, or the error text after ATTEMPTS failures."""
    bench = BENCHMARKS[name][1]
    error = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with asyncio.timeout(TIMEOUT_S + (3 * plan.soak_s if name == "soak" else 0)):
                return await bench(plan, log)
        except Exception as exc:  # a crash of this benchmark, not of the run
            error = f"{type(exc).__name__}: {exc}"
            traceback.print_exc(file=sys.stderr)
            again = "; retrying" if attempt < ATTEMPTS else ""
            progress(f"  {name} failed (attempt {attempt}): {error}{again}")
            kill_remembered()
    return error


def render(
    info: dict[str, Any],
    outcomes: dict[str, Result | str],
    plan: Plan,
    names: list[str],
    seconds: float,
) -> str:
    ram = "?" if info["ram_gib"] is None else f"{info['ram_gib']:g} GiB"
    run = "quick (`--quick`)" if plan.quick else "full"
    if names != list(BENCHMARKS):
        run += f", only {', '.join(names)}"
    lines = [
        "# agent-gateway benchmarks",
        "",
        f"- machine: {info['cpu']}, {info['cores']} cores, {ram} RAM, {info['os']}",
        f"- Python {info['python']}, fastmcp {info['fastmcp']}, mcp {info['mcp']}",
        f"- date: {info['date']}; load average at start {info['load_1m']}; commit {info['commit']}",
        f"- run: {run}, `bench/run_all.py`, {seconds:.0f} s in all",
        "",
        "Each row: the gateway's number, its baseline measured in the same run, "
        "gateway / baseline, and the target if the issue sets one. "
        "See bench/README.md for what each row measures.",
        "",
        "| metric | gateway | baseline | ratio | target | met? |",
        "|---|---:|---:|---:|---|---|",
    ]
    notes: list[str] = []
    for name in names:
        outcome = outcomes.get(name)
        if outcome is None:
            lines.append(f"| {name}: not run (interrupted) | | | | | |")
        elif isinstance(outcome, str):
            lines.append(f"| {name}: CRASHED: {outcome.replace('|', '/')} | | | | | |")
        else:
            lines += ["| " + " | ".join(row.cells()) + " |" for row in outcome.rows]
            notes += outcome.notes
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def as_json(
    info: dict[str, Any], outcomes: dict[str, Result | str], plan: Plan, seconds: float
) -> str:
    out: dict[str, Any] = {"machine": info, "quick": plan.quick, "seconds": round(seconds, 1)}
    out["benchmarks"] = {
        name: (
            {"error": o}
            if isinstance(o, str)
            else {"rows": [r.as_dict() for r in o.rows], "notes": o.notes, "details": o.details}
        )
        for name, o in outcomes.items()
    }
    return json.dumps(out, indent=2, default=str)


async def amain(args: argparse.Namespace) -> int:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    interrupted = False

    def on_signal() -> None:
        nonlocal interrupted
        interrupted = True
        remember_tree()  # note what is running before anything unwinds
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    plan = Plan.make(args.quick)
    info = machine()
    outcomes: dict[str, Result | str] = {}
    started = time.perf_counter()
    progress(
        f"agent-gateway benchmarks ({'quick' if plan.quick else 'full'}): "
        f"{', '.join(args.names)}; {info['cores']} CPUs, load {info['load_1m']}"
    )
    try:
        with open(args.stderr, "a") as log:
            for i, name in enumerate(args.names, 1):
                t0 = time.perf_counter()
                progress(f"[{i}/{len(args.names)}] {name}: {BENCHMARKS[name][0]} ...")
                outcome = outcomes[name] = await run_one(name, plan, log)
                took = time.perf_counter() - t0
                if isinstance(outcome, str):
                    progress(f"  {name} CRASHED after {took:.1f} s: {outcome}")
                    continue
                for row in outcome.rows:
                    cells = row.cells()
                    ratio = f" ({cells[3]})" if cells[3] else ""
                    met = f" [{cells[4]}: {cells[5]}]" if cells[4] else ""
                    progress(f"  {cells[0]}: {cells[1]} vs {cells[2]}{ratio}{met}")
                progress(f"  {name} done in {took:.1f} s")
    except asyncio.CancelledError:
        if not interrupted:
            raise
        progress(f"interrupted: the table below holds what finished; {args.output} is left as is")
    seconds = process_seconds() or time.perf_counter() - started
    table = render(info, outcomes, plan, args.names, seconds)
    print(as_json(info, outcomes, plan, seconds) if args.json else table, end="\n")
    if not args.no_write and not interrupted:  # keep the last complete results
        Path(args.output).write_text(table)
        progress(f"wrote {args.output}")
    progress(f"total {seconds:.1f} s")
    if interrupted:
        return 130
    return 1 if any(isinstance(o, str) for o in outcomes.values()) else 0


def main() -> int:
    args = parse_args()
    try:
        return asyncio.run(amain(args))
    finally:
        left = kill_remembered()
        if left:
            progress(f"stopped {len(left)} leftover process(es): {left}")
        # Reap whatever was left to this process (nothing normally).
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass


if __name__ == "__main__":
    sys.exit(main())
