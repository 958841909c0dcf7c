"""Which ranker answers ``list_tools(query=...)``: words (BM25) or meaning (the extra).

``--search lexical`` always ranks with :func:`agent_gateway.core.search.rank`.
``--search semantic`` (and ``auto`` when the extra is installed) ranks with
:class:`agent_gateway.semantic.SemanticIndex` once it can: the model loads in a
worker thread at the first search (so it is never on the path to the first
answer, and a gateway nobody searches never pays its memory), that search
waiting at most half a second for it; tools are embedded in the background
the first time a search meets them, their vectors kept on disk. Until a
search's tools all have vectors, that search is ranked by words.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agent_gateway.core.search import Candidate, rank
from agent_gateway.metrics import GatewayMetrics

if TYPE_CHECKING:
    from agent_gateway.semantic import SemanticIndex

logger = logging.getLogger("agent_gateway.front.searching")

SearchMode = Literal["auto", "lexical", "semantic"]
FIRST_SEARCH_WAIT = 0.5  # seconds a search waits for the model to load (about 0.2 s here)


def semantic_wanted(mode: SearchMode) -> bool:
    """Whether ``mode`` asks for the semantic ranker; ``semantic`` without the extra raises."""
    if mode == "lexical":
        return False
    from agent_gateway.semantic import EXTRA_HINT, available

    if available():
        return True
    if mode == "semantic":
        raise ImportError(f"--search semantic needs the 'semantic' extra; {EXTRA_HINT}")
    return False


class Searcher:
    """Ranks search hits; with a semantic index, loads and feeds it in the background."""

    def __init__(self, index: SemanticIndex | None = None) -> None:
        self.index = index
        self._queue: set[str] = set()
        self._wake = asyncio.Event()
        self._loaded = asyncio.Event()
        self.metrics: GatewayMetrics | None = None  # the gateway's: search latency

    @classmethod
    def for_mode(cls, mode: SearchMode, folder: Path | None) -> Searcher:
        if not semantic_wanted(mode):
            return cls()
        from agent_gateway.semantic import SemanticIndex

        return cls(SemanticIndex(folder))

    @property
    def ranker(self) -> str:
        """What ranks right now: ``lexical``, or ``semantic`` (``not loaded yet``, ``failed``)."""
        if self.index is None:
            return "lexical"
        if self.index.failed:
            return "semantic (failed: searching by words)"
        return "semantic" if self.index.ready else "semantic (not loaded yet)"

    async def rank(self, query: str, items: Sequence[Candidate]) -> list[Candidate]:
        started = time.perf_counter()
        try:
            return await self._rank(query, items)
        finally:
            if self.metrics is not None:
                self.metrics.searched(self.ranker.split(" ")[0], time.perf_counter() - started)

    async def _rank(self, query: str, items: Sequence[Candidate]) -> list[Candidate]:
        index = self.index
        if index is not None and not index.failed:
            if not self._loaded.is_set():
                self._wake.set()  # the first search: the background job loads the model
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._loaded.wait(), FIRST_SEARCH_WAIT)
            found = await asyncio.to_thread(index.rank, query, items)
            if found is not None:
                return found
            if index.ready:
                self._queue.update(index.missing(items))
                self._wake.set()
        return rank(query, items)

    async def run(self, stop: asyncio.Event) -> None:
        """Background job: load the model at the first search, then embed what searches met."""
        index = self.index
        if index is None:
            return
        await self._wake.wait()  # a gateway nobody searches never loads the model
        await asyncio.to_thread(index.load)
        self._loaded.set()
        while not stop.is_set() and not index.failed:
            await self._wake.wait()
            self._wake.clear()
            texts, self._queue = sorted(self._queue), set()
            if texts:
                count = await asyncio.to_thread(index.embed, texts)
                logger.info("Embedded %d tool descriptions for search", count)
