"""The bodies of the CLI commands (parsing lives in cli.py)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
from collections.abc import Callable
from typing import Any

import mcp_types

from agent_gateway.cli.files import cmd_init, cmd_token
from agent_gateway.cli.login import cmd_login, cmd_logout
from agent_gateway.cli.output import (
    counted,
    dumps,
    err,
    load_config,
    load_policies,
    out,
    policies_path,
)
from agent_gateway.cli.pins import cmd_pins
from agent_gateway.core.config import GatewayConfig, StdioEntry, default_config_path
from agent_gateway.core.errors import BackendError, ConfigError, GatewayError
from agent_gateway.core.globs import glob_match
from agent_gateway.core.policy import Policy, PolicySet
from agent_gateway.downstream.backend import State
from agent_gateway.downstream.manager import ProxyManager
from agent_gateway.logs import remember_config

logger = logging.getLogger("agent_gateway.cli")


# ----- serve ------------------------------------------------------------------------------


USAGE = 2  # a command line the gateway refuses to run (documented exit code)


def cmd_serve(args: argparse.Namespace) -> int:
    from agent_gateway.front.httpfront import unauthenticated_exposure
    from agent_gateway.front.searching import semantic_wanted
    from agent_gateway.serve import serve

    try:
        semantic_wanted(args.search)
    except ImportError as exc:
        err(f"error: {exc}")
        return 1
    config = load_config(args)
    policies = load_policies(args)
    if args.transport == "http" and not args.insecure_no_auth:
        problem = unauthenticated_exposure(args.host, policies)
        if problem is not None:
            err(f"error: {problem}")
            return USAGE
    path, _ = policies_path(args)
    return int(asyncio.run(serve(args, config, policies, path)))


# ----- check ------------------------------------------------------------------------------


DENIED = 3  # check --server: the decision is a denial (documented exit code)


def cmd_check(args: argparse.Namespace) -> int:
    failed = False
    config_path = default_config_path(args.config, os.environ)
    config: GatewayConfig | None = None
    try:
        config = GatewayConfig.from_file(config_path)
        remember_config(config)
    except ConfigError as exc:
        err(f"error: {exc}")
        failed = True
    if config is not None:
        out(f"config: {config_path} ({counted(len(config.servers), 'server')})")
        for warning in config.warnings:
            err(f"warning: {config_path}: {warning}")
        for spec in config.servers.values():
            problem = spec.error or _command_problem(spec.entry)
            state = "disabled" if spec.disabled else ("error" if problem else "ok")
            out(f"  {spec.name:<24} {state:<8} {spec.entry.type:<6} {spec.target()}")
            if problem and not spec.disabled:
                err(f"error: {config_path}: server {spec.name!r}: {problem}")
                failed = True

    pol_path, explicit = policies_path(args)
    policies, errors = PolicySet.check_dir(pol_path, explicit, agent_bound=bool(args.agent))
    for e in errors:
        err(f"error: {e}")
        failed = True
    if policies is not None:
        _print_policies(policies, config)
        _warn_unmatched_tool_keys(policies, config)
    if args.server:
        if config is not None and args.server not in config.servers:
            known = ", ".join(config.servers) or "none"
            err(
                f"error: unknown server {args.server!r}: {config_path} has no server of that "
                f"name (its servers: {known})."
            )
            return 1
        if policies is None:
            err("error: cannot explain a decision while the policies are broken.")
            return 1
        decision = policies.explain(args.agent, args.server, args.tool)
        out(decision.rule)
        if not failed and not decision.allowed:
            return DENIED
    return 1 if failed else 0


def _command_problem(entry: Any) -> str | None:
    if not isinstance(entry, StdioEntry):
        return None
    cmd = entry.command
    found = shutil.which(cmd) if os.sep not in cmd else (cmd if os.access(cmd, os.X_OK) else None)
    if found is None:
        return f"command {cmd!r} was not found on PATH. Install it or fix 'command'."
    return None


def _print_policies(policies: PolicySet, config: GatewayConfig | None) -> None:
    names = list(config.servers) if config else []
    if policies.open_mode:
        out(f"policies: open mode (no folder at {policies.path}): every caller sees everything")
        return
    out(f"policies: {policies.path} ({counted(len(policies.agents), 'agent')})")
    for agent, policy in sorted(policies.agents.items()):
        visible = policies.visible_servers(agent, names)
        label = "default (no identity)" if agent == "default" else agent
        out(f"  {label}: servers {', '.join(visible) or '(none)'}")
        if policy.allow.tools:
            for glob, tools in policy.allow.tools.items():
                out(f"    allow.tools[{glob!r}]: {', '.join(tools) or '(none)'}")
        if policy.deny.tools:
            for glob, tools in policy.deny.tools.items():
                out(f"    deny.tools[{glob!r}]: {', '.join(tools)}")
    if "default" not in policies.agents:
        out("  (no default.toml: callers with no identity see nothing)")


def _warn_unmatched_tool_keys(policies: PolicySet, config: GatewayConfig | None) -> None:
    """An [allow.tools]/[deny.tools] key that matches no configured server is likely a slip."""
    names = list(config.servers) if config else []
    if not names:
        return
    for agent, policy in sorted(policies.agents.items()):
        file = policies.files.get(agent, agent)
        for table, rules in (
            ("allow.tools", policy.allow.tools),
            ("deny.tools", policy.deny.tools),
        ):
            for key in rules or {}:
                if any(glob_match(key, name) for name in names):
                    continue
                hint = (
                    " A top-level key (tokens_sha256, rate, description) must come before the "
                    "first [table]."
                    if key in Policy.model_fields
                    else ""
                )
                err(
                    f"warning: {file}: [{table}] key {key!r} matches no server in "
                    f"{config.path if config else '.mcp.json'}.{hint}"
                )


# ----- tools / call -----------------------------------------------------------------------


Allowed = Callable[[str, str | None], bool]  # (server, tool or None) -> visible/allowed


def _access(args: argparse.Namespace) -> Allowed:
    """With ``--agent``, that agent's policy decides; else everything (a debugging tool).

    A given ``--policies`` path (or $AGENT_GATEWAY_POLICIES) must exist, as for serve.
    """
    _, explicit = policies_path(args)
    if args.agent is None and not explicit:
        return lambda _server, _tool: True
    policies = load_policies(args)
    agent = args.agent
    if agent is None:
        return lambda _server, _tool: True
    hint = policies.hint_for(agent)
    if hint:
        err(hint)

    def allowed(server: str, tool: str | None) -> bool:
        if tool is None:
            return policies.server_visible(agent, server)
        return policies.tool_allowed(agent, server, tool)

    return allowed


def cmd_tools(args: argparse.Namespace) -> int:
    config = load_config(args)
    allowed = _access(args)
    return asyncio.run(_tools(config, allowed, as_json=args.json))


async def _tools(config: GatewayConfig, allowed: Allowed, *, as_json: bool) -> int:
    manager = ProxyManager(config)
    rows: list[dict[str, Any]] = []
    failed = False
    names = [n for n, s in config.servers.items() if not s.disabled and allowed(n, None)]
    err(f"Starting {counted(len(names), 'server')}...")

    async def one(name: str) -> None:
        nonlocal failed
        try:
            tools = [t for t in await manager.get(name).list_tools() if allowed(name, t.name)]
        except BackendError as exc:
            failed = True
            err(f"  {name}: failed: {exc}")
            rows.append({"server": name, "error": str(exc), "tools": []})
            return
        err(f"  {name}: ready, {counted(len(tools), 'tool')}")
        rows.append(
            {
                "server": name,
                "tools": [
                    {
                        "name": t.name,
                        "description": t.description or "",
                        "inputSchema": t.input_schema,
                    }
                    for t in tools
                ],
            }
        )

    try:
        await asyncio.gather(*(one(n) for n in names))
    finally:
        await manager.close()
    rows.sort(key=lambda r: r["server"])
    if as_json:
        out(dumps({"servers": rows}))
    else:
        from agent_gateway.core.search import summary

        for row in rows:
            for tool in row["tools"]:
                out(f"{row['server']:<20} {tool['name']:<32} {summary(tool['description'])}")
    return 1 if failed else 0


def cmd_call(args: argparse.Namespace) -> int:
    config = load_config(args)
    allowed = _access(args)
    try:
        arguments = json.loads(args.args)
    except json.JSONDecodeError as exc:
        err(f"error: --args is not valid JSON (column {exc.colno}): {exc.msg}")
        return 2
    if not isinstance(arguments, dict):
        err('error: --args must be a JSON object, like \'{"key": "value"}\'.')
        return 2
    if args.server not in config.servers or not allowed(args.server, None):
        err(f"error: Unknown server {args.server!r} in {config.path}.")
        return 1
    return asyncio.run(_call(config, args.server, args.tool, arguments, allowed))


async def _call(
    config: GatewayConfig, server: str, tool: str, arguments: dict[str, Any], allowed: Allowed
) -> int:
    manager = ProxyManager(config)
    try:
        backend = manager.get(server)
        err(f"Starting {server}...")
        if not allowed(server, tool) or await backend.get_tool(tool) is None:
            err(
                f"error: Unknown tool {tool!r} on server {server!r}. "
                f"Run 'agent-gateway tools' to see its tools."
            )
            return 1
        result = await backend.call_tool(tool, arguments)
    finally:
        await manager.close()
    if not isinstance(result, mcp_types.CallToolResult):  # 2026-07-28 input_required
        err(f"error: Server {server!r} asked for input (input_required); 'call' cannot answer.")
        return 1
    out(dumps(result.model_dump(by_alias=True, exclude_none=True, mode="json")))
    return 1 if result.is_error else 0


__all__ = [
    "GatewayError",
    "State",
    "cmd_call",
    "cmd_check",
    "cmd_init",
    "cmd_login",
    "cmd_logout",
    "cmd_pins",
    "cmd_serve",
    "cmd_token",
    "cmd_tools",
    "contextlib",
    "signal",
]
