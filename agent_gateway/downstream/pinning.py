"""Tool pinning at run time: which of a server's tools callers may see and call.

One ``PinKeeper`` per gateway holds the pins read from ``pins.json`` and
judges every tool list a Backend shows (core/pins.py). A list from a live
server is *recorded*: under ``tofu`` its first sight becomes the server's
pins; what is held goes to ``pending.json`` for ``agent-gateway pins``, and a
newly held definition is logged once as a warning with its risk flags. A
list from the tool catalog is only judged, never recorded.

Verdicts are cached per server and list object, and judged again when the
pins change (``reload``, after an edit of pins.json) or the server's pin mode
does. A pins file that cannot be read at launch holds every tool of every
pinned server (fail closed) until it is fixed; on reload, an unreadable file
keeps the pins that were running.

Prompts and resource templates are judged the same way (``items``), but only
as a server lists them live: they are not cached, so nothing is remembered
between lists except what pins.json and pending.json say, and which of them
the last lists held (for ``gateway_status``'s ``pending``, judged again after
an approval).

``PinnedTools`` is the Backend's side: its approved tools and its held ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import mcp_types

from agent_gateway.core.config import ServerSpec
from agent_gateway.core.errors import QuarantinedToolError
from agent_gateway.core.pins import (
    Held,
    Kind,
    PendingFile,
    PendingTool,
    PinsFile,
    Screening,
    ServerPins,
    held_message,
    key_of,
    screen,
    unreadable,
)
from agent_gateway.downstream.pinfiles import (
    pending_path,
    pins_path,
    read_pins,
    update_pending,
    update_pins,
)

logger = logging.getLogger("agent_gateway.downstream.pinning")

Source = Mapping[str, mcp_types.Tool] | Sequence[mcp_types.Tool]
HeldMap = dict[str, Held]
T = TypeVar("T", mcp_types.Prompt, mcp_types.ResourceTemplate)


@dataclass(frozen=True)
class View:
    """A tool list as callers see it: approved tools (in the server's order), held ones."""

    tools: dict[str, mcp_types.Tool]
    held: dict[str, Held] = field(default_factory=dict)


@dataclass
class _Cached:
    source: Source
    version: int
    mode: str
    view: View


class PinKeeper:
    """The pins of one gateway (one config file) and the verdicts on its servers' lists."""

    def __init__(self, config_path: str) -> None:
        self.path = pins_path(config_path)
        self.pending_path = pending_path(config_path)
        self.servers: set[str] = set()  # configured names, for the "mentions" flag
        self.version = 0
        self.error: str | None = None
        self.file = PinsFile()
        try:
            self.file = read_pins(self.path)
        except ValueError as exc:
            self.error = str(exc)
            logger.error("Every pinned tool is quarantined until this is fixed: %s", exc)
        self._cache: dict[tuple[str, bool], _Cached] = {}
        self._pending: dict[tuple[str, Kind], dict[str, tuple[str, str]]] = {}  # as written
        self._warned: set[tuple[str, str, str]] = set()
        # Prompts and templates held at a server's last live list, as judged (version, mode).
        self._held: dict[tuple[str, Kind], tuple[int, str, HeldMap]] = {}

    # ----- the file changed --------------------------------------------------------------

    def reload(self) -> list[str]:
        """Read pins.json again; the servers whose pins changed. ValueError: kept the old."""
        new = read_pins(self.path)
        old = self.file
        names = set(old.servers) | set(new.servers)
        changed = sorted(n for n in names if old.servers.get(n) != new.servers.get(n))
        if changed or self.error is not None:
            self.file, self.error = new, None
            self.version += 1
        return changed

    # ----- verdicts ------------------------------------------------------------------------

    def view(self, spec: ServerSpec, source: Source, *, live: bool) -> View:
        """``source``'s tools as callers see them; ``live``: a list the server just showed."""
        mode = spec.entry.pin
        key = (spec.name, live)
        cached = self._cache.get(key)
        if (
            cached is not None
            and cached.source is source
            and cached.version == self.version
            and cached.mode == mode
        ):
            return cached.view
        tools = list(source.values()) if isinstance(source, Mapping) else list(source)
        wire = [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]
        screening = self._judge(spec.name, mode, "tool", wire, live=live)
        view = View(
            {t.name: t for t in tools if t.name in screening.approved}, dict(screening.held)
        )
        self._cache[key] = _Cached(source, self.version, mode, view)
        return view

    def items(self, spec: ServerSpec, kind: Kind, items: Sequence[T]) -> tuple[list[T], HeldMap]:
        """A live list of prompts or templates as callers see them: approved ones, held ones."""
        wire = [i.model_dump(by_alias=True, exclude_none=True, mode="json") for i in items]
        screening = self._judge(spec.name, spec.entry.pin, kind, wire, live=True)
        approved = [
            i for i, w in zip(items, wire, strict=True) if key_of(w, kind) in screening.approved
        ]
        self._held[(spec.name, kind)] = (self.version, spec.entry.pin, dict(screening.held))
        return approved, dict(screening.held)

    def held_listed(self, spec: ServerSpec) -> HeldMap:
        """The prompts and templates ``spec``'s server held at its last lists, by label;
        judged again when the pins or its pin mode changed since (an approval drops out)."""
        out: HeldMap = {}
        for kind in ("prompt", "template"):
            last = self._held.get((spec.name, kind))
            if last is None:
                continue
            version, mode, held = last
            if (version, mode) != (self.version, spec.entry.pin):
                wire = [h.definition for h in held.values()]
                held = dict(self._screen(spec.name, spec.entry.pin, wire, kind).held)
                self._held[(spec.name, kind)] = (self.version, spec.entry.pin, held)
            out.update({h.label: h for h in held.values()})
        return out

    def _judge(
        self, server: str, mode: Any, kind: Kind, wire: list[dict[str, Any]], *, live: bool
    ) -> Screening:
        """Screen a list; a live one also records a first sight and notes what is held."""
        screening = self._screen(server, mode, wire, kind)
        if live and mode != "off" and self.error is None:
            if screening.record is not None:
                mine = screening.record.approved(kind)
                pins = self._record_first_sight(server, kind, screening.record)
                if pins is None or pins.approved(kind) != mine:  # someone else recorded first
                    screening = self._screen(server, mode, wire, kind)
            self._note_held(server, kind, screening.held)
        return screening

    def _screen(self, server: str, mode: Any, wire: list[dict[str, Any]], kind: Kind) -> Screening:
        if self.error is not None and mode != "off":
            return unreadable(server, wire, kind)
        known = set(self.servers) | set(self.file.servers)
        for pins in self.file.servers.values():
            known.update(pins.tools)
        return screen(server, mode, self.file.servers.get(server), wire, known, kind)

    def message(self, held: Held) -> str:
        return held_message(held, str(self.path))

    def _record_first_sight(self, server: str, kind: Kind, record: ServerPins) -> ServerPins | None:
        """Save ``server``'s first list of ``kind`` as approved, unless the file has one by now."""

        def add(current: PinsFile) -> PinsFile:
            entry = current.servers.get(server)
            if kind == "tool":
                if entry is not None:
                    return current
                entry = record
            elif entry is None or entry.approved(kind) is not None:
                return current
            else:
                entry = entry.with_kind(kind, record.approved(kind) or {}, entry.rejected_of(kind))
            return current.model_copy(update={"servers": {**current.servers, server: entry}})

        try:
            self.file = update_pins(self.path, add)
        except (OSError, ValueError) as exc:
            logger.warning("Could not record the pins of %r in %s: %s", server, self.path, exc)
            self.file = add(self.file)  # approved for this run at least
        else:
            count = len(record.approved(kind) or {})
            logger.info("Pinned the %d %ss of %r (first sight).", count, kind, server)
        self.version += 1
        return self.file.servers.get(server)

    def _note_held(self, server: str, kind: Kind, held: Mapping[str, Held]) -> None:
        """Write what ``server`` holds to pending.json (when it changed); warn once each."""
        now: dict[str, tuple[str, str]] = {n: (h.sha256, h.status) for n, h in held.items()}
        for h in held.values():
            if (server, h.label, h.sha256) not in self._warned and h.status != "rejected":
                self._warned.add((server, h.label, h.sha256))
                flags = "; ".join(h.flags) or "none"
                logger.warning("%s Flags: %s.", self.message(h), flags)
        if self._pending.get((server, kind)) == now:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

        def put(current: PendingFile) -> PendingFile:
            by_server = current.of_kind(kind)
            before = by_server.get(server, {})
            entries = {
                name: PendingTool(
                    sha256=h.sha256,
                    definition=h.definition,
                    status=h.status,
                    flags=list(h.flags),
                    seen=before[name].seen
                    if name in before and before[name].sha256 == h.sha256
                    else stamp,
                )
                for name, h in held.items()
            }
            servers = {k: v for k, v in by_server.items() if k != server}
            if entries:
                servers[server] = entries
            return current.with_kind(kind, servers)

        try:
            update_pending(self.pending_path, put)
        except OSError as exc:
            logger.warning("Could not write %s: %s", self.pending_path, exc)
            return
        self._pending[(server, kind)] = now


class PinnedTools:
    """The Backend's view of its tools through the pins (no keeper: everything approved)."""

    spec: ServerSpec
    _pins: PinKeeper | None
    _tools: dict[str, mcp_types.Tool] | None

    if TYPE_CHECKING:  # provided by Backend

        def catalog_tools_raw(self) -> list[mcp_types.Tool] | None: ...

    def _view(self, source: Source, *, live: bool = True) -> View:
        if self._pins is None:
            tools = source if isinstance(source, Mapping) else {t.name: t for t in source}
            return View(dict(tools))
        return self._pins.view(self.spec, source, live=live)

    def _approved(self, source: Source, name: str, *, live: bool = True) -> mcp_types.Tool | None:
        """The tool ``name`` if approved; QuarantinedToolError if held; None if absent."""
        view = self._view(source, live=live)
        held = view.held.get(name)
        if held is not None:
            raise self.hold_error(held)
        return view.tools.get(name)

    def hold_error(self, held: Held) -> QuarantinedToolError:
        """The error a use of the held item answers (names the approve command)."""
        assert self._pins is not None
        return QuarantinedToolError(held.server, held.label, self._pins.message(held))

    def pins_active(self) -> bool:
        """Whether this server's prompts and templates are screened at all."""
        return self._pins is not None and self.spec.entry.pin != "off"

    def _screen_items(self, kind: Kind, items: list[T]) -> tuple[list[T], HeldMap]:
        """A live list of prompts or templates: the approved ones, and the held ones by key."""
        if self._pins is None:
            return items, {}
        return self._pins.items(self.spec, kind, items)

    def quarantined(self) -> dict[str, Held]:
        """The tools held now (of the live list, else of the catalog's)."""
        if self._pins is None:
            return {}
        if self._tools is not None:
            return self._view(self._tools).held
        saved = self.catalog_tools_raw()
        return {} if saved is None else self._view(saved, live=False).held

    def held_count(self) -> int:
        """How many items pinning holds now: tools, prompts and resource templates."""
        listed = {} if self._pins is None else self._pins.held_listed(self.spec)
        return len(self.quarantined()) + len(listed)


__all__ = ["HeldMap", "PinKeeper", "PinnedTools", "View"]
