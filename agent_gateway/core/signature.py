"""Pure: a tool's JSON input schema as a compact, readable signature.

``{"properties": {"path": {"type": "string"}, "tail": {"type": "integer"}},
"required": ["path"]}`` becomes ``path: str, tail?: int``. Required parameters
come first (each group in schema order); ``?`` marks an optional one. Types are
short: ``str``, ``int``, ``num``, ``bool``, ``None``, ``obj``, ``list[T]``,
unions ``A|B``, an enum of up to :data:`ENUM_MAX` short values as
``'a'|'b'``, ``any`` when the schema does not say. Local ``$ref``s are
followed. A signature longer than :data:`SIG_MAX` characters ends in ``…``
(whole parameters kept where possible). No properties: the empty string.
"""

from __future__ import annotations

import json
from typing import Any

SIG_MAX = 120
ENUM_MAX = 4
ENUM_VALUE_MAX = 20
_DEPTH = 3  # nesting followed (list[list[str]]) before a type is just named
_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "num",
    "boolean": "bool",
    "null": "None",
    "object": "obj",
    "array": "list",
}


def signature(schema: Any, limit: int = SIG_MAX) -> str:
    """The parameters of an object ``schema``: ``name: type`` or ``name?: type``, comma-joined."""
    if not isinstance(schema, dict):
        return ""
    props = schema.get("properties")
    if not isinstance(props, dict):
        return ""
    required = schema.get("required")
    needed = set(required) if isinstance(required, list) else set()
    order = [n for n in props if n in needed] + [n for n in props if n not in needed]
    params = [
        f"{name}{'' if name in needed else '?'}: {_type(props[name], schema, _DEPTH)}"
        for name in order
    ]
    return _capped(params, limit)


def _capped(params: list[str], limit: int) -> str:
    text = ", ".join(params)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for param in params:
        if len(", ".join([*kept, param, "…"])) > limit:
            break
        kept.append(param)
    if kept:
        return ", ".join([*kept, "…"])
    return text[: limit - 1] + "…"


def _type(node: Any, root: dict[str, Any], depth: int) -> str:
    """A short name for the type one schema node describes."""
    if not isinstance(node, dict):
        return "any"
    node = _resolved(node, root)
    if "const" in node:
        return _literal(node["const"]) or "any"
    if isinstance(node.get("enum"), list):
        shown = _enum(node["enum"])
        if shown:
            return shown
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list) and depth > 0:
            return _union(_type(n, root, depth - 1) for n in node[key])
    parts = node.get("allOf")
    if isinstance(parts, list) and len(parts) == 1 and depth > 0:
        return _type(parts[0], root, depth - 1)
    kind = node.get("type")
    if isinstance(kind, list):
        return _union(_named(k, node, root, depth) for k in kind)
    if isinstance(kind, str):
        return _named(kind, node, root, depth)
    return "any"


def _named(kind: Any, node: dict[str, Any], root: dict[str, Any], depth: int) -> str:
    name = _TYPES.get(kind, "any") if isinstance(kind, str) else "any"
    if name != "list" or depth <= 0:
        return name
    items = node.get("items")
    return f"list[{_type(items, root, depth - 1)}]" if isinstance(items, dict) else "list"


def _resolved(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/$defs/X``, ``#/definitions/X``) a few steps."""
    for _ in range(_DEPTH):
        ref = node.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return node
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            return node
        node = target
    return node


def _enum(values: list[Any]) -> str:
    if not values or len(values) > ENUM_MAX:
        return ""
    shown = [_literal(v) for v in values]
    return "|".join(shown) if all(shown) else ""


def _literal(value: Any) -> str:
    """A short literal (``'a'``, ``3``, ``true``); empty when too long or not a scalar."""
    if isinstance(value, str):
        text = "'" + value.replace("'", "\\'") + "'"
    elif value is None or isinstance(value, bool | int | float):
        text = json.dumps(value)
    else:
        return ""
    return text if len(text) <= ENUM_VALUE_MAX else ""


def _union(names: Any) -> str:
    unique: list[str] = []
    for name in names:
        if name not in unique:
            unique.append(name)
    return "any" if "any" in unique else "|".join(unique)
