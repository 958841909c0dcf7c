"""Direct mode: downstream tools, resources and prompts, namespaced, policy-filtered per caller.

Tools and prompts are exposed as ``{server}__{name}``. Names longer than 64
characters (or ambiguous ones, see :func:`direct_name`) are cut and given a
stable hash suffix of the (server, name) pair, so nothing is dropped and two
never share a name. Routing looks the name up in an index (never splits on
``__``: a server may end in ``_``).

Resources and resource templates keep their downstream name namespaced the
same way, and get the URI ``agw://{server}/{downstream uri}`` (see
:func:`direct_uri`): the downstream URI (or URI template) follows the server
name verbatim, not re-encoded. Server names hold no ``/`` (nor ``{``, ``}``),
so reading splits at the first ``/`` after ``agw://`` and gets back exactly
(server, downstream uri). For a template, the prefix is literal text, so an
RFC 6570 expansion of ``agw://{server}/`` + T is ``agw://{server}/`` + the
expansion of T: a URI built from a listed template routes like a listed one.
A read result is the downstream's own, except that each item's ``uri`` is
namespaced the same way (the URI the caller can read it by again) and the
downstream's cache hints are dropped.

Policy: a tool the caller may not see is neither listed nor callable by its
direct name; it answers exactly like a missing tool. Resources, resource
templates and prompts follow server visibility only (the tool rules do not
apply to them): a server the caller may not see contributes none, and
reading or getting one of its items by its namespaced URI or name answers
exactly like a missing resource or prompt. A namespaced URI the downstream
itself reports as missing answers the same way.

Tools are cached per session (backend.py). Resources, templates and prompts
are fetched on each list request from the caller's visible servers that are
running, in parallel, each bounded by ``LIST_TIMEOUT``; a failing server is
skipped, and one that does not offer resources or prompts has none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import mcp_types
from fastmcp.exceptions import NotFoundError, PromptError, ResourceError, ToolError
from fastmcp.prompts.base import Prompt, PromptResult
from fastmcp.resources.base import Resource, ResourceResult
from fastmcp.resources.template import ResourceTemplate
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import Tool, ToolResult

from agent_gateway.core import errors
from agent_gateway.core.errors import GatewayError
from agent_gateway.core.names import (
    SEP,
    direct_name,
    split_direct_uri,
)
from agent_gateway.downstream.backend import Backend, State
from agent_gateway.front.direct_items import (
    DirectPrompt,
    DirectResource,
    DirectResourceTemplate,
    PassthroughPromptResult,
    PassthroughResourceResult,
    to_front_tool,
)
from agent_gateway.front.gateway import Gateway

logger = logging.getLogger("agent_gateway.front.direct")

RETRY_POLL = 1.0
LIST_TIMEOUT = 5.0  # seconds one server may take to list its resources or prompts

T = TypeVar("T")


class DirectTools(Middleware):
    """Adds the caller's downstream tools, resources and prompts to the lists; routes their use."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.index: dict[str, tuple[str, str]] = {}
        self.prompt_index: dict[str, tuple[str, str]] = {}

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

    # ----- resources and prompts ---------------------------------------------------------

    def _backend(self, server: str) -> Backend:
        """The server's backend if this caller may see it; else the unknown-server error."""
        return self.gateway.backend(self.gateway.caller(None), server)

    async def _collect(
        self, what: str, fetch: Callable[[Backend], Awaitable[list[T]]]
    ) -> list[tuple[str, T]]:
        """(server, item) for every item the caller's visible, running servers list."""
        try:
            caller = self.gateway.caller(None)
        except GatewayError:
            return []
        backends = self.gateway.manager.backends
        running = [
            b
            for s in self.gateway.visible(caller)
            if (b := backends.get(s)) is not None and b.state is State.READY
        ]

        async def one(backend: Backend) -> list[tuple[str, T]]:
            try:
                items = await asyncio.wait_for(fetch(backend), LIST_TIMEOUT)
            except (GatewayError, TimeoutError) as exc:
                logger.warning("Skipping the %s of server %r: %s", what, backend.name, exc)
                return []
            return [(backend.name, item) for item in items]

        found = await asyncio.gather(*(one(b) for b in running))
        return [pair for pairs in found for pair in pairs]

    async def on_list_resources(
        self,
        context: MiddlewareContext[mcp_types.ListResourcesRequest],
        call_next: CallNext[mcp_types.ListResourcesRequest, Sequence[Resource]],
    ) -> Sequence[Resource]:
        resources = list(await call_next(context))
        for server, resource in await self._collect("resources", Backend.list_resources):
            resources.append(DirectResource.of(server, resource))
        return resources

    async def on_list_resource_templates(
        self,
        context: MiddlewareContext[mcp_types.ListResourceTemplatesRequest],
        call_next: CallNext[mcp_types.ListResourceTemplatesRequest, Sequence[ResourceTemplate]],
    ) -> Sequence[ResourceTemplate]:
        templates = list(await call_next(context))
        found = await self._collect("resource templates", Backend.list_resource_templates)
        for server, template in found:
            templates.append(DirectResourceTemplate.of(server, template))
        return templates

    async def on_read_resource(
        self,
        context: MiddlewareContext[mcp_types.ReadResourceRequestParams],
        call_next: CallNext[mcp_types.ReadResourceRequestParams, ResourceResult],
    ) -> ResourceResult:
        uri = str(context.message.uri)
        target = split_direct_uri(uri)
        if target is None:
            return await call_next(context)
        server, downstream_uri = target
        try:
            result = await self._backend(server).read_resource(downstream_uri)
        except GatewayError as exc:
            if isinstance(exc, errors.NotFoundError):
                raise NotFoundError(f"Unknown resource: {uri!r}") from exc
            raise ResourceError(str(exc), log_level=logging.DEBUG) from exc
        if result is None:
            raise NotFoundError(f"Unknown resource: {uri!r}")
        return PassthroughResourceResult.of(server, result)

    async def _list_prompts(self) -> list[tuple[str, mcp_types.Prompt]]:
        """The caller's prompts as (direct name, prompt); remembers where each name routes."""
        named = []
        for server, prompt in await self._collect("prompts", Backend.list_prompts):
            name = direct_name(server, prompt.name)
            self.prompt_index[name] = (server, prompt.name)
            named.append((name, prompt))
        return named

    async def on_list_prompts(
        self,
        context: MiddlewareContext[mcp_types.ListPromptsRequest],
        call_next: CallNext[mcp_types.ListPromptsRequest, Sequence[Prompt]],
    ) -> Sequence[Prompt]:
        prompts = list(await call_next(context))
        prompts.extend(DirectPrompt.of(name, prompt) for name, prompt in await self._list_prompts())
        return prompts

    async def on_get_prompt(
        self,
        context: MiddlewareContext[mcp_types.GetPromptRequestParams],
        call_next: CallNext[mcp_types.GetPromptRequestParams, PromptResult],
    ) -> PromptResult:
        name = context.message.name
        target = self.prompt_index.get(name)
        if target is None and SEP in name:
            await self._list_prompts()  # not listed yet (or since a restart or reload)
            target = self.prompt_index.get(name)
        if target is None:
            return await call_next(context)  # answers as fastmcp does for a missing prompt
        server, prompt = target
        try:
            result = await self._backend(server).get_prompt(prompt, context.message.arguments)
        except GatewayError as exc:
            if isinstance(exc, errors.NotFoundError):
                raise NotFoundError(f"Unknown prompt: {name!r}") from exc
            raise PromptError(str(exc), log_level=logging.DEBUG) from exc
        return PassthroughPromptResult.of(result)


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
        except Exception:  # a background loop: one server's surprise must not end it
            logger.exception("Starting server %r failed unexpectedly.", backend.name)
            return
        gateway.notify_changed()

    # One task per server: a slow or hung start holds up no other server's.
    starting: dict[Backend, asyncio.Task[None]] = {}
    try:
        while not stop.is_set():
            waiting = [
                b
                for b in gateway.manager.backends.values()
                if b not in starting and b.state in (State.IDLE, State.ERROR) and b.ready_to_retry()
            ]
            for backend in waiting:
                starting[backend] = asyncio.create_task(one(backend))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gateway.changed.wait(), timeout=RETRY_POLL)
            gateway.changed.clear()
            starting = {b: t for b, t in starting.items() if not t.done()}
    finally:
        for task in starting.values():
            task.cancel()
        await asyncio.gather(*starting.values(), return_exceptions=True)
