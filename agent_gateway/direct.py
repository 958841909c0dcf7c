"""Direct mode: downstream tools exposed as ``{server}__{tool}``, policy-filtered per caller.

Names longer than 64 characters (or ambiguous ones, see :func:`direct_name`)
are cut and given a stable hash suffix of the (server, tool) pair, so nothing
is dropped and two tools never share a name.
Routing looks the name up in an index (never splits on ``__``: a server may
end in ``_``). A tool the caller may not see is neither listed nor callable
by its direct name; it answers exactly like a missing tool.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import mcp_types
from fastmcp.exceptions import NotFoundError, ToolError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import Tool, ToolResult

from .backend import Backend, State
from .errors import GatewayError
from .gateway import Gateway

logger = logging.getLogger("agent_gateway.direct")

MAX_NAME = 64
RETRY_POLL = 1.0
SEP = "__"


def direct_name(server: str, tool: str) -> str:
    """``server__tool``; hashed when longer than 64 characters or when ambiguous.

    The plain form is kept only when it reads back one way: the server holds
    no ``__`` and the tool does not start with ``_`` (else ``a_`` + ``x`` and
    ``a`` + ``_x`` would both be ``a___x``). Other names keep a readable
    prefix and end in a hash of the (server, tool) pair.
    """
    name = f"{server}{SEP}{tool}"
    if len(name) <= MAX_NAME and tool and not tool.startswith("_") and SEP not in server:
        return name
    digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:10]
    return f"{name[: MAX_NAME - len(digest) - 1]}_{digest}"


class DirectTool(Tool):
    """A downstream tool as listed to the front; calls go through the middleware."""

    async def run(self, arguments: dict[str, Any], context: Any = None) -> ToolResult:
        raise ToolError("Direct tools are routed by the gateway.")  # never reached


def to_front_tool(name: str, tool: mcp_types.Tool) -> Tool:
    return DirectTool(
        name=name,
        title=tool.title,
        description=tool.description,
        parameters=tool.input_schema,
        output_schema=tool.output_schema,
        annotations=tool.annotations,
        meta=tool.meta,
    )


class DirectTools(Middleware):
    """Adds the caller's allowed downstream tools to tools/list and routes their calls."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.index: dict[str, tuple[str, str]] = {}

    def _rebuild(self) -> None:
        index: dict[str, tuple[str, str]] = {}
        for name, backend in self.gateway.manager.backends.items():
            for tool in backend.cached_tools() or ():
                index[direct_name(name, tool.name)] = (name, tool.name)
        self.index = index

    async def on_list_tools(
        self,
        context: MiddlewareContext[mcp_types.ListToolsRequest],
        call_next: CallNext[mcp_types.ListToolsRequest, Sequence[Tool]],
    ) -> Sequence[Tool]:
        tools = list(await call_next(context))
        try:
            caller = self.gateway.caller(None)
        except GatewayError:
            return tools
        policies = self.gateway.policies
        for server in self.gateway.visible(caller):
            backend = self.gateway.manager.backends[server]
            for tool in backend.cached_tools() or ():
                if policies.tool_allowed(caller.agent, server, tool.name):
                    tools.append(to_front_tool(direct_name(server, tool.name), tool))
        self._rebuild()
        return tools

    async def on_call_tool(
        self,
        context: MiddlewareContext[mcp_types.CallToolRequestParams],
        call_next: CallNext[mcp_types.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        name = context.message.name
        target = self.index.get(name)
        if target is None and SEP in name:
            self._rebuild()
            target = self.index.get(name)
        if target is None:
            return await call_next(context)
        server, tool = target
        try:
            return await self.gateway.call_tool(
                server,
                tool,
                dict(context.message.arguments or {}),
                None,
                context.fastmcp_context,
            )
        except GatewayError as exc:
            if isinstance(exc, GatewayError) and "Unknown" in type(exc).__name__:
                raise NotFoundError(f"Unknown tool: {name!r}") from exc
            raise ToolError(str(exc)) from exc


async def start_all(gateway: Gateway, stop: asyncio.Event) -> None:
    """Direct mode lists every visible server's tools: keep them all started.

    Runs at launch and after every change (reload, crash): a server that is
    idle or failed (and out of its backoff window) is started in the background.
    """

    async def one(backend: Backend) -> None:
        try:
            await backend.list_tools()
        except GatewayError as exc:
            logger.warning("%s", exc)
            return
        gateway.notify_changed()

    while not stop.is_set():
        waiting = [
            b
            for b in gateway.manager.backends.values()
            if b.state in (State.IDLE, State.ERROR) and b.ready_to_retry()
        ]
        await asyncio.gather(*(one(b) for b in waiting))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(gateway.changed.wait(), timeout=RETRY_POLL)
        gateway.changed.clear()
