"""The search ranker keeps its quality on the labelled queries of bench/search_eval.py.

Floors sit a little under the measured scores, so a change that makes search worse
fails here. Pure: no servers, just the two corpora and the queries.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import search_eval  # noqa: E402

from agent_gateway.core.search import rank  # noqa: E402

# Measured (see the README's Search section): reference R@5 0.86, MRR 0.72;
# livemcptool R@5 0.73, MRR 0.60; all R@5 0.78, MRR 0.64.
FLOORS = {
    "reference": {"R@5": 0.82, "MRR": 0.68},
    "livemcptool": {"R@5": 0.70, "MRR": 0.56},
    "all": {"R@5": 0.75, "MRR": 0.61},
}


@pytest.fixture(scope="module")
def quality() -> dict[str, dict[str, float]]:
    return search_eval.evaluate(rank)


@pytest.mark.parametrize(
    ("group", "metric"), [(g, m) for g, floors in FLOORS.items() for m in floors]
)
def test_the_ranker_stays_above_its_floor(
    quality: dict[str, dict[str, float]], group: str, metric: str
) -> None:
    assert quality[group][metric] >= FLOORS[group][metric], quality[group]


def test_the_ranker_beats_the_old_matcher_on_the_reference_servers() -> None:
    queries = [q for q in search_eval.load_queries() if q.corpus == "reference"]
    new = search_eval.evaluate(rank, queries)["reference"]
    old = search_eval.evaluate(search_eval.old_rank, queries)["reference"]
    assert new["R@5"] > old["R@5"]
    assert new["MRR"] > old["MRR"]


def test_the_labelled_set_is_broad_and_well_formed() -> None:
    queries = search_eval.load_queries()
    corpora = {name: search_eval.load_corpus(name) for name in search_eval.CORPORA}
    assert len(queries) >= 120
    tools = {name: {(c.server, c.name) for c in items} for name, items in corpora.items()}
    for q in queries:
        assert 2 in q.grades.values(), q.text
        assert set(q.grades) <= tools[q.corpus], q.text
    assert len({s for q in queries for (s, _) in q.grades}) >= 40


def test_no_query_names_its_best_tool() -> None:
    for q in search_eval.load_queries():
        for _server, tool in q.grades:
            assert tool.lower() not in q.text.lower().replace(" ", "_"), q.text


def test_a_search_over_500_tools_is_fast_once_the_index_is_built() -> None:
    items = (search_eval.load_corpus("reference") + search_eval.load_corpus("livemcptool"))[:500]
    texts = [q.text for q in search_eval.load_queries()]
    rank(texts[0], items)
    started = time.perf_counter()
    for text in texts:
        rank(text, items)
    assert (time.perf_counter() - started) / len(texts) < 0.05  # measured: under 1 ms


# The semantic ranker (the extra), over the reference servers only: embedding the
# 527 LiveMCPTool tools takes about a minute here, so make bench covers those.
# Measured: reference R@1 0.71, R@5 0.90, MRR 0.78.
SEMANTIC_FLOORS = {"R@1": 0.66, "R@5": 0.86, "MRR": 0.74}


@pytest.mark.timeout(180)
def test_the_semantic_ranker_stays_above_its_floor_on_the_reference_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_eval, "vector_folder", lambda: tmp_path)  # embed afresh
    search_eval.semantic_index.cache_clear()
    queries = [q for q in search_eval.load_queries() if q.corpus == "reference"]
    quality = search_eval.evaluate(search_eval.semantic_rank, queries)["reference"]
    for metric, floor in SEMANTIC_FLOORS.items():
        assert quality[metric] >= floor, quality
    assert quality["MRR"] > search_eval.evaluate(rank, queries)["reference"]["MRR"]
