"""Reading one policy file: TOML or JSON (JSONC: comments, trailing commas) to plain data.

A syntax error names the line and column; a JSON key that appears twice in
one object is an error (last-one-wins would silently drop a rule).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from agent_gateway.core.errors import PolicyError
from agent_gateway.core.jsonc import JsoncError, loads_jsonc

_TOML_AT_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_END = " (at end of document)"


def read_policy_file(file: Path) -> Any:
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read the file: {exc}.", path=name) from exc
    if file.suffix == ".json":
        duplicates: list[str] = []
        try:
            data = loads_jsonc(text, duplicates)
        except JsoncError as exc:
            raise PolicyError(f"{exc}", path=name) from exc
        if duplicates:
            msg = (
                f"key {duplicates[0]!r} appears twice in one object; keep one (a rule would be "
                "lost)."
            )
            raise PolicyError(msg, path=name)
        return data
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(_toml_message(str(exc), text), path=name) from exc


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
