"""The one place where errors from the OS, httpx, anyio and the MCP SDK become BackendErrors."""

from __future__ import annotations

import anyio
from mcp import MCPError

from agent_gateway.core.errors import (
    BackendCrashedError,
    BackendError,
    BackendStartError,
    BackendTimeoutError,
)


def translate_backend_error(
    server: str, exc: BaseException, *, stderr_tail: str = ""
) -> BackendError:
    """Turn an exception from the OS, httpx, anyio or the MCP SDK into a BackendError.

    The caller raises the result ``from exc``.
    """
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, FileNotFoundError):
        missing = exc.filename or "the command"
        return BackendStartError(
            server,
            f"could not start: command {missing!r} was not found. "
            "Install it or fix 'command' in the config.",
            stderr_tail=stderr_tail,
        )
    if isinstance(exc, PermissionError):
        return BackendStartError(
            server,
            f"could not start: permission denied running {exc.filename or 'the command'!r}.",
            stderr_tail=stderr_tail,
        )
    if isinstance(exc, TimeoutError):
        return BackendTimeoutError(server, "did not answer in time.", stderr_tail=stderr_tail)
    if isinstance(exc, MCPError):
        if exc.code == -32000 and exc.error.message == "Connection closed":
            return BackendCrashedError(
                server, "closed its connection (it may have crashed).", stderr_tail=stderr_tail
            )
        if exc.code == -32001:
            return BackendTimeoutError(
                server, f"did not answer in time ({exc.error.message}).", stderr_tail=stderr_tail
            )
        return BackendError(
            server, f"answered with an error: {exc.error.message}", stderr_tail=stderr_tail
        )
    if isinstance(
        exc,
        anyio.ClosedResourceError | anyio.BrokenResourceError | anyio.EndOfStream | ConnectionError,
    ):
        return BackendCrashedError(
            server, "closed its connection (it may have crashed).", stderr_tail=stderr_tail
        )
    name = type(exc).__name__
    text = str(exc) or name
    if "closed" in text.lower() or "connect" in name.lower() or "connect" in text.lower():
        return BackendCrashedError(server, f"is not reachable: {text}", stderr_tail=stderr_tail)
    return BackendError(server, f"failed: {name}: {text}", stderr_tail=stderr_tail)
