"""Per-agent access: the ``policies/`` folder, pure decisions, and explain.

One file per agent, ``policies/NAME.toml`` (or ``NAME.json``, same schema);
``default.toml`` is the policy for callers with no identity. The rules:

- Globs (core/globs.py, linear-time): ``*`` is any run of characters, ``?`` exactly one, all
  else literal (``[``, ``.``); case-sensitive; the whole name must match.
- Server S is visible iff some ``allow.servers`` glob matches S and no
  ``deny.servers`` glob does.
- Tool T of a visible S is allowed iff no ``deny.tools`` entry matches (a key
  matching S that lists a glob matching T), and either no ``allow.tools`` key
  matches S or some matching key lists a glob matching T. An empty list
  allows nothing. Deny always wins; a tool of an invisible server never passes.
- Fail closed: an agent without a policy file, and a caller with no identity
  and no ``default.toml``, see nothing. Open mode (everything visible) only
  when no policies path was given, no ``policies/`` exists next to the
  config, and no agent is bound (``--agent``).

Every decision and every explanation of one goes through :func:`_evaluate`.
Unknown keys are errors: a typo must never silently change access.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from agent_gateway.core.errors import PolicyError
from agent_gateway.core.globs import MAX_NAME, glob_match
from agent_gateway.core.limits import Rate, RateFormatError, parse_rate
from agent_gateway.core.policy_files import read_policy_file

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_SUFFIXES = (".toml", ".json")


def _check_sha256(value: str) -> str:
    if not _SHA256_RE.fullmatch(value):
        # Never echo the value: it may be a token pasted by mistake.
        raise PydanticCustomError(
            "sha256_hex",
            "must be a SHA-256 digest, 64 lowercase hex characters "
            "(agent-gateway token NAME prints one; never paste the token itself)",
        )
    return value


def _check_rate(value: str) -> str:
    try:
        parse_rate(value)
    except RateFormatError as exc:
        raise PydanticCustomError("rate", "{reason}", {"reason": str(exc)}) from exc
    return value


class Rules(BaseModel):
    """One ``[allow]`` or ``[deny]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    servers: tuple[str, ...] = ()
    tools: dict[str, tuple[str, ...]] | None = None  # server glob -> tool globs


class Policy(BaseModel):
    """One agent's policy file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    allow: Rules = Rules()
    deny: Rules = Rules()
    tokens_sha256: tuple[Annotated[str, AfterValidator(_check_sha256)], ...] = ()
    rate: Annotated[str, AfterValidator(_check_rate)] | None = None  # "60/min": calls allowed

    @property
    def rate_limit(self) -> Rate | None:
        """The parsed ``rate`` (core/limits.py), or None when the agent is not limited."""
        return None if self.rate is None else parse_rate(self.rate)

    @classmethod
    def from_dict(cls, data: Any, *, path: str | None = None) -> Policy:
        """Validate parsed TOML/JSON. Pure; errors name the key path."""
        if not isinstance(data, dict):
            keys = ", ".join(cls.model_fields)
            raise PolicyError(f"the top level must be a table with the keys {keys}.", path=path)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise PolicyError(_describe(exc), path=path) from exc


OPEN_POLICY = Policy(description="open mode", allow=Rules(servers=("*",)))


def _describe(exc: ValidationError) -> str:
    parts: list[str] = []
    for err in exc.errors():
        loc = err["loc"]
        if err["type"] == "extra_forbidden":
            model: type[BaseModel] = Policy if len(loc) == 1 else Rules
            where = _format_loc(loc[:-1])
            msg = f"unknown key {loc[-1]!r} (allowed: {', '.join(model.model_fields)})"
        else:
            where, msg = _format_loc(loc), err["msg"]
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts) + "."


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i == 2 and loc[1] == "tools":  # a server-glob key such as "*"
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else part
    return out


def _first(globs: Iterable[str], name: str) -> str | None:
    return next((g for g in globs if glob_match(g, name)), None)


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision and the sentence naming the rule that made it."""

    allowed: bool
    rule: str


