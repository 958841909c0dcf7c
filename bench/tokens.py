"""Tokens per task: what an agent reads to find and call ONE tool, meta mode vs direct mode.

    .venv/bin/python bench/tokens.py                    # catalogs of 10, 50, 100, 500 tools
    .venv/bin/python bench/tokens.py --sizes 10,30 --json

For each catalog size N, the first N tools of the LiveMCPTool corpus (real names,
descriptions and inputSchemas; ``bench/data/livemcptool/``), taken server by server in
the order their tools first appear as a best answer of a labelled query
(``bench/data/search_queries.json``), are served by ``tests/servers/replay_server.py``
(tools that echo) behind two real gateways (``python -m agent_gateway serve``, stdio):
one ``--expose meta``, one ``--expose direct``, each talked to by a ``fastmcp.Client``.

A task is one labelled LiveMCPTool query whose best tool (grade 2) is in the catalog.
What the agent reads for it:

- direct: the gateway's ``tools/list`` + the ``tools/call`` result of that tool;
- meta: the gateway's ``tools/list`` (five meta-tools) + ``list_tools(query=QUERY)``
  (default limit) + ``get_tool`` of the first hit that is a best tool + ``call_tool``;
  "no get_tool" leaves ``get_tool`` out (callable from the hit alone only if hits carry
  a parameter signature; the table says whether they do).

Counting: ``tools/list`` as compact JSON of the tool definitions (as on the wire); a
tool result as the text of its text content blocks (what clients hand the model; the
gateway's meta-tool answers are compact JSON there), and in a second table also with
their ``structuredContent`` as compact JSON (a client that shows the model both).
Tokens: characters / 4 (see ``CHARS_PER_TOKEN``). A task whose search shows no best
tool among the hits is a miss: counted apart, not in the averages (the agent would
search again).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _harness import PY, REPO, START_TIMEOUT, gateway_args, json_size, progress, write_config

DATA = REPO / "bench" / "data"
CORPUS = DATA / "livemcptool" / "tools.json"
QUERIES = DATA / "search_queries.json"
REPLAY = REPO / "tests" / "servers" / "replay_server.py"
SIZES = (10, 50, 100, 500)
# 4 characters per token: the usual rule of thumb for English prose with GPT and Claude
# tokenizers. JSON (quotes, braces, short keys, snake_case names) tokenizes denser, about
# 3 characters per token, and Chinese descriptions (a few corpus servers) near 1 per
# character, so absolute token counts are rough; both modes are counted alike, so the
# ratio and the crossover do not depend on the rule.
CHARS_PER_TOKEN = 4
GROUP_MAX = 150  # tools per replay process (one process per corpus server would be ~65)
SERVER_KEY = "livetools{}"  # 10-11 characters, like the corpus's server names (10.7 on average)


# ----- pure parts: catalog, tasks, counting, table ------------------------------------------


def load_corpus() -> list[dict[str, Any]]:
    return list(json.loads(CORPUS.read_text())["tools"])


def load_queries() -> list[dict[str, Any]]:
    queries = json.loads(QUERIES.read_text())["queries"]
    return [q for q in queries if q["corpus"] == "livemcptool"]


def server_order(corpus: Sequence[dict[str, Any]], queries: Sequence[dict[str, Any]]) -> list[str]:
    """Corpus servers, those of labelled best tools first (in query order), then the rest."""
    order: list[str] = []
    for q in queries:
        for key, grade in q["relevant"].items():
            server = key.split("/", 1)[0]
            if grade == 2 and server not in order:
                order.append(server)
    for t in corpus:
        if t["server"] not in order:
            order.append(t["server"])
    return order


def catalog(
    corpus: Sequence[dict[str, Any]], order: Sequence[str], size: int
) -> list[dict[str, Any]]:
    """The first ``size`` tools, server by server in ``order`` (the last server truncated)."""
    chosen: list[dict[str, Any]] = []
    for server in order:
        chosen.extend(t for t in corpus if t["server"] == server)
        if len(chosen) >= size:
            break
    return chosen[:size]


def groups(tools: Sequence[dict[str, Any]], most: int = GROUP_MAX) -> list[tuple[list[str], int]]:
    """Pack the catalog's servers into replay processes: ([corpus servers], tool count) each.

    A process holds at most ``most`` tools and never two tools of one name. Only the
    last server of the catalog may be truncated, so each group serves the first
    ``count`` tools of its servers in corpus order.
    """
    by_server: dict[str, list[str]] = {}
    for t in tools:
        by_server.setdefault(t["server"], []).append(t["tool"])
    packed: list[tuple[list[str], int]] = []
    names: set[str] = set()
    for server, tool_names in by_server.items():
        fits = packed and len(names) + len(tool_names) <= most and not names & set(tool_names)
        if not fits:
            packed.append(([], 0))
            names = set()
        servers, count = packed[-1]
        packed[-1] = ([*servers, server], count + len(tool_names))
        names |= set(tool_names)
    return packed


@dataclass(frozen=True)
class Task:
    query: str
    best: tuple[str, ...]  # "server/tool" of the best tools (grade 2) in the catalog
    unseen: bool = False


def tasks(queries: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]]) -> list[Task]:
    """Labelled queries with at least one best tool in the catalog."""
    present = {f"{t['server']}/{t['tool']}" for t in tools}
    found = []
    for q in queries:
        best = tuple(k for k, g in q["relevant"].items() if g == 2 and k in present)
        if best:
            found.append(Task(q["query"], best, bool(q.get("unseen"))))
    return found


def example_arguments(schema: dict[str, Any] | None) -> dict[str, Any]:
    """Values for the required parameters of ``schema`` (what an agent would fill in)."""
    schema = schema or {}
    props = schema.get("properties") or {}
    samples = {"string": "x", "integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}
    arguments: dict[str, Any] = {}
    for name in schema.get("required") or []:
        prop = props.get(name) or {}
        if prop.get("enum"):
            arguments[name] = prop["enum"][0]
            continue
        kind = prop.get("type", "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        arguments[name] = samples.get(kind, "x")
    return arguments


def result_chars(result: dict[str, Any], structured: bool = False) -> int:
    """Characters of a tools/call result an agent reads (a dict as on the wire).

    The text of the text content blocks (other blocks as compact JSON); with
    ``structured``, plus ``structuredContent`` as compact JSON.
    """
    total = 0
    for block in result.get("content") or []:
        if block.get("type") == "text":
            total += len(block.get("text", ""))
        else:
            total += json_size(block)
    if structured and result.get("structuredContent") is not None:
        total += json_size(result["structuredContent"])
    return total


def tokens(chars: float) -> int:
    return round(chars / CHARS_PER_TOKEN)


@dataclass
class SizeResult:
    """Per-task averages (characters) at one catalog size."""

    size: int
    servers: int  # corpus servers in the catalog
    processes: int  # replay processes behind each gateway
    tasks: int  # tasks counted (best tool among the search hits)
    misses: int  # tasks whose search showed no best tool
    direct_list: int  # direct mode's tools/list
    meta_list: int  # meta mode's tools/list (five meta-tools)
    direct_call: float  # mean tools/call result, direct mode
    search: float  # mean list_tools(query) answer
    get_tool: float  # mean get_tool answer
    meta_call: float  # mean call_tool answer
    hits: float  # mean hits per search answer
    has_signature: bool  # hits carry a parameter signature
    details: list[dict[str, Any]] = field(default_factory=list)

    @property
    def direct(self) -> float:
        return self.direct_list + self.direct_call

    @property
    def meta(self) -> float:
        return self.meta_list + self.search + self.get_tool + self.meta_call

    @property
    def meta_no_get(self) -> float:
        return self.meta_list + self.search + self.meta_call

    def per_session(self, k: int) -> tuple[float, float]:
        """(direct, meta with get_tool) chars for ``k`` tasks in one session (lists read once)."""
        return (
            self.direct_list + k * self.direct_call,
            self.meta_list + k * (self.search + self.get_tool + self.meta_call),
        )


def crossover(points: Sequence[tuple[int, float, float]]) -> float | None:
    """The catalog size where meta stops costing more than direct, by linear interpolation.

    ``points``: (size, direct chars, meta chars), sorted by size. None if meta never
    gets cheaper; the smallest size if it is cheaper from the start.
    """
    previous: tuple[int, float] | None = None
    for size, direct, meta in points:
        gap = meta - direct
        if gap <= 0:
            if previous is None:
                return float(size)
            size0, gap0 = previous
            return size0 + (size - size0) * gap0 / (gap0 - gap)
        previous = (size, gap)
    return None


def _cell(chars: float) -> str:
    return f"{chars:,.0f} / {tokens(chars):,}"


def table(results: Sequence[SizeResult]) -> str:
    """The markdown table: tools | direct | meta | ratio | meta without get_tool | ratio."""
    lines = [
        "| tools | direct chars / tokens | meta chars / tokens | meta / direct "
        "| meta, no get_tool | meta, no get_tool / direct | tasks (misses) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.size} | {_cell(r.direct)} | {_cell(r.meta)} | {r.meta / r.direct:.2f}x "
            f"| {_cell(r.meta_no_get)}{'' if r.has_signature else ' (no sig)'} "
            f"| {r.meta_no_get / r.direct:.2f}x | {r.tasks} ({r.misses}) |"
        )
    return "\n".join(lines)


def breakdown(results: Sequence[SizeResult]) -> str:
    """Where the characters go, per task (means)."""
    lines = [
        "| tools | direct tools/list | per tool | call result | meta tools/list "
        "| list_tools(query) | hits | get_tool | call_tool |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.size} | {r.direct_list:,} | {r.direct_list / r.size:,.0f} "
            f"| {r.direct_call:,.0f} | {r.meta_list:,} "
            f"| {r.search:,.0f} | {r.hits:.1f} | {r.get_tool:,.0f} | {r.meta_call:,.0f} |"
        )
    return "\n".join(lines)


def crossover_text(results: Sequence[SizeResult], k: int = 1) -> str:
    points = [(r.size, *r.per_session(k)) for r in sorted(results, key=lambda r: r.size)]
    at = crossover(points)
    what = "one task per session" if k == 1 else f"{k} tasks per session (lists read once)"
    if at is None:
        return f"{what}: meta mode never reads less than direct mode up to {points[-1][0]} tools"
    if at <= points[0][0]:
        return f"{what}: meta mode reads less from {points[0][0]} tools on (the smallest size)"
    return f"{what}: meta mode reads less from about {at:.0f} tools on (linear interpolation)"


# ----- measuring -------------------------------------------------------------------------


def _dump(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(by_alias=True, exclude_none=True, mode="json"))


def _client(config: Path, cache: Path, log: Any, *extra: str) -> Any:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    transport = StdioTransport(
        PY,
        gateway_args(config, *extra),
        env={"PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(cache)},
        cwd=str(config.parent),
        keep_alive=False,
        log_file=log,
    )
    return Client(transport, timeout=60)


def _config_servers(tools: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    servers = {}
    for i, (names, count) in enumerate(groups(tools), 1):
        args = [str(REPLAY), "--name", SERVER_KEY.format(i), "--count", str(count)]
        for name in names:
            args += ["--server", name]
        servers[SERVER_KEY.format(i)] = {"command": PY, "args": args}
    return servers


def _check(result: Any, what: str) -> dict[str, Any]:
    answer = _dump(result)
    if answer.get("isError"):
        raise RuntimeError(f"{what}: error result {answer.get('content')!r}")
    return answer


async def _wait_all(meta: Any, direct: Any, size: int) -> list[Any]:
    """Wait until both gateways see every tool; return direct mode's tools/list."""
    deadline = time.monotonic() + START_TIMEOUT * 2
    while True:
        listed = (await meta.call_tool_mcp("list_tools", {"limit": 1000})).structured_content or {}
        direct_tools = await direct.list_tools()
        if listed.get("total") == size and not listed.get("errors") and len(direct_tools) == size:
            return direct_tools
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{size} tools: meta lists {listed.get('total')}, direct {len(direct_tools)}"
            )
        await asyncio.sleep(0.2)


