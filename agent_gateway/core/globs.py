"""Glob matching for policies: ``*`` and ``?`` only, all else literal, case-sensitive.

Linear in practice and never backtracking: the classic two-pointer wildcard
algorithm remembers only the last ``*`` seen, so a huge name costs at most
``len(glob) * len(name)`` steps. Names over :data:`MAX_NAME` characters match
nothing (no MCP server or tool is named like that; such a name is unknown).
"""

from __future__ import annotations

MAX_NAME = 256


def glob_match(glob: str, name: str) -> bool:
    """True if ``glob`` matches all of ``name``; False for names over 256 characters."""
    if len(name) > MAX_NAME:
        return False
    g = n = 0
    star = -1  # index in glob just after the last '*' seen
    mark = 0  # index in name where that '*' started matching
    while n < len(name):
        if g < len(glob) and glob[g] != "*" and (glob[g] == "?" or glob[g] == name[n]):
            g += 1
            n += 1
        elif g < len(glob) and glob[g] == "*":
            star, mark = g + 1, n
            g += 1
        elif star >= 0:
            mark += 1  # let the last '*' take one more character
            g, n = star, mark
        else:
            return False
    while g < len(glob) and glob[g] == "*":
        g += 1
    return g == len(glob)