def _evaluate(policy: Policy, server: str, tool: str | None) -> Decision:
    """THE decision: visibility of ``server`` (tool None) or access to ``tool``."""
    for kind, name in (("server", server), ("tool", tool or "")):
        if len(name) > MAX_NAME:
            return Decision(False, f"denied: the {kind} name is over {MAX_NAME} characters")
    denied = _first(policy.deny.servers, server)
    if denied is not None:
        return Decision(False, f"denied: deny.servers {denied!r} matches {server!r}")
    allowed = _first(policy.allow.servers, server)
    if allowed is None:
        return Decision(False, f"denied: no allow.servers glob matches {server!r}")
    seen = f"allow.servers {allowed!r} matches {server!r}"
    if tool is None:
        return Decision(True, f"allowed: {seen}")
    for key, globs in (policy.deny.tools or {}).items():
        if glob_match(key, server) and (hit := _first(globs, tool)) is not None:
            return Decision(False, f"denied: deny.tools[{key!r}] {hit!r} matches {tool!r}")
    allow_tools = policy.allow.tools or {}
    keys = [key for key in allow_tools if glob_match(key, server)]
    if not keys:
        return Decision(True, f"allowed: {seen} and no allow.tools key matches it")
    for key in keys:
        hit = _first(allow_tools[key], tool)
        if hit is not None:
            return Decision(True, f"allowed: allow.tools[{key!r}] {hit!r} matches {tool!r}")
    listed = ", ".join(f"allow.tools[{key!r}]" for key in keys)
    verb = "lists" if len(keys) == 1 else "list"
    return Decision(False, f"denied: {listed} {verb} no glob matching {tool!r}")


def server_visible(policy: Policy, server: str) -> bool:
    return _evaluate(policy, server, None).allowed


def tool_allowed(policy: Policy, server: str, tool: str) -> bool:
    return _evaluate(policy, server, tool).allowed


