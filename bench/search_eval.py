"""Search quality and speed of ``list_tools(query=...)``: the old matcher against the ranker.

    .venv/bin/python bench/search_eval.py [--json]

Ranks every labelled query of ``bench/data/search_queries.json`` over its corpus
(``reference``: the MCP reference servers' tools, ``bench/data/reference_tools.json``;
``livemcptool``: 527 tools of 70 servers, ``bench/data/livemcptool/``), with the old
hand-made matcher (kept below as it was) and with today's ``core.search.rank``, and
prints R@1, R@5, MRR and nDCG@10 per corpus, over the queries written after the
ranker's settings were chosen (``unseen``) and over all queries, then the search
latency (p50, p90) over 50 and 500 tools, with the index built once and from scratch.

R@k: share of queries with a best tool (grade 2) in the first k. MRR: mean of
1 / the rank of the first best tool (0 if none is ranked). nDCG@10: graded gain
2^grade - 1, log2 discount. A benchmark, not a test: it never fails on the numbers
(tests/test_search_eval.py holds the floors).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent_gateway.core import bm25  # noqa: E402
from agent_gateway.core.search import Candidate, rank  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
CORPORA = {
    "reference": DATA / "reference_tools.json",
    "livemcptool": DATA / "livemcptool" / "tools.json",
}
QUERIES = DATA / "search_queries.json"

Ranker = Callable[[str, Sequence[Candidate]], list[Candidate]]


# ----- the old matcher, as it was before the BM25 ranker (for comparison) ---------------------

_OLD_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_OLD_STOP = frozenset(
    "a an and are as at be by do for from get i in is it me my of on or show the this to "
    "what with".split()
)


def _old_stem(word: str) -> str:
    for suffix in ("ing", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


_OLD_STOP_STEMS = frozenset(_old_stem(w) for w in _OLD_STOP)


def _old_words(text: str) -> list[str]:
    return [_old_stem(w.lower()) for w in _OLD_WORD.findall(text)]


def _old_field(term: str, field: Sequence[str], exact: float, prefix: float) -> float:
    if term in field:
        return exact
    if len(term) >= 3 and any(
        w.startswith(term) or (len(w) >= 3 and term.startswith(w)) for w in field
    ):
        return prefix
    return 0.0


def old_score(query: str, item: Candidate) -> float:
    terms = [t for t in _old_words(query) if t not in _OLD_STOP_STEMS] or _old_words(query)
    if not terms:
        return 0.0
    name_words, server_words = _old_words(item.name), _old_words(item.server)
    desc_words = _old_words(item.description)
    total, matched = 0.0, 0
    for term in terms:
        s = max(
            _old_field(term, name_words, 6.0, 3.0),
            _old_field(term, server_words, 3.0, 1.5),
            _old_field(term, desc_words, 2.0, 1.0),
        )
        if s:
            matched += 1
            total += s
    if not matched:
        return 0.0
    coverage = matched / len(terms)
    if "".join(terms) == "".join(name_words):
        total += 10.0
    return total * coverage * coverage


def old_rank(query: str, items: Sequence[Candidate]) -> list[Candidate]:
    scored = [(old_score(query, item), i, item) for i, item in enumerate(items)]
    return [item for s, _, item in sorted(scored, key=lambda t: (-t[0], t[1])) if s > 0]


RANKERS: dict[str, Ranker] = {"old matcher": old_rank, "BM25 ranker": rank}


# ----- the semantic ranker (the 'semantic' extra), its vectors cached between runs ----------


def vector_folder() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("agent-gateway")) / "bench-vectors"


@cache
def semantic_index(folder: Path | None = None) -> Any:
    """The extra's index, loaded, with vectors kept in ``folder`` (None: the bench's cache)."""
    from agent_gateway.semantic import SemanticIndex

    index = SemanticIndex(folder or vector_folder())
    index.load()
    if index.failed:
        raise RuntimeError(f"The semantic ranker did not load: {index.failed}")
    return index


def semantic_rank(query: str, items: Sequence[Candidate]) -> list[Candidate]:
    index = semantic_index()
    found = index.rank(query, items)
    if found is None:
        index.embed(index.missing(items))
        found = index.rank(query, items)
    return list(found)


def rankers() -> dict[str, Ranker]:
    """Every ranker this machine can run: the semantic one when the extra is installed."""
    from agent_gateway.semantic import available

    return RANKERS | ({"semantic ranker (e5-small)": semantic_rank} if available() else {})


# ----- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    corpus: str
    text: str
    grades: dict[tuple[str, str], int]
    unseen: bool = False  # written after the ranker's settings were chosen


def load_corpus(name: str) -> list[Candidate]:
    return list(_corpus(name))


@cache
def _corpus(name: str) -> tuple[Candidate, ...]:
    rows = json.loads(CORPORA[name].read_text())["tools"]
    return tuple(Candidate(r["server"], r["tool"], r.get("description") or "") for r in rows)


def load_queries() -> list[Query]:
    out = []
    for q in json.loads(QUERIES.read_text())["queries"]:
        grades = {tuple(k.split("/", 1)): int(g) for k, g in q["relevant"].items()}
        unseen = bool(q.get("unseen", False))
        out.append(Query(q["corpus"], q["query"], grades, unseen))  # type: ignore[arg-type]
    return out


# ----- metrics ---------------------------------------------------------------------------------


def metrics_of(
    ranked: list[tuple[str, str]], grades: dict[tuple[str, str], int]
) -> dict[str, float]:
    best = [i for i, key in enumerate(ranked) if grades.get(key) == 2]
    first = best[0] + 1 if best else 0
    dcg = sum((2 ** grades.get(k, 0) - 1) / math.log2(i + 2) for i, k in enumerate(ranked[:10]))
    ideal_gains = sorted(grades.values(), reverse=True)[:10]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal_gains))
    return {
        "R@1": float(first == 1),
        "R@5": float(0 < first <= 5),
        "MRR": 1.0 / first if first else 0.0,
        "nDCG@10": dcg / idcg if idcg else 0.0,
    }


def evaluate(ranker: Ranker, queries: list[Query] | None = None) -> dict[str, dict[str, float]]:
    """Mean metrics per corpus and over ``all`` queries, with the query count ``n``."""
    queries = load_queries() if queries is None else queries
    corpora = {name: load_corpus(name) for name in {q.corpus for q in queries}}
    per: dict[str, list[dict[str, float]]] = {}
    for q in queries:
        ranked = [(c.server, c.name) for c in ranker(q.text, corpora[q.corpus])]
        m = metrics_of(ranked, q.grades)
        per.setdefault(q.corpus, []).append(m)
        per.setdefault("all", []).append(m)
        if q.unseen:
            per.setdefault("unseen", []).append(m)
    return {
        group: {k: statistics.fmean(m[k] for m in ms) for k in ms[0]} | {"n": float(len(ms))}
        for group, ms in per.items()
    }


def misses(ranker: Ranker, queries: list[Query] | None = None) -> list[str]:
    """Queries whose best tool is not first, with what came first (to read, not to tune on)."""
    queries = load_queries() if queries is None else queries
    corpora = {name: load_corpus(name) for name in {q.corpus for q in queries}}
    out = []
    for q in queries:
        ranked = [(c.server, c.name) for c in ranker(q.text, corpora[q.corpus])]
        if not ranked or q.grades.get(ranked[0]) != 2:
            got = "/".join(ranked[0]) if ranked else "nothing"
            want = [k for k, g in q.grades.items() if g == 2]
            where = next((i + 1 for i, k in enumerate(ranked) if k in want), None)
            out.append(f"{q.text!r}: first {got}; best at {where}")
    return out


# ----- latency ---------------------------------------------------------------------------------


def latency(ranker: Ranker, size: int, cold: bool = False) -> tuple[float, float]:
    """p50 and p90 milliseconds of one search over ``size`` tools, for a third of the queries."""
    pool = load_corpus("reference") + load_corpus("livemcptool")
    items = pool[:size]
    texts = [q.text for q in load_queries()][::3]  # 69 queries: the old matcher is slow
    times = []
    for text in texts:
        if cold:
            bm25._cached.cache_clear()
        elif ranker in (rank, semantic_rank):
            ranker(text, items)  # the index (or the vectors) are built once per tool list
        t0 = time.perf_counter()
        ranker(text, items)
        times.append((time.perf_counter() - t0) * 1000)
    qs = statistics.quantiles(times, n=10)
    return statistics.median(times), qs[8]


def embedding_cost() -> dict[str, float]:
    """Milliseconds to embed one tool (done once per definition) and to embed one query."""
    from agent_gateway.core.search import document

    index = semantic_index()
    docs = [document(c) for c in load_corpus("reference")[:24]]
    t0 = time.perf_counter()
    index._embedder.documents(docs)
    per_tool = (time.perf_counter() - t0) * 1000 / len(docs)
    t0 = time.perf_counter()
    index._embedder.queries([q.text for q in load_queries()[:24]])
    return {"embed one tool": per_tool, "embed one query": (time.perf_counter() - t0) * 1000 / 24}


def report() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, ranker in rankers().items():
        out[name] = {"quality": evaluate(ranker), "latency_ms": {}}
        for size in (50, 500):
            out[name]["latency_ms"][f"p50@{size}"], out[name]["latency_ms"][f"p90@{size}"] = (
                latency(ranker, size)
            )
        if ranker is rank:
            for size in (50, 500):
                p50, _ = latency(ranker, size, cold=True)
                out[name]["latency_ms"][f"p50@{size} cold index"] = p50
        if ranker is semantic_rank:
            out[name]["latency_ms"].update(embedding_cost())
    return out


def render(out: dict[str, Any]) -> str:
    lines = []
    groups = list(next(iter(out.values()))["quality"])
    for group in ["all"] + [g for g in groups if g != "all"]:
        n = int(next(iter(out.values()))["quality"][group]["n"])
        lines += [f"\n{group} ({n} queries)", "", "| ranker | R@1 | R@5 | MRR | nDCG@10 |"]
        lines.append("|---|---:|---:|---:|---:|")
        for name, res in out.items():
            m = res["quality"][group]
            lines.append(
                f"| {name} | {m['R@1']:.2f} | {m['R@5']:.2f} | {m['MRR']:.2f} | "
                f"{m['nDCG@10']:.2f} |"
            )
    lines += ["", "latency of one search (ms)", "", "| ranker | measure | ms |", "|---|---|---:|"]
    for name, res in out.items():
        lines += [f"| {name} | {k} | {v:.2f} |" for k, v in res["latency_ms"].items()]
    return "\n".join(lines).lstrip("\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--json", action="store_true", help="print JSON instead of the tables")
    p.add_argument("--misses", action="store_true", help="also list the ranker's misses")
    args = p.parse_args(argv)
    out = report()
    print(json.dumps(out, indent=2) if args.json else render(out))
    if args.misses:
        for name, ranker in rankers().items():
            if ranker is not old_rank:
                print(f"\nmisses of the {name}:\n" + "\n".join(misses(ranker)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
