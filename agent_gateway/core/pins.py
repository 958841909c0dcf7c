"""Tool pinning, the pure part: canonical definitions, hashes, the file formats, screening.

A tool's *definition* is what an agent reads and relies on: its name, title,
description, input and output schemas and annotations (``canonical``). Its
hash is SHA-256 over that definition as canonical JSON (sorted keys, no
spaces), so the order of keys never matters and every other change does.

Prompts and resource templates (the other *kinds*) are pinned the same way:
a prompt by its name (name, title, description, arguments), a template by its
``uriTemplate`` (uriTemplate, name, title, description, mimeType). On the
command line and in messages a prompt is ``prompt:NAME``, a template
``template:URI_TEMPLATE``, and a tool its bare name (``tool:NAME`` also works);
see :func:`label` and :func:`parse_label`.

Two files live in ``.agent-gateway/`` next to the config:

- ``pins.json`` (a person's decisions; a team commits it): per server, the
  approved definition and hash of each tool, and the hashes a person
  rejected. A pin stays when its tool disappears, so a tool that comes back
  unchanged is approved again. Prompts and templates sit beside the tools
  (``prompts``, ``templates``, ``rejected_prompts``, ``rejected_templates``);
  a file without them (written before they were pinned) is still valid, and
  ``prompts``/``templates`` absent means "never listed": ``tofu`` records the
  first list it sees, even for a server whose tools are pinned already.
- ``pending.json`` (written by the running gateway): per server, the
  definition of each tool it holds in quarantine now (``servers``; held
  prompts and templates under ``prompts`` and ``templates``), so
  ``agent-gateway pins`` can show a diff without starting any server.

``screen`` decides, for one server's live list of one kind, which items are
approved and which are held (new, changed, or rejected), and under ``tofu``
what to record on first sight.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent_gateway.core.pinflags import flag_changes

FORMAT = 1
FIELDS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
PROMPT_FIELDS = ("name", "title", "description", "arguments")
TEMPLATE_FIELDS = ("uriTemplate", "name", "title", "description", "mimeType")
PinMode = Literal["tofu", "strict", "off"]
Status = Literal["new", "changed", "rejected", "unreadable"]
Kind = Literal["tool", "prompt", "template"]
KINDS: tuple[Kind, ...] = ("tool", "prompt", "template")
_FIELDS: dict[Kind, tuple[str, ...]] = {
    "tool": FIELDS,
    "prompt": PROMPT_FIELDS,
    "template": TEMPLATE_FIELDS,
}
_KEY: dict[Kind, str] = {"tool": "name", "prompt": "name", "template": "uriTemplate"}
_NOUN: dict[Kind, str] = {"tool": "Tool", "prompt": "Prompt", "template": "Resource template"}


def canonical(item: Mapping[str, Any], kind: Kind = "tool") -> dict[str, Any]:
    """The pinned part of an item's wire dict; absent and null fields are left out."""
    return {k: item[k] for k in _FIELDS[kind] if item.get(k) is not None}


def key_of(item: Mapping[str, Any], kind: Kind = "tool") -> str:
    """What an item is pinned by: a tool's or prompt's name, a template's ``uriTemplate``."""
    return str(item[_KEY[kind]])


def label(kind: Kind, key: str) -> str:
    """How a person names an item: ``NAME`` (a tool), ``prompt:NAME``, ``template:URI``."""
    return key if kind == "tool" else f"{kind}:{key}"


def parse_label(text: str) -> tuple[Kind, str]:
    """The kind and key a label names; a bare name is a tool."""
    for kind in KINDS:
        if text.startswith(f"{kind}:"):
            return kind, text[len(kind) + 1 :]
    return "tool", text


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
    """One server's pins: approved tools by name, and rejected hashes by tool name.

    The same for prompts (by name) and templates (by ``uriTemplate``); their
    ``None`` means the gateway has not recorded a list of that kind yet.
    """

    tools: dict[str, PinnedTool] = Field(default_factory=dict)
    rejected: dict[str, list[str]] = Field(default_factory=dict)
    prompts: dict[str, PinnedTool] | None = None
    templates: dict[str, PinnedTool] | None = None
    rejected_prompts: dict[str, list[str]] = Field(default_factory=dict)
    rejected_templates: dict[str, list[str]] = Field(default_factory=dict)

    def approved(self, kind: Kind) -> dict[str, PinnedTool] | None:
        """The approved items of ``kind`` (None: that kind was never recorded)."""
        return {"tool": self.tools, "prompt": self.prompts, "template": self.templates}[kind]

    def rejected_of(self, kind: Kind) -> dict[str, list[str]]:
        return {
            "tool": self.rejected,
            "prompt": self.rejected_prompts,
            "template": self.rejected_templates,
        }[kind]

    def with_kind(
        self, kind: Kind, approved: dict[str, PinnedTool], rejected: dict[str, list[str]]
    ) -> ServerPins:
        """A copy whose approved and rejected items of ``kind`` are these."""
        names = {
            "tool": ("tools", "rejected"),
            "prompt": ("prompts", "rejected_prompts"),
            "template": ("templates", "rejected_templates"),
        }[kind]
        return self.model_copy(update={names[0]: approved, names[1]: rejected})


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


ByServer = dict[str, dict[str, PendingTool]]  # server -> key -> what the gateway holds


