"""The pure parts of bench/tokens.py: catalog, replay groups, tasks, counting, crossover.

No gateway process: the corpus and queries files only.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import tokens  # noqa: E402


def test_catalogs_are_nested_real_tools_and_groups_have_no_name_twice() -> None:
    corpus, queries = tokens.load_corpus(), tokens.load_queries()
    order = tokens.server_order(corpus, queries)
    assert sorted(order) == sorted({t["server"] for t in corpus})
    small, large = tokens.catalog(corpus, order, 50), tokens.catalog(corpus, order, 500)
    assert len(small) == 50 and len(large) == 500
    assert large[:50] == small
    packed = tokens.groups(large)
    assert sum(count for _, count in packed) == 500
    assert all(count <= tokens.GROUP_MAX for _, count in packed)
    for servers, _ in packed:
        names = [t["tool"] for t in large if t["server"] in servers]
        assert len(names) == len(set(names))
    found = tokens.tasks(queries, small)
    assert found and all(
        b.split("/")[0] in {t["server"] for t in small} for f in found for b in f.best
    )


def test_counting_arguments_and_crossover() -> None:
    result = {
        "content": [{"type": "text", "text": "abcd"}],
        "structuredContent": {"a": 1},
        "_meta": {"ignored": True},
    }
    assert tokens.result_chars(result) == 4
    assert tokens.result_chars(result, structured=True) == 4 + len('{"a":1}')
    assert tokens.tokens(400) == 100
    schema = {
        "properties": {"q": {"type": "string"}, "n": {"type": ["integer", "null"]}, "m": {}},
        "required": ["q", "n"],
    }
    assert tokens.example_arguments(schema) == {"q": "x", "n": 1}
    # meta - direct: +100 at 10 tools, -300 at 50: crosses a quarter of the way, at 20.
    assert tokens.crossover([(10, 100, 200), (50, 600, 300)]) == 20
    assert tokens.crossover([(10, 300, 200)]) == 10
    assert tokens.crossover([(10, 100, 200), (50, 200, 300)]) is None


def test_table_has_one_row_per_size() -> None:
    row = tokens.SizeResult(
        size=10,
        servers=2,
        processes=1,
        tasks=3,
        misses=1,
        direct_list=4000,
        meta_list=2400,
        direct_call=50,
        search=500,
        get_tool=400,
        meta_call=50,
        hits=4,
        has_signature=False,
    )
    text = tokens.table([row])
    assert "| 10 | 4,050 / 1,012 | 3,350 / 838 | 0.83x |" in text
    assert "(no sig)" in text
