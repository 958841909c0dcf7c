"""``agent-gateway pins``: review, approve and reject definitions the gateway holds.

``pins`` prints, per server, each held tool, prompt and resource template
(from ``pending.json``, which the running gateway writes) with its risk flags
and a unified diff against the approved definition. ``pins approve SERVER
[ITEM...]`` pins the held definition (everything held for SERVER when no ITEM
is named); ``pins reject SERVER [ITEM...]`` records its hash as rejected: the
approved definition stays pinned, the new one stays quarantined, and the
gateway no longer warns about it. An ITEM is a tool's bare name (or
``tool:NAME``), ``prompt:NAME`` or ``template:URI_TEMPLATE``. Only
``pins.json`` is written; a running gateway picks the change up through its
reload, without a restart. No server is started.
"""

from __future__ import annotations

import argparse
import os
import shlex

from agent_gateway.cli.output import err, out
from agent_gateway.core.config import default_config_path
from agent_gateway.core.errors import ConfigError
from agent_gateway.core.pinflags import render_diff
from agent_gateway.core.pins import (
    KINDS,
    Kind,
    PendingFile,
    PendingTool,
    PinnedTool,
    PinsFile,
    ServerPins,
    approve_command,
    label,
    parse_label,
)
from agent_gateway.downstream.pinfiles import (
    pending_path,
    pins_path,
    read_pending,
    read_pins,
    update_pins,
)

Item = tuple[Kind, str, PendingTool]  # kind, key, what the gateway holds
Waiting = dict[str, dict[str, Item]]  # server -> label -> item


def cmd_pins(args: argparse.Namespace) -> int:
    config = default_config_path(args.config, os.environ)
    pinned, pending = pins_path(config), pending_path(config)
    try:
        pins = read_pins(pinned)
        held = read_pending(pending)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    action = getattr(args, "pins_action", None)
    if action is None:
        return _show(pins, held)
    waiting = _waiting(pins, held).get(args.server, {})
    names = [label(*parse_label(n)) for n in args.tools] or sorted(waiting)
    missing = [n for n in names if n not in waiting]
    if missing:
        kind, key = parse_label(missing[0])
        err(
            f"error: nothing is held for {kind} {key!r} of server {args.server!r}. "
            "Run 'agent-gateway pins' to see what is."
        )
        return 1
    if not names:
        out(f"Nothing is held for server {args.server!r}.")
        return 0
    chosen = [waiting[n] for n in names]
    update_pins(pinned, lambda f: _decide(f, args.server, chosen, approve=action == "approve"))
    verb = "Approved" if action == "approve" else "Rejected"
    out(f"{verb} {', '.join(names)} of {args.server} in {pinned}.")
    return 0


def _waiting(pins: PinsFile, held: PendingFile) -> Waiting:
    """Held entries not approved since the gateway wrote them (the gateway may be stopped)."""
    out_: Waiting = {}
    for kind in KINDS:
        for server, items in held.of_kind(kind).items():
            approved = pins.servers.get(server, ServerPins()).approved(kind) or {}
            for key, item in items.items():
                if key not in approved or approved[key].sha256 != item.sha256:
                    out_.setdefault(server, {})[label(kind, key)] = (kind, key, item)
    return out_


def _decide(current: PinsFile, server: str, chosen: list[Item], *, approve: bool) -> PinsFile:
    entry = current.servers.get(server, ServerPins())
    for kind in KINDS:
        mine = [(key, held) for k, key, held in chosen if k == kind]
        if not mine:
            continue
        approved = dict(entry.approved(kind) or {})
        rejected = {k: list(v) for k, v in entry.rejected_of(kind).items()}
        for key, held in mine:
            hashes = [h for h in rejected.get(key, []) if h != held.sha256]
            if approve:
                approved[key] = PinnedTool(sha256=held.sha256, definition=held.definition)
            else:
                hashes.append(held.sha256)
            if hashes:
                rejected[key] = hashes
            else:
                rejected.pop(key, None)
        entry = entry.with_kind(kind, approved, rejected)
    return current.model_copy(update={"servers": {**current.servers, server: entry}})


def _show(pins: PinsFile, held: PendingFile) -> int:
    waiting = _waiting(pins, held)
    if not waiting:
        out("Nothing is held: every tool, prompt and template the gateway has seen is approved.")
        return 0
    for server in sorted(waiting):
        entry = pins.servers.get(server, ServerPins())
        for name, (kind, key, item) in sorted(waiting[server].items()):
            rejected = item.sha256 in entry.rejected_of(kind).get(key, [])
            status = "rejected" if rejected else item.status
            out(f"{server} / {name}: {status} (held since {item.seen or 'unknown'})")
            for flag in item.flags:
                out(f"  ! {flag}")
            if not rejected:
                old = (entry.approved(kind) or {}).get(key)
                diff = render_diff(old.definition if old else None, item.definition, key)
                out("\n".join(f"  {line}" for line in diff.splitlines()))
                out(f"  approve: {approve_command(server, key, kind)}")
                out(f"  reject:  agent-gateway pins reject {server} {shlex.quote(name)}")
            out()
    return 0


__all__ = ["cmd_pins"]
