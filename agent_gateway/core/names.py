"""Direct-mode names: ``server__tool`` (at most 64 characters) and ``agw://server/uri``.

Two forms, which never meet:

- plain: ``server__tool``, kept when it is at most 64 characters, reads back
  one way (the server holds no ``__``, the tool does not start with ``_``),
  and does not look hashed;
- hashed: a readable prefix of ``server__tool``, then ``_`` and a hash of the
  (server, tool) pair: ten hex digits, or twenty (see :func:`direct_names`).
  A name "looks hashed" when it ends in ``_`` and ten or more lower-case hex
  digits; a plain name that would (a tool called ``secret_0123456789``) is
  hashed itself, so no plain name can equal a hashed one.

A name depends only on its own (server, tool) pair, except when two hashed
names still collide (only a collision of the ten-digit hash can do that):
then :func:`direct_names` gives all of them the twenty-digit form. So a name
never changes because an unrelated server appeared.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable

MAX_NAME = 64
SEP = "__"
URI_PREFIX = "agw://"
SHORT_HASH = 10
LONG_HASH = 20
_HASHED = re.compile(r"_[0-9a-f]{10,}\Z")


def looks_hashed(name: str) -> bool:
    """Does ``name`` end the way hashed names end (``_`` and ten or more hex digits)?"""
    return _HASHED.search(name) is not None


def is_direct_name(name: str) -> bool:
    """Could ``name`` be a direct name at all? (Every one holds ``__`` or looks hashed.)"""
    return SEP in name or looks_hashed(name)


def direct_name(server: str, tool: str) -> str:
    """``server__tool``, or its hashed form when that is too long, ambiguous or looks hashed."""
    name = f"{server}{SEP}{tool}"
    if (
        len(name) <= MAX_NAME
        and tool
        and not tool.startswith("_")
        and SEP not in server
        and not looks_hashed(name)
    ):
        return name
    return _hashed(server, tool, SHORT_HASH)


def _hashed(server: str, tool: str, digits: int) -> str:
    name = f"{server}{SEP}{tool}"
    digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:digits]
    return f"{name[: MAX_NAME - digits - 1]}_{digest}"


def direct_names(
    pairs: Iterable[tuple[str, str]],
    name_of: Callable[[str, str], str] = direct_name,
) -> dict[str, tuple[str, str]]:
    """Direct name -> (server, tool) for a visible set of pairs; no two pairs share a name.

    Each pair gets :func:`direct_name`; pairs whose names still collide all
    get the twenty-digit hash instead. (Should even those collide, an 80-bit
    hash collision, the pair that sorts first keeps the name.)
    """
    by_name: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
    for pair in pairs:
        by_name[name_of(*pair)].append(pair)
    names: dict[str, tuple[str, str]] = {}
    collided: list[tuple[str, str]] = []
    for name, owners in by_name.items():
        if len(owners) == 1:
            names[name] = owners[0]
        else:
            collided.extend(owners)
    for pair in sorted(collided):
        names.setdefault(_hashed(*pair, LONG_HASH), pair)
    return names


def could_name(server: str, name: str) -> bool:
    """Could ``name`` be the direct name of some tool of ``server``?

    True for every name :func:`direct_names` can give a tool of ``server``
    (and for a few it cannot): the plain form starts with ``server__``; a
    hashed one starts with a prefix of ``server__`` + tool.
    """
    head = f"{server}{SEP}"
    if name.startswith(head):
        return True
    if not looks_hashed(name):
        return False
    prefix = name.rsplit("_", 1)[0]
    return prefix.startswith(head) or head.startswith(prefix)


def direct_uri(server: str, uri: str) -> str:
    """``agw://{server}/{uri}``: a downstream URI or URI template, kept verbatim."""
    return f"{URI_PREFIX}{server}/{uri}"


def split_direct_uri(uri: str) -> tuple[str, str] | None:
    """The (server, downstream uri) a URI made by :func:`direct_uri` stands for, else None."""
    if not uri.startswith(URI_PREFIX):
        return None
    server, slash, rest = uri[len(URI_PREFIX) :].partition("/")
    if not server or not slash:
        return None
    return server, rest
