"""Tool pinning, the pure part: canonical definitions, hashes, the file formats, screening.

A tool's *definition* is what an agent reads and relies on: its name, title,
description, input and output schemas and annotations (``canonical``). Its
hash is SHA-256 over that definition as canonical JSON (sorted keys, no
spaces), so the order of keys never matters and every other change does.

Two files live in ``.agent-gateway/`` next to the config:

- ``pins.json`` (a person's decisions; a team commits it): per server, the
  approved definition and hash of each tool, and the hashes a person
  rejected. A pin stays when its tool disappears, so a tool that comes back
  unchanged is approved again.
- ``pending.json`` (written by the running gateway): per server, the
  definition of each tool it holds in quarantine now, so ``agent-gateway
  pins`` can show a diff without starting any server.

``screen`` decides, for one server's live list, which tools are approved
and which are held (new, changed, or rejected), and under ``tofu`` what to
record on first sight.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent_gateway.core.pinflags import flag_changes

FORMAT = 1
FIELDS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
PinMode = Literal["tofu", "strict", "off"]
Status = Literal["new", "changed", "rejected", "unreadable"]


def canonical(tool: Mapping[str, Any]) -> dict[str, Any]:
    """The pinned part of a tool's wire dict; absent and null fields are left out."""
    return {k: tool[k] for k in FIELDS if tool.get(k) is not None}


def definition_hash(definition: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a canonical definition as canonical JSON."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PinnedTool(_Model):
    """One approved definition: its hash, and the definition itself (for diffs)."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    definition: dict[str, Any]

    @model_validator(mode="after")
    def _hash_matches(self) -> PinnedTool:
        if definition_hash(self.definition) != self.sha256:
            raise ValueError("its sha256 does not match its definition")
        return self

    @classmethod
    def of(cls, definition: dict[str, Any]) -> PinnedTool:
        return cls(sha256=definition_hash(definition), definition=definition)


class ServerPins(_Model):
    """One server's pins: approved tools by name, and rejected hashes by tool name."""

    tools: dict[str, PinnedTool] = Field(default_factory=dict)
    rejected: dict[str, list[str]] = Field(default_factory=dict)


class PinsFile(_Model):
    format: Literal[1] = 1
    servers: dict[str, ServerPins] = Field(default_factory=dict)


class PendingTool(_Model):
    """A tool the gateway holds: what it is now, and what looks risky about it."""

    sha256: str
    definition: dict[str, Any]
    status: Status = "new"
    flags: list[str] = Field(default_factory=list)
    seen: str = ""  # when the gateway first held this definition (UTC, ISO 8601)


class PendingFile(_Model):
    format: Literal[1] = 1
    servers: dict[str, dict[str, PendingTool]] = Field(default_factory=dict)


def parse_pins(text: str) -> PinsFile:
    """A pins file's text as a model; ValueError naming the problem."""
    result: PinsFile = _parse(PinsFile, text)
    return result


def parse_pending(text: str) -> PendingFile:
    result: PendingFile = _parse(PendingFile, text)
    return result


def _parse(model: type[Any], text: str) -> Any:
    if not text.strip():
        return model()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = "; ".join(
            ".".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in exc.errors()
        )
        raise ValueError(where) from exc


def dump(model: BaseModel) -> str:
    """A file's text: stable key order and indentation, so diffs in review stay small."""
    return (
        json.dumps(model.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False)
        + "\n"
    )


# ----- screening -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """A quarantined tool: why, its current definition, and what looks risky."""

    server: str
    tool: str
    status: Status
    sha256: str
    definition: dict[str, Any]
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Screening:
    """The verdict on one tool list. ``record``: the entry to save (first sight, tofu)."""

    approved: frozenset[str]
    held: dict[str, Held] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    record: ServerPins | None = None


def screen(
    server: str,
    mode: PinMode,
    pins: ServerPins | None,
    tools: Iterable[Mapping[str, Any]],
    known: Iterable[str] = (),
) -> Screening:
    """Judge one server's tool list (wire dicts) against its pins.

    ``off``: everything approved. No pins yet: under ``tofu`` everything is
    approved and recorded; under ``strict`` everything is held as new. Else a
    tool is approved iff its hash equals its pin's. ``known``: names of other
    tools and servers, for the flag about references to them.
    """
    definitions = {str(t["name"]): canonical(t) for t in tools}
    if mode == "off":
        return Screening(approved=frozenset(definitions))
    if pins is None and mode == "tofu":
        record = ServerPins(tools={n: PinnedTool.of(d) for n, d in definitions.items()})
        return Screening(approved=frozenset(definitions), record=record)
    pins = pins or ServerPins()
    names = set(known) | set(definitions) | set(pins.tools) | {server}
    approved: set[str] = set()
    held: dict[str, Held] = {}
    for name, definition in definitions.items():
        digest = definition_hash(definition)
        pin = pins.tools.get(name)
        if pin is not None and pin.sha256 == digest:
            approved.add(name)
            continue
        status: Status = "changed" if pin is not None else "new"
        if digest in pins.rejected.get(name, ()):
            status = "rejected"
        old = pin.definition if pin is not None else None
        flags = flag_changes(old, definition, names - {name})
        held[name] = Held(server, name, status, digest, definition, tuple(flags))
    removed = tuple(sorted(set(pins.tools) - set(definitions)))
    return Screening(approved=frozenset(approved), held=held, removed=removed)


def unreadable(server: str, tools: Iterable[Mapping[str, Any]]) -> Screening:
    """Everything held: the pins file cannot be read, so nothing can be checked."""
    held = {}
    for t in tools:
        definition = canonical(t)
        name = str(t["name"])
        held[name] = Held(server, name, "unreadable", definition_hash(definition), definition)
    return Screening(approved=frozenset(), held=held)


def approve_command(server: str, tool: str) -> str:
    return f"agent-gateway pins approve {server} {tool}"


def held_message(held: Held, pins_path: str) -> str:
    """The tool error a call to a held tool answers: what happened and the approving command."""
    what = {
        "new": "is new and not approved yet",
        "changed": "changed since it was approved",
        "rejected": "changed, and a person rejected its new definition",
        "unreadable": f"cannot be checked: the pins file {pins_path} cannot be read",
    }[held.status]
    return (
        f"Tool {held.tool!r} of server {held.server!r} {what}; it is quarantined. "
        f"A person can review it with 'agent-gateway pins' and approve it with "
        f"'{approve_command(held.server, held.tool)}'."
    )


__all__ = [
    "FIELDS",
    "Held",
    "PendingFile",
    "PendingTool",
    "PinMode",
    "PinnedTool",
    "PinsFile",
    "Screening",
    "ServerPins",
    "canonical",
    "definition_hash",
    "dump",
    "held_message",
    "parse_pending",
    "parse_pins",
    "screen",
    "unreadable",
]