class PendingFile(_Model):
    """What the gateway holds: tools under ``servers``, prompts and templates beside them."""

    format: Literal[1] = 1
    servers: ByServer = Field(default_factory=dict)
    prompts: ByServer = Field(default_factory=dict)
    templates: ByServer = Field(default_factory=dict)

    def of_kind(self, kind: Kind) -> ByServer:
        return {"tool": self.servers, "prompt": self.prompts, "template": self.templates}[kind]

    def with_kind(self, kind: Kind, held: ByServer) -> PendingFile:
        name = {"tool": "servers", "prompt": "prompts", "template": "templates"}[kind]
        return self.model_copy(update={name: held})


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
    """A file's text: stable key order and indentation, so diffs in review stay small.

    Prompt and template entries that say nothing (never recorded, none
    rejected, none held) are left out, so a file of tools only looks as before.
    """
    data = model.model_dump(mode="json")
    if isinstance(model, PinsFile):
        for entry in data["servers"].values():
            for key in ("prompts", "templates", "rejected_prompts", "rejected_templates"):
                if entry[key] is None or (key.startswith("rejected_") and not entry[key]):
                    del entry[key]
    elif isinstance(model, PendingFile):
        for key in ("prompts", "templates"):
            if not data[key]:
                del data[key]
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ----- screening -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """A quarantined item: why, its current definition, and what looks risky.

    ``tool`` is the item's key: a tool's or prompt's name, a template's URI template.
    """

    server: str
    tool: str
    status: Status
    sha256: str
    definition: dict[str, Any]
    flags: tuple[str, ...] = ()
    kind: Kind = "tool"

    @property
    def label(self) -> str:
        return label(self.kind, self.tool)


@dataclass(frozen=True)
class Screening:
    """The verdict on one list. ``record``: the server's entry to save (first sight, tofu)."""

    approved: frozenset[str]
    held: dict[str, Held] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    record: ServerPins | None = None


def screen(
    server: str,
    mode: PinMode,
    pins: ServerPins | None,
    items: Iterable[Mapping[str, Any]],
    known: Iterable[str] = (),
    kind: Kind = "tool",
) -> Screening:
    """Judge one server's list of ``kind`` (wire dicts) against its pins; keys approved.

    ``off``: everything approved. Nothing of that kind recorded yet: under
    ``tofu`` everything is approved and recorded (prompts and templates of a
    server with no pins at all are approved but wait for its tools to be
    recorded first); under ``strict`` everything is held as new. Else an item
    is approved iff its hash equals its pin's. ``known``: names of other
    tools and servers, for the flag about references to them.
    """
    definitions = {key_of(t, kind): canonical(t, kind) for t in items}
    if mode == "off":
        return Screening(approved=frozenset(definitions))
    pinned = None if pins is None else pins.approved(kind)
    if pinned is None and mode == "tofu":
        if pins is None and kind != "tool":
            return Screening(approved=frozenset(definitions))
        base = pins or ServerPins()
        first = {n: PinnedTool.of(d) for n, d in definitions.items()}
        record = base.with_kind(kind, first, base.rejected_of(kind))
        return Screening(approved=frozenset(definitions), record=record)
    pinned = pinned or {}
    rejected = pins.rejected_of(kind) if pins is not None else {}
    names = set(known) | set(definitions) | set(pinned) | {server}
    approved: set[str] = set()
    held: dict[str, Held] = {}
    for name, definition in definitions.items():
        digest = definition_hash(definition)
        pin = pinned.get(name)
        if pin is not None and pin.sha256 == digest:
            approved.add(name)
            continue
        status: Status = "changed" if pin is not None else "new"
        if digest in rejected.get(name, ()):
            status = "rejected"
        old = pin.definition if pin is not None else None
        flags = flag_changes(old, definition, names - {name})
        held[name] = Held(server, name, status, digest, definition, tuple(flags), kind)
    removed = tuple(sorted(set(pinned) - set(definitions)))
    return Screening(approved=frozenset(approved), held=held, removed=removed)


def unreadable(server: str, items: Iterable[Mapping[str, Any]], kind: Kind = "tool") -> Screening:
    """Everything held: the pins file cannot be read, so nothing can be checked."""
    held = {}
    for t in items:
        definition = canonical(t, kind)
        name = key_of(t, kind)
        digest = definition_hash(definition)
        held[name] = Held(server, name, "unreadable", digest, definition, (), kind)
    return Screening(approved=frozenset(), held=held)


def approve_command(server: str, tool: str, kind: Kind = "tool") -> str:
    """The command that approves an item, quoted for a shell where its label needs it."""
    return f"agent-gateway pins approve {server} {shlex.quote(label(kind, tool))}"


def held_message(held: Held, pins_path: str) -> str:
    """The error a use of a held item answers: what happened and the approving command."""
    what = {
        "new": "is new and not approved yet",
        "changed": "changed since it was approved",
        "rejected": "changed, and a person rejected its new definition",
        "unreadable": f"cannot be checked: the pins file {pins_path} cannot be read",
    }[held.status]
    command = approve_command(held.server, held.tool, held.kind)
    quote = '"' if "'" in command else "'"  # a template's label is quoted for the shell
    return (
        f"{_NOUN[held.kind]} {held.tool!r} of server {held.server!r} {what}; it is quarantined. "
        f"A person can review it with 'agent-gateway pins' and approve it with "
        f"{quote}{command}{quote}."
    )


__all__ = [
    "FIELDS",
    "KINDS",
    "PROMPT_FIELDS",
    "TEMPLATE_FIELDS",
    "ByServer",
    "Held",
    "Kind",
    "PendingFile",
    "PendingTool",
    "PinMode",
    "PinnedTool",
    "PinsFile",
    "Screening",
    "ServerPins",
    "approve_command",
    "canonical",
    "definition_hash",
    "dump",
    "held_message",
    "key_of",
    "label",
    "parse_label",
    "parse_pending",
    "parse_pins",
    "screen",
    "unreadable",
]
