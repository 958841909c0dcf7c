"""A lexical ranker: BM25F over tool-name words, server name and description.

Text is split into words (snake_case, kebab-case and camelCase too), lower-cased
and reduced to Snowball (English) stems, so "files", "filed" and "file" meet; a
query's English stop words are left out, unless it has no other word. Each tool
is one document with three fields, weighted: a word of the tool's name counts
most, then the server's name, then the description (its first 200 words). Per
field, a word's count is normalised by the field's length (BM25F), then
saturated and weighted by its rarity over the whole tool list (IDF). The score
is multiplied by the share of the query's words the tool matches, so every word
counts, and raised when the query is the tool's name word for word.

A query word also finds the longer words it is part of (``calc`` finds
``calculate``, ``think`` finds ``sequentialthinking``) and, through a few groups
of words that tools use for one another, its near synonyms ("folder" and
"directory", "remove" and "delete"); these count less than the word itself.
A query's first 64 distinct words are used.

An :class:`Index` holds everything that depends only on the tool list, so a
search is a few dictionary look-ups per query word. :func:`index_for` keeps the
last few indexes, keyed by the tool list itself. No I/O.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

STOP_WORDS = frozenset(
    """
    a about all am an and any are as at be been being but by can could do does doing
    for from get got had has have having he her here him his how i if in into is it its
    just let me mine my need of on or our out over please show so some tell than that
    the their them then there these they this those to too us use using want was we were
    what when where which while who whom why will with would you your
    """.split()
)

# Words that tools use for one another. Each query word also finds the other words
# of its groups, at RELATED_WEIGHT. General tool vocabulary only: no tool or server
# names.
RELATED = (
    "delete remove erase drop",
    "create make new add",
    "find search lookup locate",
    "list enumerate",
    "read open view load",
    "write save store record",
    "edit modify change update",
    "move rename",
    "run execute launch invoke",
    "stop kill terminate cancel",
    "download fetch retrieve",
    "image picture photo",
    "directory folder",
    "url link webpage website",
    "remember memory memorize recall",
    "time clock",
    "current now today latest",
    "sum add total plus",
    "repository repo",
    "compress zip",
    "text string",
)
RELATED_WEIGHT = 0.5
PARTIAL_WEIGHT = 0.4  # a longer word that contains the query word
PARTIAL_MIN = 4  # shortest query stem that looks for the words it is part of
MAX_TERMS = 64  # distinct words of a query past these add little and cost time: unused

DESCRIPTION_MAX_WORDS = 200  # past these, usage notes: no better ranking, more cost
K1 = 1.2
EXACT_NAME_BONUS = 1.5  # the query is the tool's name, word for word
# field: (weight, length normalisation b)
FIELDS = {"name": (3.0, 0.0), "server": (1.5, 0.0), "description": (1.0, 0.9)}

_stemmer = snowballstemmer.stemmer("english")
_stems: dict[str, str] = {}
_STEM_CACHE_MAX = 100_000
_EXPANSIONS_MAX = 10_000


def stem(word: str) -> str:
    """The Snowball (English) stem of a lower-case word; remembered."""
    found = _stems.get(word)
    if found is None:
        if len(_stems) >= _STEM_CACHE_MAX:
            _stems.clear()
        found = _stems[word] = str(_stemmer.stemWord(word))
    return found


def split_words(text: str) -> list[str]:
    """Lower-case words of ``text``, splitting snake_case, kebab-case and camelCase."""
    return [w.lower() for w in _WORD.findall(text)]


def terms(text: str) -> list[str]:
    """The stems that count in ``text``: its words less the stop words, stemmed."""
    return [stem(w) for w in split_words(text) if w not in STOP_WORDS]


def query_terms(query: str) -> list[str]:
    """The first MAX_TERMS distinct stems of a query; a query of stop words alone keeps them."""
    found = [w for w in split_words(query) if w not in STOP_WORDS] or split_words(query)
    stems: dict[str, None] = {}
    for word in dict.fromkeys(found):
        stems[stem(word)] = None
        if len(stems) == MAX_TERMS:
            break
    return list(stems)


def _related() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for group in RELATED:
        stems = {stem(w) for w in group.split()}
        for s in stems:
            table.setdefault(s, set()).update(stems - {s})
    return {s: frozenset(others) for s, others in table.items()}


_RELATED_STEMS = _related()


@dataclass(frozen=True)
class Document:
    """The three fields of one tool, as stems (stop words too), and its name's key stems."""

    name: tuple[str, ...]
    server: tuple[str, ...]
    description: tuple[str, ...]
    key: tuple[str, ...]  # the name's stems less stop words: a query of just these is exact


