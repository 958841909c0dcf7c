"""Logging to stderr only (stdout is the MCP channel in stdio mode), as text or JSON lines.

Every record passes :data:`REDACTOR` on its way out, at every level: the
secret values of the loaded config (``env`` and ``headers`` values, URL
userinfo, key-like query values; added as servers are configured, kept for
the life of the process) and common secret shapes (Bearer/Basic credentials,
URL userinfo, ``?api_key=``/token/secret/password query values) become
``<redacted>``. Libraries log at most at info, even with ``--log-level debug``:
their debug output dumps raw protocol messages, tool arguments included.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlsplit

from agent_gateway.core.config import RemoteEntry, ServerSpec, StdioEntry

REDACTED = "<redacted>"
MIN_SECRET = 4  # shorter values ("1", "on") would blank out every number in the log
_KEYLIKE = r"(?:key|token|secret|passw(?:or)?d|pwd|auth|credential|signature|sig)"
_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+"), rf"\1\2{REDACTED}"),
    (re.compile(r"(?<=://)[^/\s@]+@"), f"{REDACTED}@"),
    (
        re.compile(rf"(?i)([?&;][^=&\s?#]*{_KEYLIKE}[^=&\s?#]*=)[^&\s#'\"]+"),
        rf"\1{REDACTED}",
    ),
)
LIBRARIES = ("fastmcp", "mcp", "httpx", "httpx2", "httpcore", "uvicorn", "docket", "watchfiles")


def secrets_of(spec: ServerSpec) -> set[str]:
    """The secret values one configured server carries (after substitution)."""
    entry = spec.entry
    found: set[str] = set()
    if isinstance(entry, StdioEntry):
        found.update(entry.env.values())
    elif isinstance(entry, RemoteEntry):
        for value in entry.headers.values():
            found.add(value)
            found.update(value.split()[1:])  # the credential after "Bearer "
        url = urlsplit(entry.url)
        found.update(v for v in (url.username, url.password) if v)
        found.update(v for k, v in parse_qsl(url.query) if re.search(_KEYLIKE, k, re.IGNORECASE))
    return found


class Redactor(logging.Filter):
    """Replaces secret values and secret-shaped text in every record it sees."""

    def __init__(self) -> None:
        super().__init__()
        self._values: tuple[str, ...] = ()

    def add(self, values: Iterable[str]) -> None:
        forms = set(self._values)
        for value in values:
            if len(value) >= MIN_SECRET:
                forms |= {value, quote(value, safe=""), json.dumps(value)[1:-1], repr(value)[1:-1]}
        self._values = tuple(sorted(forms, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

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


REDACTOR = Redactor()


def remember_secrets(spec: ServerSpec) -> None:
    """Keep this server's secret values out of every log line from now on."""
    REDACTOR.add(secrets_of(spec))


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


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Send our logs (and fastmcp's and the SDK's) to stderr at ``level``, redacted."""
    handler = logging.StreamHandler(sys.stderr)
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
