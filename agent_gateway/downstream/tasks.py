"""Tasks of one downstream server (protocol 2025-11-25), as a Backend mixin.

A task-augmented ``tools/call`` answers a ``CreateTaskResult``; the task is
then driven with ``tasks/get``, ``tasks/result``, ``tasks/cancel`` and
``tasks/list``. Everything here speaks the downstream's own task ids; the
front maps them to the gateway's (front/tasks.py). Answers are returned as
their wire dicts, checked against the task models first.

A downstream's ``notifications/tasks/status`` reach the listener the front
sets (``on_task_status``): the MCP client drops notifications outside its
core tables unless an extension binds them, so every Backend's client carries
a small extension (``io.github.agent-gateway/task-status``) that does.

Only handshake-era downstreams (2025-11-25, where tasks are in the core
spec) run tasks through the gateway. A 2026-07-28 downstream, where tasks
are the ``io.modelcontextprotocol/tasks`` extension, lists no ``execution``
(its Tool has no such field), so the front refuses a task for its tools
before asking; should one be asked anyway, or a server that declares no
``tasks.requests.tools.call``, the answer is a clear error naming it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import mcp_types
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import TypeAdapter, ValidationError

from agent_gateway.compat import raw_sender
from agent_gateway.core.errors import BackendError, DownstreamTaskError, TaskNotSupportedError

if TYPE_CHECKING:
    from agent_gateway.core.config import ServerSpec

TASK_ERA = "2025-11-25"  # the one protocol version whose core spec has tasks
STATUS = "notifications/tasks/status"
WATCH_ID = "io.github.agent-gateway/task-status"

# (the backend, the notification's params as their wire dict)
StatusListener = Callable[[Any, dict[str, Any]], Awaitable[None]]

# method -> (request model, its params model, the result model)
_MODELS: dict[str, tuple[Any, Any, Any]] = {
    "tasks/get": (
        mcp_types.GetTaskRequest,
        mcp_types.GetTaskRequestParams,
        mcp_types.GetTaskResult,
    ),
    "tasks/cancel": (
        mcp_types.CancelTaskRequest,
        mcp_types.CancelTaskRequestParams,
        mcp_types.CancelTaskResult,
    ),
    "tasks/list": (
        mcp_types.ListTasksRequest,
        mcp_types.PaginatedRequestParams,
        mcp_types.ListTasksResult,
    ),
    "tasks/result": (  # the payload of a tools/call task is a CallToolResult
        mcp_types.GetTaskPayloadRequest,
        mcp_types.GetTaskPayloadRequestParams,
        mcp_types.CallToolResult,
    ),
}
TASK_METHODS = frozenset(_MODELS)
_WIRE: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


class DownstreamTasks:
    """``create_task`` and ``task_request`` for a Backend."""

    name: str
    spec: ServerSpec
    _status_listener: StatusListener | None = None

    def on_task_status(self, listener: StatusListener) -> None:
        """Give this server's ``notifications/tasks/status`` to ``listener``."""
        self._status_listener = listener

    def _task_extensions(self) -> list[Any]:
        """The client extension that binds ``notifications/tasks/status`` (for Client(...))."""
        from mcp.client.extension import ClientExtension, NotificationBinding

        deliver = self._task_status

        class TaskStatusWatch(ClientExtension):
            identifier = WATCH_ID

            def notifications(self) -> list[NotificationBinding[Any]]:
                params = mcp_types.TaskStatusNotificationParams
                return [NotificationBinding(method=STATUS, params_type=params, handler=deliver)]

        return [TaskStatusWatch()]

    async def _task_status(self, params: mcp_types.TaskStatusNotificationParams) -> None:
        listener = self._status_listener
        if listener is not None:
            await listener(self, params.model_dump(by_alias=True, mode="json", exclude_none=True))

    def _request(self) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    def _check_tasks(self, client: Any) -> None:
        session = client.session
        version = session.protocol_version
        if version in MODERN_PROTOCOL_VERSIONS or version != TASK_ERA:
            raise TaskNotSupportedError(
                f"Server {self.name!r} speaks protocol {version}; the gateway relays tasks "
                f"only to servers speaking {TASK_ERA}, where tasks are in the core spec."
            )
        caps = session.server_capabilities
        tasks = None if caps is None else caps.tasks
        requests = None if tasks is None else tasks.requests
        tools = None if requests is None else requests.tools
        if tools is None or tools.call is None:
            raise TaskNotSupportedError(
                f"Server {self.name!r} does not run tools as tasks "
                "(it declares no tasks.requests.tools.call capability)."
            )

    async def create_task(
        self, tool: str, arguments: dict[str, Any], task: dict[str, Any]
    ) -> dict[str, Any]:
        """Call ``tool`` as a task; the downstream's ``CreateTaskResult`` as its wire dict."""
        async with self._request() as client:
            self._check_tasks(client)
            send = raw_sender(client.session)
            if send is None:
                raise TaskNotSupportedError(
                    "This MCP SDK gives the gateway no way to send a task-augmented call "
                    "(agent_gateway.compat 'raw' is off or moved)."
                )
            params = {"name": tool, "arguments": arguments, "task": task}
            with self._refusals():
                raw = await send("tools/call", params, self.spec.entry.timeout)
        return self._checked("tools/call", mcp_types.CreateTaskResult, raw)

    async def task_request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """``tasks/get|result|cancel|list`` with ``params``; the answer as its wire dict.

        ``tasks/result`` waits for the task to end, up to the server's ``timeout``.
        """
        request_model, params_model, result_model = _MODELS[method]
        request = request_model(params=params_model.model_validate(params, by_name=False))
        async with self._request() as client:
            self._check_tasks(client)
            with self._refusals():
                raw = await client.session.send_request(
                    request, _WIRE, request_read_timeout_seconds=self.spec.entry.timeout
                )
        return self._checked(method, result_model, raw)

    @contextmanager
    def _refusals(self) -> Iterator[None]:
        """A JSON-RPC error answer becomes a DownstreamTaskError keeping its code."""
        from mcp import MCPError

        try:
            yield
        except MCPError as exc:
            if exc.code in (-32000, -32001):  # connection closed, timeout: the usual path
                raise
            raise DownstreamTaskError(self.name, exc.code, exc.error.message) from exc

    def _checked(self, method: str, model: Any, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise BackendError(self.name, f"answered {method} with something not an object.")
        try:
            model.model_validate(raw, by_name=False)
        except ValidationError as exc:
            raise BackendError(
                self.name, f"answered {method} with an invalid result ({exc.error_count()} errors)."
            ) from exc
        return raw
