"""One downstream server: a lazy, persistent, supervised MCP session.

Nothing starts until the first call. Concurrent first callers share one
connect (a lock). The connected ``fastmcp.Client`` is then held and
multiplexes concurrent requests. A crash (the process exits, the connection
drops) is noticed between calls too; the next call reconnects, with
exponential backoff when a server keeps failing (calls in the backoff window
fail fast with the last reason). Tool lists are cached per session and
dropped on the server's ``notifications/tools/list_changed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types

from agent_gateway.core.config import RemoteEntry, ServerSpec, StdioEntry
from agent_gateway.core.errors import (
    BackendCrashedError,
    BackendError,
    BackendStartError,
    BackendTimeoutError,
    BackendUnavailableError,
)
from agent_gateway.downstream.procgroup import kill_group
from agent_gateway.downstream.translate import translate_backend_error

if TYPE_CHECKING:
    # fastmcp's client side costs a third of a second to import: it is loaded
    # when the first server starts (or warmed in the background), not at launch.
    from fastmcp import Client
    from fastmcp.client.logging import LogMessage
    from fastmcp.client.transports import ClientTransport

    from agent_gateway.downstream.stdio import StdioProcessTransport

logger = logging.getLogger("agent_gateway.downstream.backend")

BACKOFF_START = 0.5
BACKOFF_MAX = 30.0
STABLE_AFTER = 30.0

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]
LogFn = Callable[["LogMessage"], Awaitable[None]]


class State(StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    READY = "ready"
    ERROR = "error"
    DISABLED = "disabled"


def backoff_delay(failures: int) -> float:
    """Seconds to wait before the next start after ``failures`` consecutive failures.

    The first restart after a crash is immediate; then 0.5 s doubling to 30 s.
    """
    if failures <= 1:
        return 0.0
    return float(min(BACKOFF_START * 2 ** (failures - 2), BACKOFF_MAX))


@cache
def _notifications_class() -> type[Any]:
    from fastmcp.client.messages import MessageHandler

    class Notifications(MessageHandler):
        def __init__(self, backend: Backend) -> None:
            self._backend = backend

        async def on_tool_list_changed(
            self, message: mcp_types.ToolListChangedNotification
        ) -> None:
            self._backend.invalidate_tools()

    return Notifications


def warm_imports() -> None:
    """Import the client side now, so the first server start does not wait for it.

    On the event loop's thread, not a worker: an import in a thread can
    deadlock with one the loop is doing (seen with fastmcp's lazy imports).
    """
    import fastmcp.client  # noqa: F401

    from agent_gateway.downstream import stdio  # noqa: F401


class Backend:
    """The live connection to one configured server."""

    def __init__(
        self,
        spec: ServerSpec,
        *,
        on_tools_changed: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self._on_tools_changed = on_tools_changed
        self.last_error: str | None = spec.error
        self._failed = spec.error is not None  # the last start or session failed
        self.stderr_tail = ""
        self.starts = 0
        self._failures = 0
        self._retry_at = 0.0
        self._client: Client[Any] | None = None
        self._transport: ClientTransport | None = None
        self._stdio: StdioProcessTransport | None = None  # the transport, when it is ours
        self._connected_at: float | None = None
        self._connecting = False
        self._start_task: asyncio.Task[Client[Any]] | None = None
        self._lock = asyncio.Lock()
        self._tools: dict[str, mcp_types.Tool] | None = None
        self._tools_fetch: asyncio.Future[dict[str, mcp_types.Tool]] | None = None
        self._inflight = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._closing = False
        self._log_listeners: set[LogFn] = set()
        self.last_used = time.monotonic()

    # ----- state -----------------------------------------------------------------

    @property
    def state(self) -> State:
        if self.spec.disabled:
            return State.DISABLED
        if self._client is not None:
            return State.READY
        if self._connecting:
            return State.CONNECTING
        if self._failed:
            return State.ERROR
        return State.IDLE

    @property
    def pid(self) -> int | None:
        t = self._stdio
        return t.pid if t is not None and self._client else None

    @property
    def restarts(self) -> int:
        return max(self.starts - 1, 0)

    @property
    def inflight(self) -> int:
        return self._inflight

    def cached_tools(self) -> list[mcp_types.Tool] | None:
        return None if self._tools is None else list(self._tools.values())

    @property
    def error(self) -> str | None:
        """The reason this server cannot be used right now, if it cannot."""
        return self.last_error if self.state is State.ERROR else None

    def status(self) -> dict[str, Any]:
        up = self._connected_at
        return {
            "name": self.name,
            "state": self.state.value,
            "pid": self.pid,
            "uptime_s": round(time.monotonic() - up, 1) if up and self._client else None,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "stderr_tail": self._current_stderr(),
        }

    def _current_stderr(self) -> str:
        t = self._stdio
        return t.stderr_tail() if t is not None else self.stderr_tail

    # ----- connect -----------------------------------------------------------------

    async def connect(self) -> Client[Any]:
        """Return the connected client, starting the server if needed."""
        client = self._client
        if client is not None:
            return client
        async with self._lock:
            if self._client is not None:
                return self._client
            self._check_can_start()
            self._connecting = True
            try:
                # A fresh context: the session's long-lived tasks must not keep
                # (and later act on) the context variables of the first request.
                start = asyncio.create_task(self._start(), context=contextvars.Context())
                self._start_task = start
                try:
                    return await start
                except asyncio.CancelledError as exc:
                    me = asyncio.current_task()
                    if start.cancelled() and me is not None and not me.cancelling():
                        # stop() cancelled the start, not our caller: say why.
                        self._check_can_start()
                        raise BackendUnavailableError(
                            self.name, "was stopped while starting."
                        ) from exc
                    raise
            finally:
                self._start_task = None
                self._connecting = False

    def ready_to_retry(self) -> bool:
        """Could a start be attempted now (not disabled, misconfigured or backing off)?"""
        return (
            not self._closing
            and not self.spec.disabled
            and self.spec.error is None
            and time.monotonic() >= self._retry_at
        )

    def _check_can_start(self) -> None:
        if self._closing:
            raise BackendUnavailableError(
                self.name, "was removed or replaced by a config reload. Call list_servers()."
            )
        if self.spec.disabled:
            raise BackendUnavailableError(
                self.name, 'is disabled in the config. Set "disabled": false to use it.'
            )
        if self.spec.error is not None:
            raise BackendStartError(self.name, f"cannot start: {self.spec.error}")
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            raise BackendUnavailableError(
                self.name,
                f"is failing; the next restart is in {wait:.1f}s. Last error: {self.last_error}",
                stderr_tail=self._current_stderr(),
            )

    async def _start(self) -> Client[Any]:
        from fastmcp import Client
        from fastmcp.client.transports.base import TransportOptions

        from agent_gateway.downstream.stdio import RelaySession

        transport = self._make_transport()
        client: Client[Any] = Client(
            transport,
            name=f"agent-gateway:{self.name}",
            message_handler=_notifications_class()(self),
            log_handler=self._relay_log,
            init_timeout=self.spec.entry.startup_timeout,
            timeout=self.spec.entry.timeout,
        )
        client._transport_options = TransportOptions(session_class=RelaySession)
        self._transport = transport
        try:
            with anyio.fail_after(self.spec.entry.startup_timeout):
                await client.__aenter__()  # type: ignore[no-untyped-call]
        except Exception as exc:
            if isinstance(exc, TimeoutError):
                err: BackendError = BackendStartError(
                    self.name,
                    f"did not start within {self.spec.entry.startup_timeout:g}s "
                    "(startupTimeout). Is the command right?",
                    stderr_tail=self._current_stderr(),
                )
            else:
                code = await self._exit_code()
                err = translate_backend_error(
                    self.name, _root_cause(exc), stderr_tail=self._current_stderr()
                )
                if code is not None:
                    err = BackendStartError(
                        self.name,
                        f"could not start: it exited with code {code} before answering.",
                        stderr_tail=self._current_stderr(),
                    )
                elif not isinstance(err, BackendStartError):
                    err = BackendStartError(
                        self.name, f"could not start: {err.reason}", stderr_tail=err.stderr_tail
                    )
            self._record_failure(err.reason)
            raise err from exc
        self._client = client
        self._tools = None
        self._failed = False
        self._connected_at = time.monotonic()
        self.starts += 1
        logger.info("Server %r started (pid %s).", self.name, self.pid)
        return client

    def _make_transport(self) -> ClientTransport:
        from fastmcp.client.transports import SSETransport, StreamableHttpTransport

        from agent_gateway.downstream.stdio import StdioProcessTransport

        entry = self.spec.entry
        self._stdio = None
        if isinstance(entry, StdioEntry):
            self._stdio = StdioProcessTransport(
                self.name,
                entry.command,
                entry.args,
                dict(entry.env),
                entry.cwd,
                on_exit=self._on_process_exit,
            )
            return self._stdio
        assert isinstance(entry, RemoteEntry)
        if entry.type == "sse":
            return SSETransport(entry.url, headers=dict(entry.headers))
        return StreamableHttpTransport(entry.url, headers=dict(entry.headers))

    def _record_failure(self, reason: str) -> None:
        now = time.monotonic()
        if self._connected_at is not None and now - self._connected_at > STABLE_AFTER:
            self._failures = 0
        self._failures += 1
        self._retry_at = now + backoff_delay(self._failures)
        self.last_error = reason
        self._failed = True
        logger.warning("Server %r: %s", self.name, reason)

    def _on_process_exit(self, code: int | None) -> None:
        if self._closing or self._client is None:
            return
        self._crashed(f"exited with code {code}.")

    def _crashed(self, reason: str) -> None:
        client, self._client = self._client, None
        self._tools = None
        if client is None:
            return
        self._record_failure(reason)
        task = asyncio.get_running_loop().create_task(_close_client(client))
        _background.add(task)
        task.add_done_callback(_background.discard)
        if self._on_tools_changed is not None:
            self._on_tools_changed(self.name)

    # ----- requests ------------------------------------------------------------------

    async def list_tools(self) -> list[mcp_types.Tool]:
        tools = self._tools
        if tools is None:
            tools = await self._fetch_tools()
        return list(tools.values())

    async def get_tool(self, name: str) -> mcp_types.Tool | None:
        tools = self._tools
        if tools is None:
            tools = await self._fetch_tools()
        return tools.get(name)

    async def _fetch_tools(self) -> dict[str, mcp_types.Tool]:
        # Concurrent callers share one tools/list request.
        fetch = self._tools_fetch
        if fetch is None or fetch.done():
            fetch = self._tools_fetch = asyncio.ensure_future(self._fetch_tools_once())
        return await asyncio.shield(fetch)

    async def _fetch_tools_once(self) -> dict[str, mcp_types.Tool]:
        async with self._request() as client:
            tools = await client.list_tools()
        cache = {t.name: t for t in tools}
        if self._client is client:
            self._tools = cache
        return cache

    def invalidate_tools(self) -> None:
        self._tools = None
        if self._on_tools_changed is not None:
            self._on_tools_changed(self.name)

    async def call_tool(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        progress: ProgressFn | None = None,
        on_log: LogFn | None = None,
    ) -> mcp_types.CallToolResult:
        result = await self._call(tool, arguments, progress, on_log, wire=False)
        assert isinstance(result, mcp_types.CallToolResult)
        return result

    async def call_tool_wire(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        progress: ProgressFn | None = None,
        on_log: LogFn | None = None,
    ) -> dict[str, Any] | mcp_types.CallToolResult:
        """Like :meth:`call_tool`, but a stdio server's result comes as its wire dict.

        The front validates and shapes it for its own caller's protocol version
        anyway, so parsing it into models here (twice, in the SDK) and dumping
        it again would only cost time. Remote servers answer with the model.
        """
        return await self._call(tool, arguments, progress, on_log, wire=True)

    async def _call(
        self,
        tool: str,
        arguments: dict[str, Any],
        progress: ProgressFn | None,
        on_log: LogFn | None,
        *,
        wire: bool,
    ) -> dict[str, Any] | mcp_types.CallToolResult:
        if on_log is not None:
            self._log_listeners.add(on_log)
        try:
            async with self._request() as client:
                logger.debug("Calling tool %r on %r.", tool, self.name)
                timeout = self.spec.entry.timeout
                if self._stdio is None:
                    result = await client.call_tool_mcp(
                        tool, arguments, progress_handler=progress, timeout=timeout
                    )
                elif wire and (send := _wire_sender(client.session)) is not None:
                    raw = await send(tool, arguments, timeout, progress)
                    return self._checked_wire(raw)
                else:
                    # Our own transport reports a dead process itself, so skip the
                    # client's per-call session-monitor tasks and tracing: straight
                    # to the SDK session.
                    result = await client.session.call_tool(
                        tool, arguments, read_timeout_seconds=timeout, progress_callback=progress
                    )
                if not isinstance(result, mcp_types.CallToolResult):
                    raise BackendError(self.name, "answered tools/call with an unknown result.")
                return result
        finally:
            if on_log is not None:
                self._log_listeners.discard(on_log)

    def _checked_wire(self, raw: Any) -> dict[str, Any]:
        """The wire result if it looks like a CallToolResult; else the reason it is not."""
        if isinstance(raw, dict) and isinstance(raw.get("content"), list):
            # A handshake-era server omits resultType; 2026-07-28 requires it
            # (the front drops it again for a handshake-era caller).
            kind = raw.setdefault("resultType", "complete")
            if kind != "complete":  # e.g. input_required: a round trip we cannot carry
                raise BackendError(
                    self.name, f"answered tools/call with a {kind!r} result, which is not relayed."
                )
            return raw
        try:
            mcp_types.CallToolResult.model_validate(raw)
        except ValueError as exc:
            raise BackendError(
                self.name, f"answered tools/call with an invalid result: {exc}"
            ) from exc
        raise BackendError(self.name, "answered tools/call with an invalid result.")

    @contextlib.asynccontextmanager
    async def _request(self) -> Any:
        client = await self.connect()
        self._inflight += 1
        self._drained.clear()
        self.last_used = time.monotonic()
        try:
            yield client
        except BackendError:
            raise
        except Exception as exc:
            raise await self._request_failed(client, exc) from exc
        finally:
            self._inflight -= 1
            self.last_used = time.monotonic()
            if self._inflight == 0:
                self._drained.set()

    async def _exit_code(self, wait: float = 0.3) -> int | None:
        """The stdio process's exit code if it has exited (waiting briefly to learn it)."""
        t = self._stdio
        if t is None or t.pid is None:
            return None
        with anyio.move_on_after(wait):
            while t.returncode is None:
                await anyio.sleep(0.01)
        return t.returncode

    async def _request_failed(self, client: Client[Any], exc: Exception) -> BackendError:
        err = translate_backend_error(self.name, _root_cause(exc))
        if isinstance(err, BackendTimeoutError):
            limit = self.spec.entry.timeout
            return BackendTimeoutError(
                self.name,
                f"did not answer in time: no result within {limit:g}s. If the tool needs "
                'longer, raise the server\'s "timeout" in the config.',
            )
        dead = isinstance(err, BackendCrashedError) or self._client is not client
        if dead:
            if self._client is client:
                code = await self._exit_code()
                reason = f"exited with code {code}." if code is not None else err.reason
                if self._client is client:
                    self._crashed(reason)
            return BackendCrashedError(
                self.name,
                f"{self.last_error or err.reason} The next call restarts it.",
                stderr_tail=self._current_stderr(),
            )
        return err

    async def _relay_log(self, message: LogMessage) -> None:
        logger.debug("[%s log] %s", self.name, message.data)
        for listener in list(self._log_listeners):
            with contextlib.suppress(Exception):
                await listener(message)

    # ----- shutdown ------------------------------------------------------------------

    async def close(self, grace: float = 0.0) -> None:
        """Stop taking calls, let calls in flight finish (up to ``grace`` s), then stop."""
        self._closing = True
        if grace > 0 and self._inflight:
            with anyio.move_on_after(grace):
                await self._drained.wait()
        await self.stop()

    async def stop(self) -> None:
        """End the session and the process now; a later call may start it again."""
        start = self._start_task
        if start is not None and self._closing:
            start.cancel()  # a start nobody will use: do not wait for it
        async with self._lock:
            client, self._client = self._client, None
            self._tools = None
            if client is not None:
                await _close_client(client)

    def kill(self) -> None:
        """SIGKILL this server's process group now (a forced gateway exit)."""
        t = self._stdio
        if t is not None and t.pid is not None and t.returncode is None:
            kill_group(t.pid)

    # ----- resources and prompts (direct mode) -----------------------------------------
    # Not cached: direct mode lists them from the started servers on each request.
    # A server that does not offer resources or prompts (no capability, or
    # "method not found") has none; that is not an error.

    async def _list_optional(self, capability: str, method: str) -> list[Any]:
        """``client.<method>()``, or [] when the server does not offer ``capability``."""
        from mcp import MCPError

        async with self._request() as client:
            caps = client.server_capabilities
            if caps is not None and getattr(caps, capability, None) is None:
                return []
            try:
                items: list[Any] = await getattr(client, method)()
            except MCPError as exc:
                if exc.code == mcp_types.METHOD_NOT_FOUND:
                    return []
                raise
            return items

    async def list_resources(self) -> list[mcp_types.Resource]:
        """The server's resources, as it lists them (every page)."""
        return await self._list_optional("resources", "list_resources")

    async def list_resource_templates(self) -> list[mcp_types.ResourceTemplate]:
        """The server's resource templates, as it lists them (every page)."""
        return await self._list_optional("resources", "list_resource_templates")

    async def read_resource(self, uri: str) -> mcp_types.ReadResourceResult | None:
        """Read ``uri``, sent exactly as given; None if the server has no such resource.

        The client's ``read_resource*`` helpers re-spell the URI (pydantic
        ``AnyUrl``), so the request goes to the SDK session directly. A server
        says "no such resource" with -32602 (SEP-2164) or the older -32002; one
        without resources has none.
        """
        from mcp import MCPError

        async with self._request() as client:
            caps = client.server_capabilities
            if caps is not None and caps.resources is None:
                return None
            read = client.session.read_resource(uri)
            try:
                if self._stdio is None:  # remote: watch the session as call_tool_mcp does
                    result = await client._await_with_session_monitoring(read)
                else:
                    result = await read
            except MCPError as exc:
                if exc.code in (mcp_types.INVALID_PARAMS, mcp_types.METHOD_NOT_FOUND, -32002):
                    return None
                raise
            if not isinstance(result, mcp_types.ReadResourceResult):
                raise BackendError(self.name, "answered resources/read with an unknown result.")
            return result

    async def list_prompts(self) -> list[mcp_types.Prompt]:
        """The server's prompts, as it lists them (every page)."""
        return await self._list_optional("prompts", "list_prompts")

    async def get_prompt(
        self, name: str, arguments: dict[str, str] | None
    ) -> mcp_types.GetPromptResult:
        """Render the server's prompt ``name`` with ``arguments``; its result as it came."""
        async with self._request() as client:
            result = await client.get_prompt_mcp(name, arguments)
            if not isinstance(result, mcp_types.GetPromptResult):
                raise BackendError(self.name, "answered prompts/get with an unknown result.")
            return result


_background: set[asyncio.Task[None]] = set()


async def _close_client(client: Client[Any]) -> None:
    with anyio.CancelScope(shield=True), anyio.move_on_after(10):
        try:
            await client.close()  # type: ignore[no-untyped-call]
        except Exception:  # a dying session may raise anything while closing
            logger.debug("Error while closing a downstream client", exc_info=True)


WireSend = Callable[[str, dict[str, Any], float, "ProgressFn | None"], Awaitable[Any]]


def _wire_sender(session: Any) -> WireSend | None:
    """A ``tools/call`` sender that returns the raw result dict, if this SDK allows one.

    It does what ``ClientSession.send_request`` does up to the wire (the
    session's per-request stamp: protocol version, client info) and stops
    there: no request model, no result models. ``None`` when the session's
    internals are not the ones this was written for (then the typed call is used).
    """
    dispatcher = getattr(session, "_dispatcher", None)
    stamp = getattr(session, "_stamp", None)
    if dispatcher is None or stamp is None or not hasattr(dispatcher, "send_raw_request"):
        return None

    async def send(
        tool: str, arguments: dict[str, Any], timeout: float, progress: ProgressFn | None
    ) -> Any:
        data: dict[str, Any] = {
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        }
        opts: dict[str, Any] = {}
        stamp(data, opts)
        opts["timeout"] = timeout
        if progress is not None:
            opts["on_progress"] = progress
        return await dispatcher.send_raw_request("tools/call", data["params"], opts)

    return send


def _root_cause(exc: BaseException) -> BaseException:
    """Unwrap exception groups and 'failed to connect' wrappers to the real cause."""
    while True:
        if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
            continue
        cause = exc.__cause__
        if isinstance(exc, RuntimeError) and cause is not None:
            exc = cause
            continue
        return exc
