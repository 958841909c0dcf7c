"""The semantic ranker: its cut-off, its vector cache, and its index, with the real model.

The pure parts (``keep``, the store's file) need no model; the index is tested
once with a tiny embedder that counts its calls (to see what is embedded, and
when) and once with the model the extra ships.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent_gateway.core.search import Candidate, document
from agent_gateway.semantic import (
    SemanticIndex,
    VectorStore,
    available,
    keep,
    load_embedder,
    text_key,
)


def test_make_test_installs_the_semantic_extra() -> None:
    assert available()  # so both rankers run in CI; never skipped


ADD = Candidate("calc", "get_sum", "Add two numbers and return their sum.")
CLOCK = Candidate("time", "get_current_time", "Get the current time in a given timezone.")
NOTE = Candidate("memory", "create_entities", "Store new facts about people in the graph.")


@pytest.mark.parametrize(
    ("sims", "margin", "kept"),
    [
        ([], 0.05, []),
        ([0.8], 0.05, [0]),
        ([0.70, 0.90, 0.86], 0.05, [1, 2]),
        ([0.70, 0.90, 0.86], 0.25, [1, 2, 0]),
        ([0.5, 0.5, 0.4], 0.05, [0, 1]),  # ties keep input order
    ],
)
def test_only_hits_near_the_best_are_kept(
    sims: list[float], margin: float, kept: list[int]
) -> None:
    assert keep(sims, margin) == kept


def test_a_text_key_depends_on_every_character_of_the_text() -> None:
    assert text_key("read a file") == text_key("read a file")
    assert text_key("read a file") != text_key("read a file.")


def test_saved_vectors_read_back_in_a_new_store(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "v.npz")
    store.vectors = {"a": np.array([1, 0], np.float32), "b": np.array([0, 1], np.float32)}
    store.save()
    again = VectorStore(tmp_path / "v.npz")
    again.load()
    assert sorted(again.vectors) == ["a", "b"]
    assert again.vectors["b"].tolist() == [0.0, 1.0]


def test_a_corrupt_vector_file_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "v.npz").write_bytes(b"not a zip")
    store = VectorStore(tmp_path / "v.npz")
    store.load()
    assert store.vectors == {}
    assert "Ignoring unreadable vector cache" in caplog.text


class Counting:
    """A two-word embedder: enough to see what the index embeds, and when."""

    def __init__(self) -> None:
        self.documents_seen: list[str] = []

    def _vec(self, text: str) -> Any:
        row = np.array([text.count("sum") + 0.01, text.count("time") + 0.01], np.float32)
        return row / np.linalg.norm(row)

    def queries(self, texts: Sequence[str]) -> Any:
        return np.stack([self._vec(t) for t in texts])

    def documents(self, texts: Sequence[str]) -> Any:
        self.documents_seen += texts
        return np.stack([self._vec(t) for t in texts])


def test_the_index_ranks_nothing_until_every_tool_has_a_vector(tmp_path: Path) -> None:
    embedder = Counting()
    index = SemanticIndex(tmp_path, loader=lambda: embedder)
    assert index.rank("sum", [ADD, CLOCK]) is None  # not loaded
    index.load()
    assert index.rank("sum", [ADD, CLOCK]) is None  # no vectors yet
    assert index.missing([ADD, CLOCK, ADD]) == sorted([document(ADD), document(CLOCK)])
    assert index.embed(index.missing([ADD, CLOCK])) == 2
    assert index.rank("the time please", [ADD, CLOCK]) == [CLOCK]
    assert index.missing([ADD, CLOCK]) == []


def test_vectors_are_computed_once_per_tool_definition_across_restarts(tmp_path: Path) -> None:
    first = Counting()
    index = SemanticIndex(tmp_path, loader=lambda: first)
    index.load()
    index.embed(index.missing([ADD, CLOCK]))
    second = Counting()
    again = SemanticIndex(tmp_path, loader=lambda: second)
    again.load()
    changed = Candidate(CLOCK.server, CLOCK.name, CLOCK.description + " Now with dates.")
    assert again.missing([ADD, CLOCK, changed]) == [document(changed)]
    assert second.documents_seen == []


def test_a_model_that_fails_to_load_leaves_the_index_failed_not_raising(tmp_path: Path) -> None:
    def broken() -> Counting:
        raise OSError("engine library missing")

    index = SemanticIndex(tmp_path, loader=broken)
    index.load()
    assert not index.ready
    assert index.failed == "OSError: engine library missing"
    assert index.rank("sum", [ADD]) is None


def test_the_shipped_model_loads_offline_and_finds_tools_by_meaning(tmp_path: Path) -> None:
    index = SemanticIndex(tmp_path, loader=load_embedder)
    index.load()
    assert index.ready, index.failed
    tools = [ADD, CLOCK, NOTE]
    index.embed(index.missing(tools))
    found = index.rank("what hour is it in Tokyo", tools)
    assert found and found[0] == CLOCK
    found = index.rank("remember that Ada likes tea", tools)
    assert found and found[0] == NOTE
