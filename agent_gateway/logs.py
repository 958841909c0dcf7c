"""Logging to stderr only (stdout is the MCP channel in stdio mode), as text or JSON lines."""

from __future__ import annotations

import json
import logging
import sys
import time


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
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Send our logs (and fastmcp's and the SDK's) to stderr at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    numeric = getattr(logging, level.upper(), logging.INFO)
    root.setLevel(numeric)
    # Third-party chatter stays at warning unless we debug.
    for name in ("fastmcp", "mcp", "httpx", "httpx2", "uvicorn", "docket", "watchfiles"):
        lib = logging.getLogger(name)
        lib.setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)
        lib.handlers[:] = []
        lib.propagate = True