async def measure(
    size: int, corpus: Sequence[dict[str, Any]], queries: Sequence[dict[str, Any]], log: Any
) -> tuple[SizeResult, SizeResult]:
    """One catalog size: (text content only, text + structuredContent)."""
    tools = catalog(corpus, server_order(corpus, queries), size)
    servers = _config_servers(tools)
    home_of = {}  # "corpus server/tool" -> (gateway server key, tool)
    for i, (names, _) in enumerate(groups(tools), 1):
        for t in tools:
            if t["server"] in names:
                home_of[f"{t['server']}/{t['tool']}"] = (SERVER_KEY.format(i), t["tool"])
    by_key = {f"{t['server']}/{t['tool']}": t for t in tools}
    todo = tasks(queries, tools)
    with tempfile.TemporaryDirectory(prefix="gw-bench-tokens-") as tmp:
        meta_conf = write_config(Path(tmp) / "meta", servers)
        direct_conf = write_config(Path(tmp) / "direct", servers)
        cache = Path(tmp) / "cache"
        async with (
            _client(meta_conf, cache, log) as meta,
            _client(direct_conf, cache, log, "--expose", "direct") as direct,
        ):
            meta_tools = await meta.list_tools()
            direct_tools = await _wait_all(meta, direct, size)
            # Direct names: server__tool, or hashed when long: find by definition too.
            direct_name = {}
            for home, (key, tool) in home_of.items():
                plain = f"{key}__{tool}"
                if any(t.name == plain for t in direct_tools):
                    direct_name[home] = plain
                else:
                    desc = by_key[home].get("description") or None
                    match = [t.name for t in direct_tools if t.description == desc]
                    direct_name[home] = match[0] if len(match) == 1 else plain
            rows: list[dict[str, Any]] = []
            misses = 0
            signature = False
            for task in todo:
                search = _check(
                    await meta.call_tool_mcp("list_tools", {"query": task.query}), "list_tools"
                )
                hits = (search.get("structuredContent") or {}).get("tools", [])
                signature = signature or any("sig" in h or "signature" in h for h in hits)
                wanted = {home_of[b]: b for b in task.best}
                pick = next(
                    (
                        wanted[(h["server"], h["name"])]
                        for h in hits
                        if (h["server"], h["name"]) in wanted
                    ),
                    None,
                )
                if pick is None:
                    misses += 1
                    rows.append({"query": task.query, "miss": True, "hits": len(hits)})
                    continue
                key, tool = home_of[pick]
                got = _check(
                    await meta.call_tool_mcp("get_tool", {"server": key, "tool": tool}), "get_tool"
                )
                arguments = example_arguments(
                    (got.get("structuredContent") or {}).get("inputSchema")
                )
                called = _check(
                    await meta.call_tool_mcp(
                        "call_tool", {"server": key, "tool": tool, "arguments": arguments}
                    ),
                    "call_tool",
                )
                direct_called = _check(
                    await direct.call_tool_mcp(direct_name[pick], arguments), "direct call"
                )
                rows.append(
                    {
                        "query": task.query,
                        "tool": pick,
                        "rank": 1 + [(h["server"], h["name"]) for h in hits].index((key, tool)),
                        "hits": len(hits),
                        **{
                            f"{name}{suffix}": result_chars(answer, both)
                            for name, answer in (
                                ("search", search),
                                ("get_tool", got),
                                ("call_tool", called),
                                ("direct_call", direct_called),
                            )
                            for suffix, both in (("", False), ("_structured", True))
                        },
                    }
                )
    counted = [r for r in rows if not r.get("miss")]
    if not counted:
        raise RuntimeError(f"{size} tools: no task found its tool")

    def summary(structured: bool) -> SizeResult:
        suffix = "_structured" if structured else ""

        def mean(key: str) -> float:
            return statistics.fmean(r[key + suffix] for r in counted)

        return SizeResult(
            size=size,
            servers=len({t["server"] for t in tools}),
            processes=len(servers),
            tasks=len(counted),
            misses=misses,
            direct_list=json_size([_dump(t) for t in direct_tools]),
            meta_list=json_size([_dump(t) for t in meta_tools]),
            direct_call=mean("direct_call"),
            search=mean("search"),
            get_tool=mean("get_tool"),
            meta_call=mean("call_tool"),
            hits=statistics.fmean(r["hits"] for r in counted),
            has_signature=signature,
            details=rows,
        )

    return summary(False), summary(True)


