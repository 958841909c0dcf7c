"""The audit log: one JSON line per ``call_tool``.

Each line names the caller, the server and tool, the decision and the outcome,
and the call's argument names with the size of each value (its JSON
encoding, in characters). The values themselves are written only with
``serve --audit-args``, and then through ``redact`` (no configured secret).
The path ``-`` means stdout (HTTP mode only: a container's log collector
reads it; audit lines carry ``allowed``, log lines ``level``).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from agent_gateway.core.arguments import parse_arguments
from agent_gateway.core.errors import ConfigError, InvalidArgumentsError

logger = logging.getLogger("agent_gateway.audit")


class AuditLog:
    def __init__(
        self, path: str, *, values: bool = False, redact: Callable[[Any], Any] | None = None
    ) -> None:
        self.path = path
        self.values = values  # --audit-args: write argument values too
        self._redact = redact or (lambda data: data)
        self._lock = threading.Lock()
        self._owned = path != "-"
        if not self._owned:
            self._file: TextIO = sys.stdout
            return
        try:
            self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        except OSError as exc:
            raise ConfigError(f"cannot open the audit log: {exc.strerror}.", path=path) from exc

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
        arguments: dict[str, Any] | str | None = None,
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
        try:
            args: dict[str, Any] | None = parse_arguments(arguments)
        except InvalidArgumentsError:
            args = None  # not an object: nothing to name
        entry["argument_sizes"] = None if args is None else sizes_of(args)
        if self.values:
            entry["arguments"] = self._redact(args if args is not None else arguments)
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        try:
            with self._lock:
                self._file.write(line)
                if not self._owned:
                    self._file.flush()  # a pipe to the log collector: no block buffering
        except OSError:
            logger.exception("Could not write to the audit log %s", self.path)

    def close(self) -> None:
        if self._owned:
            self._file.close()


def sizes_of(arguments: dict[str, Any]) -> dict[str, int]:
    """Each argument's name and the length of its value's JSON encoding."""
    return {
        name: len(json.dumps(value, ensure_ascii=False, default=str))
        for name, value in arguments.items()
    }
