"""Reading one policy file: TOML or JSON to plain data, with precise errors.

A syntax error names the line and column; a JSON key that appears twice in
one object is an error (last-one-wins would silently drop a rule).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from agent_gateway.core.errors import PolicyError

_TOML_AT_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_END = " (at end of document)"


def read_policy_file(file: Path) -> Any:
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read the file: {exc}.", path=name) from exc
    if file.suffix == ".json":
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as exc:
            msg = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
            raise PolicyError(msg, path=name) from exc
        except _DuplicateKey as exc:
            msg = f"key {exc.key!r} appears twice in one object; keep one (a rule would be lost)."
            raise PolicyError(msg, path=name) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(_toml_message(str(exc), text), path=name) from exc


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON object hook: a key twice in one object is an error, never last-one-wins."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _toml_message(message: str, text: str) -> str:
    """tomllib ends messages with "(at line N, column M)" or "(at end of document)"."""
    at = _TOML_AT_RE.search(message)
    if at is not None:
        line, column, reason = at.group(1), at.group(2), message[: at.start()]
    else:
        lines = text.split("\n")
        line, column = str(len(lines)), str(len(lines[-1]) + 1)
        reason = message.removesuffix(_TOML_END)
    return f"invalid TOML at line {line}, column {column}: {reason}."
