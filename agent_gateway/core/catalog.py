"""The tool catalog's pure part: an entry's key and its file text.

A server's tool list is saved so listing and search can answer at launch
without starting it. The entry is keyed by a hash of the server's
connection key (see :func:`agent_gateway.core.diff.connection_key`): a
changed command, args, env, cwd, url, headers or type never reuses an old
list. The file holds only the server's name and its tools: env and header
values go into the hash, never into the file.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from agent_gateway.core.config import ServerSpec
from agent_gateway.core.diff import connection_key

FORMAT = 1


def entry_key(spec: ServerSpec) -> str:
    """A file-name-safe hash of everything that identifies ``spec``'s connection."""
    canonical = json.dumps(connection_key(spec), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def encode(name: str, tools: list[dict[str, Any]]) -> str:
    """The entry's file text: the server's name and its tools (wire dicts)."""
    return json.dumps({"format": FORMAT, "server": name, "tools": tools}, sort_keys=True)


def decode(text: str) -> tuple[str, list[dict[str, Any]]]:
    """The server name and tools of an entry's text; ValueError when it is not one."""
    data = json.loads(text)  # json.JSONDecodeError is a ValueError
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("not a catalog entry (unknown format)")
    name, tools = data.get("server"), data.get("tools")
    if not isinstance(name, str) or not isinstance(tools, list):
        raise ValueError("not a catalog entry (no server name or tool list)")
    if not all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools):
        raise ValueError("not a catalog entry (a tool without a name)")
    return name, tools


__all__ = ["FORMAT", "decode", "encode", "entry_key"]
