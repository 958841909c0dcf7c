"""What commands share: loading the two files, and writing to stdout or stderr."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Any

from agent_gateway.core.config import GatewayConfig, default_config_path
from agent_gateway.core.policy import PolicySet, default_policies_path
from agent_gateway.logs import redact, remember_config

logger = logging.getLogger("agent_gateway.cli")


def load_config(args: Any) -> GatewayConfig:
    path = default_config_path(args.config, os.environ)
    config = GatewayConfig.from_file(path)
    remember_config(config)
    for warning in config.warnings:
        logger.warning("%s: %s", path, warning)
    return config


def policies_path(args: Any) -> tuple[str, bool]:
    """The policies folder for these arguments (next to the config by default), and if given."""
    config = default_config_path(args.config, os.environ)
    return default_policies_path(args.policies, os.environ, config)


def load_policies(args: Any) -> PolicySet:
    """The policies; with ``--agent`` and no folder, an empty set (never open mode)."""
    path, explicit = policies_path(args)
    bound = getattr(args, "agent", None) is not None
    return PolicySet.from_dir(path, explicit=explicit, agent_bound=bound)


def out(text: str = "", *, raw: bool = False) -> None:
    """A command's output: the only writer to stdout besides the stdio protocol itself.

    Redacted (configured secrets, secret shapes) unless ``raw``: a fresh token is meant
    to be shown.
    """
    print(text if raw else redact(text))


def err(text: str) -> None:
    print(redact(text), file=sys.stderr, flush=True)


def plural(count: int, noun: str) -> str:
    """``noun`` or its plural for ``count`` (regular English nouns only)."""
    return noun if count == 1 else f"{noun}s"


def counted(count: int, noun: str) -> str:
    """ "1 tool", "2 tools", "0 servers"."""
    return f"{count} {plural(count, noun)}"


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def run(coro: Any) -> Any:
    return asyncio.run(coro)
