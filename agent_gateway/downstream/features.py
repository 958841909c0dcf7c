"""Resources and prompts of one downstream server (direct mode), as a Backend mixin.

Not cached: direct mode lists them from the started servers on each request.
A server that does not offer resources or prompts (no capability, or
"method not found") has none; that is not an error.

Pinning (downstream/pinning.py) screens prompts and resource templates like
tools: ``list_prompts`` and ``list_resource_templates`` give the approved ones,
``prompts_view``/``templates_view`` the held ones too. ``get_prompt`` of a held
prompt, and ``read_resource`` of a URI that only a held template matches
(not a listed resource, nor an approved template), raise QuarantinedToolError
naming the approve command; both list afresh first, so a change is seen even
by a caller that never listed. Plain resources are data and are not pinned.

A 2026-07-28 server may answer either with an ``InputRequiredResult`` (it
needs input first); that comes back as it came, and the retry carries the
caller's :class:`Answers` (the front decides who answers: front/inputrelay.py),
as for ``tools/call``.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, cast

import mcp_types
from fastmcp.telemetry import inject_trace_context

from agent_gateway.compat import await_monitored
from agent_gateway.core.errors import BackendError
from agent_gateway.downstream.inputs import Answers

if TYPE_CHECKING:
    from agent_gateway.core.errors import QuarantinedToolError
    from agent_gateway.core.pins import Held, Kind
    from agent_gateway.downstream.pinning import HeldMap, T
    from agent_gateway.downstream.stdio import StdioProcessTransport


def _trace_meta() -> mcp_types.RequestParamsMeta | None:
    """The current trace context (``traceparent``) for a request's ``_meta``, if any."""
    return cast("mcp_types.RequestParamsMeta | None", inject_trace_context(None))


class ResourcesAndPrompts:
    """``list_resources``, ``read_resource``, ``list_prompts``, ``get_prompt`` for a Backend."""

    name: str
    _stdio: StdioProcessTransport | None

    def _request(self) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    if TYPE_CHECKING:  # provided by PinnedTools

        def hold_error(self, held: Held) -> QuarantinedToolError: ...
        def pins_active(self) -> bool: ...
        def _screen_items(self, kind: Kind, items: list[T]) -> tuple[list[T], HeldMap]: ...

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
        """The server's approved resource templates, in its order (every page)."""
        return (await self.templates_view())[0]

    async def templates_view(self) -> tuple[list[mcp_types.ResourceTemplate], HeldMap]:
        """The approved templates, and the held ones by URI template."""
        items = await self._list_optional("resources", "list_resource_templates")
        return self._screen_items("template", items)

    async def _check_template_read(self, uri: str) -> None:
        """Raise if ``uri`` is read only through a held template (not a listed resource)."""
        from mcp.shared.uri_template import UriTemplate

        def matches(template: str) -> bool:
            try:
                return UriTemplate.parse(template).match(uri) is not None
            except ValueError:  # not a template the SDK can parse: it cannot route here
                return False

        approved, held = await self.templates_view()
        through = [h for h in held.values() if matches(h.tool)]
        if not through or any(matches(t.uri_template) for t in approved):
            return
        if uri in {str(r.uri) for r in await self.list_resources()}:
            return
        raise self.hold_error(through[0])

    async def read_resource(
        self, uri: str, answers: Answers | None = None
    ) -> mcp_types.ReadResourceResult | mcp_types.InputRequiredResult | None:
        """Read ``uri``, sent exactly as given; None if the server has no such resource.

        The client's ``read_resource*`` helpers re-spell the URI (pydantic
        ``AnyUrl``), so the request goes to the SDK session directly. A server
        says "no such resource" with -32602 (SEP-2164) or the older -32002; one
        without resources has none.
        """
        from mcp import MCPError

        if self.pins_active():
            await self._check_template_read(uri)
        async with self._request() as client:
            caps = client.server_capabilities
            if caps is not None and caps.resources is None:
                return None
            answers = answers or Answers(None, None)
            read = client.session.read_resource(
                uri,
                input_responses=answers.responses,
                request_state=answers.state,
                meta=_trace_meta(),
                allow_input_required=True,
            )
            try:
                result = await self._monitored(client, read)
            except MCPError as exc:
                if exc.code in (mcp_types.INVALID_PARAMS, mcp_types.METHOD_NOT_FOUND, -32002):
                    return None
                raise
            if not isinstance(result, mcp_types.ReadResourceResult | mcp_types.InputRequiredResult):
                raise BackendError(self.name, "answered resources/read with an unknown result.")
            return result

    async def _monitored(self, client: Any, request: Any) -> Any:
        """A session request's answer; a remote session is watched as call_tool_mcp does."""
        if self._stdio is None:
            return await await_monitored(client, request)
        return await request

    async def list_prompts(self) -> list[mcp_types.Prompt]:
        """The server's approved prompts, in its order (every page)."""
        return (await self.prompts_view())[0]

    async def prompts_view(self) -> tuple[list[mcp_types.Prompt], HeldMap]:
        """The approved prompts, and the held ones by name."""
        items = await self._list_optional("prompts", "list_prompts")
        return self._screen_items("prompt", items)

    async def get_prompt(
        self, name: str, arguments: dict[str, str] | None, answers: Answers | None = None
    ) -> mcp_types.GetPromptResult | mcp_types.InputRequiredResult:
        """Render the server's prompt ``name`` with ``arguments``; its result as it came.

        QuarantinedToolError if pinning holds the prompt.
        """
        if self.pins_active():
            held = (await self.prompts_view())[1].get(name)
            if held is not None:
                raise self.hold_error(held)
        answers = answers or Answers(None, None)
        async with self._request() as client:
            # Not get_prompt_mcp: it would answer input_required itself.
            get = client.session.get_prompt(
                name,
                arguments,
                input_responses=answers.responses,
                request_state=answers.state,
                meta=_trace_meta(),  # as get_prompt_mcp: the current trace goes on
                allow_input_required=True,
            )
            result = await self._monitored(client, get)
            if not isinstance(result, mcp_types.GetPromptResult | mcp_types.InputRequiredResult):
                raise BackendError(self.name, "answered prompts/get with an unknown result.")
            return result
