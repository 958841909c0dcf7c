"""Direct mode: downstream resources, resource templates and prompts, namespaced per caller.

Resources and resource templates keep their downstream name namespaced like
a tool's (``{server}__{name}``), and get the URI ``agw://{server}/{downstream
uri}`` (see :func:`direct_uri`): the downstream URI (or URI template) follows
the server name verbatim, not re-encoded. Server names hold no ``/`` (nor
``{``, ``}``), so reading splits at the first ``/`` after ``agw://`` and gets
back exactly (server, downstream uri). For a template, the prefix is literal
text, so an RFC 6570 expansion of ``agw://{server}/`` + T is
``agw://{server}/`` + the expansion of T: a URI built from a listed template
routes like a listed one. A read result is the downstream's own, except that
each item's ``uri`` is namespaced the same way (the URI the caller can read
it by again) and the downstream's cache hints are dropped. Prompts are named
like tools, unique over the caller's visible set (:func:`direct_names`).

Policy: these follow server visibility only (the tool rules do not apply to
them): a server the caller may not see contributes none, and reading or
getting one of its items by its namespaced URI or name answers exactly like
a missing resource or prompt. A namespaced URI the downstream itself reports
as missing answers the same way. A URI's server and a prompt's name are
looked up only among what the caller may see (its visible servers, the
prompts listed from them), never in a shared index and then checked: a
hidden item and a missing one take the same path, and a hidden server is
never asked.

Resources, templates and prompts are fetched on each list request from the
caller's visible servers that are running, in parallel, each bounded by
``LIST_TIMEOUT``; a failing server is skipped, and one that does not offer
resources or prompts has none. Each server's prompts are remembered as last
listed, for gets; a get of a name not among the caller's lists them afresh
first (a missing and a hidden name alike).

Pinning: templates and prompts that pinning holds (new or changed since a
person approved them) are not listed; getting a held prompt by the name it
would have (``{server}__{name}``) answers with the quarantine error, which
names the approve command, and so does reading a URI only a held template
matches (the Backend checks; downstream/features.py).

Input: a 2026-07-28 server's ``input_required`` answer to a get or a read is
relayed as for a direct tool (front/inputrelay.py): to a 2026-07-28 caller
as this request's own ``input_required`` answer, with the gateway's envelope
for ``prompts/get NAME`` / ``resources/read URI`` (the downstream's name and
URI), whose retry is routed and checked again like the first request; a
handshake-era caller is asked on its own session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import mcp_types
from fastmcp import Context
from fastmcp.exceptions import NotFoundError, PromptError, ResourceError
from fastmcp.prompts.base import InputRequiredPromptResult, Prompt, PromptResult
from fastmcp.resources.base import InputRequiredResourceResult, Resource, ResourceResult
from fastmcp.resources.template import ResourceTemplate
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext

from agent_gateway.core import errors
from agent_gateway.core.errors import GatewayError
from agent_gateway.core.identity import Caller
from agent_gateway.core.names import direct_name, direct_names, is_direct_name, split_direct_uri
from agent_gateway.downstream.backend import Answers, Backend, LogFn, ProgressFn, State
from agent_gateway.downstream.pinning import HeldMap
from agent_gateway.front.backchannel import CallerPeer
from agent_gateway.front.direct_items import (
    DirectPrompt,
    DirectResource,
    DirectResourceTemplate,
    PassthroughPromptResult,
    PassthroughResourceResult,
)
from agent_gateway.front.gateway import Gateway
from agent_gateway.front.inputrelay import answering, round_of
from agent_gateway.front.redaction import error_text
from agent_gateway.front.relays import request_of

logger = logging.getLogger("agent_gateway.front.direct_resources")

LIST_TIMEOUT = 5.0  # seconds one server may take to list its resources or prompts
NO_RELAYS: tuple[ProgressFn | None, LogFn | None] = (None, None)  # a get's progress: not relayed

T = TypeVar("T")
PromptIndex = dict[str, tuple[str, mcp_types.Prompt]]  # direct name -> (server, prompt)


async def _prompts_view(backend: Backend) -> list[tuple[list[mcp_types.Prompt], HeldMap]]:
    return [await backend.prompts_view()]  # one item: _collect maps a server to a list


class DirectResources(Middleware):
    """Adds the caller's downstream resources, templates and prompts to the lists; routes use."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._prompts: dict[str, list[mcp_types.Prompt]] = {}  # server -> as last listed
        self._held: dict[str, HeldMap] = {}  # server -> prompts pinning held, as last listed

    def _caller(self) -> Caller | None:
        try:
            return self.gateway.caller(None)
        except GatewayError:
            return None

    def _visible_backend(self, caller: Caller, server: str) -> Backend:
        """The server's backend, looked up among the caller's visible servers only."""
        backend = None
        if server in self.gateway.visible(caller):
            backend = self.gateway.manager.backends.get(server)
        if backend is None:
            raise errors.UnknownServerError(server)
        return backend

    async def _collect(
        self, caller: Caller, what: str, fetch: Callable[[Backend], Awaitable[list[T]]]
    ) -> dict[str, list[T]]:
        """Server -> its items, for the caller's visible, running servers that answered."""
        backends = self.gateway.manager.backends
        running = [
            b
            for s in self.gateway.visible(caller)
            if (b := backends.get(s)) is not None and b.state is State.READY
        ]

        async def one(backend: Backend) -> tuple[str, list[T]] | None:
            try:
                return backend.name, await asyncio.wait_for(fetch(backend), LIST_TIMEOUT)
            except (GatewayError, TimeoutError) as exc:
                logger.warning("Skipping the %s of server %r: %s", what, backend.name, exc)
                return None

        found = await asyncio.gather(*(one(b) for b in running))
        return dict(pair for pair in found if pair is not None)

    async def _relayed(
        self,
        ctx: Context | None,
        caller: Caller,
        target: tuple[str, str],
        fetch: Callable[[Answers | None], Awaitable[T]],
    ) -> T | mcp_types.InputRequiredResult:
        """``fetch`` (a get or a read of ``target``: the server, and what, for the
        envelope), with the input a 2026-07-28 server asks for relayed (inputrelay.py)."""
        session, request_id = request_of(ctx)
        peer = None if session is None else CallerPeer(session, request_id)

        async def once(answers: Answers | None, _p: ProgressFn | None, _l: LogFn | None) -> T:
            return await fetch(answers)

        server, what = target
        with answering(round_of(ctx)):
            return await self.gateway.inputs.call(server, what, caller.agent, peer, once, NO_RELAYS)

    async def on_list_resources(
        self,
        context: MiddlewareContext[mcp_types.ListResourcesRequest],
        call_next: CallNext[mcp_types.ListResourcesRequest, Sequence[Resource]],
    ) -> Sequence[Resource]:
        resources = list(await call_next(context))
        caller = self._caller()
        if caller is not None:
            found = await self._collect(caller, "resources", Backend.list_resources)
            for server, items in found.items():
                resources.extend(DirectResource.of(server, r) for r in items)
        return resources

    async def on_list_resource_templates(
        self,
        context: MiddlewareContext[mcp_types.ListResourceTemplatesRequest],
        call_next: CallNext[mcp_types.ListResourceTemplatesRequest, Sequence[ResourceTemplate]],
    ) -> Sequence[ResourceTemplate]:
        templates = list(await call_next(context))
        caller = self._caller()
        if caller is not None:
            found = await self._collect(
                caller, "resource templates", Backend.list_resource_templates
            )
            for server, items in found.items():
                templates.extend(DirectResourceTemplate.of(server, t) for t in items)
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
            caller = self.gateway.caller(None)
            backend = self._visible_backend(caller, server)
            result = await self._relayed(
                context.fastmcp_context,
                caller,
                (server, f"resources/read {downstream_uri}"),
                lambda answers: backend.read_resource(downstream_uri, answers),
            )
        except GatewayError as exc:
            if isinstance(exc, errors.NotFoundError):
                raise NotFoundError(f"Unknown resource: {uri!r}") from exc
            raise ResourceError(error_text(exc), log_level=logging.DEBUG) from exc
        if result is None:
            raise NotFoundError(f"Unknown resource: {uri!r}")
        if isinstance(result, mcp_types.InputRequiredResult):
            return InputRequiredResourceResult(result)
        return PassthroughResourceResult.of(server, result)

    def _prompts_of(self, caller: Caller) -> PromptIndex:
        """Direct name -> (server, prompt) over the caller's visible servers' known prompts."""
        known = {
            (server, prompt.name): prompt
            for server in self.gateway.visible(caller)
            for prompt in self._prompts.get(server, ())
        }
        return {name: (pair[0], known[pair]) for name, pair in direct_names(known).items()}

    async def _list_prompts(self, caller: Caller) -> PromptIndex:
        """List the caller's prompts afresh (and remember them per server for gets)."""
        found = await self._collect(caller, "prompts", _prompts_view)
        for server in self.gateway.visible(caller):
            if server in found:
                self._prompts[server], self._held[server] = found[server][0]
            else:
                self._prompts.pop(server, None)  # not running, or failed: not listed
                self._held.pop(server, None)
        return self._prompts_of(caller)

    def _held_prompt(self, caller: Caller, name: str) -> GatewayError | None:
        """The quarantine error if ``name`` is a held prompt of one of the caller's servers."""
        for server in self.gateway.visible(caller):
            backend = self.gateway.manager.backends.get(server)
            for held in self._held.get(server, {}).values():
                if backend is not None and direct_name(server, held.tool) == name:
                    return backend.hold_error(held)
        return None

    async def on_list_prompts(
        self,
        context: MiddlewareContext[mcp_types.ListPromptsRequest],
        call_next: CallNext[mcp_types.ListPromptsRequest, Sequence[Prompt]],
    ) -> Sequence[Prompt]:
        prompts = list(await call_next(context))
        caller = self._caller()
        if caller is not None:
            index = await self._list_prompts(caller)
            prompts.extend(DirectPrompt.of(name, prompt) for name, (_, prompt) in index.items())
        return prompts

    async def on_get_prompt(
        self,
        context: MiddlewareContext[mcp_types.GetPromptRequestParams],
        call_next: CallNext[mcp_types.GetPromptRequestParams, PromptResult],
    ) -> PromptResult:
        name = context.message.name
        caller = self._caller() if is_direct_name(name) else None
        target = None if caller is None else self._prompts_of(caller).get(name)
        if target is None and caller is not None:  # not listed yet, or changed since
            target = (await self._list_prompts(caller)).get(name)
        held = None if caller is None or target is not None else self._held_prompt(caller, name)
        if held is not None:
            raise PromptError(error_text(held), log_level=logging.DEBUG) from held
        if caller is None or target is None:
            return await call_next(context)  # answers as fastmcp does for a missing prompt
        server, prompt = target
        arguments = context.message.arguments
        try:
            backend = self._visible_backend(caller, server)
            result = await self._relayed(
                context.fastmcp_context,
                caller,
                (server, f"prompts/get {prompt.name}"),
                lambda answers: backend.get_prompt(prompt.name, arguments, answers),
            )
        except GatewayError as exc:
            if isinstance(exc, errors.NotFoundError):
                raise NotFoundError(f"Unknown prompt: {name!r}") from exc
            raise PromptError(error_text(exc), log_level=logging.DEBUG) from exc
        if isinstance(result, mcp_types.InputRequiredResult):
            return InputRequiredPromptResult(result)
        return PassthroughPromptResult.of(result)
