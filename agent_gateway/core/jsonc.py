"""JSON with comments and trailing commas (JSONC, what VS Code writes), with exact positions.

``strip_jsonc`` blanks out ``//`` and ``/* */`` comments and trailing commas
with spaces, keeping every newline, so the text keeps its length and layout
and ``json``'s own "line N, column M" still points at the user's file.
Strings are skipped as strings (a ``//`` inside ``"https://..."`` stays).
``loads_jsonc`` parses the result and reports errors as ``JsoncError`` with
the line and column; duplicated keys are collected for the caller to judge.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["JsoncError", "loads_jsonc", "strip_jsonc"]


class JsoncError(ValueError):
    """A syntax error at ``line``/``column`` (1-based) of the text."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"invalid JSON at line {line}, column {column}: {message}.")
        self.reason = message
        self.line = line
        self.column = column


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] not in "\r\n":
            chars[i] = " "


def _string_end(text: str, i: int) -> int:
    """The index after the string starting at ``text[i] == '"'`` (or len: unterminated)."""
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == '"' or c == "\n":
            return j + 1
        j += 1
    return len(text)


def _comment_end(text: str, i: int) -> int | None:
    """The index after the comment starting at ``i``, or None when none starts there."""
    nxt = text[i + 1 : i + 2]
    if nxt == "/":
        end = text.find("\n", i)
        return len(text) if end < 0 else end
    if nxt == "*":
        end = text.find("*/", i + 2)
        if end < 0:
            line = text.count("\n", 0, i) + 1
            column = i - (text.rfind("\n", 0, i) + 1) + 1
            raise JsoncError("a /* comment is never closed", line, column)
        return end + 2
    return None


def strip_jsonc(text: str) -> str:
    """Comments and trailing commas become spaces; everything else stays where it was."""
    chars = list(text)
    pending_comma: int | None = None  # a comma after a value, followed so far only by blanks
    last = ""  # the last significant character before i
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            pending_comma = None
            last = c
            i = _string_end(text, i)
            continue
        if c == "/":
            end = _comment_end(text, i)
            if end is not None:
                _blank(chars, i, end)
                i = end
                continue
        if c in "}]" and pending_comma is not None:
            chars[pending_comma] = " "
        if c == ",":
            # "[,]" and "[1,,]" stay errors: only a comma after a value may trail.
            pending_comma = i if last not in ("", ",", "[", "{") else None
        elif not c.isspace():
            pending_comma = None
        if not c.isspace():
            last = c
        i += 1
    return "".join(chars)


def loads_jsonc(text: str, duplicates: list[str] | None = None) -> Any:
    """Parse JSONC; keys seen twice in one object are appended to ``duplicates``."""
    clean = strip_jsonc(text)

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out and duplicates is not None:
                duplicates.append(key)
            out[key] = value
        return out

    try:
        return json.loads(clean, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise JsoncError(exc.msg, exc.lineno, exc.colno) from exc
