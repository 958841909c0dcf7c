"""Task pass-through: task-augmented calls and ``tasks/*`` requests (protocol 2025-11-25).

A caller sends ``tools/call`` with ``params.task`` (to a direct tool's name,
or to the ``call_tool`` meta-tool naming ``server`` and ``tool``). The
gateway checks it exactly as a plain call (identity, policy, pinning, the
tool's input schema), asks the downstream to run it as a task
(downstream/tasks.py) and answers the ``CreateTaskResult`` with a task id of
its own: an opaque random id mapped to (agent, server, tool, downstream task
id). ``tasks/get``, ``tasks/result`` and ``tasks/cancel`` route by that id;
``tasks/list`` lists only the caller's own tasks.

Policy is checked again on every ``tasks/*`` request. A task of another
agent, a task whose server or tool the caller may no longer see (a policy
reload), and a task whose server was replaced or that the downstream has
forgotten all answer exactly like an id that never existed. A caller that
identified itself with ``agent_id`` (meta mode) names it again in the
request's ``_meta.agent_id``.

A downstream's ``notifications/tasks/status`` goes, with the gateway's task
id, to the connection that created the task (handshake era: its standalone
stream), while the task's agent may still see its server and tool. A
downstream's elicitation or sampling request while ``tasks/result`` (or
another ``tasks/*`` request) waits goes to that request's caller, as during
a plain call (front/backchannel.py).

Everything happens in one SDK server middleware, ahead of fastmcp: a
``CreateTaskResult`` is not a ``CallToolResult``, so it must not reach the
SDK's per-version check of ``tools/call`` results, and the ``tasks/*``
methods are not in the SDK's 2025-11-25 method table. The same middleware
adds the ``tasks`` capability to a 2025-11-25 ``initialize`` answer. Other
protocol versions have no core tasks (2026-07-28 has the
``io.modelcontextprotocol/tasks`` extension, which the gateway neither
advertises nor relays): their task requests, and that extension's
``tasks/update``, get a clear error naming the version and the extension.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types
from fastmcp import FastMCP
from mcp import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from agent_gateway.compat import connection_of, low_level_server
from agent_gateway.core import errors
from agent_gateway.core.arguments import check_arguments, parse_arguments
from agent_gateway.core.identity import Caller, authorization_header
from agent_gateway.core.names import is_direct_name
from agent_gateway.downstream.backchannel import CALL_PEER
from agent_gateway.downstream.backend import Backend
from agent_gateway.downstream.tasks import STATUS, TASK_ERA, TASK_METHODS
from agent_gateway.front.backchannel import CallerPeer
from agent_gateway.front.fastpath import CALL_TOOL, call_tool_args
from agent_gateway.front.gateway import Gateway
from agent_gateway.front.redaction import error_text

KEPT = 1000  # tasks remembered per agent; the oldest are forgotten first
CAPABILITY: dict[str, Any] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
RELATED_TASK = "io.modelcontextprotocol/related-task"
# Protocol 2026-07-28 moved tasks into this extension (SEP-2663): tasks/get (with the
# result inlined), tasks/update, tasks/cancel; no tasks/result, no tasks/list. The
# gateway does not relay it; its one method without a 2025-11-25 namesake is refused
# with the same sentence as the others instead of answering -32601.
EXTENSION_ID = "io.modelcontextprotocol/tasks"
EXTENSION_METHODS = frozenset({"tasks/update"})

Route = Callable[[Caller, str], Awaitable[tuple[str, str] | None]]


@dataclass(frozen=True)
class TaskEntry:
    agent: str | None
    server: str
    tool: str
    backend: Backend
    downstream_id: str
    connection: Any = None  # the creator's SDK Connection, for status notifications


class TaskTable:
    """Gateway task id -> TaskEntry, at most ``kept`` per agent."""

    def __init__(self, kept: int = KEPT) -> None:
        self.kept = kept
        self._entries: OrderedDict[str, TaskEntry] = OrderedDict()
        self._ids: dict[tuple[Backend, str], str] = {}  # (backend, downstream id) -> ours

    def add(self, entry: TaskEntry) -> str:
        task_id = secrets.token_urlsafe(18)
        self._entries[task_id] = entry
        self._ids[(entry.backend, entry.downstream_id)] = task_id
        own = [k for k, e in self._entries.items() if e.agent == entry.agent]
        for old in own[: max(0, len(own) - self.kept)]:
            self.forget(old)
        return task_id

    def of_downstream(self, backend: Backend, downstream_id: str) -> tuple[str, TaskEntry] | None:
        task_id = self._ids.get((backend, downstream_id))
        entry = None if task_id is None else self._entries.get(task_id)
        return None if task_id is None or entry is None else (task_id, entry)

    def get(self, task_id: str) -> TaskEntry | None:
        return self._entries.get(task_id)

    def items(self) -> list[tuple[str, TaskEntry]]:
        return list(self._entries.items())

    def forget(self, task_id: str) -> None:
        entry = self._entries.pop(task_id, None)
        if entry is not None:
            self._ids.pop((entry.backend, entry.downstream_id), None)


class FrontTasks:
    """The SDK server middleware that carries tasks (see the module docstring)."""

    def __init__(self, gateway: Gateway, *, meta: bool, route: Route | None) -> None:
        self.gateway = gateway
        self.meta = meta  # the call_tool meta-tool is served
        self.route = route  # direct names -> (server, tool), in direct and both modes
        self.table = TaskTable()

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        method, params = ctx.method, ctx.params
        if method == "initialize":
            return _advertised(await call_next(ctx))
        version = getattr(ctx, "protocol_version", None)
        is_task_call = method == "tools/call" and isinstance(params, Mapping) and "task" in params
        extension_only = version in MODERN_PROTOCOL_VERSIONS and method in EXTENSION_METHODS
        if not is_task_call and method not in TASK_METHODS and not extension_only:
            return await call_next(ctx)
        params = dict(params) if isinstance(params, Mapping) else {}
        try:
            if version != TASK_ERA:
                raise _not_this_era(version)
            if is_task_call:
                return await self._create(ctx, params)
            return await self._task_request(ctx, method, params)
        except errors.GatewayError as exc:
            raise _protocol_error(exc) from exc

    # ----- tools/call with params.task ------------------------------------------------------

    async def _create(self, ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        name, task = params.get("name"), params.get("task")
        if not isinstance(name, str) or not isinstance(task, dict):
            raise errors.InvalidArgumentsError("tools/call needs a name and params.task an object.")
        arguments: Any = params.get("arguments") or {}
        agent_id = None
        if self.meta and name == CALL_TOOL:
            fields = call_tool_args(arguments if isinstance(arguments, dict) else {})
            if fields is None:
                raise errors.InvalidArgumentsError(
                    "call_tool takes server, tool, arguments (an object) and agent_id."
                )
            server, tool, arguments, agent_id = fields
            caller = self._caller(ctx, agent_id)
        else:
            caller = self._caller(ctx, None)
            if not is_direct_name(name):  # a meta-tool (or no tool at all)
                raise errors.TaskNotSupportedError(
                    f"Tool {name!r} does not run as a task: call_tool and direct tools do."
                )
            target = None if self.route is None else await self.route(caller, name)
            if target is None:
                raise errors.NotFoundError(f"Unknown tool: {name!r}")
            server, tool = target
        connection = connection_of(getattr(ctx, "session", None))
        return await self._create_checked(caller, server, tool, arguments, task, connection)

    async def _create_checked(
        self,
        caller: Caller,
        server: str,
        tool: str,
        arguments: Any,
        task: dict[str, Any],
        connection: Any,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        allowed, is_error = False, True
        try:
            backend, found = await self.gateway.tool(caller, server, tool)
            allowed = True
            support = found.execution.task_support if found.execution else None
            if support not in ("optional", "required"):
                raise errors.TaskNotSupportedError(
                    f"Tool {tool!r} on server {server!r} does not run as a task "
                    f"(execution.taskSupport: {support or 'not set'}). Call it without params.task."
                )
            args = parse_arguments(arguments)
            check_arguments(server, tool, found.input_schema, args)
            backend.on_task_status(self._relay_status)
            raw = await backend.create_task(tool, args or {}, task)
            is_error = False
        finally:
            if self.gateway.audit is not None:
                self.gateway.audit.record(
                    agent=caller.agent,
                    identified_by=caller.how,
                    server=server,
                    tool=tool,
                    allowed=allowed,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    is_error=is_error,
                    arguments=arguments,
                )
        downstream_id = raw["task"]["taskId"]
        entry = TaskEntry(caller.agent, server, tool, backend, downstream_id, connection)
        task_id = self.table.add(entry)
        return {**raw, "task": {**raw["task"], "taskId": task_id}}

    # ----- tasks/get, tasks/result, tasks/cancel, tasks/list ----------------------------------

    async def _task_request(self, ctx: Any, method: str, params: dict[str, Any]) -> dict[str, Any]:
        meta = params.get("_meta")
        agent_id = meta.get("agent_id") if isinstance(meta, dict) else None
        caller = self._caller(ctx, agent_id if isinstance(agent_id, str) else None)
        if method == "tasks/list":
            return {"tasks": await self._list(caller)}
        task_id = params.get("taskId")
        if not isinstance(task_id, str):
            raise errors.InvalidArgumentsError(f"{method} needs params.taskId, a string.")
        entry = self._visible(caller, task_id)
        # A task asks its questions (elicitation, sampling) while tasks/result waits:
        # they go to this caller, as during a plain call (backchannel.py).
        peer = CALL_PEER.set(CallerPeer(ctx.session, ctx.request_id))
        try:
            raw = await self._downstream(task_id, entry, method)
        finally:
            CALL_PEER.reset(peer)
        if method != "tasks/result":
            return {**raw, "taskId": task_id}
        related = (raw.get("_meta") or {}).get(RELATED_TASK)
        if isinstance(related, dict):
            raw["_meta"] = {**raw["_meta"], RELATED_TASK: {**related, "taskId": task_id}}
        return raw

    async def _list(self, caller: Caller) -> list[dict[str, Any]]:
        mine = []
        for task_id, _ in self.table.items():
            try:
                mine.append((task_id, self._visible(caller, task_id)))
            except errors.UnknownTaskError:
                continue
        answers = await asyncio.gather(
            *(self._downstream(task_id, entry, "tasks/get") for task_id, entry in mine),
            return_exceptions=True,
        )
        tasks = []
        for (task_id, _), answer in zip(mine, answers, strict=True):
            if isinstance(answer, dict):
                answer.pop("_meta", None)
                tasks.append({**answer, "taskId": task_id})
            elif not isinstance(answer, errors.GatewayError):
                raise answer
        return tasks

    def _visible(self, caller: Caller, task_id: str) -> TaskEntry:
        """The caller's task ``task_id``, if it may still see it; else UnknownTaskError."""
        entry = self.table.get(task_id)
        policies = self.gateway.policies
        if (
            entry is None
            or entry.agent != caller.agent
            or self.gateway.manager.backends.get(entry.server) is not entry.backend
            or not policies.server_visible(caller.agent, entry.server)
            or not policies.tool_allowed(caller.agent, entry.server, entry.tool)
        ):
            raise errors.UnknownTaskError(task_id)
        return entry

    async def _downstream(self, task_id: str, entry: TaskEntry, method: str) -> dict[str, Any]:
        try:
            return await entry.backend.task_request(method, {"taskId": entry.downstream_id})
        except errors.DownstreamTaskError as exc:
            if exc.code == mcp_types.INVALID_PARAMS and "not found" in exc.reason.lower():
                self.table.forget(task_id)  # expired or lost downstream
                raise errors.UnknownTaskError(task_id) from exc
            raise

    async def _relay_status(self, backend: Backend, params: dict[str, Any]) -> None:
        """A downstream's task status, to the connection that created the task."""
        found = self.table.of_downstream(backend, str(params.get("taskId")))
        if found is None or found[1].connection is None:
            return
        task_id, entry = found
        policies = self.gateway.policies
        if policies.server_visible(entry.agent, entry.server) and policies.tool_allowed(
            entry.agent, entry.server, entry.tool
        ):
            await entry.connection.notify(STATUS, {**params, "taskId": task_id})

    def _caller(self, ctx: Any, agent_id: str | None) -> Caller:
        raw: Any = ()
        if self.gateway.http:
            headers = getattr(getattr(ctx, "request", None), "headers", None)
            raw = getattr(headers, "raw", None) or ()
        return self.gateway.caller_with(agent_id, authorization_header(raw))