async def run(sizes: Sequence[int], log: Any) -> tuple[list[SizeResult], list[SizeResult]]:
    """(text content only, text + structuredContent) results, one per size."""
    corpus, queries = load_corpus(), load_queries()
    text, both = [], []
    for size in sizes:
        started = time.monotonic()
        progress(f"tokens: {size} tools ...")
        one, two = await measure(size, corpus, queries, log)
        text.append(one)
        both.append(two)
        progress(f"tokens: {size} tools done in {time.monotonic() - started:.1f} s")
    return text, both


def report(text: Sequence[SizeResult], both: Sequence[SizeResult]) -> str:
    sig = any(r.has_signature for r in text)
    first = text[0]
    parts = [
        f"Characters an agent reads to find and call one tool (mean per task; tool results "
        f"as the text of their content); tokens = characters / {CHARS_PER_TOKEN}.",
        "",
        table(text),
        "",
        "- " + crossover_text(text),
        "- " + crossover_text(text, 5),
        "- " + crossover_text(text, 20),
        "- hits "
        + ("carry" if sig else "carry no")
        + " parameter signature"
        + ("" if sig else ": without get_tool the agent would have to guess the arguments"),
        f"- the meta-mode tools/list alone is {first.meta_list:,} chars "
        f"({tokens(first.meta_list):,} tokens)",
        "",
        "Breakdown (characters, mean per task):",
        "",
        breakdown(text),
        "",
        "Counting structuredContent too (a client that shows the model both; the gateway's "
        "meta-tool answers then count twice, direct results of these tools have none):",
        "",
        table(both),
        "",
        "- " + crossover_text(both),
        "- " + crossover_text(both, 5),
        "- " + crossover_text(both, 20),
    ]
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="catalog sizes")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")
    parser.add_argument("--stderr", help="keep the gateways' and servers' stderr in this file")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    with open(args.stderr or os.devnull, "a") as log:
        text, both = asyncio.run(run(sizes, log))
    if args.json:

        def rows(results: Sequence[SizeResult]) -> list[dict[str, Any]]:
            return [
                {**asdict(r), "direct": r.direct, "meta": r.meta, "meta_no_get_tool": r.meta_no_get}
                for r in results
            ]

        out = {
            "chars_per_token": CHARS_PER_TOKEN,
            "text": rows(text),
            "with_structured": rows(both),
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print(report(text, both))
    return 0


if __name__ == "__main__":
    sys.exit(main())
