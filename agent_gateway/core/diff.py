"""Pure diff of two configs, for hot reload: what to start, stop, replace or keep.

Every server name of either config lands in exactly one bucket:

- ``added``: only in the new config (register it, still lazy);
- ``removed``: only in the old config (drain and close it);
- ``changed``: in both, and something that affects the process or the
  connection differs (type, command, args, env after substitution, cwd, url,
  headers, timeouts, ``disabled``, or the spec's ``error``): replace it;
- ``described``: in both, and only the ``description``, ``pin`` or a load
  limit (``maxConcurrency``, ``maxQueue``, ``breakerFailures``,
  ``breakerCooldown``) differs: keep the process, show the new text, judge
  its tools by the new pin mode, apply the new limits to the next call;
- ``unchanged``: in both and identical: keep everything.

The comparison uses the whole entry minus those fields (see
:func:`connection_key`), not a list of fields, so a field added to the
config models later counts as a connection field by default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from agent_gateway.core.config import GatewayConfig, ServerSpec

# Entry fields that never affect the process or the connection.
_NON_CONNECTION_FIELDS = frozenset(
    {"description", "pin", "max_concurrency", "max_queue", "breaker_failures", "breaker_cooldown"}
)


@dataclass(frozen=True)
class ConfigDiff:
    """The result of :func:`diff_configs`; every tuple is sorted."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    described: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when applying this diff would change nothing."""
        return not (self.added or self.removed or self.changed or self.described)

    @property
    def kept(self) -> tuple[str, ...]:
        """Servers whose process and session survive: unchanged plus described."""
        return tuple(sorted(self.unchanged + self.described))

    def summary(self) -> dict[str, list[str]]:
        """For status output and reload records; ``described`` only when non-empty."""
        out = {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
        }
        if self.described:
            out["described"] = list(self.described)
        return out


def connection_key(spec: ServerSpec) -> tuple[str, str, str | None]:
    """Everything about ``spec`` that affects its process or connection, hashable.

    The entry's class, its fields except the non-connection ones as canonical JSON
    (dict key order does not matter, list order does), and the spec's error.
    """
    entry = spec.entry
    # json.dumps, not model_dump_json(): pydantic writes inf as null, like None.
    fields = entry.model_dump(exclude=set(_NON_CONNECTION_FIELDS))
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return (type(entry).__name__, canonical, spec.error)


def diff_configs(old: GatewayConfig, new: GatewayConfig) -> ConfigDiff:
    """Compare two validated configs by server name."""
    old_names, new_names = set(old.servers), set(new.servers)
    changed: list[str] = []
    unchanged: list[str] = []
    described: list[str] = []
    for name in old_names & new_names:
        before, after = old.servers[name], new.servers[name]
        if connection_key(before) != connection_key(after):
            changed.append(name)
        elif before.entry != after.entry:
            described.append(name)
        else:
            unchanged.append(name)
    return ConfigDiff(
        added=tuple(sorted(new_names - old_names)),
        removed=tuple(sorted(old_names - new_names)),
        changed=tuple(sorted(changed)),
        unchanged=tuple(sorted(unchanged)),
        described=tuple(sorted(described)),
    )