class PolicySet:
    """All agents' policies, swapped as a whole on reload."""

    def __init__(
        self,
        agents: Mapping[str, Policy],
        *,
        open_mode: bool = False,
        path: str | None = None,
        explicit: bool = False,
        absent: bool = False,
        files: Mapping[str, str] | None = None,
    ) -> None:
        self.agents: Mapping[str, Policy] = MappingProxyType(dict(agents))
        self.open_mode = open_mode
        self.path = path
        self.explicit = explicit
        self.absent = absent  # no folder, yet not open mode (an agent is bound)
        self.files: Mapping[str, str] = MappingProxyType(dict(files or {}))  # agent -> file

    def __repr__(self) -> str:
        mode = "open" if self.open_mode else f"agents={sorted(self.agents)}"
        return f"PolicySet({mode}, path={self.path!r}, explicit={self.explicit})"

    @classmethod
    def open(cls, path: str | None = None) -> PolicySet:
        """Open mode: everything visible (no policies path given, ./policies absent)."""
        return cls({}, open_mode=True, path=path)

    @classmethod
    def from_dicts(
        cls, mapping: Mapping[str, Policy | Mapping[str, Any]], *, path: str | None = None
    ) -> PolicySet:
        """Validate agent -> parsed policy (or Policy). Pure."""
        agents: dict[str, Policy] = {}
        for agent, data in mapping.items():
            if isinstance(data, Policy):
                agents[agent] = data
                continue
            try:
                agents[agent] = Policy.from_dict(dict(data) if isinstance(data, Mapping) else data)
            except PolicyError as exc:
                raise PolicyError(f"agent {agent!r}: {exc}", path=path) from exc
        clashes = _token_clashes(agents, {})
        if clashes:
            raise clashes[0]
        return cls(agents, path=path)

    @classmethod
    def from_dir(cls, path: str, *, explicit: bool, agent_bound: bool = False) -> PolicySet:
        """Load every policy file; raise the first problem found."""
        policies, errors = cls.check_dir(path, explicit, agent_bound=agent_bound)
        if errors or policies is None:
            raise errors[0]
        return policies

    @classmethod
    def check_dir(
        cls, path: str, explicit: bool, *, agent_bound: bool = False
    ) -> tuple[PolicySet | None, list[PolicyError]]:
        """Load every policy file, collecting every problem (for ``check``).

        A missing folder that was not given means open mode, unless an agent
        is bound (``--agent``): then nobody has a policy, so it sees nothing.
        """
        folder = Path(path)
        if not folder.exists():
            if explicit:
                msg = f"policies folder not found: {path}. Create it or fix --policies."
                return None, [PolicyError(msg)]
            if agent_bound:
                return cls({}, path=path, absent=True), []
            return cls.open(path), []
        if not folder.is_dir():
            return None, [PolicyError("is not a folder. Point --policies at a folder.", path=path)]
        try:
            files = sorted(
                p
                for p in folder.iterdir()
                if p.suffix in _SUFFIXES and not p.name.startswith(".") and p.is_file()
            )
        except OSError as exc:
            return None, [PolicyError(f"cannot read the folder: {exc.strerror}.", path=path)]
        errors: list[PolicyError] = []
        agents: dict[str, Policy] = {}
        sources: dict[str, str] = {}
        for file in files:
            agent, name = file.stem, str(file)
            if agent in sources:
                msg = (
                    f"agent {agent!r} has two policy files, {sources[agent]} and {name}; keep one."
                )
                errors.append(PolicyError(msg, path=name))
                continue
            sources[agent] = name
            try:
                agents[agent] = Policy.from_dict(read_policy_file(file), path=name)
            except PolicyError as exc:
                errors.append(exc)
        errors.extend(_token_clashes(agents, sources))
        if errors:
            return None, errors
        return cls(agents, path=path, explicit=explicit, files=sources), []

    def policy_for(self, agent: str | None) -> Policy | None:
        """The caller's policy; None means it sees nothing (fail closed)."""
        if self.open_mode:
            return OPEN_POLICY
        return self.agents.get("default" if agent is None else agent)

    def explain(self, agent: str | None, server: str, tool: str | None = None) -> Decision:
        """The decision for ``agent`` and the rule behind it (same path as the real one)."""
        if self.open_mode:
            return Decision(True, "allowed: open mode (no policies folder)")
        policy = self.policy_for(agent)
        if policy is None:
            if agent is None:
                return Decision(False, "denied: no identity and no policies/default.toml")
            rule = f"denied: agent {agent!r} has no policy file (create policies/{agent}.toml)"
            return Decision(False, rule)
        return _evaluate(policy, server, tool)

    def server_visible(self, agent: str | None, server: str) -> bool:
        return self.explain(agent, server, None).allowed

    def tool_allowed(self, agent: str | None, server: str, tool: str) -> bool:
        return self.explain(agent, server, tool).allowed

    def visible_servers(self, agent: str | None, names: Iterable[str]) -> list[str]:
        return [name for name in names if self.server_visible(agent, name)]

    def hint_for(self, agent: str | None) -> str | None:
        """The next step for an identified agent without a policy file."""
        if self.open_mode or agent is None or agent in self.agents:
            return None
        file = os.path.join(self.path, f"{agent}.toml") if self.path else f"policies/{agent}.toml"
        return f"No policy for agent {agent!r}: create {file} (see README, Policies)."

    @property
    def token_agents(self) -> frozenset[str]:
        """The agents whose policy lists ``tokens_sha256``: reachable only with a token."""
        return frozenset(agent for agent, policy in self.agents.items() if policy.tokens_sha256)

    def agent_for_token(self, token: str) -> str | None:
        """The agent whose ``tokens_sha256`` lists this token's digest, else None."""
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        found: str | None = None
        for agent, policy in self.agents.items():
            for known in policy.tokens_sha256:  # compare with all: no early exit
                if hmac.compare_digest(digest, known) and found is None:
                    found = agent
        return found


def _token_clashes(agents: Mapping[str, Policy], sources: Mapping[str, str]) -> list[PolicyError]:
    owner: dict[str, str] = {}
    errors: list[PolicyError] = []
    for agent, policy in agents.items():
        for digest in policy.tokens_sha256:
            first = owner.setdefault(digest, agent)
            if first != agent:
                msg = (
                    f"tokens_sha256: the same token is listed for agents {first!r} and "
                    f"{agent!r}; a token must identify one agent."
                )
                errors.append(PolicyError(msg, path=sources.get(agent), agents=(first, agent)))
    return errors


def default_policies_path(
    explicit: str | None, environ: Mapping[str, str], config_path: str
) -> tuple[str, bool]:
    """``--policies``, else ``$AGENT_GATEWAY_POLICIES``, else ``policies/`` next to the config.

    Never the working directory: IDEs launch the gateway from anywhere. Also
    says whether the path was given (a given path that does not exist is an error).
    """
    given = explicit or environ.get("AGENT_GATEWAY_POLICIES")
    if given:
        return given, True
    return os.path.join(os.path.dirname(os.path.abspath(config_path)), "policies"), False
