"""The ``.mcp.json`` format: pydantic models, variable substitution, loading.

``GatewayConfig.from_dict`` is pure (the environment is passed in; variables
are resolved by core/variables.py); ``GatewayConfig.from_file`` reads the
file as JSONC (comments, trailing commas), adds line/column to syntax errors
and loads each stdio server's ``envFile`` (core/envfile.py). IDEs launch the
gateway from any folder, so relative paths resolve against the config file's
folder (``base_dir``): a ``command`` holding a path separator (``./server.sh``,
``bin/x``; a bare ``npx`` stays a PATH lookup), a relative ``cwd`` or
``envFile``, and a stdio server's default working directory.
Problems that concern one server only (an unset variable) do not fail the
file: that server carries an ``error`` and the others run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent_gateway.core.envfile import EnvFileError, read_env_file
from agent_gateway.core.errors import ConfigError
from agent_gateway.core.jsonc import JsoncError, loads_jsonc
from agent_gateway.core.variables import Unresolved, Variables, substitute

SERVER_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Keys IDEs write that mean nothing to the gateway: dropped by `init --from`
# (with one note), a warning in a config.
IDE_ONLY_KEYS = ("autoApprove", "alwaysAllow", "disabledTools", "watchPaths", "dev", "gallery")

DEFAULT_TIMEOUT = 60.0
DEFAULT_STARTUP_TIMEOUT = 60.0
DEFAULT_MAX_CONCURRENCY = 16
DEFAULT_MAX_QUEUE = 64


class _Entry(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, strict=True, allow_inf_nan=False
    )

    description: str = ""
    disabled: bool = False
    timeout: Annotated[float, Field(gt=0)] = DEFAULT_TIMEOUT
    startup_timeout: Annotated[float, Field(gt=0, alias="startupTimeout")] = DEFAULT_STARTUP_TIMEOUT
    idle_timeout: Annotated[float | None, Field(gt=0, alias="idleTimeout")] = None
    pin: Literal["tofu", "strict", "off"] = "tofu"  # tool pinning (core/pins.py)
    # load control (downstream/guard.py): calls at once, calls waiting, the circuit breaker
    max_concurrency: Annotated[int, Field(ge=1, alias="maxConcurrency")] = DEFAULT_MAX_CONCURRENCY
    max_queue: Annotated[int, Field(ge=0, alias="maxQueue")] = DEFAULT_MAX_QUEUE
    breaker_failures: Annotated[int, Field(ge=0, alias="breakerFailures")] = 5
    breaker_cooldown: Annotated[float, Field(gt=0, alias="breakerCooldown")] = 30.0


class StdioEntry(_Entry):
    type: Literal["stdio"] = "stdio"
    command: Annotated[str, Field(min_length=1)]
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    env_file: Annotated[str | None, Field(alias="envFile")] = None
    inherit_env: Annotated[bool, Field(alias="inheritEnv")] = False


class RemoteEntry(_Entry):
    type: Literal["http", "streamable-http", "sse"] = "http"
    url: Annotated[str, Field(min_length=1)]
    headers: dict[str, str] = Field(default_factory=dict)
    auth: Literal["oauth"] | None = None  # "oauth": tokens from `agent-gateway login`
    client_id: Annotated[str | None, Field(alias="clientId", min_length=1)] = None
    client_secret: Annotated[str | None, Field(alias="clientSecret")] = None
    scopes: list[str] | str | None = None
    callback_port: Annotated[int | None, Field(alias="callbackPort", gt=0, lt=65536)] = None


ServerEntry = StdioEntry | RemoteEntry

_STDIO_KEYS = frozenset(f.alias or n for n, f in StdioEntry.model_fields.items())
_REMOTE_KEYS = frozenset(f.alias or n for n, f in RemoteEntry.model_fields.items())


class ServerSpec(BaseModel):
    """One configured server after validation and substitution."""

    model_config = ConfigDict(frozen=True)

    name: str
    entry: StdioEntry | RemoteEntry
    error: str | None = None  # set when this server cannot run (e.g. unset variable)

    @property
    def description(self) -> str:
        return self.entry.description

    @property
    def disabled(self) -> bool:
        return self.entry.disabled

    def target(self) -> str:
        """A short, secret-free description: the command or the URL without query."""
        entry = self.entry
        if isinstance(entry, StdioEntry):
            return " ".join([entry.command, *entry.args])
        parts = urlsplit(entry.url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))


class GatewayConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str | None = None
    servers: dict[str, ServerSpec] = Field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_dict(
        cls,
        data: Any,
        *,
        environ: Mapping[str, str] | None = None,
        path: str | None = None,
        base_dir: str | None = None,
    ) -> GatewayConfig:
        """Validate parsed JSON. Pure: ``environ`` defaults to an empty mapping.

        ``base_dir`` (the config's folder, absolute) anchors relative paths.
        """
        env = environ if environ is not None else {}
        if not isinstance(data, dict):
            raise ConfigError(
                "the top level must be a JSON object with an 'mcpServers' key.", path=path
            )
        warnings: list[str] = []
        if "mcpServers" in data:
            key = "mcpServers"
        elif "servers" in data:
            key = "servers"
        else:
            raise ConfigError(
                "no 'mcpServers' (or VS Code 'servers') object found. "
                'Start from {"mcpServers": {}}.',
                path=path,
            )
        for other in data:
            if other not in (key, "inputs"):
                warnings.append(f"Unknown top-level key {other!r} was ignored.")
        raw_servers = data[key]
        if not isinstance(raw_servers, dict):
            raise ConfigError(f"{key}: expected an object of server entries.", path=path)
        variables = Variables.of(env, base_dir)
        inputs = input_descriptions(data.get("inputs"))
        servers: dict[str, ServerSpec] = {}
        for name, raw in raw_servers.items():
            spec = _parse_server(key, name, raw, (variables, inputs), warnings, path)
            servers[name] = spec if base_dir is None else _anchor(spec, base_dir)
        return cls(path=path, servers=servers, warnings=tuple(warnings))

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
    ) -> GatewayConfig:
        """Read and validate a config file; errors name the file."""
        p = str(path)
        try:
            text = Path(p).read_text(encoding="utf-8-sig")
        except FileNotFoundError as exc:
            raise ConfigError(
                "file not found. Create it (agent-gateway init) or pass --config.", path=p
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the file: {exc}", path=p) from exc
        if not text.strip():
            raise ConfigError('the file is empty. Start from {"mcpServers": {}}.', path=p)
        duplicates: list[str] = []
        try:
            data = loads_jsonc(text, duplicates)
        except JsoncError as exc:
            raise ConfigError(f"{exc}", path=p) from exc
        if duplicates:
            servers = (
                data.get("mcpServers", data.get("servers")) if isinstance(data, dict) else None
            )
            named = (
                duplicates[0] if isinstance(servers, dict) and duplicates[0] in servers else None
            )
            raise ConfigError(
                f"key {duplicates[0]!r} appears twice in one object; keep one.",
                path=p,
                server=named,
            )
        env = os.environ if environ is None else environ
        config = cls.from_dict(data, environ=env, path=p, base_dir=config_dir(p))
        return config.model_copy(update={"servers": load_env_files(config.servers, env)})


def load_env_files(
    servers: Mapping[str, ServerSpec], environ: Mapping[str, str]
) -> dict[str, ServerSpec]:
    """Each stdio server's ``envFile`` values under its ``env`` (``env`` wins).

    A file that cannot be read marks that server failed; the others run.
    """
    loaded: dict[str, ServerSpec] = {}
    for name, spec in servers.items():
        entry = spec.entry
        if not isinstance(entry, StdioEntry) or not entry.env_file or spec.error:
            loaded[name] = spec
            continue
        try:
            values = read_env_file(entry.env_file, name)
        except EnvFileError as exc:
            loaded[name] = spec.model_copy(update={"error": str(exc)})
            continue
        merged = entry.model_copy(update={"env": {**values, **entry.env}})
        loaded[name] = spec.model_copy(update={"entry": merged})
    return loaded


def input_descriptions(raw: Any) -> dict[str, str]:
    """VS Code's top-level ``inputs``: each prompt's id and description (for messages)."""
    found: dict[str, str] = {}
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            found[item["id"]] = str(item.get("description") or "")
    return found


def config_dir(config_path: str) -> str:
    """The absolute folder of the config file: the anchor of every relative path."""
    return os.path.dirname(os.path.abspath(config_path))


def _anchor(spec: ServerSpec, base_dir: str) -> ServerSpec:
    """Resolve a stdio entry's relative ``command`` and ``cwd`` against ``base_dir``."""
    entry = spec.entry
    if not isinstance(entry, StdioEntry):
        return spec
    command = entry.command
    if ("/" in command or os.sep in command) and not os.path.isabs(command):
        command = os.path.normpath(os.path.join(base_dir, command))
    cwd = os.path.normpath(os.path.join(base_dir, entry.cwd)) if entry.cwd else base_dir
    env_file = entry.env_file
    if env_file:
        env_file = os.path.normpath(os.path.join(base_dir, os.path.expanduser(env_file)))
    anchored = entry.model_copy(update={"command": command, "cwd": cwd, "env_file": env_file})
    return spec.model_copy(update={"entry": anchored})


def _parse_server(
    key: str,
    name: str,
    raw: Any,
    context: tuple[Variables, Mapping[str, str]],
    warnings: list[str],
    path: str | None,
) -> ServerSpec:
    where = f"{key}.{name}"
    if not SERVER_NAME_RE.fullmatch(name) or "__" in name:
        raise ConfigError(
            f"{where}: invalid server name {name!r}. Use letters, digits, '-', '_' and '.', "
            "no '__', at most 64 characters.",
            path=path,
            server=name,
        )
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: expected an object, got {_json_type(raw)}.", path=path, server=name
        )
    if "serverUrl" in raw and "url" not in raw:  # Windsurf's name for a remote server's URL
        raw = {("url" if k == "serverUrl" else k): v for k, v in raw.items()}
    has_command, has_url = "command" in raw, "url" in raw
    if has_command and has_url:
        raise ConfigError(
            f"{where}: has both 'command' and 'url'; keep one.", path=path, server=name
        )
    if not has_command and not has_url:
        raise ConfigError(
            f"{where}: needs 'command' (a local server) or 'url' (a remote one).",
            path=path,
            server=name,
        )
    model: type[StdioEntry] | type[RemoteEntry] = StdioEntry if has_command else RemoteEntry
    allowed = _STDIO_KEYS if has_command else _REMOTE_KEYS
    known = {k: v for k, v in raw.items() if k in allowed}
    for unknown in sorted(set(raw) - allowed):
        what = "an IDE setting the gateway does not use" if unknown in IDE_ONLY_KEYS else "unknown"
        warnings.append(f"{where}: key {unknown!r} is {what}; it was ignored.")
    if has_command and known.get("type") not in (None, "stdio"):
        raise ConfigError(
            f"{where}.type: {known['type']!r} does not go with 'command'; use \"stdio\".",
            path=path,
            server=name,
        )
    try:
        entry = model.model_validate(known)
    except ValidationError as exc:
        raise ConfigError(_describe_validation(where, exc), path=path, server=name) from exc
    variables, inputs = context
    substituted, unresolved = substitute_entry(entry, variables)
    error = unresolved.message(name, inputs) if unresolved else None
    return ServerSpec(name=name, entry=substituted, error=error)


