"""Pure search ranking and summaries for ``list_tools(query=...)``.

:func:`rank` orders tools by BM25F relevance to a query over their name words,
server name and description, with Snowball stemming (see :mod:`.bm25`). Tools
that match no word of the query are left out; ties keep the input order. Queries
over :data:`QUERY_MAX` characters are refused. :func:`hits` shapes the answer:
summaries, and compact signatures (:mod:`.signature`) within a size budget. No I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_gateway.core import bm25
from agent_gateway.core.errors import QueryTooLongError
from agent_gateway.core.signature import signature

_SENTENCE_END = re.compile(r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<=[.!?])\s")
SUMMARY_MAX = 160
QUERY_MAX = 1000
LIMIT_DEFAULT = 50  # hits per answer unless asked (DESIGN: limit=50); signatures obey ANSWER_BUDGET
ANSWER_BUDGET = 3000  # characters of JSON a list_tools answer aims to stay within
ANSWER_OVERHEAD = 80  # its other keys: total, truncated, a short errors list
SIG_ALWAYS = 5  # the first hits carry their signature even past the budget
STOP_WORDS = bm25.STOP_WORDS


def words(text: str) -> list[str]:
    """Lower-case words of ``text``, splitting snake_case, kebab-case and camelCase."""
    return bm25.split_words(text)


def summary(description: str | None) -> str:
    """The first sentence of a description, at most 160 characters."""
    text = " ".join((description or "").split())
    first = _SENTENCE_END.split(text, maxsplit=1)[0]
    if len(first) > SUMMARY_MAX:
        first = first[: SUMMARY_MAX - 1].rstrip() + "…"
    return first


@dataclass(frozen=True)
class Candidate:
    server: str
    name: str
    description: str


DOCUMENT_DESCRIPTION_MAX = 400  # characters of a description an embedding ranker reads


def document(item: Candidate) -> str:
    """The text an embedding ranker reads for a tool: server, name words, description start.

    The first 400 characters of the description carry what a tool is for; the
    rest (argument notes, examples) cost embedding time and, on our eval set,
    lowered the ranking slightly.
    """
    name = " ".join(words(item.name))
    return f"{item.server} {name}. {item.description[:DOCUMENT_DESCRIPTION_MAX]}".strip()


def check_query(query: str) -> None:
    """Refuse a query over QUERY_MAX characters, before any work is done on it."""
    if len(query) > QUERY_MAX:
        raise QueryTooLongError(len(query), QUERY_MAX)


def scores(query: str, items: Sequence[Candidate]) -> list[float]:
    """Relevance of each item to ``query`` among ``items``, in order; 0 means no match."""
    check_query(query)
    if not items:
        return []
    index = bm25.index_for(tuple((c.name, c.server, c.description) for c in items))
    return index.scores(query)


def rank(query: str, items: Sequence[Candidate]) -> list[Candidate]:
    """Items that match ``query`` at all, best first; ties keep input order."""
    found = scores(query, items)
    order = sorted((i for i, s in enumerate(found) if s > 0), key=lambda i: (-found[i], i))
    return [items[i] for i in order]


def hits(
    items: Sequence[Candidate], schemas: Mapping[tuple[str, str], Any], budget: int = ANSWER_BUDGET
) -> list[dict[str, str]]:
    """``{"server", "name", "summary", "sig"}`` per item; ``sig`` while the answer fits ``budget``.

    Signatures go to the first hits (the best ones, when ranked): the first
    :data:`SIG_ALWAYS` always, later ones as long as the answer stays within
    ``budget`` characters; the rest come without one (``get_tool`` has their
    schema). A hit always keeps its name and summary.
    """
    found = [{"server": c.server, "name": c.name, "summary": summary(c.description)} for c in items]
    size = _json_size(found) + ANSWER_OVERHEAD
    for index, hit in enumerate(found):
        sig = signature(schemas.get((hit["server"], hit["name"])))
        size += len(',"sig":') + _json_size(sig)
        if size > budget and index >= SIG_ALWAYS:
            break
        hit["sig"] = sig
    return found


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
