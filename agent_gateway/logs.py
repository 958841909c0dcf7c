"""Logging to stderr (stdout is the MCP channel in stdio mode), as text or JSON lines.

Over HTTP, ``serve --log-output stdout`` sends them to stdout instead, for a
container's log collector; the CLI refuses that in stdio mode.

Every record passes :data:`REDACTOR` on its way out, at every level: the
secret values of the loaded config (``env`` and ``headers`` values, URL
userinfo, key-like query values; added as configs are loaded and servers
configured, kept for the life of the process) and secret shapes (see
``core/redact.py``) become ``<redacted>``. The same redactor cleans what the
gateway shows agents and the CLI prints. Libraries log at most at info,
even with ``--log-level debug``: their debug output dumps raw protocol
messages, tool arguments included.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from agent_gateway.core.config import GatewayConfig, ServerSpec
from agent_gateway.core.redact import MIN_SECRET, REDACTED, secrets_of
from agent_gateway.core.redact import Redactor as _Redactor

__all__ = ["MIN_SECRET", "REDACTED", "REDACTOR", "Redactor", "redact", "secrets_of"]

LIBRARIES = (
    "fastmcp",
    "mcp",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "uvicorn",
    "docket",
    "watchfiles",
)


class Redactor(_Redactor, logging.Filter):
    """Replaces secret values and secret-shaped text in every record it sees."""

    def __init__(self) -> None:
        _Redactor.__init__(self)
        logging.Filter.__init__(self)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


REDACTOR = Redactor()  # the process's one redactor: logs, status, errors, audit, CLI output


def redact(text: str) -> str:
    """``text`` without any secret this process has seen configured, or secret-shaped."""
    return REDACTOR.redact(text)


def remember_secrets(spec: ServerSpec) -> None:
    """Keep this server's secret values out of every output from now on."""
    REDACTOR.add(secrets_of(spec))


def remember_config(config: GatewayConfig) -> None:
    """Keep every server's secret values out of every output from now on (load and reload)."""
    REDACTOR.add_config(config.servers.values())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str = "info", fmt: str = "text", output: str = "stderr") -> None:
    """Send our logs (and fastmcp's and the SDK's) to stderr (or stdout) at ``level``,
    redacted."""
    handler = logging.StreamHandler(sys.stdout if output == "stdout" else sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(REDACTOR)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    numeric = getattr(logging, level.upper(), logging.INFO)
    root.setLevel(numeric)
    # Third-party chatter stays at warning, or info when we debug (never their debug).
    for name in LIBRARIES:
        lib = logging.getLogger(name)
        lib.setLevel(logging.INFO if numeric <= logging.DEBUG else logging.WARNING)
        lib.handlers[:] = []
        lib.propagate = True
