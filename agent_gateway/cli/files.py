"""``init`` (starter files, or an IDE's servers imported) and ``token``.

``init --from`` reads the IDE's config as the gateway does (JSONC), keeps
every server but the gateway itself (with its description and VS Code
``inputs``), drops settings only the IDE uses (one note lists them), and
prints the one entry that replaces the servers: the absolute path of this
``agent-gateway`` (Claude Desktop does not search PATH), and for VS Code the
``inputs`` passed on as ``AGENT_GATEWAY_INPUT_<ID>`` variables.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

from agent_gateway.cli.output import err, out, plural
from agent_gateway.core.config import IDE_ONLY_KEYS, GatewayConfig, config_dir
from agent_gateway.core.errors import ConfigError
from agent_gateway.core.jsonc import JsoncError, loads_jsonc
from agent_gateway.core.variables import input_variable, workspace_folder
from agent_gateway.logs import remember_config

STARTER_CONFIG = {
    "mcpServers": {
        "time": {
            "command": "mcp-server-time",
            "description": "Current time and timezone conversion.",
        }
    }
}

STARTER_POLICY = """\
# Policy for callers with no identity (see README, Policies).
description = "Default: every server, nothing destructive"

[allow]
servers = ["*"]

[deny.tools]
"*" = ["delete_*", "drop_*"]
"""


def cmd_init(args: argparse.Namespace) -> int:
    config = Path(args.config)
    policy = Path(args.policies) / "default.toml"
    starter: dict[str, Any] = STARTER_CONFIG
    ide_key = "mcpServers"
    if args.from_path:
        starter, ide_key = import_ide_config(args.from_path, str(config))
    for path, text in (
        (config, json.dumps(starter, indent=2) + "\n"),
        (policy, STARTER_POLICY),
    ):
        if path.exists():
            err(f"{path} exists; left unchanged.")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out(f"wrote {path}")
    if args.from_path:
        replacement = gateway_entry(config, Path(args.policies), ide_key, starter.get("inputs"))
        out(f"\nReplace the servers in {args.from_path} with this one entry:")
        out(json.dumps(replacement, indent=2))
    return 0


def gateway_command() -> list[str]:
    """The absolute command that runs this agent-gateway (IDEs may not search PATH)."""
    script = Path(sys.executable).with_name("agent-gateway")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("agent-gateway")
    if found:
        return [os.path.abspath(found)]
    return [sys.executable, "-m", "agent_gateway"]


def gateway_entry(config: Path, policies: Path, ide_key: str, inputs: Any) -> dict[str, Any]:
    """The IDE config that replaces the imported servers: one entry, absolute paths."""
    command, *prefix = gateway_command()
    entry: dict[str, Any] = {
        "command": command,
        "args": [
            *prefix,
            "serve",
            "--config",
            str(config.resolve()),
            "--policies",
            str(policies.resolve()),
        ],
    }
    replacement: dict[str, Any] = {}
    if ide_key == "servers":  # VS Code
        entry = {"type": "stdio", **entry}
        if isinstance(inputs, list) and inputs:
            ids = [i["id"] for i in inputs if isinstance(i, dict) and isinstance(i.get("id"), str)]
            entry["env"] = {input_variable(i): f"${{input:{i}}}" for i in ids}
            replacement["inputs"] = inputs
    replacement[ide_key] = {"gateway": entry}
    return replacement


def _read_jsonc(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError("file not found. Check the path given to --from.", path=path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file: {exc}", path=path) from exc
    try:
        return loads_jsonc(text)
    except JsoncError as exc:
        raise ConfigError(f"{exc}", path=path) from exc


def _is_gateway(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    words = [str(entry.get("command", "")), *map(str, entry.get("args") or [])]
    return any("agent-gateway" in w or w == "agent_gateway" for w in words)


def _pin_workspace(value: Any, folder: str) -> Any:
    """``value`` with every ``${workspaceFolder}`` in its strings replaced by ``folder``."""
    if isinstance(value, str):
        return value.replace("${workspaceFolder}", folder)
    if isinstance(value, list):
        return [_pin_workspace(v, folder) for v in value]
    if isinstance(value, dict):
        return {k: _pin_workspace(v, folder) for k, v in value.items()}
    return value


def import_ide_config(path: str, destination: str) -> tuple[dict[str, Any], str]:
    """Read an IDE's mcp.json; return our config holding its servers, and its servers key.

    When the new config's workspace folder is not the source's, ``${workspaceFolder}``
    is written out as the source's folder, so it keeps meaning the same place.
    """
    data = _read_jsonc(path)
    source_ws = workspace_folder(config_dir(path))
    if workspace_folder(config_dir(destination)) != source_ws and "${workspaceFolder}" in str(data):
        data = _pin_workspace(data, source_ws)
        err(f"note: ${{workspaceFolder}} was written as {source_ws} (the source's folder).")
    key = "servers" if isinstance(data, dict) and "servers" in data else "mcpServers"
    servers = data.get(key) if isinstance(data, dict) else None
    if not isinstance(servers, dict) or not servers:
        raise ConfigError(f"no servers found under {key!r}.", path=path)
    kept: dict[str, Any] = {}
    dropped: dict[str, list[str]] = {}
    for name, entry in servers.items():
        if _is_gateway(entry):
            continue  # the gateway does not front itself
        if isinstance(entry, dict):
            for ide_key in IDE_ONLY_KEYS:
                if ide_key in entry:
                    dropped.setdefault(ide_key, []).append(name)
            entry = {k: v for k, v in entry.items() if k not in IDE_ONLY_KEYS}
            if "serverUrl" in entry and "url" not in entry:  # Windsurf
                entry = {("url" if k == "serverUrl" else k): v for k, v in entry.items()}
        kept[name] = entry
    imported: dict[str, Any] = {"mcpServers": kept}
    if isinstance(data, dict) and isinstance(data.get("inputs"), list):
        imported["inputs"] = data["inputs"]
    remember_config(GatewayConfig.from_dict(imported, environ=os.environ, path=path))  # fail early
    err(f"Imported {len(kept)} {plural(len(kept), 'server')} from {path}: {', '.join(kept)}")
    if dropped:
        listed = "; ".join(f"{k} ({', '.join(names)})" for k, names in dropped.items())
        err(f"note: dropped settings only the IDE uses: {listed}.")
    return imported, key


def cmd_token(args: argparse.Namespace) -> int:
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    out(f"token: {token}", raw=True)
    out(f"Paste into policies/{args.name}.toml at the top, above the first [table]:")
    out(f'tokens_sha256 = ["{digest}"]', raw=True)
    err("The token is shown once; the gateway stores only its SHA-256.")
    return 0