def _advertised(result: Any) -> Any:
    """A 2025-11-25 ``initialize`` answer, with the tasks the gateway carries."""
    if isinstance(result, mcp_types.InitializeResult) and result.protocol_version == TASK_ERA:
        tasks = mcp_types.ServerTasksCapability.model_validate(CAPABILITY)
        caps = result.capabilities.model_copy(update={"tasks": tasks})
        return result.model_copy(update={"capabilities": caps})
    if isinstance(result, dict) and result.get("protocolVersion") == TASK_ERA:
        wire_caps = result.get("capabilities")
        if isinstance(wire_caps, dict):
            result["capabilities"] = {**wire_caps, "tasks": CAPABILITY}
    return result


def _not_this_era(version: str | None) -> errors.TaskNotSupportedError:
    """The refusal of a task request on a connection that does not speak 2025-11-25."""
    if version in MODERN_PROTOCOL_VERSIONS:
        return errors.TaskNotSupportedError(
            f"agent-gateway does not relay the {EXTENSION_ID} extension of protocol {version} "
            "and does not advertise it; tasks through agent-gateway need protocol "
            f"{TASK_ERA} (tasks in the core spec). Reconnect with {TASK_ERA} to run tools "
            "as tasks."
        )
    return errors.TaskNotSupportedError(
        f"Tasks through agent-gateway need protocol {TASK_ERA} (tasks in the core spec); "
        f"this connection speaks {version}. Reconnect with {TASK_ERA} to run tools as tasks."
    )


def _protocol_error(exc: errors.GatewayError) -> MCPError:
    """The JSON-RPC error a task request answers with (same texts as a plain call's)."""
    if isinstance(exc, errors.DownstreamTaskError):
        code = exc.code
    elif isinstance(exc, errors.NotFoundError | errors.InvalidArgumentsError):
        code = mcp_types.INVALID_PARAMS
    elif isinstance(
        exc, errors.QuarantinedToolError | errors.TaskNotSupportedError | errors.IdentityError
    ):
        code = mcp_types.INVALID_REQUEST
    else:
        code = mcp_types.INTERNAL_ERROR
    return MCPError(code=code, message=error_text(exc))


def install_tasks(mcp: FastMCP[Any], gateway: Gateway, *, meta: bool, route: Route | None) -> None:
    """Put the task middleware in front of the SDK server's others (outermost)."""
    low = low_level_server(mcp)
    if low is None:
        return  # not the fastmcp this was written for: task requests answer -32601
    low.middleware.insert(0, FrontTasks(gateway, meta=meta, route=route))
