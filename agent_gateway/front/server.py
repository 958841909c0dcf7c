"""Assembling the front server: the five meta-tools, direct mode, notifications, fast route."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import mcp_types
from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.tools.base import ToolResult
from pydantic import Field

from agent_gateway import __version__
from agent_gateway.core.errors import GatewayError
from agent_gateway.core.search import LIMIT_DEFAULT
from agent_gateway.downstream.backend import warm_imports
from agent_gateway.front.gateway import AgentId, Gateway
from agent_gateway.front.redaction import error_text

WARM_AFTER = 1.0  # seconds after start to import the client side


def _structured(payload: dict[str, Any]) -> ToolResult:
    text = json.dumps(payload, ensure_ascii=False, default=str, separators=(",", ":"))
    return ToolResult(
        content=[mcp_types.TextContent(type="text", text=text)], structured_content=payload
    )


def _tool_error(exc: GatewayError) -> ToolError:
    # An answer to the caller, not a fault of ours: log it at debug only.
    return ToolError(error_text(exc), log_level=logging.DEBUG)


INSTRUCTIONS = (
    "Gateway to many MCP servers. Call list_servers or list_tools(query=...) to find a "
    "tool (hits carry sig, its parameters; get_tool gives the full schema), then "
    "call_tool(server, tool, arguments)."
)


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def build_server(gateway: Gateway, expose: str = "meta", list_wait: float = 5.0) -> FastMCP[Any]:
    """The FastMCP front server: meta-tools, direct tools, or both (``expose``).

    In direct and both modes every visible server is kept started (its tools
    are listed), so ``idleTimeout`` does not apply; a first ``tools/list`` waits
    up to ``list_wait`` seconds for servers still starting.
    """

    @asynccontextmanager
    async def lifespan(_: FastMCP[Any]) -> AsyncIterator[None]:
        if expose == "meta":
            gateway.manager.start_idle_reaper()
        # Load the client side once the client's handshake is likely over:
        # at launch it would delay the very first answers.
        timer = asyncio.get_running_loop().call_later(WARM_AFTER, warm_imports)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(job(stop)) for job in gateway.background]
        try:
            yield
        finally:
            stop.set()
            await _cancel_all(tasks)
            gateway.inputs.close()  # calls parked for a caller's answer end now
            await gateway.manager.close()
            timer.cancel()

    mcp: FastMCP[Any] = FastMCP(
        "agent-gateway",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        dereference_schemas=False,  # a proxy lists a downstream's schemas as they came
    )
    from agent_gateway.front.notify import install_notifier
    from agent_gateway.front.roots import install_roots
    from agent_gateway.front.statestore import install_state_store
    from agent_gateway.front.tasks import install_tasks

    install_state_store(mcp)
    install_notifier(mcp, gateway, resources_and_prompts=expose != "meta")
    install_roots(mcp, gateway)
    direct = None
    if expose != "meta":
        from agent_gateway.front.direct import DirectTools, start_all
        from agent_gateway.front.direct_resources import DirectResources

        direct = DirectTools(gateway, list_wait)
        mcp.add_middleware(direct)
        mcp.add_middleware(DirectResources(gateway))
        gateway.background.append(lambda stop: start_all(gateway, stop))
    if expose != "direct":
        _add_meta_tools(mcp, gateway)
        from agent_gateway.front.fastpath import install_fast_call

        install_fast_call(mcp, gateway)
    install_tasks(mcp, gateway, meta=expose != "direct", route=direct.route if direct else None)
    return mcp


def _add_meta_tools(mcp: FastMCP[Any], gateway: Gateway) -> None:

    @mcp.tool(description="List the MCP servers you can use, with state and tool counts.")
    async def list_servers(agent_id: AgentId = None) -> ToolResult:
        try:
            return _structured(await gateway.list_servers(agent_id))
        except GatewayError as exc:
            raise _tool_error(exc) from exc

    @mcp.tool(
        description="List or search tools. Give server to list one server; query to rank by "
        "relevance. sig: the parameters (name?: optional)."
    )
    async def list_tools(
        server: str | None = None,
        query: str | None = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = LIMIT_DEFAULT,
        agent_id: AgentId = None,
    ) -> ToolResult:
        try:
            return _structured(await gateway.list_tools(server, query, limit, agent_id))
        except GatewayError as exc:
            raise _tool_error(exc) from exc

    @mcp.tool(description="Get a tool's full definition: description and input schema.")
    async def get_tool(server: str, tool: str, agent_id: AgentId = None) -> ToolResult:
        try:
            return _structured(await gateway.get_tool(server, tool, agent_id))
        except GatewayError as exc:
            raise _tool_error(exc) from exc

    @mcp.tool(
        description="Call a tool on a server; the result is the tool's own result. Also "
        "resources/list, resources/read {uri}, prompts/list, prompts/get {name, arguments}."
    )
    async def call_tool(
        server: str,
        tool: str,
        arguments: Annotated[
            dict[str, Any] | str | None, Field(description="An object, or one as a JSON string.")
        ] = None,
        agent_id: AgentId = None,
        ctx: Context | None = None,
    ) -> ToolResult:
        try:
            return await gateway.call_tool(server, tool, arguments, agent_id, ctx)
        except GatewayError as exc:
            raise _tool_error(exc) from exc

    @mcp.tool(description="Gateway health: config, policies, recent reloads, server states.")
    async def gateway_status(agent_id: AgentId = None) -> ToolResult:
        try:
            return _structured(gateway.gateway_status(agent_id))
        except GatewayError as exc:
            raise _tool_error(exc) from exc