def _describe_validation(where: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts) + "."


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "null" if value is None else type(value).__name__


def substitute_entry(
    entry: StdioEntry | RemoteEntry, variables: Variables
) -> tuple[StdioEntry | RemoteEntry, Unresolved]:
    """Substitute variables in command, args, env, cwd, envFile, url, headers and the
    OAuth client id and secret."""
    unresolved = Unresolved()

    def sub(s: str) -> str:
        return variables.substitute(s, unresolved)

    if isinstance(entry, StdioEntry):
        new: StdioEntry | RemoteEntry = entry.model_copy(
            update={
                "command": sub(entry.command),
                "args": [sub(a) for a in entry.args],
                "env": {k: sub(v) for k, v in entry.env.items()},
                "cwd": sub(entry.cwd) if entry.cwd is not None else None,
                "env_file": sub(entry.env_file) if entry.env_file is not None else None,
            }
        )
    else:
        new = entry.model_copy(
            update={
                "url": sub(entry.url),
                "headers": {k: sub(v) for k, v in entry.headers.items()},
                "client_id": sub(entry.client_id) if entry.client_id is not None else None,
                "client_secret": (
                    sub(entry.client_secret) if entry.client_secret is not None else None
                ),
            }
        )
    return new, unresolved


def oauth_entry(spec: ServerSpec) -> RemoteEntry | None:
    """The entry of a server that uses OAuth (``"auth": "oauth"``), else None."""
    entry = spec.entry
    return entry if isinstance(entry, RemoteEntry) and entry.auth == "oauth" else None


def default_config_path(explicit: str | None, environ: Mapping[str, str]) -> str:
    return explicit or environ.get("AGENT_GATEWAY_CONFIG") or ".mcp.json"


__all__ = [
    "GatewayConfig",
    "RemoteEntry",
    "ServerEntry",
    "ServerSpec",
    "StdioEntry",
    "config_dir",
    "default_config_path",
    "oauth_entry",
    "substitute",
    "substitute_entry",
]
