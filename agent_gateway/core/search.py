"""Pure search ranking and summaries for ``list_tools(query=...)``.

A query is split into words; each word scores against the tool name (most),
the server name, and the description (least), exact words beating prefixes.
Every word of the query counts, so the tool that matches more of the words
ranks first; ties keep the server/tool order. No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SENTENCE_END = re.compile(r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<=[.!?])\s")
SUMMARY_MAX = 160

STOP_WORDS = frozenset(
    (
        "a an and are as at be by do for from get i in is it me my of on or show the this to "
        "what with"
    ).split()
)


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


_STOP_STEMS = frozenset(_stem(w) for w in STOP_WORDS)


def words(text: str) -> list[str]:
    """Lower-case words of ``text``, splitting snake_case, kebab-case and camelCase."""
    return [_stem(w.lower()) for w in _WORD.findall(text)]


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


def _field_score(term: str, field: Sequence[str], exact: float, prefix: float) -> float:
    if term in field:
        return exact
    if len(term) >= 3 and any(
        w.startswith(term) or (len(w) >= 3 and term.startswith(w)) for w in field
    ):
        return prefix
    return 0.0


def score(query: str, item: Candidate) -> float:
    """Relevance of ``item`` to ``query``; 0 means no match."""
    terms = [t for t in words(query) if t not in _STOP_STEMS] or words(query)
    if not terms:
        return 0.0
    name_words = words(item.name)
    server_words = words(item.server)
    desc_words = words(item.description)
    total = 0.0
    matched = 0
    for term in terms:
        s = max(
            _field_score(term, name_words, 6.0, 3.0),
            _field_score(term, server_words, 3.0, 1.5),
            _field_score(term, desc_words, 2.0, 1.0),
        )
        if s:
            matched += 1
            total += s
    if not matched:
        return 0.0
    coverage = matched / len(terms)
    compact = "".join(terms)
    if compact == "".join(name_words):
        total += 10.0
    return total * coverage * coverage


def rank(query: str, items: Sequence[Candidate]) -> list[Candidate]:
    """Items that match ``query`` at all, best first; ties keep input order."""
    scored = [(score(query, item), i, item) for i, item in enumerate(items)]
    return [item for s, _, item in sorted(scored, key=lambda t: (-t[0], t[1])) if s > 0]
