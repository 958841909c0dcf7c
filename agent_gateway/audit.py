"""The audit log: one JSON line per ``call_tool``; argument values are never written."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, TextIO

from agent_gateway.core.errors import ConfigError

logger = logging.getLogger("agent_gateway.audit")


class AuditLog:
    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._file: TextIO = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        except OSError as exc:
            raise ConfigError(f"cannot open the audit log: {exc.strerror}.", path=path) from exc
        self._lock = threading.Lock()

    def record(
        self,
        *,
        agent: str | None,
        identified_by: str,
        server: str,
        tool: str,
        allowed: bool,
        duration_ms: float,
        is_error: bool | None,
    ) -> None:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "agent": agent,
            "identified_by": identified_by,
            "server": server,
            "tool": tool,
            "allowed": allowed,
            "duration_ms": round(duration_ms, 2),
            "isError": is_error,
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        try:
            with self._lock:
                self._file.write(line)
        except OSError:
            logger.exception("Could not write to the audit log %s", self.path)

    def close(self) -> None:
        self._file.close()
