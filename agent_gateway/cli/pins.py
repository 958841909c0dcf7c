"""``agent-gateway pins``: review, approve and reject tool definitions the gateway holds.

``pins`` prints, per server, each held tool (from ``pending.json``, which the
running gateway writes) with its risk flags and a unified diff against the
approved definition. ``pins approve SERVER [TOOL...]`` pins the held
definition (every held tool of SERVER when no TOOL is named); ``pins reject
SERVER [TOOL...]`` records its hash as rejected: the approved definition stays
pinned, the new one stays quarantined, and the gateway no longer warns about
it. Only ``pins.json`` is written; a running gateway picks the change up
through its reload, without a restart. No server is started.
"""

from __future__ import annotations

import argparse
import os

from agent_gateway.cli.output import err, out
from agent_gateway.core.config import default_config_path
from agent_gateway.core.errors import ConfigError
from agent_gateway.core.pinflags import render_diff
from agent_gateway.core.pins import PendingTool, PinnedTool, PinsFile, ServerPins
from agent_gateway.downstream.pinfiles import (
    pending_path,
    pins_path,
    read_pending,
    read_pins,
    update_pins,
)

ByServer = dict[str, dict[str, PendingTool]]  # server -> tool -> what the gateway holds


def cmd_pins(args: argparse.Namespace) -> int:
    config = default_config_path(args.config, os.environ)
    pinned, pending = pins_path(config), pending_path(config)
    try:
        pins = read_pins(pinned)
        held = read_pending(pending).servers
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    action = getattr(args, "pins_action", None)
    if action is None:
        return _show(pins, held)
    waiting = _waiting(pins, held).get(args.server, {})
    names = list(args.tools) or sorted(waiting)
    missing = [n for n in names if n not in waiting]
    if missing:
        err(
            f"error: nothing is held for tool {missing[0]!r} of server {args.server!r}. "
            "Run 'agent-gateway pins' to see what is."
        )
        return 1
    if not names:
        out(f"Nothing is held for server {args.server!r}.")
        return 0
    chosen = {n: waiting[n] for n in names}
    update_pins(pinned, lambda f: _decide(f, args.server, chosen, approve=action == "approve"))
    verb = "Approved" if action == "approve" else "Rejected"
    out(f"{verb} {', '.join(names)} of {args.server} in {pinned}.")
    return 0


def _waiting(
    pins: PinsFile, held: dict[str, dict[str, PendingTool]]
) -> dict[str, dict[str, PendingTool]]:
    """Held entries not approved since the gateway wrote them (the gateway may be stopped)."""
    out_: ByServer = {}
    for server, tools in held.items():
        approved = pins.servers.get(server, ServerPins()).tools
        left = {
            n: t for n, t in tools.items() if n not in approved or approved[n].sha256 != t.sha256
        }
        if left:
            out_[server] = left
    return out_


def _decide(
    current: PinsFile, server: str, chosen: dict[str, PendingTool], *, approve: bool
) -> PinsFile:
    entry = current.servers.get(server, ServerPins())
    tools, rejected = dict(entry.tools), {k: list(v) for k, v in entry.rejected.items()}
    for name, held in chosen.items():
        hashes = [h for h in rejected.get(name, []) if h != held.sha256]
        if approve:
            tools[name] = PinnedTool(sha256=held.sha256, definition=held.definition)
        else:
            hashes.append(held.sha256)
        if hashes:
            rejected[name] = hashes
        else:
            rejected.pop(name, None)
    new = ServerPins(tools=tools, rejected=rejected)
    return current.model_copy(update={"servers": {**current.servers, server: new}})


def _show(pins: PinsFile, held: ByServer) -> int:
    waiting = _waiting(pins, held)
    if not waiting:
        out("Nothing is held: every tool the gateway has seen is approved.")
        return 0
    for server in sorted(waiting):
        approved = pins.servers.get(server, ServerPins())
        for name, tool in sorted(waiting[server].items()):
            rejected = tool.sha256 in approved.rejected.get(name, [])
            status = "rejected" if rejected else tool.status
            out(f"{server} / {name}: {status} (held since {tool.seen or 'unknown'})")
            for flag in tool.flags:
                out(f"  ! {flag}")
            if not rejected:
                old = approved.tools.get(name)
                diff = render_diff(old.definition if old else None, tool.definition, name)
                out("\n".join(f"  {line}" for line in diff.splitlines()))
                out(f"  approve: agent-gateway pins approve {server} {name}")
                out(f"  reject:  agent-gateway pins reject {server} {name}")
            out()
    return 0


__all__ = ["cmd_pins"]
