"""What a reviewer should look at first in a changed tool definition, and the diff to read.

``flag_changes(old, new, known)`` lists the changes that matter most, each a
short sentence; ``old`` is None for a new tool. Only what the new definition
*gains* is flagged (a URL the old text already had is not news):

- a URL in the description (or a title or a parameter's description);
- hidden or zero-width characters anywhere in the definition (U+200B..U+200F,
  U+2060..U+2064, U+FEFF, U+00AD, bidi controls U+202A..U+202E and
  U+2066..U+2069, tag characters U+E0000..U+E007F);
- sentences aimed at the model ("ignore previous", "you must", "do not tell");
- names of other tools or servers (``known``);
- annotations that become less safe (readOnlyHint true->false,
  destructiveHint false->true, idempotentHint true->false, openWorldHint
  false->true, with MCP's defaults for absent hints);
- new required parameters (of a tool's input schema, or a prompt's arguments).

Prompts and resource templates are flagged the same way (their texts are
their title, description and arguments' descriptions).

``render_diff`` is a unified diff of the description and of the rest of the
definition as indented JSON.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

_HIDDEN = frozenset(
    [
        0x00AD,
        0xFEFF,
        0x180E,
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2065),
        *range(0x2066, 0x206A),
        *range(0xE0000, 0xE0080),
    ]
)
_URL = re.compile(r"(?:\b(?:https?|ftp|file|data):(?://)?|\bwww\.)[^\s\"'<>()\[\]]+", re.I)
_INSTRUCTIONS = re.compile(
    r"\b(?:ignore (?:all |any |the )?(?:previous|prior|above|earlier|other)\w*"
    r"|ignore\b|disregard\b|forget (?:all|everything|previous)\w*"
    r"|you (?:must|should always|have to|are required to)\b"
    r"|(?:do not|don't|never) (?:tell|mention|inform|reveal|show|disclose)\b"
    r"|without (?:telling|informing|asking)\b"
    r"|before (?:using|calling|running) (?:this|any)\b"
    r"|always (?:call|use|run|include|send)\b"
    r"|instead of\b|secretly\b|system prompt\b)"
    r"|<\s*/?\s*(?:important|system|instructions?)\s*>",
    re.I,
)
# hint -> (MCP default when absent, the value that is the less safe one)
_UNSAFE = {
    "readOnlyHint": (False, False),
    "destructiveHint": (True, True),
    "idempotentHint": (False, False),
    "openWorldHint": (True, True),
}


def _texts(definition: Mapping[str, Any] | None) -> str:
    """The prose an agent reads: title, description, and every nested description/title."""
    if not definition:
        return ""
    found: list[str] = []

    def walk(value: Any, key: str | None) -> None:
        if isinstance(value, str) and key in ("description", "title"):
            found.append(value)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list):
            for v in value:
                walk(v, key)

    walk(dict(definition), None)
    return "\n".join(found)


def _all_text(definition: Mapping[str, Any] | None) -> str:
    return "" if not definition else json.dumps(definition, ensure_ascii=False)


def _urls(text: str) -> set[str]:
    return {u.rstrip(".,;:!?") for u in _URL.findall(text)}


def _hidden(text: str) -> set[str]:
    return {f"U+{ord(c):04X}" for c in text if ord(c) in _HIDDEN}


def _mentions(text: str, names: Iterable[str]) -> set[str]:
    out = set()
    for name in names:
        if len(name) >= 3 and re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
            out.add(name)
    return out


def _annotations(definition: Mapping[str, Any] | None) -> Mapping[str, Any]:
    value = (definition or {}).get("annotations")
    return value if isinstance(value, Mapping) else {}


def _required(definition: Mapping[str, Any] | None) -> set[str]:
    """A tool's required parameters, or a prompt's required arguments."""
    schema = (definition or {}).get("inputSchema")
    required = schema.get("required") if isinstance(schema, Mapping) else None
    found = {str(r) for r in required} if isinstance(required, list) else set()
    arguments = (definition or {}).get("arguments")
    for argument in arguments if isinstance(arguments, list) else ():
        if isinstance(argument, Mapping) and argument.get("required") is True:
            found.add(str(argument.get("name")))
    return found


def flag_changes(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], known: Iterable[str] = ()
) -> list[str]:
    """Short sentences naming the risky things ``new`` gains over ``old`` (None: a new tool)."""
    flags: list[str] = []
    old_text, new_text = _texts(old), _texts(new)
    urls = sorted(_urls(new_text) - _urls(old_text))
    if urls:
        flags.append("gains URLs: " + ", ".join(urls[:5]))
    hidden = sorted(_hidden(_all_text(new)) - _hidden(_all_text(old)))
    if hidden:
        flags.append("gains hidden or invisible characters: " + ", ".join(hidden))
    said = {m.group(0).lower() for m in _INSTRUCTIONS.finditer(new_text)}
    said -= {m.group(0).lower() for m in _INSTRUCTIONS.finditer(old_text)}
    if said:
        flags.append("gains instructions to the model: " + ", ".join(map(repr, sorted(said))))
    names = list(known)
    mentioned = sorted(_mentions(new_text, names) - _mentions(old_text, names))
    if mentioned:
        flags.append("mentions other tools or servers: " + ", ".join(mentioned))
    if old is not None:
        before, after = _annotations(old), _annotations(new)
        for hint, (default, unsafe) in _UNSAFE.items():
            was, now = before.get(hint, default), after.get(hint, default)
            if was != unsafe and now == unsafe:
                flags.append(f"less safe: {hint} {_js(was)} -> {_js(now)}")
        added = sorted(_required(new) - _required(old))
        if added:
            flags.append("new required parameters: " + ", ".join(added))
    return flags


def _js(value: Any) -> str:
    return json.dumps(value)


def render_diff(old: Mapping[str, Any] | None, new: Mapping[str, Any], label: str) -> str:
    """A unified diff of the description, then of the rest of the definition as JSON."""

    def parts(d: Mapping[str, Any] | None) -> tuple[list[str], list[str]]:
        if d is None:
            return [], []
        description = str(d.get("description") or "")
        rest = {k: v for k, v in d.items() if k != "description"}
        return (
            description.splitlines(),
            json.dumps(rest, indent=2, sort_keys=True, ensure_ascii=False).splitlines(),
        )

    (old_desc, old_rest), (new_desc, new_rest) = parts(old), parts(new)
    before = "(none)" if old is None else "approved"
    lines = list(
        difflib.unified_diff(
            old_desc,
            new_desc,
            f"{label} description ({before})",
            f"{label} description (now)",
            lineterm="",
        )
    )
    lines += difflib.unified_diff(
        old_rest, new_rest, f"{label} schema ({before})", f"{label} schema (now)", lineterm=""
    )
    return "\n".join(_visible(line) for line in lines)


def _visible(line: str) -> str:
    """Show hidden characters as <U+XXXX>, so a reviewer sees them in the terminal."""
    return "".join(f"<U+{ord(c):04X}>" if ord(c) in _HIDDEN else c for c in line)


__all__ = ["flag_changes", "render_diff"]