class Index:
    """Per tool list: for each stem, the tools it is in and what it adds to their score."""

    def __init__(self, documents: Sequence[Document]) -> None:
        self.size = len(documents)
        self.keys = [d.key for d in documents]
        self.postings: dict[str, list[tuple[int, float]]] = {}
        self._expansions: dict[str, list[tuple[str, float]]] = {}
        self._vocabulary: list[str] = []
        self._starts: list[int] = []
        self._blob = ""
        average = _average_lengths(documents)
        weighted = [_weighted_counts(d, average) for d in documents]
        df: Counter[str] = Counter()
        for counts in weighted:
            df.update(counts.keys())
        idf = {t: math.log(1 + (self.size - n + 0.5) / (n + 0.5)) for t, n in df.items()}
        for i, counts in enumerate(weighted):
            for t, tf in counts.items():
                self.postings.setdefault(t, []).append((i, idf[t] * tf / (K1 + tf)))

    def expansions(self, term: str) -> list[tuple[str, float]]:
        """Stems of this tool list that ``term`` finds, with the weight of each."""
        found = self._expansions.get(term)
        if found is None:
            if len(self._expansions) >= _EXPANSIONS_MAX:
                self._expansions.clear()
            found = self._expansions[term] = self._expand(term)
        return found

    def _expand(self, term: str) -> list[tuple[str, float]]:
        weights: dict[str, float] = {}
        if term in self.postings:
            weights[term] = 1.0
        for other in _RELATED_STEMS.get(term, ()):
            if other in self.postings:
                weights.setdefault(other, RELATED_WEIGHT)
        if len(term) >= PARTIAL_MIN:
            for word in self._containing(term):
                weights.setdefault(word, PARTIAL_WEIGHT)
        return list(weights.items())

    def _containing(self, term: str) -> list[str]:
        """Stems of this tool list that contain ``term`` (one C-speed scan of all stems)."""
        if not self._starts:
            self._vocabulary = sorted(self.postings)
            self._blob = "\n".join(self._vocabulary)
            at = 0
            for word in self._vocabulary:
                self._starts.append(at)
                at += len(word) + 1
        found: list[str] = []
        at = self._blob.find(term)
        while at >= 0:
            word = self._vocabulary[bisect.bisect_right(self._starts, at) - 1]
            if word != term and (not found or found[-1] != word):
                found.append(word)
            at = self._blob.find(term, at + 1)
        return found

    def scores(self, query: str) -> list[float]:
        """The score of every tool for ``query``, in tool order; 0 means no match."""
        wanted = query_terms(query)
        totals = [0.0] * self.size
        matched = [0] * self.size
        for term in wanted:
            best: dict[int, float] = {}
            for word, weight in self.expansions(term):
                for i, value in self.postings[word]:
                    if weight * value > best.get(i, 0.0):
                        best[i] = weight * value
            for i, value in best.items():
                totals[i] += value
                matched[i] += 1
        whole = tuple(wanted)
        for i, total in enumerate(totals):
            if total:
                coverage = matched[i] / len(wanted)  # every query word counts
                bonus = EXACT_NAME_BONUS if self.keys[i] == whole else 1.0
                totals[i] = total * coverage * bonus
        return totals


def _average_lengths(documents: Sequence[Document]) -> dict[str, float]:
    n = max(1, len(documents))
    return {f: max(1.0, sum(len(getattr(d, f)) for d in documents) / n) for f in FIELDS}


def _weighted_counts(doc: Document, average: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for field, (weight, b) in FIELDS.items():
        words: tuple[str, ...] = getattr(doc, field)
        norm = 1 - b + b * len(words) / average[field]
        for t, n in Counter(words).items():
            out[t] = out.get(t, 0.0) + weight * n / norm
    return out


def _all_stems(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in split_words(text))


@lru_cache(maxsize=8192)
def document(name: str, server: str, description: str) -> Document:
    """A tool as stems: every word of its name, server name and description.

    Stop words stay in the tool's fields, so a query of stop words alone ("get")
    still finds the tools that have them; other queries leave them out.
    """
    described = split_words(description)[:DESCRIPTION_MAX_WORDS]
    return Document(
        _all_stems(name),
        _all_stems(server),
        tuple(stem(w) for w in described),
        tuple(terms(name)),
    )


def build(fields: Iterable[tuple[str, str, str]]) -> Index:
    """An index over tools given as (name, server, description)."""
    return Index([document(*f) for f in fields])


@lru_cache(maxsize=8)
def _cached(fields: tuple[tuple[str, str, str], ...]) -> Index:
    return build(fields)


def index_for(fields: tuple[tuple[str, str, str], ...]) -> Index:
    """The index of this tool list, built once and kept for the next searches."""
    return _cached(fields)
