"""The reload log of ``gateway_status``: structured, so each caller is shown only its part.

A record is not a text to be censored afterwards: every change and every
error carries the server names and the agent names (policy files) it is
about, and a caller is shown only the entries it may see in full: changes of
servers it can see, errors of servers it can see, its own policy file's
errors, and errors that name no server and no agent. Nothing is rewritten.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_gateway.core.errors import ConfigError, PolicyError

Visible = Callable[[str], bool]


@dataclass(frozen=True)
class ReloadError:
    """One error of a reload, with the servers and agents its text names."""

    text: str
    servers: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()

    def visible(self, server: Visible, agent: Visible) -> bool:
        return all(map(server, self.servers)) and all(map(agent, self.agents))

    @classmethod
    def of_config(cls, exc: ConfigError) -> ReloadError:
        return cls(str(exc), servers=(exc.server,) if exc.server else ())

    @classmethod
    def of_policy(cls, exc: PolicyError, folder: Path) -> ReloadError:
        agents = set(exc.agents)
        if exc.path is not None and Path(exc.path).parent == folder:
            agents.add(Path(exc.path).stem)  # an error in policies/NAME.toml is NAME's
        return cls(str(exc), agents=tuple(sorted(agents)))


@dataclass
class Reload:
    """One reload attempt. ``changes`` are server names, except ``agents`` (agent names)."""

    time: float
    file: str
    ok: bool
    changes: dict[str, list[str]] = field(default_factory=dict)
    errors: list[ReloadError] = field(default_factory=list)

    def render(self, server: Visible, agent: Visible) -> dict[str, Any]:
        """What a caller who may see ``server(name)`` servers and ``agent(name)`` agents sees."""
        changes = {
            kind: [n for n in names if (agent if kind == "agents" else server)(n)]
            for kind, names in self.changes.items()
        }
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.time))
        return {
            "time": stamp,
            "file": self.file,
            "ok": self.ok,
            "changes": changes,
            "errors": [e.text for e in self.errors if e.visible(server, agent)],
        }
