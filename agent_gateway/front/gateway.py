"""The FastMCP front server and its five meta-tools.

Every meta-tool resolves the caller (identity.py), asks the current
PolicySet what that caller may see, and only then touches a backend. A
server or tool the caller may not see raises exactly the error a missing
one raises. ``call_tool`` returns the downstream ``CallToolResult``
unchanged and relays the downstream's progress and log notifications.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import mcp_types
from fastmcp import Context
from fastmcp.exceptions import ToolError
from fastmcp.server.dependencies import get_http_request
from fastmcp.tools.base import ToolResult
from pydantic import Field

from agent_gateway.audit import AuditLog
from agent_gateway.core.arguments import check_arguments, parse_arguments
from agent_gateway.core.errors import (
    BackendError,
    GatewayError,
    TaskRequiredError,
    UnknownServerError,
    UnknownToolError,
)
from agent_gateway.core.identity import Caller, agent_for_bearer, authorization_header, resolve
from agent_gateway.core.limits import RateLimits
from agent_gateway.core.policy import PolicySet
from agent_gateway.core.search import Candidate, check_query, hits
from agent_gateway.downstream.backend import Answers, Backend
from agent_gateway.downstream.manager import ProxyManager
from agent_gateway.front.argerrors import with_argument_help
from agent_gateway.front.backchannel import CallerPeer
from agent_gateway.front.inputrelay import InputRelay, answering, round_of
from agent_gateway.front.metaitems import ITEM_METHODS, item_call
from agent_gateway.front.observing import Observer, downstream_s
from agent_gateway.front.redaction import redact_error_result, redact_tree
from agent_gateway.front.relays import relays, request_of
from agent_gateway.front.reloads import Reload
from agent_gateway.front.results import passthrough as _passthrough
from agent_gateway.front.results import without_connection_meta
from agent_gateway.front.rounds import Outcome
from agent_gateway.front.searching import Searcher
from agent_gateway.metrics import GatewayMetrics

logger = logging.getLogger("agent_gateway.front.gateway")

RELOADS_KEPT = 20

AgentId = Annotated[
    str | None, Field(description="Your agent name, if this gateway is shared by several agents.")
]


class Gateway:
    """Shared state behind the front server: manager, policies, identity, reload log."""

    def __init__(
        self,
        manager: ProxyManager,
        policies: PolicySet,
        *,
        config_path: str,
        launch_agent: str | None = None,
        audit: AuditLog | None = None,
        http: bool = False,
        searcher: Searcher | None = None,
    ) -> None:
        self.audit = audit
        self.metrics = GatewayMetrics()
        self.observer = Observer(manager, lambda: self.policies, self.metrics, audit, launch_agent)
        self.searcher = searcher or Searcher()
        self.searcher.metrics = self.metrics
        self.http = http
        self.manager = manager
        self.policies = policies
        self.config_path = config_path
        self.launch_agent = launch_agent
        self.reloads: deque[Reload] = deque(maxlen=RELOADS_KEPT)
        self.background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = []
        self._listeners: list[Callable[[], None]] = []
        self.changed = asyncio.Event()
        self.inputs = InputRelay()  # input_required and parked calls (inputrelay.py)
        self.rates = RateLimits()  # per agent, across policy reloads
        manager.set_tools_listener(lambda _server: self.notify_changed())

    def on_changed(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever what callers can see may have changed."""
        self._listeners.append(listener)

    def notify_changed(self) -> None:
        self.changed.set()
        for listener in list(self._listeners):
            listener()

    # ----- access ----------------------------------------------------------------------

    def caller(self, agent_id: str | None) -> Caller:
        auth = None
        if self.launch_agent is None and self.http:
            auth = authorization_header(_raw_headers())
        return self.caller_with(agent_id, auth)

    def caller_with(self, agent_id: str | None, authorization: str | None) -> Caller:
        """The caller, given the request's ``Authorization`` header (HTTP front only)."""
        token_agent = None
        if self.launch_agent is None and self.http:
            token_agent = agent_for_bearer(self.policies, authorization)
        return resolve(
            launch_agent=self.launch_agent,
            token_agent=token_agent,
            agent_id=agent_id,
            token_agents=self.policies.token_agents,
        )

    def visible(self, caller: Caller) -> list[str]:
        return self.policies.visible_servers(caller.agent, self.manager.names())

    def backend(self, caller: Caller, server: str) -> Backend:
        if server not in self.manager.backends or not self.policies.server_visible(
            caller.agent, server
        ):
            raise UnknownServerError(server)
        return self.manager.backends[server]

    async def tool(
        self, caller: Caller, server: str, tool: str, *, catalog: bool = False
    ) -> tuple[Backend, mcp_types.Tool]:
        """The tool, if the caller may use it; ``catalog``: a server not started yet
        may answer from its catalog entry (never for a call: that checks the live list)."""
        backend = self.backend(caller, server)
        if not self.policies.tool_allowed(caller.agent, server, tool):
            raise UnknownToolError(server, tool)
        started = time.perf_counter()
        try:  # a server not started yet starts here: downstream time, not the gateway's
            found = await backend.get_tool(tool, catalog=catalog)
        finally:
            downstream_s(time.perf_counter() - started)
        if found is None:
            raise UnknownToolError(server, tool)
        return backend, found

    # ----- meta-tools ------------------------------------------------------------------

    async def list_servers(self, agent_id: str | None) -> dict[str, Any]:
        caller = self.caller(agent_id)
        servers = []
        for name in self.visible(caller):
            b = self.manager.backends[name]
            saved = b.catalog_tools()
            tools = b.cached_tools() if saved is None else saved
            allowed = (
                None
                if tools is None
                else sum(self.policies.tool_allowed(caller.agent, name, t.name) for t in tools)
            )
            entry = {
                "name": name,
                "description": b.spec.description,
                "state": b.state.value,
                "tools": allowed,
                "error": redact_tree(b.error),
            }
            if saved is not None:
                entry["cached"] = True  # the count is the catalog's, from a past launch
            servers.append(entry)
        result: dict[str, Any] = {"servers": servers}
        hint = self.policies.hint_for(caller.agent)
        if hint is None and caller.agent is None and self.policies.policy_for(None) is None:
            hint = "No identity and no policies/default.toml: create it to allow servers."
        if hint:
            result["hint"] = hint
        return result

    async def list_tools(
        self, server: str | None, query: str | None, limit: int, agent_id: str | None
    ) -> dict[str, Any]:
        if query:
            check_query(query)  # before any server is asked for its tools
        caller = self.caller(agent_id)
        names = [self.backend(caller, server).name] if server else self.visible(caller)
        cached: set[str] = set()
        found, failed = await self.manager.tools_of(
            names, patient=server is not None, from_catalog=cached
        )
        if server and server in failed:
            raise ToolError(redact_tree(failed[server]))
        items = [
            Candidate(name, t.name, t.description or "")
            for name in names
            for t in found.get(name, [])
            if self.policies.tool_allowed(caller.agent, name, t.name)
        ]
        schemas = {(n, t.name): t.input_schema for n in names for t in found.get(n, [])}
        if query and query.strip():
            items = await self.searcher.rank(query, items)
        limit = max(1, limit)
        return {
            "tools": hits(items[:limit], schemas),
            "total": len(items),
            "truncated": len(items) > limit,
            "errors": [{"server": n, "error": redact_tree(e)} for n, e in failed.items()],
            **({"cached": sorted(cached)} if cached else {}),
        }

    async def get_tool(self, server: str, tool: str, agent_id: str | None) -> dict[str, Any]:
        _, t = await self.tool(self.caller(agent_id), server, tool, catalog=True)
        return {
            "server": server,
            "name": t.name,
            "description": t.description,
            "inputSchema": t.input_schema,
            "outputSchema": t.output_schema,
            "annotations": (
                t.annotations.model_dump(by_alias=True, exclude_none=True)
                if t.annotations
                else None
            ),
            # how the tool runs, e.g. only as a task (taskSupport: required)
            **(
                {"execution": t.execution.model_dump(by_alias=True, exclude_none=True)}
                if t.execution
                else {}
            ),
        }

    async def call_tool(
        self,
        server: str,
        tool: str,
        arguments: dict[str, Any] | str | None,
        agent_id: str | None,
        ctx: Context | None,
    ) -> ToolResult:
        session, request_id = request_of(ctx)
        with answering(round_of(ctx)):
            result = await self.call_tool_raw(
                self.caller(agent_id), server, tool, arguments, session, request_id, wire=False
            )
        assert not isinstance(result, dict)
        return _passthrough(result)

    async def call_tool_raw(
        self,
        caller: Caller,
        server: str,
        tool: str,
        arguments: dict[str, Any] | str | None,
        session: Any,
        request_id: Any,
        *,
        wire: bool = True,
    ) -> Outcome:
        """Check, call, observe (observing.py); the downstream result as it came (``session``
        gets relays). ``wire``: a stdio server's result may come as its wire dict (see
        :meth:`Backend.call_tool_wire`); else always the model.
        """
        peer = None if session is None else CallerPeer(session, request_id)  # asked for input
        with self.observer.call(caller, server, tool, arguments) as watch:
            backend, found = await self._target(caller, server, tool)
            watch.resolved()
            result = await self._call_checked(backend, found, arguments, caller, peer, wire)
            watch.result(result)
            return result

    async def _target(
        self, caller: Caller, server: str, tool: str
    ) -> tuple[Backend, mcp_types.Tool | str]:
        """The tool to call, or one of metaitems' protocol methods (server visibility only)."""
        policy = self.policies.policy_for(caller.agent)  # its rate: calls per period, if any
        self.rates.check(caller.agent, policy.rate_limit if policy else None, time.monotonic())
        if tool in ITEM_METHODS:
            return self.backend(caller, server), tool
        return await self.tool(caller, server, tool)

    async def _call_checked(
        self,
        backend: Backend,
        found: mcp_types.Tool | str,
        arguments: dict[str, Any] | str | None,
        caller: Caller,
        peer: CallerPeer | None,
        wire: bool,
    ) -> Outcome:
        """Read and check the arguments, call; a downstream's argument error gets the schema."""
        args = parse_arguments(arguments)
        if isinstance(found, str):
            return await item_call(self.inputs, backend, found, args or {}, (caller.agent, peer))
        check_arguments(backend.name, found.name, found.input_schema, args)
        if found.execution is not None and found.execution.task_support == "required":
            raise TaskRequiredError(backend.name, found.name)  # front/tasks.py runs it as one
        result = await self._call_backend(backend, found.name, args, caller, peer, wire)
        return with_argument_help(result, backend.name, found.name, found.input_schema)

    async def _call_backend(
        self,
        backend: Backend,
        tool: str,
        arguments: dict[str, Any] | None,
        caller: Caller,
        peer: CallerPeer | None,
        wire: bool,
    ) -> Outcome:
        progress, on_log = (None, None) if peer is None else relays(peer.session, peer.request_id)
        call = backend.call_tool_wire if wire else backend.call_tool

        def once(
            answers: Answers | None, progress: Any, on_log: Any
        ) -> Coroutine[Any, Any, Outcome]:
            return call(tool, arguments or {}, progress=progress, on_log=on_log, answers=answers)

        started = time.perf_counter()
        try:
            result = await self.inputs.call(
                backend.name, tool, caller.agent, peer, once, (progress, on_log)
            )
        except GatewayError:
            raise
        except Exception as exc:  # the call's boundary: one error, naming the server, either route
            raise BackendError(backend.name, f"failed: {type(exc).__name__}: {exc}") from exc
        finally:
            downstream_s(time.perf_counter() - started)
        if isinstance(result, mcp_types.InputRequiredResult):
            return result
        return redact_error_result(without_connection_meta(result))

    def gateway_status(self, agent_id: str | None) -> dict[str, Any]:
        caller = self.caller(agent_id)
        visible = set(self.visible(caller))
        policies = self.policies
        own = "default" if caller.agent is None else caller.agent  # its policy file's name

        def can_see(name: str) -> bool:
            return policies.server_visible(caller.agent, name)

        def is_own(agent: str) -> bool:
            return policies.open_mode or agent == own

        return {
            "config": self.config_path,
            "policies": self.policies.path,
            "open_mode": self.policies.open_mode,
            "agent": caller.agent,
            "reloads": redact_tree([r.render(can_see, is_own) for r in self.reloads]),
            "servers": redact_tree(
                self.manager.status(n for n in self.manager.names() if n in visible)
            ),
        }


def _raw_headers() -> list[tuple[bytes, bytes]]:
    """The current HTTP request's raw headers (none outside a request)."""
    try:
        return list(get_http_request().headers.raw)
    except RuntimeError:
        return []
