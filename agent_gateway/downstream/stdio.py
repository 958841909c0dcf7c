"""A stdio client transport we own: pid, stderr tail, junk lines, process-group shutdown.

The child's environment is built by childenv.py (a safe set, or everything
with ``inheritEnv``, then the configured values).

fastmcp's ``StdioTransport`` hides the process. Supervision needs it, so this
transport spawns the server itself (in its own session, so ``killpg`` reaches
``npx``-spawned grandchildren), keeps the last stderr lines in a ring buffer,
skips stray non-JSON stdout lines instead of poisoning the session, and shuts
down per the MCP stdio rules: close stdin, wait, SIGTERM the group, wait,
SIGKILL the group.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Callable
from subprocess import PIPE
from typing import Any

import anyio
import anyio.abc
import mcp_types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from fastmcp.client.transports.base import ClientTransport, TransportOptions
from mcp import ClientSession
from mcp.shared.message import SessionMessage

from agent_gateway.downstream.childenv import child_environment
from agent_gateway.downstream.procgroup import (
    STDIN_CLOSE_GRACE,
    TERM_GRACE,
    kill_group,
    stop_process,
)

logger = logging.getLogger("agent_gateway.downstream.stdio")

STDERR_LINES = 50
EXIT_POLL = 0.05
STDERR_DRAIN = 0.5


class RelaySession(ClientSession):
    """A session that relays results without re-validating them against output schemas."""

    async def validate_tool_result(self, name: str, result: mcp_types.CallToolResult) -> None:
        return None


class StdioProcessTransport(ClientTransport):
    """Spawn ``command args`` and speak newline-delimited JSON-RPC over its pipes."""

    def __init__(
        self,
        server: str,
        command: str,
        args: list[str],
        env: dict[str, str],
        cwd: str | None,
        on_exit: Callable[[int | None], None] | None = None,
        *,
        inherit_env: bool = False,
    ) -> None:
        self.server = server
        self.command = command
        self.args = list(args)
        self.env = env
        self.cwd = cwd
        self.on_exit = on_exit
        self.inherit_env = inherit_env
        self.session_class: type[ClientSession] = RelaySession  # the Backend may wrap it
        self.pid: int | None = None
        self.returncode: int | None = None
        self.stderr: deque[str] = deque(maxlen=STDERR_LINES)

    def stderr_tail(self, lines: int = 20) -> str:
        return "\n".join(list(self.stderr)[-lines:])

    @contextlib.asynccontextmanager
    async def connect_session(
        self, *, transport_options: TransportOptions | None = None, **session_kwargs: Any
    ) -> AsyncIterator[ClientSession]:
        process = await anyio.open_process(
            [self.command, *self.args],
            stdin=PIPE,
            stdout=PIPE,
            stderr=PIPE,
            env=child_environment(os.environ, inherit=self.inherit_env, configured=self.env),
            cwd=self.cwd,
            start_new_session=True,
        )
        self.pid = process.pid
        self.returncode = None
        read_in, read_out = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write_in, write_out = anyio.create_memory_object_stream[SessionMessage](0)
        stderr_done = anyio.Event()
        options = transport_options or TransportOptions(session_class=self.session_class)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._read_stdout, process, read_in)
            tg.start_soon(self._write_stdin, process, write_out, read_in)
            tg.start_soon(self._read_stderr, process, stderr_done)
            tg.start_soon(self._watch_exit, process)
            # A session ended by cancellation (a start timeout, a forced stop)
            # gets no polite stdin-close grace: nobody waits for it to finish.
            polite = False
            try:
                async with options.session_class(read_out, write_in, **session_kwargs) as session:
                    yield session
                polite = True
            finally:
                with anyio.CancelScope(shield=True):
                    await write_in.aclose()
                    await stop_process(process, stdin_grace=STDIN_CLOSE_GRACE if polite else 0.0)
                    self.returncode = process.returncode
                    # Let the last stderr lines (often the reason) land in the tail.
                    with anyio.move_on_after(STDERR_DRAIN):
                        await stderr_done.wait()
                tg.cancel_scope.cancel()

    async def _read_stdout(
        self,
        process: anyio.abc.Process,
        read_in: MemoryObjectSendStream[SessionMessage | Exception],
    ) -> None:
        assert process.stdout is not None
        buf = bytearray()
        async with read_in:
            try:
                async for chunk in process.stdout:
                    buf += chunk
                    start = 0
                    while (end := buf.find(b"\n", start)) >= 0:
                        line = bytes(buf[start:end])
                        start = end + 1
                        message = self._parse(line)
                        if message is not None:
                            await read_in.send(message)
                    del buf[:start]
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                pass

    async def _write_stdin(
        self,
        process: anyio.abc.Process,
        write_out: MemoryObjectReceiveStream[SessionMessage],
        read_in: MemoryObjectSendStream[SessionMessage | Exception],
    ) -> None:
        assert process.stdin is not None
        async with write_out:
            try:
                async for message in write_out:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send(data.encode() + b"\n")
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                await read_in.aclose()

    async def _read_stderr(self, process: anyio.abc.Process, done: anyio.Event) -> None:
        assert process.stderr is not None
        buf = bytearray()
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async for chunk in process.stderr:
                buf += chunk
                *lines, rest = buf.split(b"\n")
                buf = bytearray(rest[-65536:])
                for raw in lines:
                    self._stderr_line(raw)
        self._stderr_line(buf)  # a last line without a newline is often the reason
        done.set()

    async def _watch_exit(self, process: anyio.abc.Process) -> None:
        # Not process.wait(): it also waits for pipe EOF, which a grandchild
        # holding the pipes delays forever.
        while process.returncode is None:
            await anyio.sleep(EXIT_POLL)
        self.returncode = process.returncode
        if self.on_exit is not None:
            self.on_exit(process.returncode)

    def _stderr_line(self, raw: bytes | bytearray) -> None:
        text = raw.decode("utf-8", "replace").rstrip()
        if text:
            self.stderr.append(text[:2000])
            logger.debug("[%s stderr] %s", self.server, text)

    def _parse(self, line: bytes) -> SessionMessage | None:
        if not line.strip():
            return None
        try:
            message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        except ValueError:
            text = line.decode("utf-8", "replace")[:200]
            logger.warning(
                "Server %r wrote a non-JSON line to stdout (skipped): %s", self.server, text
            )
            return None
        return SessionMessage(message)

    def __repr__(self) -> str:
        return f"<StdioProcessTransport {self.server!r} pid={self.pid}>"


__all__ = [
    "STDERR_LINES",
    "STDIN_CLOSE_GRACE",
    "TERM_GRACE",
    "RelaySession",
    "StdioProcessTransport",
    "kill_group",
    "stop_process",
]
