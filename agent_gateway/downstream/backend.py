"""One downstream server: a lazy, persistent, supervised MCP session.

Nothing starts until the first call. Concurrent first callers share one
start (see lifecycle.py). The connected ``fastmcp.Client`` is then held and
multiplexes concurrent requests. A crash (the process exits, the connection
drops) is noticed between calls too; the next call reconnects, with
exponential backoff when a server keeps failing (calls in the backoff window
fail fast with the last reason). Tool lists are cached per session and
dropped on the server's ``notifications/tools/list_changed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types

from agent_gateway.compat import await_monitored, wire_sender
from agent_gateway.core.config import RemoteEntry, ServerSpec, StdioEntry
from agent_gateway.core.errors import BackendError, BackendStartError
from agent_gateway.core.hints import with_certificate_hint
from agent_gateway.downstream.backchannel import OutsidePeer
from agent_gateway.downstream.catalog import Catalog, CatalogStandIn
from agent_gateway.downstream.features import ResourcesAndPrompts
from agent_gateway.downstream.guard import CallGuard
from agent_gateway.downstream.inputs import Answers
from agent_gateway.downstream.lifecycle import Lifecycle
from agent_gateway.downstream.logingate import OAuthGate
from agent_gateway.downstream.logroute import CALL_LOG, LogRouter, routed_session
from agent_gateway.downstream.pinning import PinKeeper, PinnedTools
from agent_gateway.downstream.procgroup import describe_exit, kill_group
from agent_gateway.downstream.rootsnotice import RootsNotice
from agent_gateway.downstream.session import (
    LogFn,
    ProgressFn,
    State,
    _notifications_class,
    _root_cause,
    backoff_delay,
    checked_wire,
    warm_imports,
)
from agent_gateway.downstream.supervision import BackendReplacedError, Supervised
from agent_gateway.downstream.tasks import DownstreamTasks
from agent_gateway.downstream.translate import translate_backend_error
from agent_gateway.logs import remember_secrets

if TYPE_CHECKING:
    # fastmcp's client side costs a third of a second to import: it is loaded
    # when the first server starts (or warmed in the background), not at launch.
    from fastmcp import Client
    from fastmcp.client.transports import ClientTransport
    from mcp import ClientSession

    from agent_gateway.downstream.stdio import StdioProcessTransport

logger = logging.getLogger("agent_gateway.downstream.backend")

CallOutcome = mcp_types.CallToolResult | mcp_types.InputRequiredResult

__all__ = ["Answers", "Backend", "CallOutcome", "LogFn", "ProgressFn", "State"]
__all__ += ["backoff_delay", "warm_imports"]


class Backend(
    Lifecycle,
    Supervised,
    ResourcesAndPrompts,
    PinnedTools,
    DownstreamTasks,
    OAuthGate,
    RootsNotice,
    CatalogStandIn,
):
    """The live connection to one configured server."""

    def __init__(
        self,
        spec: ServerSpec,
        *,
        on_tools_changed: Callable[[str], None] | None = None,
        catalog: Catalog | None = None,
        pins: PinKeeper | None = None,
        outside_peer: OutsidePeer | None = None,  # who answers roots/list outside a call
    ) -> None:
        self.spec = spec
        self._outside_peer = outside_peer
        self._catalog = catalog
        self._pins = pins  # None: no pinning (the CLI's debugging commands)
        self._saved = None if catalog is None else catalog.load(spec)  # from a past launch
        self.name = spec.name
        remember_secrets(spec)  # its env, headers and URL secrets never reach a log line
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
        self._tools_gen = 0  # moves on at every invalidation (see lifecycle.py)
        self._tools_fetch: asyncio.Task[dict[str, mcp_types.Tool]] | None = None
        self._fetch_gen = 0
        self.successor: Backend | None = None  # set when a reload replaces this server
        self._inflight = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._closing = False
        self.last_used = time.monotonic()
        self.guard = CallGuard(self.name)  # maxConcurrency, maxQueue, circuit breaker

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
        """The cached live list's approved tools (pinning holds the others back)."""
        return None if self._tools is None else list(self._view(self._tools).tools.values())

    @property
    def error(self) -> str | None:
        """The reason this server cannot be used right now, if it cannot."""
        return self.last_error if self.state is State.ERROR else None

    def status(self) -> dict[str, Any]:
        up = self._connected_at
        status: dict[str, Any] = {
            "name": self.name,
            "state": self.state.value,
            "pid": self.pid,
            "uptime_s": round(time.monotonic() - up, 1) if up and self._client else None,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "stderr_tail": self._current_stderr(),
        }
        pending = self.held_count()
        if pending:
            status["pending"] = pending  # tools, prompts, templates held (agent-gateway pins)
        return status

    # ----- connect -----------------------------------------------------------------

    async def _start(self) -> Client[Any]:
        from fastmcp import Client

        from agent_gateway.downstream.stdio import RelaySession

        router = LogRouter(self.name, self._outside_peer)  # per session: requests, log lines
        try:
            # An OAuth server with no login fails here already (LoginRequiredError).
            transport = self._make_transport(routed_session(RelaySession, router))
            client: Client[Any] = Client(
                transport,
                name=f"agent-gateway:{self.name}",
                message_handler=_notifications_class()(self.invalidate_tools),
                log_handler=router.deliver,
                extensions=self._task_extensions(),  # notifications/tasks/status (tasks.py)
                init_timeout=self.spec.entry.startup_timeout,
                timeout=self.spec.entry.timeout,
            )
            self._transport = transport
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
                err = self._login_error(
                    translate_backend_error(
                        self.name, _root_cause(exc), stderr_tail=self._current_stderr()
                    )
                )
                if code is not None:
                    err = BackendStartError(
                        self.name,
                        f"could not start: it {describe_exit(code)} before answering.",
                        stderr_tail=self._current_stderr(),
                    )
                elif not isinstance(err, BackendStartError):
                    err = BackendStartError(
                        self.name, f"could not start: {err.reason}", stderr_tail=err.stderr_tail
                    )
            err = with_certificate_hint(err)
            self.events.start_failed(self.name)
            self._record_failure(err.reason, logged=str(err))  # with its stderr tail
            self._login_failed(err)
            raise err from exc
        self._client = client
        self._tools = None
        self._failed = False
        self._connected_at = time.monotonic()
        self.starts += 1
        self.events.started(self.name, restart=self.starts > 1)
        logger.info("Server %r started (pid %s).", self.name, self.pid)
        return client

    def _make_transport(self, session_class: type[ClientSession]) -> ClientTransport:
        """The transport for this server; its sessions are ``session_class``."""
        from agent_gateway.downstream.remote import RelayHttpTransport, RelaySSETransport
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
                inherit_env=entry.inherit_env,
            )
            self._stdio.session_class = session_class
            return self._stdio
        assert isinstance(entry, RemoteEntry)
        kind = RelaySSETransport if entry.type == "sse" else RelayHttpTransport
        remote = kind(entry.url, headers=dict(entry.headers), auth=self._oauth())
        remote.session_class = session_class
        return remote

    # ----- requests ------------------------------------------------------------------

    async def list_tools(self) -> list[mcp_types.Tool]:
        """The server's approved tools (pinning holds new and changed ones back)."""
        tools = self._tools
        if tools is None:
            tools = await self._fetch_tools()
        return list(self._view(tools).tools.values())

    async def get_tool(self, name: str, *, catalog: bool = False) -> mcp_types.Tool | None:
        """The tool named ``name``; ``catalog``: the catalog may answer (see catalog_tools).

        QuarantinedToolError when pinning holds it.
        """
        tools = self._tools
        saved = self.catalog_tools_raw() if catalog else None
        if saved is not None:
            return self._approved(saved, name, live=False)
        if tools is None:
            tools = await self._fetch_tools()
        return self._approved(tools, name)

    async def call_tool(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        progress: ProgressFn | None = None,
        on_log: LogFn | None = None,
        answers: Answers | None = None,
    ) -> CallOutcome:
        """Call ``tool``: its result, or (2026-07-28) the input it needs first (inputs.py)."""
        result = await self._call(tool, arguments, progress, on_log, answers, wire=False)
        assert not isinstance(result, dict)
        return result

    async def call_tool_wire(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        progress: ProgressFn | None = None,
        on_log: LogFn | None = None,
        answers: Answers | None = None,
    ) -> dict[str, Any] | CallOutcome:
        """Like :meth:`call_tool`, but a stdio server's result comes as its wire dict.

        The front validates and shapes it for its own caller's protocol version
        anyway: parsing it into models here and dumping it again would only cost
        time. Remote servers, and input_required answers, come as the model.
        """
        return await self._call(tool, arguments, progress, on_log, answers, wire=True)

    async def _call(
        self,
        tool: str,
        arguments: dict[str, Any],
        progress: ProgressFn | None,
        on_log: LogFn | None,
        answers: Answers | None,
        *,
        wire: bool,
    ) -> dict[str, Any] | CallOutcome:
        relay = CALL_LOG.set(on_log)  # the request written below carries it (logroute)
        answers = answers or Answers(None, None)
        try:
            async with self.guard.admit(self.spec.entry), self._request() as client:
                logger.debug("Calling tool %r on %r.", tool, self.name)
                timeout = self.spec.entry.timeout
                send = wire_sender(client.session) if self._stdio else None
                if send is not None:
                    raw: dict[str, Any] = await send(
                        tool, arguments, timeout, progress, answers.wire()
                    )
                    result = checked_wire(self.name, raw)
                    if wire and isinstance(result, mcp_types.CallToolResult):
                        return raw  # checked, and the front sends the dict as it came
                else:
                    # Not call_tool_mcp: it would answer input_required itself. Our own
                    # stdio transport reports a dead process itself; a remote session
                    # is watched as call_tool_mcp watches it.
                    call = client.session.call_tool(
                        tool,
                        arguments,
                        read_timeout_seconds=timeout,
                        progress_callback=progress,
                        input_responses=answers.responses,
                        request_state=answers.state,
                        allow_input_required=True,
                    )
                    result = await (call if self._stdio else await_monitored(client, call))
                if not isinstance(result, mcp_types.CallToolResult | mcp_types.InputRequiredResult):
                    raise BackendError(self.name, "answered tools/call with an unknown result.")
                return result
        finally:
            CALL_LOG.reset(relay)

    @contextlib.asynccontextmanager
    async def _request(self) -> Any:
        try:
            client = await self.connect()
        except BackendReplacedError as replaced:  # nothing was sent yet: use the replacement
            async with replaced.successor._request() as client:
                yield client
            return
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

    # ----- shutdown ------------------------------------------------------------------

    def kill(self) -> None:
        """SIGKILL this server's process group now (a forced gateway exit)."""
        t = self._stdio
        if t is not None and t.pid is not None and t.returncode is None:
            kill_group(t.pid)
